//! The plan's types: the changes, what they are about, and what the plan
//! leaves out or refuses.

use crate::address::Address;
use crate::backup::Task;
use crate::model::SshTarget;
use crate::observed::Unreachable;
use serde::{Deserialize, Serialize};

pub const SENSITIVE: &str = "(sensitive)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Its target's address.
    pub address: Address,
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
    pub depends_on: Vec<Address>,
    /// What the change is about, for apply (saved plans carry it). Not
    /// part of the JSON output: the address says the same to people and
    /// scripts.
    pub target: Target,
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
    pub address: Address,
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
    pub not_planned: Vec<Address>,
}

/// Something apply must not attempt: the file asks for the impossible or
/// the dangerous. A plan with errors is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: Address,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    /// Counts one more change: a replacement adds and destroys.
    pub fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.add += 1,
            Action::Update => self.change += 1,
            Action::Replace => {
                self.add += 1;
                self.destroy += 1;
            }
            Action::Delete => self.destroy += 1,
        }
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            summary.count(change.action);
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
        /// What the plan decided from what it saw, for apply to follow.
        #[serde(default, skip_serializing_if = "NodeDecision::is_nothing")]
        decided: NodeDecision,
    },
    /// A node out of the file but still in the island's layout: drained,
    /// then stopped; or, declared dead, dropped from the layout without
    /// handing its data over, the layout then unblocked and the island
    /// repaired.
    NodeRemoval {
        island: String,
        node: String,
        /// Its Garage ID.
        id: String,
        /// How to reach it (from its role's tags, checked by the plan).
        #[serde(with = "ssh_text")]
        ssh: SshTarget,
        /// Declared dead (`--dead-node`): its machine is gone for good.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dead: bool,
    },
    Connect {
        island: String,
    },
    /// Garage's preparation before its running nodes get a new release:
    /// a table repair on every node, waited for, then a metadata snapshot
    /// on every node, kept for a way back.
    Upgrade {
        island: String,
        /// The nodes running in the island when planned: each keeps its
        /// snapshot.
        members: Vec<String>,
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
        /// The host it runs on now, when it moved.
        moved_to: Option<String>,
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
    /// What runs an island's vault passes, on the node that runs them.
    Vault {
        island: String,
        node: String,
        step: VaultStep,
    },
    /// Vault passes on a node that no longer runs them: its timer stopped,
    /// its units, files and key taken off. The vaults themselves stay.
    VaultRemoval {
        island: String,
        node: String,
    },
}

impl Target {
    /// Where the change to it is, in a plan.
    pub fn address(&self) -> Address {
        match self.clone() {
            Target::Node {
                island, node, step, ..
            } => Address::NodeStep { island, node, step },
            Target::NodeRemoval { island, node, .. } => Address::Node { island, node },
            Target::Connect { island } => Address::Connect { island },
            Target::Upgrade { island, .. } => Address::Upgrade { island },
            Target::Layout { island } => Address::Layout { island },
            Target::Bucket { island, bucket } => Address::Bucket { island, bucket },
            Target::Key { island, key } => Address::Key { island, key },
            Target::Grant {
                island,
                bucket,
                key,
            } => Address::Grant {
                island,
                bucket,
                key,
            },
            Target::BackupRemoval {
                chaton,
                job,
                moved_to: Some(_),
                ..
            } => Address::JobPreviousHost { chaton, job },
            Target::BackupRemoval { chaton, job, .. } => Address::Job { chaton, job },
            Target::BackupHost { machine, step } => Address::Host { machine, step },
            Target::Backup {
                chaton, job, step, ..
            } => Address::JobStep { chaton, job, step },
            Target::Vault { island, node, step } => Address::VaultStep { island, node, step },
            Target::VaultRemoval { island, node } => Address::Vault { island, node },
        }
    }
}

/// Garage on a node: binary → config and secrets → unit → running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStep {
    Binary = 0,
    Directories = 1,
    Config = 2,
    Secrets = 3,
    Unit = 4,
    Service = 5,
    /// A data directory that lost its blocks, refilled by Garage's block
    /// repair once the node restarted on it.
    Data = 6,
    /// The node's own scraper of Garage's metrics, writing them into the
    /// island's `metrics_textfile` directory: its service (and the curl
    /// config it reads the metrics token from)…
    MetricsService = 7,
    /// …and its timer, every minute.
    MetricsTimer = 8,
}

/// What a node's change needs that only what the plan saw can tell: the
/// plan decides it and apply follows, so that what apply does is what the
/// reviewed plan said, even when apply observes differently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeDecision {
    /// Nothing to decide (most steps).
    #[default]
    Nothing,
    /// The secrets step: copy the island's secrets from this node, which
    /// has them.
    CopySecretsFrom(String),
    /// The secrets step: no node has the island's secrets (a new island):
    /// apply generates them, once for the island.
    GenerateSecrets,
    /// The service step of a node that was a member of the island while it
    /// ran: once started it rejoins (healthy as it and the island see it)
    /// before its change is done, and restarting it takes the island's
    /// turn, one node at a time.
    Rejoin,
}

impl NodeDecision {
    pub fn is_nothing(&self) -> bool {
        *self == NodeDecision::Nothing
    }
}

/// An SSH address in a saved plan: as text, read back with the parser that
/// checked it when the plan was made.
mod ssh_text {
    use crate::model::SshTarget;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(target: &SshTarget, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(target)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SshTarget, D::Error> {
        let text = String::deserialize(d)?;
        SshTarget::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A backup host: restic, then archipel's runner and its directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStep {
    Restic,
    Runner,
}

/// A backup job on its host: its password, key and settings → its
/// repository (→ its local repository, made with the island's chunker
/// parameters) → each task's service → each task's timer; the password's
/// escrow once the password and the key exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStep {
    Password,
    Credentials,
    Escrow,
    Settings,
    /// The ping URL, written from apply's environment (a secret).
    Ping,
    Repository,
    /// The repository on the host that backups go to first.
    LocalRepository,
    Service(Task),
    Timer(Task),
}

/// An island's vault passes on their node: Debian's rclone and the pass,
/// what it copies and the island's vault key → the service → the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultStep {
    Rclone,
    Pass,
    Config,
    Credentials,
    Service,
    Timer,
}
