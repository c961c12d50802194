//! [`Remote`]: one connected machine, shared by whoever runs commands on
//! it, and how its connection is closed.

use super::SshError;
use super::error::error_chain;
use openssh::Session;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Closes every connection (on success, error or Ctrl-C alike), so no
/// master process or control socket outlives archipel.
pub async fn close_all(remotes: impl IntoIterator<Item = Remote>) -> Vec<SshError> {
    futures_util::future::join_all(remotes.into_iter().map(Remote::close))
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

/// A connected machine. Cheap to clone; the connection closes with
/// [`Remote::close`] (or, as a fallback, when the last clone is dropped).
#[derive(Clone)]
pub struct Remote {
    pub(super) inner: Arc<RemoteInner>,
}

pub(super) struct RemoteInner {
    pub(super) host: String,
    /// Where ssh lands (as `ssh -G` resolved it: see `connect.rs`).
    pub(super) lands_at: String,
    pub(super) session: Option<Session>,
    /// The task that keeps the master from exiting idle; ends with this.
    pub(super) keeper: tokio::task::AbortHandle,
    /// How long ssh waits on a silent machine before it gives it up, and
    /// the interval of its keep-alives.
    pub(super) lost_after: Duration,
    pub(super) keepalive: Duration,
    /// Whether commands go through `sudo -n` (the login user is not root).
    pub(super) sudo: bool,
    pub(super) channels: Semaphore,
    /// Commands run so far: archipel's unit of SSH round trips.
    pub(super) commands: AtomicUsize,
    pub(super) show_commands: bool,
}

impl Drop for RemoteInner {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("host", &self.inner.host)
            .finish()
    }
}

impl Remote {
    /// How errors name this machine: `node1 (root@10.0.0.1)`.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// Where ssh lands for this machine, as `ssh -G` resolved it: host name
    /// and port, and the jump or proxy on the way.
    pub fn lands_at(&self) -> &str {
        &self.inner.lands_at
    }

    pub(super) fn session(&self) -> &Session {
        // Only `close` takes the session out, and it consumes the Remote.
        self.inner.session.as_ref().expect("session is open")
    }

    /// Why a command's connection failed, `running_for` after it started.
    /// When the master is gone, the error says the machine was lost rather
    /// than that a command was "terminated": with the master's last words
    /// when its log has them (ssh's "Timeout, server … not responding." for
    /// a machine that went silent, at the default LogLevel), or as a time
    /// out when the command ran as long as ssh waits on a silent machine.
    /// Otherwise `reason` as it came.
    pub(super) async fn transport_reason(&self, reason: String, running_for: Duration) -> String {
        if self.session().check().await.is_ok() {
            return reason;
        }
        // The openssh crate keeps the master's log (`ssh -E`) beside its socket.
        let log = self.session().control_socket().with_file_name("log");
        let last_words = std::fs::read_to_string(log).ok().and_then(|text| {
            text.lines()
                .rev()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with("Warning: Permanently added"))
                .map(str::to_string)
        });
        match last_words {
            Some(words) => format!("the connection to the machine was lost: {words}"),
            // ssh counts its silence from the machine's last word, a little
            // before the command started.
            None if running_for + self.inner.keepalive >= self.inner.lost_after => format!(
                "the connection to the machine was lost: timed out, no answer to ssh's keep-alives for {} s",
                self.inner.lost_after.as_secs()
            ),
            None => format!("the connection to the machine was lost ({reason})"),
        }
    }

    /// How many commands (SSH round trips) ran on this machine so far.
    pub fn commands_run(&self) -> usize {
        self.inner.commands.load(Ordering::Relaxed)
    }

    /// Closes the master connection and removes its control socket, when
    /// this is the last handle on it; with other clones alive it does
    /// nothing (the last one to close or drop ends the connection).
    pub async fn close(self) -> Result<(), SshError> {
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        let host = inner.host.clone();
        inner.keeper.abort();
        match inner.session.take() {
            Some(session) => session.close().await.map_err(|e| SshError::Connect {
                host,
                reason: format!("closing the connection: {}", error_chain(&e)),
            }),
            None => Ok(()),
        }
    }
}
