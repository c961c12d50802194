//! Repairs: a node whose data directory lost its blocks while the node
//! kept its identity and metadata (Garage's "data disk lost, metadata
//! fine"): its data layout made anew, so that Garage starts on the empty
//! directory, then Garage's block repair, which queues every block the
//! node should hold for a resync from the other nodes; and a layout
//! version that waits on a dead node, unblocked.

use super::admin_api::{api, api_as};
use super::daemon::wait_for;
use crate::ssh::{Remote, SshError};
use archipel_planner::desired::DesiredNode;
use archipel_planner::garage::{data_layout_path, data_marker_path};
use archipel_planner::observed::LayoutHistory;
use std::time::Duration;

/// Moves the node's data layout aside (`data_layout.lost-TIME`, kept for
/// whoever looks into it) unless the data directory has its marker again,
/// and makes the data directory Garage's. Garage reads its data layout
/// only when it starts: the caller restarts it, and it then records the
/// directory anew and writes a new marker in it.
pub async fn forget_data_layout(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -e
layout=$1; marker=$2; data=$3
install -d -o garage -g garage -m 0700 -- "$data"
if [ -e "$layout" ] && [ ! -e "$marker" ]; then
  mv -- "$layout" "$layout.lost-$(date -u +%Y%m%dT%H%M%SZ)"
fi"#;
    remote
        .run_checked(
            SCRIPT,
            &[
                &data_layout_path(&node.meta_dir),
                &data_marker_path(&node.data_dir),
                &node.data_dir,
            ],
            None,
        )
        .await
        .map(drop)
}

/// Whether the node's data directory holds no block (only, at most, its
/// marker): a node just emptied, or new.
pub async fn holds_no_block(remote: &Remote, node: &DesiredNode) -> Result<bool, SshError> {
    let output = remote
        .run_checked(
            r#"find "$1" -type f ! -name garage-marker -print -quit 2>/dev/null"#,
            &[&node.data_dir],
            None,
        )
        .await?;
    Ok(output.stdout_text().trim().is_empty())
}

/// Clears the resync queue of the node `id`, which must hold no block.
/// Garage checks each block it learns a reference to ten minutes later
/// (twice its RPC timeout), and a block repair only brings a queued check
/// forward to the later of the two times: on an empty node, whose queue
/// holds only such checks (no block of its own waits there to be deleted),
/// clearing it lets the repair fetch everything now. The repair queues
/// every block the node should hold again.
pub async fn clear_resync_queue(coordinator: &Remote, id: &str) -> Result<(), SshError> {
    launch(coordinator, id, serde_json::json!("clearResyncQueue")).await
}

/// Launches Garage's block repair on the node `id` (`*`: on every node),
/// through `coordinator`. It runs in the background on the node; its
/// resync queue (`archipel status`) says how far it is.
pub async fn repair_blocks(coordinator: &Remote, node: &str) -> Result<(), SshError> {
    launch(coordinator, node, serde_json::json!("blocks")).await
}

/// Launches a repair of `kind` on `node` (an ID, or `*`); an error when a
/// node did not start it.
async fn launch(coordinator: &Remote, node: &str, kind: serde_json::Value) -> Result<(), SshError> {
    let answer = api(
        coordinator,
        "LaunchRepairOperation",
        Some(&serde_json::json!({ "node": node, "body": { "repairType": kind } })),
    )
    .await?;
    match answer["error"].as_object().and_then(|e| e.values().next()) {
        Some(error) => Err(SshError::Failed {
            host: coordinator.host().to_string(),
            command: "garage json-api LaunchRepairOperation".into(),
            status: 1,
            stderr: format!("the {kind} repair did not start: {error}"),
        }),
        None => Ok(()),
    }
}

/// While an older layout version is still live (Garage keeps it until
/// every node acknowledged the newer one, which a dead node never does),
/// tells Garage that the nodes it cannot reach acknowledged it: Garage's
/// `layout skip-dead-nodes --version CURRENT`, without
/// `--allow-missing-data` (which would also mark the dead nodes' data as
/// synced). Waits until the older versions are gone, at most `within`.
/// Returns the version skipped to, if any was needed.
pub async fn skip_dead_nodes(
    coordinator: &Remote,
    within: Duration,
) -> Result<Option<u64>, SshError> {
    let history: LayoutHistory = api_as(coordinator, "GetClusterLayoutHistory").await?;
    if !history.is_draining() {
        return Ok(None);
    }
    let skipped = if history.min_ack < history.current_version {
        api(
            coordinator,
            "ClusterLayoutSkipDeadNodes",
            Some(&serde_json::json!({
                "version": history.current_version,
                "allowMissingData": false
            })),
        )
        .await?;
        Some(history.current_version)
    } else {
        None
    };
    wait_for(
        coordinator,
        "the older layout versions to be gone",
        within,
        |remote| async move {
            let history: LayoutHistory = api_as(&remote, "GetClusterLayoutHistory").await?;
            Ok(!history.is_draining())
        },
    )
    .await?;
    Ok(skipped)
}
