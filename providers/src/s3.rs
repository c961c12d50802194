//! Objects in an island's buckets, reached through an SSH forward to one
//! member node's S3 API on that node's loopback: the operator's machine
//! needs no route to the island, and no local TCP port is opened that
//! another user of the machine could reach.
//!
//! The AWS SDK signs the requests (a key's secret never leaves this
//! process), sends them and reads the answers, errors included; archipel
//! only configures it for Garage and gives it an HTTP client of its own,
//! [`ForwardClient`], that connects to the forward's Unix socket.

use crate::garage::KeySecret;
use crate::ssh::{LocalError, Remote, SshError, error_chain};
use archipel_planner::desired::DesiredIsland;
use aws_sdk_s3::config::http::{HttpRequest, HttpResponse};
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a request may take, and the connection it starts with: the
/// forward answers at once, the node within seconds. A request that fails
/// is not tried again: its error says what failed.
#[derive(Clone, Copy, Debug)]
struct Limits {
    connect: Duration,
    answer: Duration,
}

const LIMITS: Limits = Limits {
    connect: Duration::from_secs(3),
    answer: Duration::from_secs(10),
};

/// One bucket, through one node.
pub struct Objects {
    remote: Remote,
    /// Holds the forward's socket; private to this user, removed on drop.
    _dir: tempfile::TempDir,
    socket: PathBuf,
    port: u16,
    bucket: Bucket,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("host", &self.remote.host())
            .field("bucket", &self.bucket.name)
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
        let dir = tempfile::Builder::new()
            .prefix("archipel-s3.")
            .tempdir()
            .map_err(|source| LocalError::ForwardDirectory { source })?;
        let socket = dir.path().join("s3.sock");
        let bucket = Bucket::new(
            Endpoint {
                host: remote.host(),
                socket: &socket,
                port: island.s3_port,
                region: &island.s3_region,
            },
            bucket,
            key,
            LIMITS,
        );
        remote.forward_local(&socket, island.s3_port).await?;
        Ok(Objects {
            remote: remote.clone(),
            _dir: dir,
            socket,
            port: island.s3_port,
            bucket,
        })
    }

    /// Writes an object (whole, replacing any previous version).
    pub async fn put(&self, object: &str, body: Vec<u8>) -> Result<(), SshError> {
        self.bucket.put(object, body).await
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, object: &str) -> Result<Option<Vec<u8>>, SshError> {
        self.bucket.get(object).await
    }

    /// The names of the objects under `prefix`, in S3's order (sorted).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, SshError> {
        self.bucket.list(prefix).await
    }

    /// Deletes an object; deleting one that does not exist is no error.
    pub async fn delete(&self, object: &str) -> Result<(), SshError> {
        self.bucket.delete(object).await
    }

    /// Ends the forward.
    pub async fn close(self) -> Result<(), SshError> {
        self.remote.close_forward(&self.socket, self.port).await
    }
}

/// Where a node's S3 API is reached: the forward's socket on this side,
/// the port and region on the node's.
#[derive(Clone, Copy, Debug)]
struct Endpoint<'a> {
    host: &'a str,
    socket: &'a Path,
    port: u16,
    region: &'a str,
}

/// The SDK's client for one bucket, and what its errors are told with.
struct Bucket {
    host: String,
    name: String,
    limits: Limits,
    client: aws_sdk_s3::Client,
}

