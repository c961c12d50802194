//! S3 as an island's users speak it: the AWS SDK, path style, the island's
//! region, one endpoint per client (a node's S3 port). No retries and short
//! timeouts, so a test sees each failure as it happens.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use std::fmt;
use std::time::Duration;

#[derive(Debug)]
pub struct S3 {
    client: Client,
    runtime: tokio::runtime::Runtime,
}

/// A request S3 refused (with its HTTP status) or that never got an answer.
#[derive(Debug)]
pub struct S3Failure {
    pub status: Option<u16>,
    pub message: String,
}

impl fmt::Display for S3Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => write!(f, "no answer: {}", self.message),
        }
    }
}

impl std::error::Error for S3Failure {}

fn failure<E>(error: SdkError<E, HttpResponse>) -> S3Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    S3Failure {
        status: error.raw_response().map(|raw| raw.status().as_u16()),
        message: match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => format!("{}", aws_sdk_s3::error::DisplayErrorContext(&error)),
        },
    }
}

impl S3 {
    /// A client for `endpoint` (`http://host:3900`) with an access key.
    pub fn new(endpoint: &str, region: &str, key_id: &str, secret: &str) -> S3 {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .endpoint_url(endpoint)
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                key_id,
                secret,
                None,
                None,
                "archipel-tests",
            ))
            .force_path_style(true)
            // Garage checks the checksums S3 requires, not every newer one.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build();
        S3 {
            client: Client::from_conf(config),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        }
    }

    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), S3Failure> {
        self.runtime
            .block_on(
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map(drop)
            .map_err(failure)
    }

    pub fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, S3Failure> {
        self.runtime.block_on(async {
            let object = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(failure)?;
            let body = object.body.collect().await.map_err(|e| S3Failure {
                status: None,
                message: e.to_string(),
            })?;
            Ok(body.into_bytes().to_vec())
        })
    }

    /// The keys under `prefix` (up to a thousand: enough for a test).
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, S3Failure> {
        self.runtime.block_on(async {
            let listed = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(failure)?;
            Ok(listed
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect())
        })
    }

    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Failure> {
        self.runtime
            .block_on(self.client.delete_object().bucket(bucket).key(key).send())
            .map(drop)
            .map_err(failure)
    }
}
