//! Forwarding a local Unix socket to a port on a machine's loopback,
//! through its master connection.

use super::error::error_chain;
use super::{Remote, SshError};
use std::path::Path;

impl Remote {
    /// Forwards a local Unix socket to a TCP port on the machine's own
    /// loopback, through the master connection already open: how archipel
    /// reaches a service that listens on the node only (Garage's S3 API).
    pub async fn forward_local(&self, socket: &Path, port: u16) -> Result<(), SshError> {
        self.session()
            .request_port_forward(
                openssh::ForwardType::Local,
                socket,
                (std::net::Ipv4Addr::LOCALHOST, port),
            )
            .await
            .map_err(|e| SshError::Transport {
                host: self.inner.host.clone(),
                command: format!("forward to port {port}"),
                reason: error_chain(&e),
            })
    }

    /// Ends a forward opened with [`Remote::forward_local`].
    pub async fn close_forward(&self, socket: &Path, port: u16) -> Result<(), SshError> {
        self.session()
            .close_port_forward(
                openssh::ForwardType::Local,
                socket,
                (std::net::Ipv4Addr::LOCALHOST, port),
            )
            .await
            .map_err(|e| SshError::Transport {
                host: self.inner.host.clone(),
                command: format!("close the forward to port {port}"),
                reason: error_chain(&e),
            })
    }
}
