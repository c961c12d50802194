//! Applying a plan: walks its dependency graph, running independent changes
//! at once (each host bounds its own concurrency), stopping the dependants
//! of a failed change while independent branches go on, and restarting the
//! nodes of an island one at a time.
//!
//! The walk is `walk.rs`, apart from machines; this module is what carries
//! out a change for it: the `Context` and the dispatch to the module of the
//! change's kind.

use crate::backup;
use crate::garage::{self, Secrets};
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::address::Address;
use archipel_planner::backup::Task;
use archipel_planner::desired::{Desired, DesiredIsland, DesiredNode};
use archipel_planner::garage as files;
use archipel_planner::model::ResticSource;
use archipel_planner::observed::{FileFacts, MachineObservation, Observed};
use archipel_planner::plan::{Action, BackupStep, Change, HostStep, NodeStep, Plan, Target};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use walk::Executor;

mod walk;

/// How long an island may take to be healthy again after a change.
const HEALTHY_WITHIN: Duration = Duration::from_secs(120);

/// How often a long wait (a node draining) reports how far it is.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// Binaries apply installs, read (or downloaded) once and checked against
/// their pinned sha256 before anything is touched.
#[derive(Debug, Default)]
pub struct Binaries {
    /// Garage, per island.
    pub garage: BTreeMap<String, Arc<Vec<u8>>>,
    /// restic, per backup host that pins one.
    pub restic: BTreeMap<String, Arc<Vec<u8>>>,
}

/// Choices the user made for this apply.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Drop layout changes staged by someone else (the user said so).
    pub clear_staged: bool,
    /// How long a node out of the layout may take to hand its data over.
    pub drain_within: Duration,
}

/// Everything the changes need, shared by the running ones.
pub struct Context {
    pub desired: Desired,
    pub observed: Observed,
    pub remotes: BTreeMap<String, Remote>,
    /// Nodes leaving their island, by name: connected for the plan's
    /// removals, since the file no longer lists them.
    pub departing: BTreeMap<String, Remote>,
    /// Each island's Garage binary, and each backup host's pinned restic
    /// (by machine), already checked against their pins.
    pub binaries: Binaries,
    pub options: Options,
    /// Per island, the Garage IDs of the nodes the plan removes.
    removals: BTreeMap<String, Vec<String>>,
    secrets: Mutex<BTreeMap<String, Arc<Secrets>>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("remotes", &self.remotes.keys())
            .finish()
    }
}

impl Context {
    pub fn new(
        plan: &Plan,
        desired: Desired,
        observed: Observed,
        remotes: BTreeMap<String, Remote>,
        departing: BTreeMap<String, Remote>,
        binaries: Binaries,
        options: Options,
    ) -> Context {
        let mut removals: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for change in &plan.changes {
            if let Target::NodeRemoval { island, id, .. } = &change.target {
                removals.entry(island.clone()).or_default().push(id.clone());
            }
        }
        Context {
            desired,
            observed,
            remotes,
            departing,
            binaries,
            options,
            removals,
            secrets: Mutex::new(BTreeMap::new()),
        }
    }

    fn island(&self, name: &str) -> Result<&DesiredIsland, SshError> {
        self.desired
            .islands
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| {
                LocalError::IslandNotInFile {
                    island: name.to_string(),
                }
                .into()
            })
    }

    fn node(&self, island: &str, node: &str) -> Result<(&DesiredIsland, &DesiredNode), SshError> {
        let island = self.island(island)?;
        let node = island
            .nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| LocalError::NodeNotInFile {
                node: node.to_string(),
            })?;
        Ok((island, node))
    }

    fn remote(&self, machine: &str) -> Result<&Remote, SshError> {
        self.remotes.get(machine).ok_or_else(|| {
            LocalError::NotConnected {
                machine: machine.to_string(),
            }
            .into()
        })
    }

    /// The island's node that island-wide calls go through: its first node
    /// (all calls to one node, as Garage's manual asks).
    fn coordinator(&self, island: &DesiredIsland) -> Result<&Remote, SshError> {
        let node = island
            .nodes
            .first()
            .ok_or_else(|| LocalError::IslandWithoutNode {
                island: island.name.clone(),
            })?;
        self.remote(&node.name)
    }

    /// The island's secrets: read from a node that has them, or, for a new
    /// island, generated once.
    async fn secrets(&self, island: &DesiredIsland) -> Result<Arc<Secrets>, SshError> {
        let mut cache = self.secrets.lock().await;
        if let Some(secrets) = cache.get(&island.name) {
            return Ok(Arc::clone(secrets));
        }
        let holder = island.nodes.iter().find(|node| {
            matches!(
                self.observed.machines.get(&node.name),
                Some(MachineObservation::Reached { facts })
                    if matches!(facts.files.get(files::RPC_SECRET), Some(FileFacts::File { .. }))
            )
        });
        let secrets = match holder {
            Some(node) => Secrets::read(self.remote(&node.name)?).await?,
            None => Secrets::generate()?,
        };
        let secrets = Arc::new(secrets);
        cache.insert(island.name.clone(), Arc::clone(&secrets));
        Ok(secrets)
    }

    /// Every node's Garage ID, read from the nodes (after they started).
    async fn node_ids(&self, island: &DesiredIsland) -> Result<BTreeMap<String, String>, SshError> {
        let mut ids = BTreeMap::new();
        for node in &island.nodes {
            let remote = self.remote(&node.name)?;
            ids.insert(
                node.name.clone(),
                garage::node_id(remote, &node.meta_dir).await?,
            );
        }
        Ok(ids)
    }

    /// Whether the node was part of the running island before this apply
    /// (it has run Garage, and the island has a layout).
    fn was_member(&self, island: &str, node: &DesiredNode) -> bool {
        self.island_was_running(island)
            && matches!(
                self.observed.machines.get(&node.name),
                Some(MachineObservation::Reached { facts })
                    if matches!(facts.files.get(&files::node_key_path(&node.meta_dir)), Some(FileFacts::File { .. }))
            )
    }

    /// Whether the island had a layout before this apply.
    fn island_was_running(&self, island: &str) -> bool {
        matches!(
            self.observed.islands.get(island),
            Some(archipel_planner::observed::IslandObservation::Reached { .. })
        )
    }
}

