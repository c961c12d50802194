//! Applying a plan: walks its dependency graph, running independent changes
//! at once (each host bounds its own concurrency), stopping the dependants
//! of a failed change while independent branches go on, and restarting the
//! nodes of an island one at a time.
//!
//! The walk is `walk.rs`, apart from machines; this module is what carries
//! out a change for it: the `Context`, and in `changes.rs` the dispatch of
//! each change to the module of its kind.

use crate::garage::{self, Secrets};
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::address::Address;
use archipel_planner::desired::{Desired, DesiredIsland, DesiredNode};
use archipel_planner::plan::{Action, Change, NodeDecision, NodeStep, Plan, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use walk::Executor;

mod changes;
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
    /// The IDs of the removed nodes declared dead.
    dead: BTreeSet<String>,
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
        remotes: BTreeMap<String, Remote>,
        departing: BTreeMap<String, Remote>,
        binaries: Binaries,
        options: Options,
    ) -> Context {
        let mut removals: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut dead = BTreeSet::new();
        for change in &plan.changes {
            if let Target::NodeRemoval {
                island,
                id,
                dead: is_dead,
                ..
            } = &change.target
            {
                removals.entry(island.clone()).or_default().push(id.clone());
                if *is_dead {
                    dead.insert(id.clone());
                }
            }
        }
        Context {
            desired,
            remotes,
            departing,
            binaries,
            options,
            removals,
            dead,
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

    /// The island's secrets, as the plan decided: read from the node it
    /// named, or, for a new island, generated once.
    async fn secrets(
        &self,
        island: &DesiredIsland,
        decided: &NodeDecision,
    ) -> Result<Arc<Secrets>, SshError> {
        let mut cache = self.secrets.lock().await;
        if let Some(secrets) = cache.get(&island.name) {
            return Ok(Arc::clone(secrets));
        }
        let secrets = match decided {
            NodeDecision::CopySecretsFrom(holder) => Secrets::read(self.remote(holder)?).await?,
            NodeDecision::GenerateSecrets => Secrets::generate()?,
            _ => Err(LocalError::UndecidedSecrets {
                island: island.name.clone(),
            })?,
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
    /// A restart of a member of a running island (as the plan saw it)
    /// takes the island's turn: one node at a time. Other changes need no
    /// turn.
    fn turn(&self, change: &Change) -> Option<String> {
        match &change.target {
            Target::Node {
                island,
                step: NodeStep::Service,
                decided: NodeDecision::Rejoin,
                ..
            } if change.action == Action::Update => Some(island.clone()),
            _ => None,
        }
    }

    async fn run(
        &self,
        change: &Change,
        events: &mpsc::UnboundedSender<Event>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        changes::run(change, self, events, stop)
            .await
            .map_err(|error| error.to_string())
    }
}
