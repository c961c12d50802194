//! One module per subcommand.

pub mod apply;
pub mod facts;
pub mod fmt;
pub mod plan;
pub mod validate;
