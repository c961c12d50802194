//! archipel's contact with the world, one module per kind of thing: SSH
//! sessions to machines, facts about hosts; later Garage and backups.
//!
//! Providers observe (fill the planner's observed-state types) and execute
//! changes. They never print: callers decide what the user sees.

pub mod apply;
pub mod backup;
pub mod escrow;
pub mod garage;
pub mod host;
pub mod journal;
pub mod lock;
pub mod observe;
pub mod pinned;
pub mod s3;
pub mod ssh;
pub mod vault;
