//! SSH sessions over the system's OpenSSH, one multiplexed master connection
//! per host (the `openssh` crate, native mux), reused for every command.
//!
//! Everything the operator's `ssh` honours applies: `~/.ssh/config` (or
//! `-F FILE`), the agent, `ProxyJump`, `known_hosts`. Host keys are checked
//! strictly; a key pinned in the archipelago file is the only one accepted.
//!
//! Secrets never travel in a command line (visible in `ps` on both ends and
//! in error messages): they go through stdin.
//!
//! Where things live:
//! - `settings.rs`: [`SshSettings`] (time-outs, keep-alives, ssh_config) and
//!   the [`HostKeyPolicy`];
//! - `error.rs`: [`SshError`], what went wrong on a machine or here;
//! - `local_error.rs`: [`LocalError`], what failed on the operator's machine;
//! - `connect.rs`: [`Ssh`], which opens the master connections (what `ssh -G`
//!   resolves, the pinned host key, the keeper that holds a master open);
//! - `key_exchange.rs`: the quick key exchanges first, for commands that
//!   only read;
//! - `remote.rs`: [`Remote`], one connected machine, and how it closes;
//! - `commands.rs`: running scripts on a [`Remote`] (`run`, `run_checked`,
//!   `upload`, `read_file`) and their [`Output`];
//! - `forward.rs`: forwarding a local socket to a port on the machine.

mod commands;
mod connect;
mod error;
mod forward;
mod key_exchange;
mod local_error;
mod remote;
mod settings;

pub use commands::Output;
pub use connect::Ssh;
pub use error::SshError;
pub(crate) use error::error_chain;
pub use local_error::LocalError;
pub use remote::{Remote, close_all};
pub use settings::{HostKeyPolicy, SshSettings};
