//! One module per subcommand.

pub mod facts;
pub mod fmt;
pub mod plan;
pub mod validate;
