//! The plan: the desired state against the observed one, as typed changes
//! with stable addresses, ordered by a dependency graph.
//!
//! Addresses read like the archipelago: `island.ouest.node.pica-1.config`,
//! `island.est.bucket.backup-picasoft`, `chaton.picasoft.backup.nextcloud.timer`.
//! Secrets never enter a plan: their changes say `(sensitive)`.

use crate::backup::{self, Task};
use crate::desired::{Desired, DesiredBackup, DesiredBucket, DesiredIsland, DesiredNode};
use crate::garage;
use crate::model::ResticSource;
use crate::observed::{
    Cluster, FileFacts, HostFacts, IslandObservation, MachineObservation, Observed, Permissions,
    Unreachable,
};
use crate::size::Size;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const SENSITIVE: &str = "(sensitive)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub action: Action,
    /// Why: what was seen that differs from the file.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
    /// A text file's content before and after, for a diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileChange>,
    /// Addresses of the changes that must succeed first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// What the change is about, for apply. Not part of the JSON output:
    /// the address says the same to people and scripts.
    #[serde(skip)]
    pub target: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub before: Option<String>,
    pub after: String,
}

/// Something live that the file does not declare: shown, left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub address: String,
    pub description: String,
}

/// A part of the world that could not be observed, and what the plan
/// therefore leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incomplete {
    /// A machine or an island.
    pub target: String,
    pub problem: Unreachable,
    /// The addresses not planned because of it.
    pub not_planned: Vec<String>,
}

/// Something apply must not attempt: the file asks for the impossible or
/// the dangerous. A plan with errors is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// In an order that respects every dependency.
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    pub incomplete: Vec<Incomplete>,
    pub errors: Vec<PlanError>,
    pub warnings: Vec<String>,
    /// Each island's usable capacity and the quotas promised on it.
    #[serde(default)]
    pub capacity: Vec<crate::capacity::Capacity>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Replace => {
                    summary.add += 1;
                    summary.destroy += 1;
                }
                Action::Delete => summary.destroy += 1,
            }
        }
        summary
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The plan cannot be applied as it is: errors, or parts not observed.
    pub fn is_blocked(&self) -> bool {
        !self.errors.is_empty() || !self.incomplete.is_empty()
    }
}

/// What a change is about, typed: what apply dispatches on, and what fixes
/// its place in the dependency order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Node {
        island: String,
        node: String,
        step: NodeStep,
    },
    /// A node out of the file but still in the island's layout: drained,
    /// then stopped.
    NodeRemoval {
        island: String,
        node: String,
        /// Its Garage ID.
        id: String,
        /// How to reach it (from its role's tags).
        ssh: String,
    },
    Connect {
        island: String,
    },
    Layout {
        island: String,
    },
    Bucket {
        island: String,
        bucket: String,
    },
    Key {
        island: String,
        key: String,
    },
    Grant {
        island: String,
        bucket: String,
        key: String,
    },
    /// A job found on a machine where the file no longer runs it: its
    /// timers stopped, its units and files removed; its repository stays.
    BackupRemoval {
        chaton: String,
        job: String,
        machine: String,
        /// How the job is named on the machine.
        id: String,
        /// Its password was escrowed, so it goes too; otherwise it stays.
        escrowed: bool,
    },
    /// What a backup host needs once, whatever its jobs.
    BackupHost {
        machine: String,
        step: HostStep,
    },
    Backup {
        chaton: String,
        job: String,
        /// The host it runs on.
        machine: String,
        step: BackupStep,
    },
}

/// Garage on a node: binary → config and secrets → unit → running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStep {
    Binary = 0,
    Directories = 1,
    Config = 2,
    Secrets = 3,
    Unit = 4,
    Service = 5,
}

/// A backup host: restic, then archipel's runner and its directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStep {
    Restic,
    Runner,
}

/// A backup job on its host: its password, key and settings → its
/// repository → each task's service → each task's timer; the password's
/// escrow once the password and the key exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStep {
    Password,
    Credentials,
    Escrow,
    Settings,
    Repository,
    Service(Task),
    Timer(Task),
}

struct Planned {
    change: Change,
    kind: Target,
}

#[derive(Default)]
struct Builder {
    planned: Vec<Planned>,
    plan: Plan,
}

impl Builder {
    fn add(
        &mut self,
        kind: Target,
        address: String,
        action: Action,
        reason: impl Into<String>,
    ) -> &mut Change {
        self.planned.push(Planned {
            change: Change {
                address,
                action,
                reason: reason.into(),
                attributes: Vec::new(),
                file: None,
                depends_on: Vec::new(),
                target: Some(kind.clone()),
            },
            kind,
        });
        &mut self.planned.last_mut().expect("just pushed").change
    }
}

impl Change {
    fn attribute(
        &mut self,
        name: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> &mut Change {
        self.attributes.push(AttributeChange {
            name: name.to_string(),
            before,
            after,
        });
        self
    }
}

/// Computes the plan. Pure: the same desired and observed state always give
/// the same plan, in the same order.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let mut builder = Builder::default();
    for island in &desired.islands {
        plan_island(island, observed, &mut builder);
    }
    let mut hosts_planned = BTreeSet::new();
    for backup in &desired.backups {
        plan_backup(backup, desired, observed, &mut hosts_planned, &mut builder);
    }
    plan_backup_removals(desired, observed, &mut builder);
    machines_are_distinct(observed, &mut builder);
    guard(desired, observed, &mut builder);
    let mut plan = order(builder);
    for island in &desired.islands {
        plan.warnings.extend(island.s3_risks.iter().cloned());
    }
    plan.capacity = desired.islands.iter().map(|i| i.capacity.clone()).collect();
    plan
}

/// `prevent_destroy = true`: a plan that would destroy what it guards is
/// an error, never applied.
fn guard(desired: &Desired, observed: &Observed, b: &mut Builder) {
    let guarded = &desired.guarded;
    let chaton_of_key = |key: &str| {
        key.strip_prefix(crate::desired::KEY_PREFIX)
            .map(str::to_string)
    };
    let chaton_of_bucket = |bucket: &str| {
        bucket
            .strip_prefix(crate::desired::BACKUP_BUCKET_PREFIX)
            .map(str::to_string)
    };
    let mut errors = Vec::new();
    for planned in &b.planned {
        let change = &planned.change;
        if !matches!(change.action, Action::Delete | Action::Replace) {
            continue;
        }
        let why = match &planned.kind {
            Target::NodeRemoval {
                island, node, id, ..
            } => {
                // The node's chaton is its role's zone.
                let zone = match observed.islands.get(island) {
                    Some(IslandObservation::Reached { cluster, .. }) => cluster
                        .layout
                        .roles
                        .iter()
                        .find(|r| &r.id == id)
                        .map(|r| r.zone.clone()),
                    _ => None,
                };
                if guarded.nodes.contains(node) {
                    Some(format!("node \"{node}\""))
                } else {
                    zone.filter(|z| guarded.chatons.contains(z))
                        .map(|z| format!("chaton \"{z}\""))
                }
            }
            Target::Key { island, key } => {
                // Deleting a key takes its permissions away with it.
                let guarded_bucket = match observed.islands.get(island) {
                    Some(IslandObservation::Reached { cluster, .. }) => cluster
                        .buckets
                        .iter()
                        .filter(|b| b.keys.iter().any(|k| &k.name == key))
                        .flat_map(|b| &b.global_aliases)
                        .find(|alias| guarded.buckets.contains(*alias))
                        .cloned(),
                    _ => None,
                };
                chaton_of_key(key)
                    .filter(|c| guarded.chatons.contains(c))
                    .map(|c| format!("chaton \"{c}\""))
                    .or(guarded_bucket.map(|b| format!("bucket \"{b}\"")))
            }
            Target::Bucket { bucket, .. } => {
                if guarded.buckets.contains(bucket) {
                    Some(format!("bucket \"{bucket}\""))
                } else {
                    chaton_of_bucket(bucket)
                        .filter(|c| guarded.chatons.contains(c))
                        .map(|c| format!("chaton \"{c}\""))
                }
            }
            Target::Grant { bucket, .. } => guarded
                .buckets
                .contains(bucket)
                .then(|| format!("bucket \"{bucket}\"")),
            Target::BackupRemoval { chaton, .. } => guarded
                .chatons
                .contains(chaton)
                .then(|| format!("chaton \"{chaton}\"")),
            _ => None,
        };
        if let Some(owner) = why {
            errors.push(PlanError {
                address: change.address.clone(),
                message: format!(
                    "{owner} has prevent_destroy = true, and this plan would destroy {}: if that is intended, remove prevent_destroy first, in a change of its own",
                    change.address
                ),
            });
        }
    }
    b.plan.errors.extend(errors);
}