impl Bucket {
    /// Garage's way: path style (no bucket in the host name), the island's
    /// own region (Garage refuses a signature for any other), and only
    /// the checksums S3 requires (Garage does not know every newer one).
    fn new(endpoint: Endpoint<'_>, name: &str, key: &KeySecret, limits: Limits) -> Bucket {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .http_client(ForwardClient {
                socket: Arc::from(endpoint.socket),
            })
            .endpoint_url(format!("http://127.0.0.1:{}", endpoint.port))
            .region(Region::new(endpoint.region.to_string()))
            .credentials_provider(Credentials::new(
                key.id.clone(),
                key.secret.clone(),
                None,
                None,
                "archipel",
            ))
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(limits.connect)
                    .operation_timeout(limits.answer)
                    .build(),
            )
            .build();
        Bucket {
            host: endpoint.host.to_string(),
            name: name.to_string(),
            limits,
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    async fn put(&self, object: &str, body: Vec<u8>) -> Result<(), SshError> {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(object)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.failed("put", object, &e))
    }

    async fn get(&self, object: &str) -> Result<Option<Vec<u8>>, SshError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(object)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(self.failed("get", object, &e)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| SshError::Transport {
                host: self.host.clone(),
                command: self.command("get", object),
                reason: error_chain(&e),
            })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SshError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| self.failed("list", prefix, &e))?;
            names.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_string)),
            );
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                return Ok(names);
            }
        }
    }

    async fn delete(&self, object: &str) -> Result<(), SshError> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(object)
            .send()
            .await
            .map(drop)
            .map_err(|e| self.failed("delete", object, &e))
    }

    fn command(&self, what: &str, object: &str) -> String {
        format!("S3 {what} s3://{}/{object}", self.name)
    }

    /// What went wrong, in the terms of SSH errors: S3's refusal (its HTTP
    /// status, error code and message), no answer in time, or no answer.
    fn failed<E>(&self, what: &str, object: &str, error: &SdkError<E, HttpResponse>) -> SshError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (host, command) = (self.host.clone(), self.command(what, object));
        match error {
            SdkError::ServiceError(refused) => SshError::Failed {
                host,
                command,
                status: i32::from(refused.raw().status().as_u16()),
                stderr: match (error.code(), error.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_string(),
                    _ => format!("HTTP {}", refused.raw().status()),
                },
            },
            SdkError::TimeoutError(_) => SshError::Timeout {
                host,
                command,
                after: self.limits.answer,
            },
            SdkError::DispatchFailure(failure) if failure.is_timeout() => SshError::Timeout {
                host,
                command,
                after: self.limits.connect,
            },
            SdkError::ConstructionFailure(_) => SshError::Local(LocalError::S3Request {
                command,
                reason: error_chain(error),
            }),
            _ => SshError::Transport {
                host,
                command,
                reason: error_chain(error),
            },
        }
    }
}

/// Whether S3 said the object does not exist (a missing bucket is an
/// error, not a missing object).
fn missing<E>(error: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(refused) => {
            refused.raw().status().as_u16() == 404
                && matches!(error.code(), Some("NoSuchKey") | None)
        }
        _ => false,
    }
}

/// The SDK's HTTP client: HTTP/1.1 over the forward's Unix socket, one
/// connection per request (a request is rare, and the forward is local).
#[derive(Clone, Debug)]
struct ForwardClient {
    socket: Arc<Path>,
}

impl HttpClient for ForwardClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ForwardConnector {
            socket: Arc::clone(&self.socket),
            connect_within: settings.connect_timeout(),
        })
    }
}

#[derive(Debug)]
struct ForwardConnector {
    socket: Arc<Path>,
    connect_within: Option<Duration>,
}

