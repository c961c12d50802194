//! What can go wrong: on a machine, on the way to it, or here.

use super::LocalError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{host}: cannot connect: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host}: host key refused: {reason}")]
    HostKey { host: String, reason: String },
    #[error(
        "{host}: `{command}` exited with status {status}{}",
        stderr_suffix(stderr)
    )]
    Failed {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("{host}: `{command}`: {reason}")]
    Transport {
        host: String,
        command: String,
        reason: String,
    },
    /// A command archipel stopped waiting for (it bounds the commands that
    /// can hang on something else than the machine itself, such as Garage
    /// waiting on an unreachable member).
    #[error("{host}: `{command}` timed out: no answer within {} s", .after.as_secs())]
    Timeout {
        host: String,
        command: String,
        after: Duration,
    },
    /// Something failed here, not on a machine.
    #[error(transparent)]
    Local(#[from] LocalError),
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl SshError {
    /// The host the error is about.
    pub fn host(&self) -> Option<&str> {
        match self {
            SshError::Connect { host, .. }
            | SshError::HostKey { host, .. }
            | SshError::Failed { host, .. }
            | SshError::Transport { host, .. }
            | SshError::Timeout { host, .. } => Some(host),
            SshError::Local { .. } => None,
        }
    }
}

pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(cause_text.trim());
        }
        source = cause.source();
    }
    text
}