/// Jobs installed on a machine of the file that the file does not run
/// there (removed, or moved to another host). Machines that left the file
/// are not observed: their jobs are out of archipel's sight.
fn plan_backup_removals(desired: &Desired, observed: &Observed, b: &mut Builder) {
    // `removed` blocks: their hosts must be reached, and say when they are
    // done.
    for crate::desired::RemovedJob {
        chaton,
        job,
        machine,
    } in &desired.removed
    {
        let address = format!("chaton.{chaton}.backup.{job}");
        match observed.machines.get(machine) {
            Some(MachineObservation::Reached { facts }) => {
                let left = facts.probes.get(backup::JOBS_PROBE.0).is_some_and(|p| {
                    backup::installed_jobs(&p.output)
                        .iter()
                        .any(|j| &j.chaton == chaton && &j.job == job)
                });
                if !left {
                    b.plan.warnings.push(format!(
                        "removed \"{job}\" of chaton \"{chaton}\": nothing of it is left on {machine}; the `removed` block can go"
                    ));
                }
            }
            Some(MachineObservation::Unreachable { problem }) => {
                match b.plan.incomplete.iter_mut().find(|i| &i.target == machine) {
                    Some(entry) => entry.not_planned.push(address),
                    None => b.plan.incomplete.push(Incomplete {
                        target: machine.clone(),
                        problem: problem.clone(),
                        not_planned: vec![address],
                    }),
                }
            }
            None => {}
        }
    }
    for (machine, observation) in &observed.machines {
        let MachineObservation::Reached { facts } = observation else {
            continue;
        };
        let Some(probe) = facts.probes.get(backup::JOBS_PROBE.0) else {
            continue;
        };
        for found in backup::installed_jobs(&probe.output) {
            let wanted = desired
                .backups
                .iter()
                .find(|d| d.chaton == found.chaton && d.job == found.job);
            let (address, reason) = match wanted {
                Some(d) if &d.machine == machine => continue,
                Some(d) => (
                    format!("chaton.{}.backup.{}.previous-host", found.chaton, found.job),
                    format!(
                        "backup \"{}\" of chaton \"{}\" now runs on {}: its timers on {machine} are stopped and its units and files removed",
                        found.job, found.chaton, d.machine
                    ),
                ),
                None => (
                    format!("chaton.{}.backup.{}", found.chaton, found.job),
                    format!(
                        "backup \"{}\" of chaton \"{}\" is no longer in the file: its timers on {machine} are stopped and its units and files removed",
                        found.job, found.chaton
                    ),
                ),
            };
            let password = if found.escrowed {
                "removed from the host (it is escrowed)"
            } else {
                "kept on the host: it was never escrowed, and the repository only opens with it"
            };
            b.add(
                Target::BackupRemoval {
                    chaton: found.chaton.clone(),
                    job: found.job.clone(),
                    machine: machine.clone(),
                    id: found.id.clone(),
                    escrowed: found.escrowed,
                },
                address,
                Action::Delete,
                reason,
            )
            .attribute("repository", None, Some("kept, with its snapshots".into()))
            .attribute("password", None, Some(password.into()));
        }
    }
}

fn node_address(island: &str, node: &str) -> String {
    format!("island.{island}.node.{node}")
}

fn machine_facts<'o>(
    observed: &'o Observed,
    name: &str,
) -> Result<&'o HostFacts, Option<&'o Unreachable>> {
    match observed.machines.get(name) {
        Some(MachineObservation::Reached { facts }) => Ok(facts),
        Some(MachineObservation::Unreachable { problem }) => Err(Some(problem)),
        None => Err(None),
    }
}

fn plan_island(island: &DesiredIsland, observed: &Observed, b: &mut Builder) {
    let mut node_ids: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut other_factor: Vec<(&str, u8)> = Vec::new();
    for node in &island.nodes {
        let address = node_address(&island.name, &node.name);
        match machine_facts(observed, &node.name) {
            Ok(facts) => {
                node_ids.insert(&node.name, node_id(facts, node));
                plan_node(island, node, facts, b);
                if let Some(live) = facts
                    .files
                    .get(garage::CONFIG)
                    .and_then(file_content)
                    .and_then(garage::replication_factor_in)
                    && live != island.replication_factor
                {
                    other_factor.push((&node.name, live));
                }
            }
            Err(problem) => {
                b.plan.incomplete.push(Incomplete {
                    target: node.name.clone(),
                    problem: problem.cloned().unwrap_or_else(not_observed),
                    not_planned: vec![address],
                });
            }
        }
    }
    if !other_factor.is_empty() {
        b.plan.errors.push(PlanError {
            address: format!("island.{}", island.name),
            message: format!(
                "replication_factor cannot change on a live island: the file says {}, but {} run{} with {}",
                island.replication_factor,
                other_factor.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                if other_factor.len() == 1 { "s" } else { "" },
                other_factor.iter().map(|(_, f)| f.to_string()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", "),
            ),
        });
    }
    // Two desired nodes with one Garage identity: a cloned metadata directory.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (node, id) in &node_ids {
        if let Some(id) = id
            && let Some(other) = seen.insert(id, node)
        {
            b.plan.errors.push(PlanError {
                address: node_address(&island.name, node),
                message: format!(
                    "nodes {other} and {node} have the same Garage node ID {}: a metadata directory was copied between machines",
                    short_id(id)
                ),
            });
        }
    }

    match observed.islands.get(&island.name) {
        Some(IslandObservation::Reached { cluster, .. }) => {
            plan_live_island(island, cluster, &node_ids, b)
        }
        Some(IslandObservation::NotRunning) => plan_new_island(island, b),
        Some(IslandObservation::Unreachable { problem }) => b.plan.incomplete.push(Incomplete {
            target: format!("island {}", island.name),
            problem: problem.clone(),
            not_planned: vec![
                format!("island.{}.layout", island.name),
                format!("island.{}.bucket.*", island.name),
                format!("island.{}.key.*", island.name),
            ],
        }),
        None => b.plan.incomplete.push(Incomplete {
            target: format!("island {}", island.name),
            problem: not_observed(),
            not_planned: vec![format!("island.{}", island.name)],
        }),
    }
}

