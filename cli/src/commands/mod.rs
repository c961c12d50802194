//! One module per subcommand.

pub mod apply;
pub mod clear;
pub mod drift;
pub mod drill;
pub mod facts;
pub mod fmt;
pub mod log;
pub mod plan;
pub mod recover;
pub mod show;
pub mod status;
pub mod unlock;
pub mod validate;
