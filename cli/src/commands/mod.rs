//! One module per subcommand.

pub mod apply;
pub mod drill;
pub mod facts;
pub mod fmt;
pub mod plan;
pub mod status;
pub mod validate;