fn not_observed() -> Unreachable {
    Unreachable {
        kind: crate::observed::UnreachableKind::Other,
        message: "not observed".into(),
    }
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(16)]
}

fn file_content(file: &FileFacts) -> Option<&str> {
    match file {
        FileFacts::File { content, .. } => content.as_deref(),
        _ => None,
    }
}

/// The node's Garage ID (hex public key), once the daemon has run.
fn node_id(facts: &HostFacts, node: &DesiredNode) -> Option<String> {
    facts
        .files
        .get(&garage::node_key_path(&node.meta_dir))
        .and_then(file_content)
        .filter(|hex| hex.len() == 64)
        .map(str::to_string)
}

fn ownership(file: &FileFacts) -> Option<(&str, &str, &str)> {
    match file {
        FileFacts::File {
            owner, group, mode, ..
        }
        | FileFacts::Directory { owner, group, mode } => {
            Some((owner.as_str(), group.as_str(), mode.as_str()))
        }
        _ => None,
    }
}

fn show_ownership((owner, group, mode): (&str, &str, &str)) -> String {
    format!("{owner}:{group} {mode}")
}

fn plan_node(island: &DesiredIsland, node: &DesiredNode, facts: &HostFacts, b: &mut Builder) {
    let address = node_address(&island.name, &node.name);
    let kind = |step| Target::Node {
        island: island.name.clone(),
        node: node.name.clone(),
        step,
    };
    let missing = FileFacts::Missing;
    let file = |path: &str| facts.files.get(path).unwrap_or(&missing);
    let mut restart_for: Vec<&str> = Vec::new();

    // The binary.
    let live_version = facts
        .probes
        .get(garage::VERSION_PROBE.0)
        .filter(|p| p.status == 0)
        .map(|p| p.output.clone());
    match file(garage::BINARY) {
        FileFacts::File { sha256, .. }
            if sha256.as_deref() == Some(island.binary_sha256.as_str()) => {}
        FileFacts::File { sha256, .. } => {
            restart_for.push("binary");
            b.add(
                kind(NodeStep::Binary),
                format!("{address}.binary"),
                Action::Update,
                "the installed Garage is not the pinned binary",
            )
            .attribute("version", live_version, Some(island.version.clone()))
            .attribute("sha256", sha256.clone(), Some(island.binary_sha256.clone()));
        }
        _ => {
            b.add(
                kind(NodeStep::Binary),
                format!("{address}.binary"),
                Action::Create,
                "Garage is not installed",
            )
            .attribute("version", None, Some(island.version.clone()))
            .attribute("sha256", None, Some(island.binary_sha256.clone()));
        }
    }

    // The garage user and its directories.
    let user_exists = facts
        .probes
        .get(garage::USER_PROBE.0)
        .is_some_and(|p| p.status == 0);
    let mut directories = Vec::new();
    for dir in [&node.meta_dir, &node.data_dir] {
        let live =
            ownership(file(dir)).filter(|_| matches!(file(dir), FileFacts::Directory { .. }));
        if live != Some(garage::DIRECTORY_OWNER) {
            directories.push((dir.clone(), live.map(show_ownership)));
        }
    }
    if !user_exists || !directories.is_empty() {
        let creating = !user_exists;
        let change = b.add(
            kind(NodeStep::Directories),
            format!("{address}.directories"),
            if creating {
                Action::Create
            } else {
                Action::Update
            },
            if creating {
                "the garage system user and its directories do not exist"
            } else {
                "Garage's directories are missing or not private to the garage user"
            },
        );
        if !user_exists {
            change.attribute("user", None, Some(garage::USER.into()));
        }
        for (dir, live) in directories {
            change.attribute(&dir, live, Some(show_ownership(garage::DIRECTORY_OWNER)));
        }
    }

    // Text files: config and unit.
    for (path, desired_text, step, name, why) in [
        (
            garage::CONFIG,
            &node.config,
            NodeStep::Config,
            "config",
            "config",
        ),
        (garage::UNIT, &node.unit, NodeStep::Unit, "unit", "unit"),
    ] {
        let wanted_owner = if step == NodeStep::Config {
            garage::CONFIG_OWNER
        } else {
            ("root", "root", "644")
        };
        match file(path) {
            FileFacts::File { content, .. } => {
                let live = ownership(file(path));
                let text_differs = content.as_deref() != Some(desired_text.as_str());
                let owner_differs = live != Some(wanted_owner);
                if text_differs || owner_differs {
                    if text_differs {
                        restart_for.push(why);
                    }
                    let change = b.add(
                        kind(step),
                        format!("{address}.{name}"),
                        Action::Update,
                        if text_differs {
                            format!("{path} differs from the file's")
                        } else {
                            format!("{path} has the wrong owner or mode")
                        },
                    );
                    if text_differs {
                        change.file = Some(FileChange {
                            path: path.to_string(),
                            before: content.clone(),
                            after: desired_text.clone(),
                        });
                    }
                    if owner_differs {
                        change.attribute(
                            "owner",
                            live.map(show_ownership),
                            Some(show_ownership(wanted_owner)),
                        );
                    }
                }
            }
            _ => {
                b.add(
                    kind(step),
                    format!("{address}.{name}"),
                    Action::Create,
                    format!("{path} does not exist"),
                )
                .file = Some(FileChange {
                    path: path.to_string(),
                    before: None,
                    after: desired_text.clone(),
                });
            }
        }
    }

    // Secrets: present, private; never read.
    let mut secret_attributes = Vec::new();
    let mut secrets_missing = false;
    for (path, name) in [
        (garage::RPC_SECRET, "rpc_secret"),
        (garage::ADMIN_TOKEN, "admin_token"),
    ] {
        match file(path) {
            FileFacts::File { .. } => {
                let live = ownership(file(path));
                if live != Some(garage::SECRET_OWNER) {
                    secret_attributes.push((
                        format!("{name} owner"),
                        live.map(show_ownership),
                        Some(show_ownership(garage::SECRET_OWNER)),
                    ));
                }
            }
            _ => {
                secrets_missing = true;
                secret_attributes.push((name.to_string(), None, Some(SENSITIVE.to_string())));
            }
        }
    }
    if !secret_attributes.is_empty() {
        let change = b.add(
            kind(NodeStep::Secrets),
            format!("{address}.secrets"),
            if secrets_missing { Action::Create } else { Action::Update },
            if secrets_missing {
                "Garage's secrets are not on the node (generated for a new island, copied from the island's nodes otherwise)"
            } else {
                "Garage's secret files must be private to the garage user (Garage refuses to start otherwise)"
            },
        );
        for (name, before, after) in secret_attributes {
            change.attribute(&name, before, after);
        }
    }

    // The service.
    let unit = facts.units.get(garage::SERVICE);
    let running = unit.is_some_and(|u| u.installed && u.is_enabled() && u.is_active());
    // A file changed after Garage started (an apply interrupted between
    // writing it and restarting, or a hand edit since reverted to the
    // file's): the daemon still runs the old one.
    if let Some(since) = unit.and_then(|u| u.active_since) {
        for (path, what) in [
            (garage::BINARY, "binary"),
            (garage::CONFIG, "config"),
            (garage::UNIT, "unit"),
        ] {
            let changed_later =
                matches!(file(path), FileFacts::File { modified: Some(m), .. } if *m > since);
            if changed_later && !restart_for.contains(&what) {
                restart_for.push(what);
            }
        }
    }
    if !running {
        let change = b.add(
            kind(NodeStep::Service),
            format!("{address}.service"),
            Action::Create,
            "garage.service is not enabled and running",
        );
        change.attribute(
            "state",
            unit.filter(|u| u.installed)
                .map(|u| format!("{}, {}", u.enabled, u.active)),
            Some("enabled, active".into()),
        );
    } else if !restart_for.is_empty() {
        b.add(
            kind(NodeStep::Service),
            format!("{address}.service"),
            Action::Update,
            format!(
                "restart to load the new {} (one node of the island at a time)",
                restart_for.join(" and ")
            ),
        );
    }
}

