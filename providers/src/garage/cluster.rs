//! Reading an island's whole cluster: its status, health, layout, keys and
//! buckets, in one round of calls.

use super::admin_api::{Asking, call_through, is_identifier, over_listed, parse};
use crate::ssh::{Remote, SshError};
use archipel_planner::observed::{
    BucketInfo, Cluster, ClusterHealth, ClusterLayout, ClusterStatus, KeyBucket, KeyInfo,
    LayoutHistory, ListedId,
};
use std::collections::BTreeMap;

/// Reads the whole cluster through its running members (see
/// [`call_through`]), asked as `asking` says: status, health, layout and
/// its history, every key (without its secret) and every bucket. Returns
/// the index of the member whose view of the cluster (status, health,
/// layout) it gives; when the island could not be read, what each member
/// said.
pub async fn observe_cluster(
    members: &[&Remote],
    asking: Asking,
) -> Result<(usize, Cluster), Vec<SshError>> {
    // One round trip: the buckets' details are asked over their listing in
    // the same round. A key's buckets and permissions are what the buckets
    // say of it (each bucket lists the keys it allows), so no key is asked
    // about (and never with `showSecretKey`: secrets are not part of what
    // archipel observes).
    let first: Vec<String> = [
        "GetClusterStatus",
        "GetClusterHealth",
        "GetClusterLayout",
        "GetClusterLayoutHistory",
        "ListKeys",
        "ListBuckets",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([over_listed("GetBucketInfo", "ListBuckets")])
    .collect();
    let (through, texts) = call_through(members, &first, asking).await?;
    let answers: BTreeMap<&str, String> = first.iter().map(String::as_str).zip(texts).collect();
    let remote = members[through];
    let text = |call: &str| answers.get(call).map(String::as_str).unwrap_or("");
    let read = || -> Result<_, SshError> {
        Ok((
            parse::<ClusterStatus>(remote, "GetClusterStatus", text("GetClusterStatus"))?,
            parse::<ClusterHealth>(remote, "GetClusterHealth", text("GetClusterHealth"))?,
            parse::<ClusterLayout>(remote, "GetClusterLayout", text("GetClusterLayout"))?,
            parse::<LayoutHistory>(
                remote,
                "GetClusterLayoutHistory",
                text("GetClusterLayoutHistory"),
            )?,
            parse::<Vec<ListedKey>>(remote, "ListKeys", text("ListKeys"))?,
            parse::<Vec<ListedId>>(remote, "ListBuckets", text("ListBuckets"))?,
            parse::<Vec<BucketInfo>>(remote, "GetBucketInfo", text(&first[6]))?,
        ))
    };
    let (status, health, layout, history, keys, buckets, mut bucket_infos) =
        read().map_err(|e| vec![e])?;
    // Every listed bucket, and only those: what the node's script picked
    // out of the listing is checked against the listing itself; one missed
    // (or a listing that changed between two members' answers) is asked
    // for by its id.
    bucket_infos.retain(|b| buckets.iter().any(|l| l.id == b.id));
    let mut second = Vec::new();
    for bucket in buckets.iter().filter(|b| is_identifier(&b.id)) {
        if !bucket_infos.iter().any(|b| b.id == bucket.id) {
            second.push(format!("GetBucketInfo={{\"id\":\"{}\"}}", bucket.id));
        }
    }
    if !second.is_empty() {
        // The member that answered first goes first again.
        let mut order: Vec<&Remote> = vec![remote];
        order.extend(
            members
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != through)
                .map(|(_, m)| *m),
        );
        let (_, texts) = call_through(&order, &second, asking).await?;
        for text in texts {
            bucket_infos
                .push(parse::<BucketInfo>(remote, "GetBucketInfo", &text).map_err(|e| vec![e])?);
        }
    }
    let key_infos = keys
        .into_iter()
        .map(|key| key_info(key, &bucket_infos))
        .collect();
    Ok((
        through,
        Cluster {
            status,
            health,
            layout,
            history,
            keys: key_infos,
            buckets: bucket_infos,
        },
    ))
}

/// A `ListKeys` item.
#[derive(Debug, serde::Deserialize)]
struct ListedKey {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expired: bool,
}

/// What `GetKeyInfo` would say of a key (without its secret): its buckets
/// and permissions as the buckets list them.
fn key_info(key: ListedKey, buckets: &[BucketInfo]) -> KeyInfo {
    KeyInfo {
        buckets: buckets
            .iter()
            .filter_map(|bucket| {
                let allowed = bucket.keys.iter().find(|k| k.access_key_id == key.id)?;
                Some(KeyBucket {
                    id: bucket.id.clone(),
                    global_aliases: bucket.global_aliases.clone(),
                    permissions: allowed.permissions,
                })
            })
            .collect(),
        access_key_id: key.id,
        name: key.name,
        expired: key.expired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archipel_planner::observed::{BucketKey, Permissions};

    #[test]
    fn a_keys_buckets_are_those_that_list_it_with_their_permissions() {
        let bucket = |id: &str, alias: &str, keys: Vec<BucketKey>| BucketInfo {
            id: id.into(),
            global_aliases: vec![alias.into()],
            keys,
            objects: 0,
            bytes: 0,
            unfinished_uploads: 0,
            quotas: Default::default(),
            lifecycle_rules: vec![],
        };
        let allows = |key: &str, read, write| BucketKey {
            access_key_id: key.into(),
            name: String::new(),
            permissions: Permissions {
                read,
                write,
                owner: false,
            },
        };
        let buckets = [
            bucket(
                "b1",
                "backup-a",
                vec![allows("GKa", true, true), allows("GKv", true, false)],
            ),
            bucket("b2", "vault-a", vec![allows("GKv", true, true)]),
            bucket("b3", "shared", vec![]),
        ];
        let listed = |id: &str| ListedKey {
            id: id.into(),
            name: format!("name-{id}"),
            expired: false,
        };
        let vault = key_info(listed("GKv"), &buckets);
        assert_eq!(vault.access_key_id, "GKv");
        assert_eq!(vault.name, "name-GKv");
        let seen: Vec<(&str, &str, bool)> = vault
            .buckets
            .iter()
            .map(|b| {
                (
                    b.id.as_str(),
                    b.global_aliases[0].as_str(),
                    b.permissions.write,
                )
            })
            .collect();
        assert_eq!(seen, [("b1", "backup-a", false), ("b2", "vault-a", true)]);
        assert!(key_info(listed("GKnone"), &buckets).buckets.is_empty());
    }
}
