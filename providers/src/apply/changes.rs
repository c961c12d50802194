//! Carrying out one change: each kind of change by a function of its own,
//! calling the module of its kind (`garage`, `backup`, `vault`).

use super::{Context, Event, HEALTHY_WITHIN, REPORT_EVERY};
use crate::backup;
use crate::garage;
use crate::ssh::{LocalError, Remote, SshError};
use crate::vault;
use archipel_planner::backup::Task;
use archipel_planner::desired::{DesiredIsland, DesiredNode};
use archipel_planner::model::ResticSource;
use archipel_planner::plan::{
    Action, BackupStep, Change, HostStep, NodeDecision, NodeStep, Target, VaultStep,
};
use std::collections::BTreeMap;
use tokio::sync::{mpsc, watch};

/// Makes one change.
pub(super) async fn run(
    change: &Change,
    context: &Context,
    events: &mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
) -> Result<(), SshError> {
    match &change.target {
        Target::Node {
            island,
            node,
            step,
            decided,
        } => node_step(context, change, (island, node), step, decided, events).await,
        Target::Connect { island } => connect_island(context, island).await,
        Target::Upgrade { island, members } => {
            prepare_upgrade(context, &change.address, island, members, events).await
        }
        Target::Layout { island } => change_layout(context, island).await,
        Target::Bucket { island, bucket } if change.action == Action::Delete => {
            let island = context.island(island)?;
            garage::delete_bucket(context.coordinator(island)?, bucket).await
        }
        Target::Key { island, key } if change.action == Action::Delete => {
            let island = context.island(island)?;
            garage::delete_key(context.coordinator(island)?, key).await
        }
        Target::Bucket { island, bucket } => {
            let island = context.island(island)?;
            let bucket = island
                .buckets
                .iter()
                .find(|b| &b.name == bucket)
                .ok_or_else(|| LocalError::BucketNotInFile {
                    bucket: bucket.clone(),
                })?;
            garage::ensure_bucket(context.coordinator(island)?, bucket).await
        }
        Target::Key { island, key } => {
            let island = context.island(island)?;
            garage::ensure_key(context.coordinator(island)?, key).await
        }
        Target::Grant {
            island,
            bucket,
            key,
        } => grant(context, island, bucket, key).await,
        Target::NodeRemoval {
            island,
            node,
            id,
            dead,
            ..
        } if !dead => remove_node(context, change, events, stop, island, node, id).await,
        Target::NodeRemoval { island, node, .. } => {
            forget_dead_node(context, &change.address, events, island, node).await
        }
        Target::BackupRemoval {
            machine,
            id,
            escrowed,
            ..
        } => backup::remove_job(context.remote(machine)?, id, *escrowed).await,
        Target::BackupHost { machine, step } => backup_host_step(context, machine, step).await,
        Target::Backup {
            machine,
            chaton,
            job,
            step: BackupStep::Timer(task),
        } if change.action == Action::Delete => {
            let id = archipel_planner::backup::job_id(chaton, job);
            backup::remove_task(context.remote(machine)?, &id, *task).await
        }
        Target::Backup {
            chaton, job, step, ..
        } => backup_step(context, chaton, job, step).await,
        Target::Vault { island, node, step } => vault_step(context, island, node, step).await,
        Target::VaultRemoval { node, .. } => vault::remove(context.remote(node)?).await,
    }
}

/// Gives `key` on `bucket` the permissions the file gives it (none when
/// the file no longer has the bucket or the grant).
async fn grant(context: &Context, island: &str, bucket: &str, key: &str) -> Result<(), SshError> {
    let island = context.island(island)?;
    let wanted = island
        .buckets
        .iter()
        .find(|b| b.name == bucket)
        .and_then(|b| b.grants.get(key).copied())
        .unwrap_or_default();
    garage::grant(context.coordinator(island)?, bucket, key, wanted).await
}

/// One step of an island's vault passes, on the node that runs them.
async fn vault_step(
    context: &Context,
    island: &str,
    node: &str,
    step: &VaultStep,
) -> Result<(), SshError> {
    let (island, node) = context.node(island, node)?;
    let remote = context.remote(&node.name)?;
    let vaults = vault::vaults(island)?;
    match step {
        VaultStep::Rclone => vault::install_rclone(remote).await,
        VaultStep::Pass => vault::install_pass(remote).await,
        VaultStep::Config => vault::write_config(remote, vaults).await,
        VaultStep::Credentials => {
            vault::write_credentials(remote, context.coordinator(island)?, island).await
        }
        VaultStep::Service => vault::write_service(remote, vaults).await,
        VaultStep::Timer => vault::write_timer(remote, vaults).await,
    }
}