/// A new island: every node connected, the first layout, every bucket and key.
fn plan_new_island(island: &DesiredIsland, b: &mut Builder) {
    let name = &island.name;
    b.add(
        Target::Connect {
            island: name.clone(),
        },
        format!("island.{name}.connect"),
        Action::Create,
        "the island's nodes have never met",
    )
    .attribute(
        "nodes",
        None,
        Some(
            island
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    let change = b.add(
        Target::Layout {
            island: name.clone(),
        },
        format!("island.{name}.layout"),
        Action::Create,
        "the island has no layout yet",
    );
    change.attribute("version", Some("0".into()), Some("1".into()));
    for node in &island.nodes {
        change.attribute(
            &format!("role {}", node.name),
            None,
            Some(role_text(&node.zone, node.capacity, &node.tags)),
        );
    }
    for bucket in &island.buckets {
        plan_bucket(island, bucket, None, b);
    }
    for key in &island.keys {
        add_key(name, key, b);
    }
}

/// A layout role as the plan shows it; the SSH address (the role's third
/// tag) shows too, since changing it changes the role.
fn role_text(zone: &str, capacity: u64, tags: &[String]) -> String {
    let mut text = format!("zone {zone}, capacity {}", Size(capacity));
    if let Some(ssh) = tags.get(2) {
        text.push_str(&format!(", ssh {ssh}"));
    }
    text
}

fn add_key(island: &str, key: &str, b: &mut Builder) {
    b.add(
        Target::Key {
            island: island.to_string(),
            key: key.to_string(),
        },
        format!("island.{island}.key.{key}"),
        Action::Create,
        "the key does not exist",
    )
    .attribute("secret", None, Some(SENSITIVE.into()));
}

fn plan_live_island(
    island: &DesiredIsland,
    cluster: &Cluster,
    node_ids: &BTreeMap<&str, Option<String>>,
    b: &mut Builder,
) {
    let name = &island.name;
    // A node this plan starts (not restarts) rejoins the island by Connect,
    // which waits until it is up: the cluster may not have noticed yet
    // that it was down.
    let starting = |node: &str| {
        b.planned.iter().any(|p| {
            p.change.action == Action::Create
                && matches!(&p.kind, Target::Node { island: i, node: n, step: NodeStep::Service } if i == name && n == node)
        })
    };
    // Connections: every node known to the cluster and up.
    let not_connected: Vec<&str> = island
        .nodes
        .iter()
        .filter(|node| match node_ids.get(node.name.as_str()) {
            Some(Some(id)) => {
                starting(&node.name) || !cluster.status.nodes.iter().any(|n| &n.id == id && n.is_up)
            }
            // Never started, or not observed: connected once running.
            Some(None) => true,
            None => false,
        })
        .map(|node| node.name.as_str())
        .collect();
    if !not_connected.is_empty() {
        b.add(
            Target::Connect {
                island: name.clone(),
            },
            format!("island.{name}.connect"),
            Action::Update,
            "some nodes are not connected to the island",
        )
        .attribute("nodes", None, Some(not_connected.join(", ")));
    }

    // The layout.
    let layout = &cluster.layout;
    let mut role_changes: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut desired_ids = BTreeSet::new();
    for node in &island.nodes {
        let Some(Some(id)) = node_ids.get(node.name.as_str()) else {
            if node_ids.contains_key(node.name.as_str()) {
                role_changes.push((
                    format!("role {}", node.name),
                    None,
                    Some(role_text(&node.zone, node.capacity, &node.tags)),
                ));
            }
            continue;
        };
        desired_ids.insert(id.clone());
        let live = layout.roles.iter().find(|r| &r.id == id);
        let wanted = (node.zone.as_str(), Some(node.capacity), &node.tags);
        match live {
            Some(role) if (role.zone.as_str(), role.capacity, &role.tags) == wanted => {}
            Some(role) => role_changes.push((
                format!("role {}", node.name),
                Some(role_text(
                    &role.zone,
                    role.capacity.unwrap_or(0),
                    &role.tags,
                )),
                Some(role_text(&node.zone, node.capacity, &node.tags)),
            )),
            None => role_changes.push((
                format!("role {}", node.name),
                None,
                Some(role_text(&node.zone, node.capacity, &node.tags)),
            )),
        }
    }
    for role in &layout.roles {
        if desired_ids.contains(&role.id) {
            continue;
        }
        let managed = role.tags.first().map(String::as_str) == Some(garage::ROLE_TAG);
        let node_name = role
            .tags
            .get(1)
            .cloned()
            .unwrap_or_else(|| short_id(&role.id).to_string());
        // A node of the file whose ID could not be read (unreachable): its
        // role is unknown ground, never a removal.
        let in_file = island.nodes.iter().any(|n| n.name == node_name);
        if managed && in_file {
            continue;
        }
        if managed {
            let Some(ssh) = role.tags.get(2) else {
                b.plan.errors.push(PlanError {
                    address: node_address(name, &node_name),
                    message: format!(
                        "node {node_name} is out of the file, but its layout role does not say how to reach it over SSH, so archipel could not stop it once drained; put its block back and apply once, then remove it"
                    ),
                });
                continue;
            };
            role_changes.push((
                format!("role {node_name}"),
                Some(role_text(
                    &role.zone,
                    role.capacity.unwrap_or(0),
                    &role.tags,
                )),
                None,
            ));
            b.add(
                Target::NodeRemoval {
                    island: name.clone(),
                    node: node_name.clone(),
                    id: role.id.clone(),
                    ssh: ssh.clone(),
                },
                node_address(name, &node_name),
                Action::Delete,
                "the node is no longer in the file: its data moves to the island's other nodes, then its Garage is stopped (its data directory is kept)",
            )
            .attribute("ssh", Some(ssh.clone()), None);
        } else {
            b.plan.unmanaged.push(Unmanaged {
                address: format!("island.{name}.layout.role.{}", short_id(&role.id)),
                description: format!(
                    "a layout role archipel did not create (zone {}, capacity {})",
                    role.zone,
                    role.capacity
                        .map_or("gateway".to_string(), |c| Size(c).to_string())
                ),
            });
        }
    }
    // Running nodes with no role that the file does not know: a node a
    // removal left draining (an interrupted apply), or one connected by
    // hand. archipel cannot reach them (nothing says where they are).
    let file_ids: BTreeSet<&str> = node_ids.values().flatten().map(String::as_str).collect();
    for node in &cluster.status.nodes {
        if node.role.is_none() && node.is_up && !file_ids.contains(node.id.as_str()) {
            b.plan.unmanaged.push(Unmanaged {
                address: format!("island.{name}.node.{}", short_id(&node.id)),
                description: format!(
                    "a node connected to the island with no role in its layout (host {}, address {}): one a removal left draining, or one connected by hand; once its data directory is empty, stop its Garage (systemctl disable --now garage)",
                    node.hostname.as_deref().unwrap_or("unknown"),
                    node.addr.as_deref().unwrap_or("unknown"),
                ),
            });
        }
    }
    if !layout.staged_role_changes.is_empty() {
        b.plan.warnings.push(format!(
            "island {name} has {} staged layout change(s) that archipel did not make: apply clears them only with your consent",
            layout.staged_role_changes.len()
        ));
    }
    if !role_changes.is_empty() {
        let change = b.add(
            Target::Layout {
                island: name.clone(),
            },
            format!("island.{name}.layout"),
            Action::Update,
            "the layout's roles differ from the file's nodes",
        );
        change.attribute(
            "version",
            Some(layout.version.to_string()),
            Some((layout.version + 1).to_string()),
        );
        for (role, before, after) in role_changes {
            change.attribute(&role, before, after);
        }
    }

    // Keys, by the name archipel gives them.
    for key in &island.keys {
        match cluster.keys.iter().filter(|k| &k.name == key).count() {
            0 => add_key(name, key, b),
            1 => {}
            n => b.plan.errors.push(PlanError {
                address: format!("island.{name}.key.{key}"),
                message: format!("{n} live keys are named {key}: archipel will not guess which one is its own; delete the extra ones"),
            }),
        }
    }
    for key in &cluster.keys {
        if island.keys.contains(&key.name) {
            continue;
        }
        if key.name.starts_with(crate::desired::KEY_PREFIX) {
            b.plan.warnings.push(format!(
                "key {} of island {name} is deleted: a backup host of its chaton that is no longer in the file keeps its archipel timers, which fail from now on: archipel only sees the machines of the file, so name such a host in a `removed \"JOB\" {{ host = … }}` block of the chaton, or disable them there by hand (systemctl disable --now 'archipel-*.timer')",
                key.name
            ));
            b.add(
                Target::Key {
                    island: name.clone(),
                    key: key.name.clone(),
                },
                format!("island.{name}.key.{}", key.name),
                Action::Delete,
                "no chaton of the file uses this island through this key any more: it is deleted, and its permissions with it",
            )
            .attribute("access key", Some(key.access_key_id.clone()), None);
        } else {
            b.plan.unmanaged.push(Unmanaged {
                address: format!("island.{name}.key.{}", key.access_key_id),
                description: format!("a key archipel does not manage (named \"{}\")", key.name),
            });
        }
    }

    // Buckets, by global alias.
    for bucket in &island.buckets {
        let live = cluster
            .buckets
            .iter()
            .find(|l| l.global_aliases.contains(&bucket.name));
        plan_bucket(island, bucket, live.map(|l| (l, cluster)), b);
    }
    for live in &cluster.buckets {
        if island
            .buckets
            .iter()
            .any(|d| live.global_aliases.contains(&d.name))
        {
            continue;
        }
        let label = live
            .global_aliases
            .first()
            .cloned()
            .unwrap_or_else(|| short_id(&live.id).to_string());
        let backup = live
            .global_aliases
            .iter()
            .find(|a| a.starts_with(crate::desired::BACKUP_BUCKET_PREFIX));
        match backup {
            // An emptied backup bucket nobody backs up to any more.
            Some(alias) if live.objects == 0 && live.unfinished_uploads == 0 => {
                b.add(
                    Target::Bucket {
                        island: name.clone(),
                        bucket: alias.clone(),
                    },
                    format!("island.{name}.bucket.{alias}"),
                    Action::Delete,
                    "no backup of the file goes to this bucket any more, and it is empty: it is deleted",
                );
            }
            // Backups are never deleted by archipel: the bucket stays,
            // shown, until someone empties it.
            Some(_) => b.plan.unmanaged.push(Unmanaged {
                address: format!("island.{name}.bucket.{label}"),
                description: format!(
                    "a backup bucket no backup of the file goes to any more; it holds {} objects ({}), and archipel deletes a bucket only once it is empty",
                    live.objects,
                    Size(live.bytes).rounded()
                ),
            }),
            None => b.plan.unmanaged.push(Unmanaged {
                address: format!("island.{name}.bucket.{label}"),
                description: format!(
                    "a bucket archipel does not manage ({} objects, {})",
                    live.objects,
                    Size(live.bytes).rounded()
                ),
            }),
        }
    }
}

fn plan_bucket(
    island: &DesiredIsland,
    bucket: &DesiredBucket,
    live: Option<(&crate::observed::BucketInfo, &Cluster)>,
    b: &mut Builder,
) {
    let name = &island.name;
    let address = format!("island.{name}.bucket.{}", bucket.name);
    let kind = Target::Bucket {
        island: name.clone(),
        bucket: bucket.name.clone(),
    };
    let quota = |q: Option<u64>| q.map_or("none".to_string(), |q| Size(q).to_string());
    match live {
        None => {
            b.add(
                kind,
                address.clone(),
                Action::Create,
                "the bucket does not exist",
            )
            .attribute("quota", None, Some(quota(bucket.quota)));
        }
        Some((live, _)) if live.quotas.max_size != bucket.quota => {
            b.add(
                kind,
                address.clone(),
                Action::Update,
                "the bucket's quota differs from the file's",
            )
            .attribute(
                "quota",
                Some(quota(live.quotas.max_size)),
                Some(quota(bucket.quota)),
            );
        }
        Some(_) => {}
    }
    // Grants: each archipel key's permissions on this bucket.
    let live_permissions = |key: &str| -> Option<Permissions> {
        live.and_then(|(l, _)| l.keys.iter().find(|k| k.name == key).map(|k| k.permissions))
    };
    let show = |p: Option<Permissions>| match p {
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
                format!("{address}.grant.{key}"),
                if show(before).is_none() {
                    Action::Create
                } else {
                    Action::Update
                },
                "the key's permissions on the bucket differ from the file's",
            )
            .attribute("permissions", show(before), show(Some(*wanted)));
        }
    }
    // Permissions archipel's keys hold but should not (drift).
    if let Some((live, cluster)) = live {
        for key in &live.keys {
            let archipel_key = island.keys.contains(&key.name)
                && cluster
                    .keys
                    .iter()
                    .any(|k| k.access_key_id == key.access_key_id);
            if archipel_key
                && !bucket.grants.contains_key(&key.name)
                && show(Some(key.permissions)).is_some()
            {
                b.add(
                    Target::Grant {
                        island: name.clone(),
                        bucket: bucket.name.clone(),
                        key: key.name.clone(),
                    },
                    format!("{address}.grant.{}", key.name),
                    Action::Delete,
                    "the key holds permissions on this bucket that the file does not give",
                )
                .attribute("permissions", show(Some(key.permissions)), None);
            }
        }
    }
}

