//! Reading an island's whole cluster: its status, health, layout, keys and
//! buckets, in two rounds of calls.

use super::admin_api::{Asking, call_through, is_identifier, parse};
use crate::ssh::{Remote, SshError};
use archipel_planner::observed::{
    BucketInfo, Cluster, ClusterHealth, ClusterLayout, ClusterStatus, KeyInfo, LayoutHistory,
    ListedId,
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
    .collect();
    let (through, texts) = call_through(members, &first, asking).await?;
    let answers: BTreeMap<&str, String> = first.iter().map(String::as_str).zip(texts).collect();
    let remote = members[through];
    let read = || -> Result<_, SshError> {
        let text = |endpoint: &str| answers.get(endpoint).map(String::as_str).unwrap_or("");
        Ok((
            parse::<ClusterStatus>(remote, "GetClusterStatus", text("GetClusterStatus"))?,
            parse::<ClusterHealth>(remote, "GetClusterHealth", text("GetClusterHealth"))?,
            parse::<ClusterLayout>(remote, "GetClusterLayout", text("GetClusterLayout"))?,
            parse::<LayoutHistory>(
                remote,
                "GetClusterLayoutHistory",
                text("GetClusterLayoutHistory"),
            )?,
            parse::<Vec<ListedId>>(remote, "ListKeys", text("ListKeys"))?,
            parse::<Vec<ListedId>>(remote, "ListBuckets", text("ListBuckets"))?,
        ))
    };
    let (status, health, layout, history, keys, buckets) = read().map_err(|e| vec![e])?;

    let mut second = Vec::new();
    for key in keys.iter().filter(|k| is_identifier(&k.id)) {
        // Never `showSecretKey`: secrets are not part of what archipel observes.
        second.push(format!("GetKeyInfo={{\"id\":\"{}\"}}", key.id));
    }
    for bucket in buckets.iter().filter(|b| is_identifier(&b.id)) {
        second.push(format!("GetBucketInfo={{\"id\":\"{}\"}}", bucket.id));
    }
    let mut key_infos = Vec::new();
    let mut bucket_infos = Vec::new();
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
        for (call, text) in second.iter().zip(texts) {
            if call.starts_with("GetKeyInfo=") {
                key_infos.push(parse::<KeyInfo>(remote, "GetKeyInfo", &text).map_err(|e| vec![e])?);
            } else {
                bucket_infos.push(
                    parse::<BucketInfo>(remote, "GetBucketInfo", &text).map_err(|e| vec![e])?,
                );
            }
        }
    }
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