/// What happened to each change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(Duration),
    Failed(String),
    /// Not run: a change it depends on failed, or apply was interrupted.
    Skipped(String),
}

/// Progress, as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    Started(Address),
    /// How a long change is getting on.
    Progress(Address, String),
    Finished(Address, Outcome),
}

/// Applies the plan's changes in dependency order. Returns each change's
/// outcome, in plan order.
pub async fn apply(
    plan: &Plan,
    context: Arc<Context>,
    stop: watch::Receiver<bool>,
    events: mpsc::UnboundedSender<Event>,
) -> Vec<(Address, Outcome)> {
    walk::walk(plan, context, stop, events).await
}

impl Executor for Context {
    /// A restart of a node of a running island takes the island's turn:
    /// one node at a time. Other changes need no turn.
    fn turn(&self, change: &Change) -> Option<String> {
        match &change.target {
            Target::Node {
                island,
                step: NodeStep::Service,
                ..
            } if change.action == Action::Update
                && self.island_was_running(island)
                && self.island(island).is_ok() =>
            {
                Some(island.clone())
            }
            _ => None,
        }
    }

    async fn run(
        &self,
        change: &Change,
        events: &mpsc::UnboundedSender<Event>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        run(change, self, events, stop)
            .await
            .map_err(|error| error.to_string())
    }
}

/// Makes one change.
async fn run(
    change: &Change,
    context: &Context,
    events: &mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
) -> Result<(), SshError> {
    match &change.target {
        Target::Node { island, node, step } => {
            node_step(context, change.action, island, node, step).await
        }
        Target::Connect { island } => connect_island(context, island).await,
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
        } => {
            let island = context.island(island)?;
            let wanted = island
                .buckets
                .iter()
                .find(|b| &b.name == bucket)
                .and_then(|b| b.grants.get(key).copied())
                .unwrap_or_default();
            garage::grant(context.coordinator(island)?, bucket, key, wanted).await
        }
        Target::NodeRemoval {
            island, node, id, ..
        } => remove_node(context, change, events, stop, island, node, id).await,
        Target::BackupRemoval {
            machine,
            id,
            escrowed,
            ..
        } => backup::remove_job(context.remote(machine)?, id, *escrowed).await,
        Target::BackupHost { machine, step } => backup_host_step(context, machine, step).await,
        Target::Backup {
            chaton, job, step, ..
        } => backup_step(context, chaton, job, step).await,
    }
}

/// One step of a Garage node.
async fn node_step(
    context: &Context,
    action: Action,
    island: &str,
    node: &str,
    step: &NodeStep,
) -> Result<(), SshError> {
    let (island, node) = context.node(island, node)?;
    let remote = context.remote(&node.name)?;
    match step {
        NodeStep::Binary => {
            let binary = context.binaries.garage.get(&island.name).ok_or_else(|| {
                LocalError::NoVerifiedGarage {
                    island: island.name.clone(),
                }
            })?;
            garage::install_binary(remote, binary, &island.binary_sha256).await
        }
        NodeStep::Directories => garage::prepare_directories(remote, node).await,
        NodeStep::Config => garage::write_config(remote, node).await,
        NodeStep::Secrets => {
            let secrets = context.secrets(island).await?;
            garage::write_secrets(remote, &secrets).await
        }
        NodeStep::Unit => garage::write_unit(remote, node).await,
        NodeStep::Service => {
            let restart = action == Action::Update;
            garage::start(remote, restart).await?;
            // A node that was already a member rejoins before the
            // change counts as done (and, for a rolling restart,
            // before the next node's turn): the island healthy
            // again. A new node is connected by the island's
            // connect change instead.
            if context.was_member(&island.name, node) {
                // Healthy as the node sees it, and as the island's
                // coordinator does (it notices the node back a
                // moment later; plans read the island through it).
                garage::wait_healthy(remote, HEALTHY_WITHIN).await?;
                garage::wait_healthy(context.coordinator(island)?, HEALTHY_WITHIN).await
            } else {
                Ok(())
            }
        }
    }
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
    garage::wait_healthy(coordinator, HEALTHY_WITHIN).await
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
        BackupStep::Repository => backup::ensure_repository(remote, job).await,
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