fn plan_backup(
    backup: &DesiredBackup,
    desired: &Desired,
    observed: &Observed,
    hosts_planned: &mut BTreeSet<String>,
    b: &mut Builder,
) {
    let address = format!("chaton.{}.backup.{}", backup.chaton, backup.job);
    let facts = match machine_facts(observed, &backup.machine) {
        Ok(facts) => facts,
        Err(problem) => {
            // A node's unreachability is already reported with its node.
            let is_node = desired
                .islands
                .iter()
                .any(|i| i.nodes.iter().any(|n| n.name == backup.machine));
            let problem = problem.cloned().unwrap_or_else(not_observed);
            match b
                .plan
                .incomplete
                .iter_mut()
                .find(|i| i.target == backup.machine)
            {
                Some(entry) => entry.not_planned.push(address),
                None if is_node => {}
                None => b.plan.incomplete.push(Incomplete {
                    target: backup.machine.clone(),
                    problem,
                    not_planned: vec![address],
                }),
            }
            return;
        }
    };
    if hosts_planned.insert(backup.machine.clone()) {
        plan_backup_host(backup, facts, b);
    }
    let kind = |step| Target::Backup {
        chaton: backup.chaton.clone(),
        job: backup.job.clone(),
        machine: backup.machine.clone(),
        step,
    };
    let present = |path: &str| matches!(facts.files.get(path), Some(FileFacts::File { .. }));
    const ROOT_ONLY: (&str, &str, &str) = ("root", "root", "600");
    const UNIT_OWNER: (&str, &str, &str) = ("root", "root", "644");

    let password_missing = !present(&backup.password_file);
    if password_missing {
        b.add(
            kind(BackupStep::Password),
            format!("{address}.password"),
            Action::Create,
            "the repository password does not exist: generated once, kept on the host, never shown",
        )
        .attribute("password", None, Some(SENSITIVE.into()));
    }
    let credentials_missing = !present(&backup.s3_file);
    if credentials_missing {
        b.add(
            kind(BackupStep::Credentials),
            format!("{address}.credentials"),
            Action::Create,
            "the job's S3 key is not on the host",
        )
        .attribute(
            "key",
            None,
            Some(format!("{} on island {}", backup.key, backup.island)),
        )
        .attribute("secret", None, Some(SENSITIVE.into()));
    }
    if let Some(escrow) = &backup.escrow {
        let recorded = match facts.files.get(&escrow.record_file) {
            Some(FileFacts::File { content, .. }) => content.as_deref(),
            _ => None,
        };
        if recorded != Some(escrow.record.as_str()) {
            let reason = match recorded {
                _ if password_missing => "the new password is escrowed once generated",
                None => "the password is not escrowed",
                Some(_) => {
                    "the escrow's recipients or place changed: the password is encrypted again"
                }
            };
            let object = format!(
                "s3://{}/{} on island {}",
                backup.bucket, escrow.object, backup.island
            );
            let action = match recorded {
                Some(_) => Action::Update,
                None => Action::Create,
            };
            let change = b.add(
                kind(BackupStep::Escrow),
                format!("{address}.escrow"),
                action,
                reason,
            );
            // Where it goes, when it is new; a diff of the record says the rest.
            if recorded.is_none() {
                change.attribute("object", None, Some(object));
            }
            change.file = Some(FileChange {
                path: escrow.record_file.clone(),
                before: recorded.map(str::to_string),
                after: escrow.record.clone(),
            });
        }
    }
    let settings_changed = managed_file(
        b,
        kind(BackupStep::Settings),
        format!("{address}.settings"),
        facts,
        &backup.env_file,
        &backup.env,
        ROOT_ONLY,
    );

    schedules_elapse(b, &address, backup, facts);

    // The repository, as restic sees it with the job's own files.
    let probe = facts.probes.get(&format!("repository:{}", backup.id));
    let answer = probe.map(|p| (p.status, p.output.trim()));
    let repository_reason = match answer {
        Some((0, _)) => None,
        _ if password_missing || credentials_missing || settings_changed => Some(
            "checked once the job's files are in place, and initialised if it does not exist"
                .to_string(),
        ),
        Some((_, output))
            if output.contains("wrong password") || output.contains("no key found") =>
        {
            b.plan.errors.push(PlanError {
                address: format!("{address}.repository"),
                message: format!(
                    "the repository at {} exists but does not open with the job's password: archipel never initialises it again; restore the password (archipel recover) or move the repository aside",
                    backup.repository
                ),
            });
            None
        }
        Some((_, output))
            if output.contains("does not exist")
                || output.contains("unable to open config file")
                || output.contains("Is there a repository") =>
        {
            Some("the repository does not exist yet".to_string())
        }
        Some((_, output)) => Some(format!(
            "restic could not tell whether the repository exists ({}): apply checks again before initialising it",
            output.lines().last().unwrap_or("no answer")
        )),
        None => Some("the repository was not checked".to_string()),
    };
    if let Some(reason) = repository_reason {
        b.add(
            kind(BackupStep::Repository),
            format!("{address}.repository"),
            Action::Create,
            reason,
        )
        .attribute("repository", None, Some(backup.repository.clone()));
    }

    for unit in &backup.units {
        let task = unit.task.name();
        managed_file(
            b,
            kind(BackupStep::Service(unit.task)),
            format!("{address}.{task}.service"),
            facts,
            &format!("{}/{}", backup::UNITS_DIR, unit.service_name),
            &unit.service,
            UNIT_OWNER,
        );
        let timer_address = format!("{address}.{task}.timer");
        let timer_path = format!("{}/{}", backup::UNITS_DIR, unit.timer_name);
        let changed = managed_file(
            b,
            kind(BackupStep::Timer(unit.task)),
            timer_address.clone(),
            facts,
            &timer_path,
            &unit.timer,
            UNIT_OWNER,
        );
        let running = facts
            .units
            .get(&unit.timer_name)
            .is_some_and(|u| u.installed && u.is_enabled() && u.is_active());
        if !changed && !running {
            b.add(
                kind(BackupStep::Timer(unit.task)),
                timer_address,
                Action::Update,
                format!("{} is not enabled and active", unit.timer_name),
            );
        }
    }
}

