//! How connections are made and given up: [`SshSettings`], and what to do
//! with an unknown host key.

use std::path::PathBuf;
use std::time::Duration;

/// sshd's default `MaxSessions` is 10: stay under it, with room for the
/// operator's own session on the same master and for sessions sshd is
/// still closing.
pub(super) const CHANNELS_PER_HOST: usize = 6;

/// What to do with a host whose key is not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse (OpenSSH's `StrictHostKeyChecking=yes`).
    #[default]
    Strict,
    /// Accept and remember keys of hosts never seen before; a changed key is
    /// still refused (`StrictHostKeyChecking=accept-new`).
    AcceptNew,
}

#[derive(Debug, Clone)]
pub struct SshSettings {
    /// An ssh_config file used instead of `~/.ssh/config` (`ssh -F`).
    pub config_file: Option<PathBuf>,
    pub host_keys: HostKeyPolicy,
    /// How long ssh may take to open the TCP connection and read the
    /// server's greeting (`ConnectTimeout`): what a machine that drops every
    /// packet costs before archipel moves on.
    pub connect_timeout: Duration,
    /// The interval of ssh's keep-alive probes (`ServerAliveInterval`). A
    /// machine that stops answering (its link cut, its packets dropped) is
    /// given up after [`SshSettings::lost_after`]: its commands then fail,
    /// naming it, instead of hanging. The default keeps that within the
    /// connect timeout.
    pub keepalive: Duration,
    /// How long an idle master outlives archipel if it could not close it
    /// (a crash): the bound on any leftover process.
    pub idle_master_lifetime: Duration,
    /// Print each remote command (its first line and its arguments) on
    /// stderr as it starts. Arguments never hold a secret: secrets travel
    /// on stdin only, and stdin is never printed.
    pub show_commands: bool,
    /// Offer OpenSSH's quick key exchanges first (see `key_exchange.rs`):
    /// for commands that only read, whose connections carry no secret.
    pub quick_key_exchange: bool,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            config_file: None,
            host_keys: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            // Silent for 8 s: lost (see `lost_after`).
            keepalive: Duration::from_secs(2),
            idle_master_lifetime: Duration::from_secs(60),
            show_commands: false,
            quick_key_exchange: false,
        }
    }
}

/// ssh gives a connection up when this many keep-alive intervals pass
/// without a word from the server: `ServerAliveCountMax` (3, OpenSSH's
/// default) unanswered probes, then the check after them. The key exchange
/// and authentication are bounded by the probes alone (3 intervals).
const ALIVE_INTERVALS: u32 = 4;

impl SshSettings {
    /// How long a connected machine may stay silent before ssh gives it up
    /// (a command under way then fails): [`SshSettings::keepalive`] × 4.
    pub fn lost_after(&self) -> Duration {
        self.keepalive_interval() * ALIVE_INTERVALS
    }

    /// ssh takes whole seconds.
    pub(super) fn keepalive_interval(&self) -> Duration {
        Duration::from_secs(self.keepalive.as_secs().max(1))
    }
}