/// One step of a Garage node.
async fn node_step(
    context: &Context,
    change: &Change,
    (island, node): (&str, &str),
    step: &NodeStep,
    decided: &NodeDecision,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(), SshError> {
    let action = change.action;
    let (island, node) = context.node(island, node)?;
    let remote = context.remote(&node.name)?;
    match step {
        NodeStep::Binary => {
            let binary = context.binaries.garage.get(&island.name).ok_or_else(|| {
                LocalError::NoVerifiedGarage {
                    island: island.name.clone(),
                }
            })?;
            garage::install_binary(remote, binary, &island.binary_sha256, &island.version).await
        }
        NodeStep::Directories => garage::prepare_directories(remote, node).await,
        NodeStep::Config => garage::write_config(remote, node).await,
        NodeStep::Secrets => {
            let secrets = context.secrets(island, decided).await?;
            garage::write_secrets(remote, &secrets).await
        }
        NodeStep::Unit => garage::write_unit(remote, node).await,
        NodeStep::Service => {
            let restart = action == Action::Update;
            if *decided == NodeDecision::Rejoin {
                rejoin(context, island, node, restart).await
            } else {
                // A new node is connected by the island's connect change.
                garage::start(remote, restart).await
            }
        }
        NodeStep::Data => repair_data(context, &change.address, island, node, events).await,
        NodeStep::MetricsService => garage::write_metrics_service(remote, node).await,
        NodeStep::MetricsTimer => garage::write_metrics_timer(remote, node).await,
    }
}

/// A node's data directory lost its blocks: its data layout made anew,
/// the node restarted on it as any member (never while another is down,
/// back before the next node's turn), then Garage's block repair launched
/// on it, which refills it from the other nodes in the background.
async fn repair_data(
    context: &Context,
    address: &archipel_planner::address::Address,
    island: &DesiredIsland,
    node: &DesiredNode,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(), SshError> {
    let remote = context.remote(&node.name)?;
    let say = |message: String| {
        let _ = events.send(Event::Progress(address.clone(), message));
    };
    garage::forget_data_layout(remote, node).await?;
    say(format!(
        "{}: Garage restarts on its empty data directory",
        node.name
    ));
    rejoin(context, island, node, true).await?;
    let id = garage::node_id(remote, &node.meta_dir).await?;
    let coordinator = context.coordinator(island)?;
    // Still empty (no backup wrote to it since): its queue holds only
    // checks for later, which the repair brings forward once cleared.
    if garage::holds_no_block(remote, node).await? {
        garage::clear_resync_queue(coordinator, &id).await?;
    }
    garage::repair_blocks(coordinator, &id).await?;
    say(format!(
        "{}: block repair launched; `archipel status` shows its resync queue",
        node.name
    ));
    Ok(())
}

/// Starts (or restarts) a node that is already a member of its island,
/// never while another member is down, and waits until it is back: seen up
/// by every member, itself included, for longer than a ping, and the
/// island healthy again. Only then is the next node's turn.
async fn rejoin(
    context: &Context,
    island: &DesiredIsland,
    node: &DesiredNode,
    restart: bool,
) -> Result<(), SshError> {
    let remote = context.remote(&node.name)?;
    let ids = context.node_ids(island).await?;
    let names: BTreeMap<String, String> = ids
        .iter()
        .map(|(name, id)| (id.clone(), name.clone()))
        .collect();
    // How the island's nodes see it, this one first.
    let view_of = |name: &str| context.remote(name).ok().cloned();
    let others = island.nodes.iter().filter(|n| n.name != node.name);
    let all: Vec<Remote> = std::iter::once(remote.clone())
        .chain(others.clone().filter_map(|n| view_of(&n.name)))
        .collect();
    // A node joining in the same apply is connected later: only members
    // count.
    let members = garage::members(&all, &island.name, &names).await?;
    let is_member = |name: &str| ids.get(name).is_some_and(|id| members.contains(id));
    let views: Vec<Remote> = std::iter::once(remote.clone())
        .chain(
            others
                .filter(|n| is_member(&n.name))
                .filter_map(|n| view_of(&n.name)),
        )
        .collect();
    if restart {
        garage::others_up(&views, &island.name, &node.name, &members, &names).await?;
    }
    garage::start(remote, restart).await?;
    garage::wait_rejoined(&views, &members, HEALTHY_WITHIN).await?;
    garage::wait_healthy(context.coordinator(island)?, HEALTHY_WITHIN).await
}

/// Connects an island's nodes to its coordinator.
async fn connect_island(context: &Context, island: &str) -> Result<(), SshError> {
    let island = context.island(island)?;
    let ids = context.node_ids(island).await?;
    let coordinator = context.coordinator(island)?;
    let first = island
        .nodes
        .first()
        .map(|n| n.name.as_str())
        .unwrap_or_default();
    let peers: Vec<(String, String)> = island
        .nodes
        .iter()
        .filter(|n| n.name != first)
        .filter_map(|n| {
            ids.get(&n.name)
                .map(|id| (id.clone(), n.rpc_public_addr.clone()))
        })
        .collect();
    let all: Vec<String> = ids.values().cloned().collect();
    garage::connect(coordinator, &peers, &all).await
}

/// Garage's preparation for a new release, before any node of the island
/// gets it: the table repair, waited for, then a metadata snapshot kept on
/// every member, whose place is reported.
async fn prepare_upgrade(
    context: &Context,
    address: &archipel_planner::address::Address,
    island: &str,
    members: &[String],
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(), SshError> {
    let island = context.island(island)?;
    let coordinator = context.coordinator(island)?;
    let say = |message: String| {
        let _ = events.send(Event::Progress(address.clone(), message));
    };
    say("repairing the tables on every node".into());
    garage::repair_tables(coordinator).await?;
    say("tables repaired; snapshotting every node's metadata".into());
    let mut nodes = Vec::new();
    for node in island.nodes.iter().filter(|n| members.contains(&n.name)) {
        nodes.push((node, context.remote(&node.name)?));
    }
    for (node, kept) in garage::snapshot_metadata(coordinator, &nodes, &island.version).await? {
        say(format!("{node}: metadata snapshot kept in {kept}"));
    }
    Ok(())
}

/// Applies the island's new layout, then waits for it to be healthy.
async fn change_layout(context: &Context, island: &str) -> Result<(), SshError> {
    let island = context.island(island)?;
    let ids = context.node_ids(island).await?;
    let coordinator = context.coordinator(island)?;
    let remove = context
        .removals
        .get(&island.name)
        .map_or(&[][..], Vec::as_slice);
    garage::apply_layout(
        coordinator,
        island,
        &ids,
        remove,
        context.options.clear_staged,
    )
    .await?;
    // A dead node keeps the island degraded until the layout version that
    // drops it no longer waits on it: its removal sees to that.
    if remove.iter().any(|id| context.dead.contains(id)) {
        return Ok(());
    }
    garage::wait_healthy(coordinator, HEALTHY_WITHIN).await
}

/// A dead node out of the layout: the layout version that dropped it is
/// unblocked as Garage documents (skip-dead-nodes, never with missing data
/// allowed), then, the island healthy again, Garage's table and block
/// repairs are launched on every node; their resync goes on in the
/// background, and `status` shows it.
async fn forget_dead_node(
    context: &Context,
    address: &archipel_planner::address::Address,
    events: &mpsc::UnboundedSender<Event>,
    island: &str,
    node: &str,
) -> Result<(), SshError> {
    let island = context.island(island)?;
    let coordinator = context.coordinator(island)?;
    let say = |message: String| {
        let _ = events.send(Event::Progress(address.clone(), message));
    };
    if let Some(version) = garage::skip_dead_nodes(coordinator, HEALTHY_WITHIN).await? {
        say(format!(
            "layout version {version} no longer waits on {node} (skip-dead-nodes)"
        ));
    }
    garage::wait_healthy(coordinator, HEALTHY_WITHIN).await?;
    say("island healthy again: repairing the tables on every node".into());
    garage::repair_tables(coordinator).await?;
    // Its replacement, new and empty, fetches its share at once.
    for node in &island.nodes {
        let remote = context.remote(&node.name)?;
        if garage::holds_no_block(remote, node).await? {
            let id = garage::node_id(remote, &node.meta_dir).await?;
            garage::clear_resync_queue(coordinator, &id).await?;
        }
    }
    garage::repair_blocks(coordinator, "*").await?;
    say(
        "block repair launched on every node; `archipel status` shows each node's resync queue until it is empty"
            .into(),
    );
    Ok(())
}

/// Waits for a node out of the layout to hand its data over, then stops it.
async fn remove_node(
    context: &Context,
    change: &Change,
    events: &mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
    island: &str,
    node: &str,
    id: &str,
) -> Result<(), SshError> {
    // Out of the layout since the island's layout change; it runs
    // on until its data has moved, then stops.
    let island = context.island(island)?;
    let remote = context
        .departing
        .get(node)
        .ok_or_else(|| LocalError::DepartingNotConnected {
            node: node.to_string(),
        })?;
    let report = |message: String| {
        let _ = events.send(Event::Progress(change.address.clone(), message));
    };
    let drained = garage::wait_drained(
        context.coordinator(island)?,
        remote,
        id,
        context.options.drain_within,
        REPORT_EVERY,
        &report,
    );
    // Waiting is all this does until the node has drained: an
    // interruption ends the wait, not a change in progress.
    tokio::select! {
        drained = drained => drained?,
        _ = stop.wait_for(|stop| *stop) => {
            return Err(LocalError::InterruptedWhileDraining { node: node.to_string() }.into());
        }
    }
    // Its vault passes, if it ran them, stop with its Garage.
    vault::remove(remote).await?;
    garage::stop(remote).await
}

/// One step of a backup host: restic, or the runner.
async fn backup_host_step(
    context: &Context,
    machine: &str,
    step: &HostStep,
) -> Result<(), SshError> {
    let remote = context.remote(machine)?;
    match step {
        HostStep::Restic => {
            let job = context
                .desired
                .backups
                .iter()
                .find(|b| b.machine == machine)
                .ok_or_else(|| LocalError::NoBackupJob {
                    machine: machine.to_string(),
                })?;
            match &job.restic {
                ResticSource::Package => backup::install_package(remote).await,
                ResticSource::Binary { sha256, .. } => {
                    let binary = context.binaries.restic.get(machine).ok_or_else(|| {
                        LocalError::NoVerifiedRestic {
                            machine: machine.to_string(),
                        }
                    })?;
                    backup::install_binary(remote, binary, sha256).await
                }
            }
        }
        HostStep::Runner => backup::install_runner(remote).await,
    }
}

/// One step of a backup job.
async fn backup_step(
    context: &Context,
    chaton: &str,
    job: &str,
    step: &BackupStep,
) -> Result<(), SshError> {
    let job = context
        .desired
        .backups
        .iter()
        .find(|b| b.chaton == chaton && b.job == job)
        .ok_or_else(|| LocalError::BackupNotInFile {
            chaton: chaton.to_string(),
            job: job.to_string(),
        })?;
    let remote = context.remote(&job.machine)?;
    let unit = |task: Task| {
        job.units
            .iter()
            .find(|u| u.task == task)
            .ok_or_else(|| LocalError::NoTask {
                chaton: chaton.to_string(),
                job: job.job.clone(),
                task: task.name(),
            })
    };
    match step {
        BackupStep::Password => backup::write_password(remote, job).await,
        BackupStep::Credentials => {
            let island = context.island(&job.island)?;
            backup::write_credentials(remote, context.coordinator(island)?, job).await
        }
        BackupStep::Escrow => {
            let island = context.island(&job.island)?;
            backup::escrow(remote, context.coordinator(island)?, island, job).await
        }
        BackupStep::Settings => backup::write_settings(remote, job).await,
        BackupStep::Ping => backup::write_ping(remote, job).await,
        BackupStep::Repository => backup::ensure_repository(remote, job).await,
        BackupStep::LocalRepository => backup::ensure_local_repository(remote, job).await,
        BackupStep::Service(task) => {
            let unit = unit(*task)?;
            backup::write_unit(remote, &unit.service_name, &unit.service, false).await
        }
        BackupStep::Timer(task) => {
            let unit = unit(*task)?;
            backup::write_unit(remote, &unit.timer_name, &unit.timer, true).await
        }
    }
}