impl HttpConnector for ForwardConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let socket = Arc::clone(&self.socket);
        let connect_within = self.connect_within;
        HttpConnectorFuture::new(async move {
            let request = origin_form(request)?;
            let connect = tokio::net::UnixStream::connect(&*socket);
            let stream = match connect_within {
                Some(limit) => tokio::time::timeout(limit, connect).await.map_err(|_| {
                    ConnectorError::timeout(
                        format!("no connection to the forward within {limit:?}").into(),
                    )
                })?,
                None => connect.await,
            }
            .map_err(|e| ConnectorError::io(format!("the forward's socket: {e}").into()))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
            // The connection ends when the answer's body has been read (or
            // dropped) and the sender is gone: nothing else uses it.
            tokio::spawn(connection);
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The request as it goes on the wire to the node: its path and query as
/// the target, the host it was signed for in `Host` (the SDK signs it from
/// the address; HTTP/1.1 needs it said).
fn origin_form(request: HttpRequest) -> Result<hyper::Request<SdkBody>, ConnectorError> {
    let mut request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let uri = request.uri().clone();
    let host = uri
        .authority()
        .ok_or_else(|| ConnectorError::user(format!("no host in {uri}").into()))?
        .as_str()
        .parse()
        .map_err(|e: hyper::header::InvalidHeaderValue| ConnectorError::user(e.into()))?;
    request
        .headers_mut()
        .entry(hyper::header::HOST)
        .or_insert(host);
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = target
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| ConnectorError::user(e.into()))?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const KEY_ID: &str = "GK0123456789abcdef";
    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const OBJECT: &str = "job.age";

    /// A request as the node got it: its head, lower-cased, and its body.
    #[derive(Debug)]
    struct Seen {
        head: String,
        body: Vec<u8>,
    }

    /// A node's S3 API as the forward's socket reaches it: every request
    /// gets the same answer (`None`: no answer at all).
    struct Node {
        dir: tempfile::TempDir,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Node {
        fn socket(&self) -> PathBuf {
            self.dir.path().join("s3.sock")
        }

        fn start(answer: Option<String>) -> Node {
            let node = Node {
                dir: tempfile::tempdir().expect("a directory"),
                seen: Arc::default(),
            };
            let listener = tokio::net::UnixListener::bind(node.socket()).expect("a socket");
            let seen = Arc::clone(&node.seen);
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let request = read_request(&mut stream).await;
                    seen.lock().expect("not poisoned").push(request);
                    match &answer {
                        Some(answer) => {
                            stream.write_all(answer.as_bytes()).await.expect("written");
                        }
                        // Holds the connection open, silent.
                        None => drop(tokio::spawn(async move {
                            let _held = stream;
                            std::future::pending::<()>().await;
                        })),
                    }
                }
            });
            node
        }

        fn seen(&self) -> Vec<Seen> {
            std::mem::take(&mut *self.seen.lock().expect("not poisoned"))
        }

        fn bucket(&self, answer_within: Duration) -> Bucket {
            let key = KeySecret {
                id: KEY_ID.to_string(),
                secret: SECRET.to_string(),
            };
            let limits = Limits {
                connect: Duration::from_secs(1),
                answer: answer_within,
            };
            let socket = self.socket();
            let endpoint = Endpoint {
                host: "node1",
                socket: &socket,
                port: 3900,
                region: "garage",
            };
            Bucket::new(endpoint, "escrow", &key, limits)
        }
    }

    async fn read_request(stream: &mut tokio::net::UnixStream) -> Seen {
        let mut read = Vec::new();
        let mut chunk = [0; 4096];
        let end = loop {
            if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the request ended within its head");
            read.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&read[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |n| n.trim().parse().expect("a length"));
        let mut body = read[end..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the request ended within its body");
            body.extend_from_slice(&chunk[..n]);
        }
        Seen { head, body }
    }

    fn answer(status: &str, body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: application/xml\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    fn s3_error(status: &str, code: &str, message: &str) -> Option<String> {
        answer(
            status,
            &format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
                 <Message>{message}</Message><Resource>/escrow/{OBJECT}</Resource>\
                 <Region>garage</Region></Error>"
            ),
        )
    }

    const WITHIN: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn put_is_path_style_signed_for_the_island_region_without_checksums() {
        let node = Node::start(answer("200 OK", ""));
        let bucket = node.bucket(WITHIN);
        bucket
            .put(OBJECT, b"sealed".to_vec())
            .await
            .expect("stored");
        let seen = node.seen();
        let [put] = seen.as_slice() else {
            panic!("one request, not {seen:?}")
        };
        assert!(put.head.starts_with("put /escrow/job.age"), "{}", put.head);
        assert!(
            put.head.contains("\r\nhost: 127.0.0.1:3900\r\n"),
            "{}",
            put.head
        );
        assert!(
            put.head
                .contains(&format!("credential={}/", KEY_ID.to_lowercase())),
            "{}",
            put.head
        );
        assert!(put.head.contains("/garage/s3/aws4_request"), "{}", put.head);
        assert!(!put.head.contains("checksum"), "{}", put.head);
        assert!(!put.head.contains(SECRET), "{}", put.head);
        assert_eq!(put.body, b"sealed");
    }

    #[tokio::test]
    async fn get_reads_the_object() {
        let node = Node::start(answer("200 OK", "sealed"));
        let read = node.bucket(WITHIN).get(OBJECT).await.expect("read");
        assert_eq!(read.as_deref(), Some(&b"sealed"[..]));
        let seen = node.seen();
        assert!(seen[0].head.starts_with("get /escrow/job.age"), "{seen:?}");
    }

    #[tokio::test]
    async fn list_reads_the_names_under_a_prefix() {
        let node = Node::start(answer(
            "200 OK",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ListBucketResult><Name>escrow</Name><Prefix>job.escrow/</Prefix>\
             <KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>\
             <Contents><Key>job.escrow/20261203T120000Z.age</Key><Size>6</Size></Contents>\
             <Contents><Key>job.escrow/20261204T000000Z.age</Key><Size>6</Size></Contents>\
             </ListBucketResult>",
        ));
        let names = node
            .bucket(WITHIN)
            .list("job.escrow/")
            .await
            .expect("listed");
        assert_eq!(
            names,
            [
                "job.escrow/20261203T120000Z.age",
                "job.escrow/20261204T000000Z.age"
            ]
        );
        let seen = node.seen();
        assert!(
            seen[0].head.starts_with("get /escrow/?list-type=2")
                && seen[0].head.contains("prefix=job.escrow%2f"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn delete_removes_the_object() {
        let node = Node::start(answer("204 No Content", ""));
        node.bucket(WITHIN).delete(OBJECT).await.expect("deleted");
        let seen = node.seen();
        assert!(
            seen[0].head.starts_with("delete /escrow/job.age"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn get_of_a_missing_object_is_none() {
        let node = Node::start(s3_error("404 Not Found", "NoSuchKey", "Key not found"));
        assert_eq!(node.bucket(WITHIN).get(OBJECT).await.expect("read"), None);
    }

    #[tokio::test]
    async fn a_missing_bucket_is_an_error() {
        let node = Node::start(s3_error(
            "404 Not Found",
            "NoSuchBucket",
            "Bucket not found: escrow",
        ));
        let error = node.bucket(WITHIN).get(OBJECT).await.expect_err("refused");
        assert!(
            matches!(&error, SshError::Failed { status: 404, stderr, .. }
                if stderr == "NoSuchBucket: Bucket not found: escrow"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_refusal_names_host_operation_object_code_and_message() {
        let node = Node::start(s3_error(
            "403 Forbidden",
            "AccessDenied",
            "Forbidden: no key",
        ));
        let error = node.bucket(WITHIN).put(OBJECT, Vec::new()).await;
        let error = error.expect_err("refused");
        assert_eq!(
            error.to_string(),
            "node1: `S3 put s3://escrow/job.age` exited with status 403: \
             AccessDenied: Forbidden: no key"
        );
    }

    #[tokio::test]
    async fn no_forward_is_a_transport_error() {
        let node = Node::start(None);
        std::fs::remove_file(node.socket()).expect("removed");
        let error = node.bucket(WITHIN).get(OBJECT).await.expect_err("no node");
        let SshError::Transport {
            host,
            command,
            reason,
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(
            (host.as_str(), command.as_str()),
            ("node1", "S3 get s3://escrow/job.age")
        );
        assert_eq!(
            reason,
            "dispatch failure: io error: the forward's socket: \
             No such file or directory (os error 2)"
        );
        assert!(!error.to_string().contains(SECRET), "{error}");
    }

    #[tokio::test]
    async fn no_answer_times_out() {
        let node = Node::start(None);
        let within = Duration::from_millis(300);
        let error = node
            .bucket(within)
            .get(OBJECT)
            .await
            .expect_err("no answer");
        assert!(
            matches!(&error, SshError::Timeout { host, command, after }
                if host == "node1" && command == "S3 get s3://escrow/job.age" && *after == within),
            "{error:?}"
        );
    }
}