/// restic and the runner, once per backup host.
fn plan_backup_host(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) {
    let address = format!("host.{}", backup.machine);
    let kind = |step| Target::BackupHost {
        machine: backup.machine.clone(),
        step,
    };
    let probe = facts.probes.get(backup::RESTIC_PROBE.0);
    let version = probe
        .filter(|p| p.status == 0)
        .and_then(|p| p.output.split_whitespace().nth(1))
        .map(str::to_string);
    match &backup.restic {
        ResticSource::Package => {
            if version.is_none() {
                b.add(
                    kind(HostStep::Restic),
                    format!("{address}.restic"),
                    Action::Create,
                    "restic is not installed: Debian's package is",
                );
            }
        }
        ResticSource::Binary { sha256, .. } => {
            let live = match facts.files.get(backup::PINNED_RESTIC) {
                Some(FileFacts::File { sha256, .. }) => sha256.clone(),
                _ => None,
            };
            if live.as_deref() != Some(sha256.as_str()) {
                b.add(
                    kind(HostStep::Restic),
                    format!("{address}.restic"),
                    if live.is_some() {
                        Action::Update
                    } else {
                        Action::Create
                    },
                    format!("{} is not the pinned restic", backup::PINNED_RESTIC),
                )
                .attribute("sha256", live, Some(sha256.clone()));
            }
        }
    }
    let directories_missing = [backup::STATUS_DIR, backup::CACHE_DIR]
        .iter()
        .any(|dir| !matches!(facts.files.get(*dir), Some(FileFacts::Directory { .. })));
    let changed = managed_file(
        b,
        kind(HostStep::Runner),
        format!("{address}.runner"),
        facts,
        backup::RUNNER,
        backup::RUNNER_SCRIPT,
        ("root", "root", "755"),
    );
    if !changed && directories_missing {
        b.add(
            kind(HostStep::Runner),
            format!("{address}.runner"),
            Action::Create,
            "the runner's status and cache directories do not exist",
        );
    }
}

