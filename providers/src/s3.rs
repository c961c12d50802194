//! Objects in an island's buckets, reached through an SSH forward to one
//! member node's S3 API on that node's loopback: the operator's machine
//! needs no route to the island, and requests are signed here, so a key's
//! secret never leaves this process.

use crate::garage::KeySecret;
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::desired::DesiredIsland;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};
use std::path::PathBuf;
use std::time::Duration;

/// How long a signed request stays valid: it is sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(60);

/// One bucket, through one node.
pub struct Objects {
    remote: Remote,
    /// Holds the forward's socket; private to this user, removed on drop.
    _dir: tempfile::TempDir,
    socket: PathBuf,
    port: u16,
    bucket: Bucket,
    credentials: Credentials,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("host", &self.remote.host())
            .field("bucket", &self.bucket.name())
            .finish()
    }
}

impl Objects {
    /// Opens the forward to `remote`'s S3 port and prepares to sign
    /// requests on `bucket` with `key`.
    pub async fn open(
        remote: &Remote,
        island: &DesiredIsland,
        bucket: &str,
        key: &KeySecret,
    ) -> Result<Objects, SshError> {
        let address = |what: &'static str, e: &dyn std::fmt::Display| LocalError::S3Address {
            what,
            reason: e.to_string(),
        };
        let dir = tempfile::Builder::new()
            .prefix("archipel-s3.")
            .tempdir()
            .map_err(|source| LocalError::ForwardDirectory { source })?;
        let socket = dir.path().join("s3.sock");
        let endpoint = format!("http://127.0.0.1:{}", island.s3_port)
            .parse()
            .map_err(|e| address("the S3 endpoint", &e))?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            bucket.to_string(),
            island.s3_region.clone(),
        )
        .map_err(|e| address("the bucket's address", &e))?;
        remote.forward_local(&socket, island.s3_port).await?;
        Ok(Objects {
            remote: remote.clone(),
            _dir: dir,
            socket,
            port: island.s3_port,
            bucket,
            credentials: Credentials::new(key.id.clone(), key.secret.clone()),
        })
    }

    /// Writes an object (whole, replacing any previous version).
    pub async fn put(&self, object: &str, body: Vec<u8>) -> Result<(), SshError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), object)
            .sign(SIGNED_FOR);
        match self.send(hyper::Method::PUT, url, body).await? {
            (200, _) => Ok(()),
            (status, answer) => Err(self.refused("put", object, status, &answer)),
        }
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, object: &str) -> Result<Option<Vec<u8>>, SshError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), object)
            .sign(SIGNED_FOR);
        match self.send(hyper::Method::GET, url, Vec::new()).await? {
            (200, body) => Ok(Some(body)),
            (404, _) => Ok(None),
            (status, answer) => Err(self.refused("get", object, status, &answer)),
        }
    }

    /// Ends the forward.
    pub async fn close(self) -> Result<(), SshError> {
        self.remote.close_forward(&self.socket, self.port).await
    }

    /// One request on a fresh connection through the forward: the status
    /// and the body.
    async fn send(
        &self,
        method: hyper::Method,
        url: url::Url,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), SshError> {
        let failed = |reason: String| SshError::Transport {
            host: self.remote.host().to_string(),
            command: format!("S3 {method} in bucket {}", self.bucket.name()),
            reason,
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| failed(format!("the forward to port {}: {e}", self.port)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(e.to_string()))?;
        let connection = tokio::spawn(connection);
        // The URL carries the signature: only its path and query go on the
        // wire, with the host it was signed for.
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let request = hyper::Request::builder()
            .method(method.clone())
            .uri(target)
            .header(hyper::header::HOST, format!("127.0.0.1:{}", self.port))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed(e.to_string()))?;
        let answer = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body.to_vec()))
        }
        .await;
        connection.abort();
        answer.map_err(|e| failed(e.to_string()))
    }

    fn refused(&self, what: &str, object: &str, status: u16, answer: &[u8]) -> SshError {
        // S3 errors are XML; their <Code> and <Message> say why.
        let text = String::from_utf8_lossy(answer);
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&close)? + start;
            Some(text[start..end].to_string())
        };
        let why = match (tag("Code"), tag("Message")) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code,
            _ => format!("HTTP {status}"),
        };
        SshError::Failed {
            host: self.remote.host().to_string(),
            command: format!("S3 {what} s3://{}/{object}", self.bucket.name()),
            status: i32::from(status),
            stderr: why,
        }
    }
}
