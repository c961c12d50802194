//! Buckets, access keys and the permissions a key holds on a bucket.

use super::admin_api::{api, api_as};
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::desired::DesiredBucket;
use archipel_planner::observed::Permissions;

/// The bucket exists with its quota.
pub async fn ensure_bucket(coordinator: &Remote, bucket: &DesiredBucket) -> Result<(), SshError> {
    let id = match bucket_id(coordinator, &bucket.name).await? {
        Some(id) => id,
        None => {
            let created = api(
                coordinator,
                "CreateBucket",
                Some(&serde_json::json!({ "globalAlias": bucket.name })),
            )
            .await?;
            created["id"].as_str().unwrap_or_default().to_string()
        }
    };
    // `quotas` replaces both values: always send both. An empty
    // `lifecycleRules` removes any lifecycle configuration (a missing one
    // leaves it as it is): a bucket of backups never keeps one.
    let mut settings =
        serde_json::json!({ "quotas": { "maxSize": bucket.quota, "maxObjects": null } });
    if bucket.holds_backups {
        settings["lifecycleRules"] = serde_json::json!([]);
    }
    let body = serde_json::json!({ "id": id, "body": settings });
    api(coordinator, "UpdateBucket", Some(&body))
        .await
        .map(drop)
}

async fn bucket_id(coordinator: &Remote, alias: &str) -> Result<Option<String>, SshError> {
    let buckets: Vec<BucketInfoAlias> = api_as(coordinator, "ListBuckets").await?;
    Ok(buckets
        .into_iter()
        .find(|b| b.global_aliases.iter().any(|a| a == alias))
        .map(|b| b.id))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BucketInfoAlias {
    id: String,
    #[serde(default)]
    global_aliases: Vec<String>,
}

#[derive(serde::Deserialize)]
struct KeyName {
    id: String,
    name: String,
}

async fn key_id(coordinator: &Remote, name: &str) -> Result<Option<String>, SshError> {
    let keys: Vec<KeyName> = api_as(coordinator, "ListKeys").await?;
    let matching: Vec<KeyName> = keys.into_iter().filter(|k| k.name == name).collect();
    match matching.len() {
        0 => Ok(None),
        1 => Ok(matching.into_iter().next().map(|k| k.id)),
        count => Err(LocalError::AmbiguousKey {
            name: name.to_string(),
            count,
        }
        .into()),
    }
}

/// A key with its secret, as S3 clients sign with it. Never printed.
pub struct KeySecret {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret({}, sensitive)", self.id)
    }
}

/// archipel's key `name` on the island, with its secret.
pub async fn key_secret(
    coordinator: &Remote,
    island: &str,
    name: &str,
) -> Result<KeySecret, SshError> {
    let id = key_id(coordinator, name)
        .await?
        .ok_or_else(|| LocalError::KeyMissing {
            island: island.to_string(),
            name: name.to_string(),
        })?;
    let info = api(
        coordinator,
        "GetKeyInfo",
        Some(&serde_json::json!({ "id": id, "showSecretKey": true })),
    )
    .await?;
    let secret = info["secretAccessKey"]
        .as_str()
        .ok_or_else(|| LocalError::SecretNotGiven {
            island: island.to_string(),
            name: name.to_string(),
        })?;
    Ok(KeySecret {
        secret: secret.to_string(),
        id,
    })
}

/// The key exists. Its secret, in CreateKey's answer, is dropped here.
pub async fn ensure_key(coordinator: &Remote, name: &str) -> Result<(), SshError> {
    if key_id(coordinator, name).await?.is_none() {
        let created = api(
            coordinator,
            "CreateKey",
            Some(&serde_json::json!({ "name": name })),
        )
        .await?;
        drop(created);
    }
    Ok(())
}

/// Deletes archipel's key `name`, and with it its permissions. A key
/// already gone is fine.
pub async fn delete_key(coordinator: &Remote, name: &str) -> Result<(), SshError> {
    if let Some(id) = key_id(coordinator, name).await? {
        api(
            coordinator,
            "DeleteKey",
            Some(&serde_json::json!({ "id": id })),
        )
        .await?;
    }
    Ok(())
}

/// Deletes an empty bucket. Garage itself refuses one that holds objects
/// (BucketNotEmpty), should any have arrived since the plan.
pub async fn delete_bucket(coordinator: &Remote, alias: &str) -> Result<(), SshError> {
    if let Some(id) = bucket_id(coordinator, alias).await? {
        api(
            coordinator,
            "DeleteBucket",
            Some(&serde_json::json!({ "id": id })),
        )
        .await?;
    }
    Ok(())
}

/// The key holds exactly `wanted` on the bucket.
pub async fn grant(
    coordinator: &Remote,
    bucket: &str,
    key: &str,
    wanted: Permissions,
) -> Result<(), SshError> {
    let missing = |what: String| LocalError::GrantPartyMissing {
        host: coordinator.host().to_string(),
        what,
    };
    let bucket_id = bucket_id(coordinator, bucket)
        .await?
        .ok_or_else(|| missing(format!("bucket {bucket}")))?;
    let key_id = key_id(coordinator, key)
        .await?
        .ok_or_else(|| missing(format!("key {key}")))?;
    let body = |p: Permissions| serde_json::json!({ "bucketId": bucket_id, "accessKeyId": key_id, "permissions": { "read": p.read, "write": p.write, "owner": p.owner } });
    // Only `true` flags act: allow what is wanted, deny the rest.
    api(coordinator, "AllowBucketKey", Some(&body(wanted))).await?;
    let deny = Permissions {
        read: !wanted.read,
        write: !wanted.write,
        owner: !wanted.owner,
    };
    if deny.read || deny.write || deny.owner {
        api(coordinator, "DenyBucketKey", Some(&body(deny))).await?;
    }
    Ok(())
}