/// A text file archipel writes whole: created when missing, updated (with
/// a diff) when its content or owner differs. Whether a change was added.
fn managed_file(
    b: &mut Builder,
    kind: Target,
    address: String,
    facts: &HostFacts,
    path: &str,
    wanted: &str,
    owner: (&str, &str, &str),
) -> bool {
    let (action, reason, before) = match facts.files.get(path) {
        Some(live @ FileFacts::File { content, .. }) => {
            let text_differs = content.as_deref() != Some(wanted);
            let owner_differs = ownership(live) != Some(owner);
            if !text_differs && !owner_differs {
                return false;
            }
            let reason = if text_differs {
                format!("{path} differs from the file's")
            } else {
                format!("{path} has the wrong owner or mode")
            };
            (Action::Update, reason, content.clone())
        }
        _ => (Action::Create, format!("{path} does not exist"), None),
    };
    let same_text = before.as_deref() == Some(wanted);
    let change = b.add(kind, address, action, reason);
    if !same_text {
        change.file = Some(FileChange {
            path: path.to_string(),
            before,
            after: wanted.to_string(),
        });
    } else {
        change.attribute("owner", None, Some(show_ownership(owner)));
    }
    true
}

/// Adds dependencies and puts the changes in a deterministic order that
/// respects them; a cycle (a bug) is reported as a plan error.
fn order(mut builder: Builder) -> Plan {
    builder
        .planned
        .sort_by(|a, b| a.change.address.cmp(&b.change.address));
    let planned = &builder.planned;
    let dependencies: Vec<BTreeSet<usize>> = planned
        .iter()
        .map(|item| depends_on(item, planned))
        .collect();
    let addresses: Vec<&str> = planned.iter().map(|p| p.change.address.as_str()).collect();
    let (sequence, cycles) = sequence(&addresses, &dependencies);
    let mut plan = std::mem::take(&mut builder.plan);
    plan.errors.extend(cycles);
    plan.changes = sequence
        .into_iter()
        .map(|index| {
            let mut change = planned[index].change.clone();
            change.depends_on = dependencies[index]
                .iter()
                .map(|d| planned[*d].change.address.clone())
                .collect();
            change
        })
        .collect();
    plan
}

/// Two machines of the file that present one SSH host key are one machine
/// reached under two names (a NAT address and a direct one, two aliases of
/// the SSH config), or clones of one image, whose keys let each pose as the
/// other: either way the plan would treat them as two, and is refused.
///
/// Two machines that SSH resolves to one address (host name and port after
/// the SSH config's aliases, and the same jump) are one machine as well.
fn machines_are_distinct(observed: &Observed, b: &mut Builder) {
    let mut by_key: BTreeMap<String, &str> = BTreeMap::new();
    let mut by_landing: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, machine) in &observed.machines {
        let MachineObservation::Reached { facts } = machine else {
            continue;
        };
        if let Some(lands_at) = facts.lands_at.as_deref() {
            if let Some(first) = by_landing.get(lands_at) {
                b.plan.errors.push(PlanError {
                    address: format!("machine.{name}"),
                    message: format!(
                        "machines {first} and {name} are one machine: SSH reaches both at {lands_at} (see `ssh -G`); name it once"
                    ),
                });
                continue;
            }
            by_landing.insert(lands_at, name);
        }
        let Some(key) = facts
            .files
            .get(crate::desired::HOST_KEY)
            .and_then(file_content)
        else {
            continue;
        };
        // `ssh-ed25519 AAAA… root@host`: the comment is not the key.
        let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        if let Some(first) = by_key.get(&key) {
            b.plan.errors.push(PlanError {
                address: format!("machine.{name}"),
                message: format!(
                    "machines {first} and {name} present the same SSH host key: one machine under two names, or clones of one image (then give each its own keys: rm /etc/ssh/ssh_host_* && dpkg-reconfigure openssh-server)"
                ),
            });
        } else {
            by_key.insert(key, name);
        }
    }
}

/// A schedule the host's systemd says never comes (a date in the past) or
/// refuses (a time zone the host does not have) is an error: such a timer
/// would be installed and never run.
fn schedules_elapse(b: &mut Builder, address: &str, backup: &DesiredBackup, facts: &HostFacts) {
    let Some(probe) = facts.probes.get(&format!("schedules:{}", backup.id)) else {
        return;
    };
    for line in probe.output.lines() {
        let mut fields = line.split('\t');
        let (Some(task), Some(verdict)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some(unit) = backup.units.iter().find(|u| u.task.name() == task) else {
            continue;
        };
        let problem = match verdict {
            "never" => "is never reached again (a date in the past?)".to_string(),
            "invalid" => format!(
                "is refused by the host's systemd: {}",
                fields.next().unwrap_or("no reason given")
            ),
            _ => continue,
        };
        b.plan.errors.push(PlanError {
            address: format!("{address}.{task}.timer"),
            message: format!(
                "the {task} schedule \"{}\" {problem}: its timer would never run",
                unit.schedule
            ),
        });
    }
}

/// A topological order of the changes (by index), taking the first ready
/// change by address at each step so the order is stable; and the cycles,
/// named by their members. Changes caught in a cycle come last.
fn sequence(addresses: &[&str], dependencies: &[BTreeSet<usize>]) -> (Vec<usize>, Vec<PlanError>) {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..addresses.len()).map(|i| graph.add_node(i)).collect();
    for (index, deps) in dependencies.iter().enumerate() {
        for dep in deps {
            graph.add_edge(nodes[*dep], nodes[index], ());
        }
    }
    let mut cycles = Vec::new();
    for component in tarjan_scc(&graph) {
        let is_cycle = component.len() > 1
            || component
                .first()
                .is_some_and(|n| graph.contains_edge(*n, *n));
        if is_cycle {
            let mut members: Vec<&str> = component.iter().map(|n| addresses[graph[*n]]).collect();
            members.sort();
            cycles.push(PlanError {
                address: members[0].to_string(),
                message: format!("dependency cycle between {}", members.join(", ")),
            });
        }
    }
    // Kahn's algorithm.
    let mut waiting: Vec<usize> = dependencies.iter().map(BTreeSet::len).collect();
    let mut ready: BTreeSet<usize> = (0..addresses.len()).filter(|i| waiting[*i] == 0).collect();
    let mut done = vec![false; addresses.len()];
    let mut order = Vec::new();
    while let Some(next) = ready.pop_first() {
        done[next] = true;
        order.push(next);
        for (index, deps) in dependencies.iter().enumerate() {
            if !done[index] && deps.contains(&next) {
                waiting[index] -= 1;
                if waiting[index] == 0 {
                    ready.insert(index);
                }
            }
        }
    }
    order.extend((0..addresses.len()).filter(|i| !done[*i]));
    (order, cycles)
}

