//! Garage's preparation before its running nodes get a new release (its
//! upgrading guide): a table repair on every node, waited for until the
//! tables' sync workers are done, then a metadata snapshot on every node,
//! moved out of Garage's `snapshots` directory, whose cleanup keeps only
//! the two newest, so that it stays until the next upgrade.

use super::admin_api::api;
use crate::ssh::{Remote, SshError};
use archipel_planner::desired::DesiredNode;
use archipel_planner::garage::upgrade_snapshots_dir;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long the table repair may take. A full sync of every table
/// compares Merkle trees partition by partition: seconds on an island
/// whose nodes agree, longer after a node was away.
const TABLES_REPAIRED_WITHIN: Duration = Duration::from_secs(15 * 60);

/// How often the workers are asked.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Garage's answer from every node it asked: `success` by node ID, and
/// `error` for those that could not answer.
#[derive(Deserialize)]
struct MultiResponse<T> {
    success: BTreeMap<String, T>,
    error: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Worker {
    name: String,
    state: serde_json::Value,
    queue_length: Option<u64>,
}

/// Launches the table repair on every node and waits until every node's
/// table sync workers are idle with nothing queued, seen so twice in a row
/// (a repair is queued to the workers, not done by the call).
pub async fn repair_tables(coordinator: &Remote) -> Result<(), SshError> {
    let answer = api(
        coordinator,
        "LaunchRepairOperation",
        Some(&serde_json::json!({ "node": "*", "body": { "repairType": "tables" } })),
    )
    .await?;
    every_node_answered::<serde_json::Value>(coordinator, "LaunchRepairOperation", answer)?;
    let started = Instant::now();
    let mut quiet_before = false;
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let answer = api(
            coordinator,
            "ListWorkers",
            Some(&serde_json::json!({ "node": "*", "body": {} })),
        )
        .await?;
        let workers: BTreeMap<String, Vec<Worker>> =
            every_node_answered(coordinator, "ListWorkers", answer)?;
        let busy = workers.iter().find_map(|(node, workers)| {
            workers
                .iter()
                .find(|w| {
                    w.name.ends_with(" sync")
                        && (w.state != "idle" || w.queue_length.unwrap_or(0) > 0)
                })
                .map(|w| {
                    format!(
                        "on node {}, {} has {} partitions to go",
                        short(node),
                        w.name,
                        w.queue_length.unwrap_or(0)
                    )
                })
        });
        match busy {
            None if quiet_before => return Ok(()),
            None => quiet_before = true,
            Some(busy) => {
                quiet_before = false;
                if started.elapsed() > TABLES_REPAIRED_WITHIN {
                    return Err(failed(
                        coordinator,
                        "wait for the table repair",
                        format!(
                            "not done after {} s: {busy}",
                            TABLES_REPAIRED_WITHIN.as_secs()
                        ),
                    ));
                }
            }
        }
    }
}

/// Takes a metadata snapshot on every node and keeps each in the node's
/// [`upgrade_snapshots_dir`] as `before-RELEASE-TIME`, in place of the one
/// an earlier upgrade left. Returns where each node keeps it.
pub async fn snapshot_metadata(
    coordinator: &Remote,
    nodes: &[(&DesiredNode, &Remote)],
    release: &str,
) -> Result<Vec<(String, String)>, SshError> {
    let answer = api(
        coordinator,
        "CreateMetadataSnapshot",
        Some(&serde_json::json!({ "node": "*", "body": null })),
    )
    .await?;
    every_node_answered::<serde_json::Value>(coordinator, "CreateMetadataSnapshot", answer)?;
    const KEEP: &str = r#"set -e
snapshots=$1/snapshots; keep=$2; release=$3
newest=$(ls -1 "$snapshots" 2>/dev/null | sort | tail -n 1)
[ -n "$newest" ] || { echo "Garage left no snapshot in $snapshots" >&2; exit 1; }
name=before-$release-$newest
install -d -o garage -g garage -m 0700 "$keep"
mv "$snapshots/$newest" "$keep/$name.new"
for old in "$keep"/*; do [ "$old" = "$keep/$name.new" ] || rm -rf -- "$old"; done
mv "$keep/$name.new" "$keep/$name"
echo "$keep/$name""#;
    let kept = futures_util::future::join_all(nodes.iter().map(|(node, remote)| async move {
        let keep = upgrade_snapshots_dir(&node.meta_dir);
        let output = remote
            .run_checked(KEEP, &[&node.meta_dir, &keep, release], None)
            .await?;
        Ok::<_, SshError>((node.name.clone(), output.stdout_text().trim().to_string()))
    }))
    .await;
    kept.into_iter().collect()
}

/// The nodes' answers, or the first node's error, named.
fn every_node_answered<T: serde::de::DeserializeOwned>(
    coordinator: &Remote,
    endpoint: &str,
    answer: serde_json::Value,
) -> Result<BTreeMap<String, T>, SshError> {
    let answer: MultiResponse<T> = serde_json::from_value(answer).map_err(|e| {
        failed(
            coordinator,
            endpoint,
            format!("unexpected answer from Garage: {e}"),
        )
    })?;
    match answer.error.into_iter().next() {
        Some((node, error)) => Err(failed(
            coordinator,
            endpoint,
            format!("node {} did not do it: {error}", short(&node)),
        )),
        None => Ok(answer.success),
    }
}

fn failed(coordinator: &Remote, command: &str, stderr: String) -> SshError {
    SshError::Failed {
        host: coordinator.host().to_string(),
        command: format!("garage json-api {command}"),
        status: 1,
        stderr,
    }
}

fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}
