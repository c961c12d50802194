//! A bucket: its quota and the keys' permissions on it.

use super::{Action, Builder, Target};
use crate::desired::{DesiredBucket, DesiredIsland};
use crate::observed::{BucketInfo, Cluster, Permissions};
use crate::size::Size;

pub(super) fn plan_bucket(
    island: &DesiredIsland,
    bucket: &DesiredBucket,
    live: Option<(&BucketInfo, &Cluster)>,
    b: &mut Builder,
) {
    plan_settings(island, bucket, live.map(|(l, _)| l), b);
    plan_grants(island, bucket, live.map(|(l, _)| l), b);
    if let Some((live, cluster)) = live {
        plan_drifted_grants(island, bucket, live, cluster, b);
    }
}

/// The bucket, with its quota and, for a bucket of backups, no lifecycle
/// configuration.
fn plan_settings(
    island: &DesiredIsland,
    bucket: &DesiredBucket,
    live: Option<&BucketInfo>,
    b: &mut Builder,
) {
    let kind = Target::Bucket {
        island: island.name.clone(),
        bucket: bucket.name.clone(),
    };
    let quota = |q: Option<u64>| q.map_or("none".to_string(), |q| Size(q).to_string());
    match live {
        None => {
            b.add(kind, Action::Create, "the bucket does not exist")
                .attribute("quota", None, Some(quota(bucket.quota)));
        }
        Some(live) => {
            let quota_differs = live.quotas.max_size != bucket.quota;
            let rules = if bucket.holds_backups {
                live.lifecycle_rules.len()
            } else {
                0
            };
            let reason = match (quota_differs, rules > 0) {
                (false, false) => return,
                (true, false) => "the bucket's quota differs from the file's",
                (_, true) => LIFECYCLE_REMOVED,
            };
            let change = b.add(kind, Action::Update, reason);
            if quota_differs {
                change.attribute(
                    "quota",
                    Some(quota(live.quotas.max_size)),
                    Some(quota(bucket.quota)),
                );
            }
            if rules > 0 {
                change.attribute(
                    "lifecycle rules",
                    Some(rules.to_string()),
                    Some("none".into()),
                );
            }
        }
    }
}

/// Why a lifecycle configuration on a bucket of backups goes: archipel
/// never sets one, and with one Garage deletes backups by itself.
const LIFECYCLE_REMOVED: &str = "the bucket holds backups and has a lifecycle configuration, which lets Garage delete them by itself: archipel never sets one (whoever held a key that owns the bucket did, or an island administrator), so it is removed; the vault's incident says when it was first seen";

/// Grants: each archipel key's permissions on this bucket.
fn plan_grants(
    island: &DesiredIsland,
    bucket: &DesiredBucket,
    live: Option<&BucketInfo>,
    b: &mut Builder,
) {
    let name = &island.name;
    let live_permissions = |key: &str| -> Option<Permissions> {
        live.and_then(|l| l.keys.iter().find(|k| k.name == key).map(|k| k.permissions))
    };
    for (key, wanted) in &bucket.grants {
        let before = live_permissions(key);
        if before != Some(*wanted) {
            b.add(
                Target::Grant {
                    island: name.clone(),
                    bucket: bucket.name.clone(),
                    key: key.clone(),
                },
                if show_permissions(before).is_none() {
                    Action::Create
                } else {
                    Action::Update
                },
                "the key's permissions on the bucket differ from the file's",
            )
            .attribute(
                "permissions",
                show_permissions(before),
                show_permissions(Some(*wanted)),
            );
        }
    }
}

/// Permissions archipel's keys hold but should not (drift).
fn plan_drifted_grants(
    island: &DesiredIsland,
    bucket: &DesiredBucket,
    live: &BucketInfo,
    cluster: &Cluster,
    b: &mut Builder,
) {
    let name = &island.name;
    for key in &live.keys {
        let archipel_key = island.keys.contains(&key.name)
            && cluster
                .keys
                .iter()
                .any(|k| k.access_key_id == key.access_key_id);
        if archipel_key
            && !bucket.grants.contains_key(&key.name)
            && show_permissions(Some(key.permissions)).is_some()
        {
            b.add(
                Target::Grant {
                    island: name.clone(),
                    bucket: bucket.name.clone(),
                    key: key.name.clone(),
                },
                Action::Delete,
                "the key holds permissions on this bucket that the file does not give",
            )
            .attribute("permissions", show_permissions(Some(key.permissions)), None);
        }
    }
}

/// Permissions as the plan shows them (`read+write`), none as nothing.
fn show_permissions(p: Option<Permissions>) -> Option<String> {
    match p {
        None
        | Some(Permissions {
            read: false,
            write: false,
            owner: false,
        }) => None,
        Some(p) => Some(
            [("read", p.read), ("write", p.write), ("owner", p.owner)]
                .iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join("+"),
        ),
    }
}
