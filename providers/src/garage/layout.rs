//! An island's layout: its nodes connected into one cluster, their roles
//! staged and applied as one new layout version.

use super::admin_api::{api, api_as};
use super::daemon::wait_for;
use crate::ssh::{Remote, SshError};
use archipel_planner::desired::DesiredIsland;
use archipel_planner::observed::{ClusterLayout, ClusterStatus};
use std::collections::BTreeMap;
use std::time::Duration;

/// Connects the coordinator to every other node (`id@addr`), then waits
/// until the coordinator sees them all up.
pub async fn connect(
    coordinator: &Remote,
    peers: &[(String, String)],
    all_ids: &[String],
) -> Result<(), SshError> {
    let body = serde_json::Value::Array(
        peers
            .iter()
            .map(|(id, addr)| format!("{id}@{addr}").into())
            .collect(),
    );
    let answers = api(coordinator, "ConnectClusterNodes", Some(&body)).await?;
    if let Some(results) = answers.as_array() {
        for ((id, addr), result) in peers.iter().zip(results) {
            if result["success"] != true {
                return Err(SshError::Failed {
                    host: coordinator.host().to_string(),
                    command: format!("connect to {}@{addr}", &id[..16]),
                    status: 1,
                    stderr: result["error"].as_str().unwrap_or("refused").to_string(),
                });
            }
        }
    }
    let ids = all_ids.to_vec();
    wait_for(
        coordinator,
        "every node to be connected",
        Duration::from_secs(60),
        move |remote| {
            let ids = ids.clone();
            async move {
                let status: ClusterStatus = api_as(&remote, "GetClusterStatus").await?;
                Ok(ids
                    .iter()
                    .all(|id| status.nodes.iter().any(|n| &n.id == id && n.is_up)))
            }
        },
    )
    .await
}

/// Stages every role change of the island in one UpdateClusterLayout,
/// previews it, and applies version current+1 exactly once. Returns the
/// version applied, or `None` when nothing needed staging.
pub async fn apply_layout(
    coordinator: &Remote,
    island: &DesiredIsland,
    ids: &BTreeMap<String, String>,
    remove: &[String],
    clear_staged: bool,
) -> Result<Option<u64>, SshError> {
    let failed = |command: &str, stderr: String| SshError::Failed {
        host: coordinator.host().to_string(),
        command: command.to_string(),
        status: 1,
        stderr,
    };
    let layout: ClusterLayout = api_as(coordinator, "GetClusterLayout").await?;
    if !layout.staged_role_changes.is_empty() {
        if !clear_staged {
            return Err(failed(
                "stage the layout",
                format!(
                    "{} layout change(s) are staged that archipel did not make; look at them (garage layout show) and rerun with --clear-staged to drop them",
                    layout.staged_role_changes.len()
                ),
            ));
        }
        api(coordinator, "RevertClusterLayout", None).await?;
    }
    let mut roles = Vec::new();
    for node in &island.nodes {
        let Some(id) = ids.get(&node.name) else {
            return Err(failed(
                "stage the layout",
                format!("node {} has no Garage ID yet", node.name),
            ));
        };
        let live = layout.roles.iter().find(|r| &r.id == id);
        let same = live.is_some_and(|r| {
            r.zone == node.zone && r.capacity == Some(node.capacity) && r.tags == node.tags
        });
        if !same {
            roles.push(serde_json::json!({"id": id, "zone": node.zone, "capacity": node.capacity, "tags": node.tags}));
        }
    }
    // Only the removals the plan showed: a role that appeared since is not
    // for this apply to remove.
    for id in remove {
        if layout.roles.iter().any(|r| &r.id == id) {
            roles.push(serde_json::json!({"id": id, "remove": true}));
        }
    }
    if roles.is_empty() {
        return Ok(None);
    }
    api(
        coordinator,
        "UpdateClusterLayout",
        Some(&serde_json::json!({ "roles": roles })),
    )
    .await?;
    let preview = api(coordinator, "PreviewClusterLayoutChanges", None).await?;
    if let Some(error) = preview.get("error").and_then(|e| e.as_str()) {
        // Leave nothing staged behind a refusal.
        let _ = api(coordinator, "RevertClusterLayout", None).await;
        return Err(failed(
            "preview the layout",
            format!("Garage cannot compute this layout: {error}"),
        ));
    }
    let version = layout.version + 1;
    let applied = api(
        coordinator,
        "ApplyClusterLayout",
        Some(&serde_json::json!({ "version": version })),
    )
    .await;
    if let Err(error) = applied {
        // Never apply a version twice: it may have gone through.
        let now: ClusterLayout = api_as(coordinator, "GetClusterLayout").await?;
        if now.version != version {
            return Err(error);
        }
    }
    Ok(Some(version))
}