/// The changes a change waits for: the nearest present ones before it in
/// the chain binary → config and secrets → unit → running → connected →
/// layout → buckets and keys → permissions → backup credentials →
/// repository → timer.
fn depends_on(item: &Planned, all: &[Planned]) -> BTreeSet<usize> {
    let find = |pred: &dyn Fn(&Target) -> bool| -> BTreeSet<usize> {
        all.iter()
            .enumerate()
            .filter(|(_, p)| pred(&p.kind))
            .map(|(i, _)| i)
            .collect()
    };
    // The first non-empty group, in order of preference.
    let first = |groups: Vec<BTreeSet<usize>>| {
        groups
            .into_iter()
            .find(|g| !g.is_empty())
            .unwrap_or_default()
    };
    let services = |island: &str| {
        let island = island.to_string();
        find(
            &move |k| matches!(k, Target::Node { island: i, step: NodeStep::Service, .. } if *i == island),
        )
    };
    let island_ready = |island: &str| {
        let (a, b) = (island.to_string(), island.to_string());
        first(vec![
            find(&move |k| matches!(k, Target::Layout { island: i } if *i == a)),
            find(&move |k| matches!(k, Target::Connect { island: i } if *i == b)),
            services(island),
        ])
    };
    match &item.kind {
        Target::Node { island, node, step } => {
            let same = |steps: &[NodeStep]| {
                let (island, node, steps) = (island.clone(), node.clone(), steps.to_vec());
                find(
                    &move |k| matches!(k, Target::Node { island: i, node: n, step: s } if *i == island && *n == node && steps.contains(s)),
                )
            };
            let installed = || same(&[NodeStep::Binary, NodeStep::Directories]);
            match step {
                NodeStep::Binary | NodeStep::Directories => BTreeSet::new(),
                NodeStep::Config => installed(),
                // Secret files belong to the garage user.
                NodeStep::Secrets => same(&[NodeStep::Directories]),
                NodeStep::Unit => first(vec![
                    same(&[NodeStep::Config, NodeStep::Secrets]),
                    installed(),
                ]),
                NodeStep::Service => first(vec![
                    same(&[NodeStep::Unit]),
                    same(&[NodeStep::Config, NodeStep::Secrets]),
                    installed(),
                ]),
            }
        }
        Target::Connect { island } => services(island),
        Target::Layout { island } => {
            let i = island.clone();
            first(vec![
                find(&move |k| matches!(k, Target::Connect { island: x } if *x == i)),
                services(island),
            ])
        }
        Target::NodeRemoval { island, .. } => {
            let i = island.clone();
            find(&move |k| matches!(k, Target::Layout { island: x } if *x == i))
        }
        // A chaton's key goes once no host of its jobs still uses it.
        Target::Key { island, key } if item.change.action == Action::Delete => {
            let mut deps = island_ready(island);
            let key = key.clone();
            deps.extend(find(
                &move |k| matches!(k, Target::BackupRemoval { chaton, .. } if crate::desired::chaton_key(chaton) == key),
            ));
            deps
        }
        Target::Bucket { island, .. } | Target::Key { island, .. } => island_ready(island),
        // A job moving hosts leaves the old one only once the new one has
        // its password (apply never makes a new one for a repository that
        // exists: until `archipel recover` brings it, the old host runs on).
        Target::BackupRemoval { chaton, job, .. } => {
            let (c, j) = (chaton.clone(), job.clone());
            find(
                &move |k| matches!(k, Target::Backup { chaton: x, job: y, step: BackupStep::Password, .. } if *x == c && *y == j),
            )
        }
        Target::Grant {
            island,
            bucket,
            key,
        } => {
            let (i1, b1, i2, k2) = (island.clone(), bucket.clone(), island.clone(), key.clone());
            let mut deps = find(
                &move |k| matches!(k, Target::Bucket { island: i, bucket: b } if *i == i1 && *b == b1),
            );
            deps.extend(find(
                &move |k| matches!(k, Target::Key { island: i, key: x } if *i == i2 && *x == k2),
            ));
            if deps.is_empty() {
                island_ready(island)
            } else {
                deps
            }
        }
        Target::BackupHost { .. } => BTreeSet::new(),
        Target::Backup {
            chaton,
            job,
            machine,
            step,
        } => {
            let same_job = |steps: &[BackupStep]| {
                let (c, j, steps) = (chaton.clone(), job.clone(), steps.to_vec());
                find(
                    &move |k| matches!(k, Target::Backup { chaton: x, job: y, step: z, .. } if *x == c && *y == j && steps.contains(z)),
                )
            };
            // The chaton's key and its permission on the destination
            // island's bucket.
            let island_access = |chaton: &str| {
                let bucket = crate::desired::backup_bucket(chaton);
                let key = crate::desired::chaton_key(chaton);
                let (b1, k1, b2, k2) = (bucket.clone(), key.clone(), bucket, key);
                first(vec![
                    find(
                        &move |k| matches!(k, Target::Grant { bucket: b, key: x, .. } if *b == b1 && *x == k1),
                    ),
                    find(&move |k| {
                        matches!(k, Target::Bucket { bucket: b, .. } if *b == b2)
                            || matches!(k, Target::Key { key: x, .. } if *x == k2)
                    }),
                ])
            };
            let host = |step: HostStep| {
                let m = machine.clone();
                find(
                    &move |k| matches!(k, Target::BackupHost { machine: x, step: s } if *x == m && *s == step),
                )
            };
            match step {
                BackupStep::Settings => BTreeSet::new(),
                BackupStep::Credentials => island_access(chaton),
                // restic, with the job's key and settings, first says that
                // no repository exists without this password.
                BackupStep::Password => {
                    let mut deps = same_job(&[BackupStep::Credentials, BackupStep::Settings]);
                    deps.extend(host(HostStep::Restic));
                    deps
                }
                // Only a password the repository opens with is escrowed
                // (an escrow is never replaced by a wrong one), with the
                // job's key.
                BackupStep::Escrow => {
                    let mut deps = island_access(chaton);
                    deps.extend(same_job(&[BackupStep::Password, BackupStep::Repository]));
                    deps
                }
                BackupStep::Repository => {
                    let mut deps = same_job(&[
                        BackupStep::Password,
                        BackupStep::Credentials,
                        BackupStep::Settings,
                    ]);
                    deps.extend(host(HostStep::Restic));
                    deps
                }
                BackupStep::Service(_) => {
                    let mut deps = same_job(&[BackupStep::Settings]);
                    deps.extend(host(HostStep::Runner));
                    deps
                }
                // A schedule starts once its service and the repository
                // are there.
                BackupStep::Timer(task) => {
                    let mut deps = same_job(&[BackupStep::Service(*task), BackupStep::Repository]);
                    if deps.is_empty() {
                        deps = first(vec![
                            same_job(&[
                                BackupStep::Password,
                                BackupStep::Credentials,
                                BackupStep::Settings,
                            ]),
                            host(HostStep::Restic),
                        ]);
                    }
                    deps
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_respects_dependencies_and_is_stable() {
        let addresses = ["a", "b", "c", "d"];
        // d needs a; b needs d; c needs nothing.
        let deps = vec![
            BTreeSet::new(),
            BTreeSet::from([3]),
            BTreeSet::new(),
            BTreeSet::from([0]),
        ];
        let (order, cycles) = sequence(&addresses, &deps);
        assert_eq!(order, vec![0, 2, 3, 1]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn cycles_are_reported_with_their_members() {
        let addresses = ["x.binary", "x.config", "x.service", "y"];
        // binary -> config -> service -> binary, and y alone.
        let deps = vec![
            BTreeSet::from([2]),
            BTreeSet::from([0]),
            BTreeSet::from([1]),
            BTreeSet::new(),
        ];
        let (order, cycles) = sequence(&addresses, &deps);
        assert_eq!(order[0], 3, "the change outside the cycle still runs first");
        assert_eq!(order.len(), 4, "no change is lost");
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].message,
            "dependency cycle between x.binary, x.config, x.service"
        );
    }
}
