//! What archipel saw on the machines: plain data filled by the providers,
//! serialisable so a plan can be reproduced offline from a saved copy.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What to look at on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactsQuery {
    pub files: Vec<FileQuery>,
    pub units: Vec<String>,
    /// Commands whose output is wanted, by name. Fixed snippets written by
    /// archipel's providers (`garage --version`), never user input.
    pub probes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileQuery {
    pub path: String,
    pub read: Read,
}

/// How much of a file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Owner, group, mode, size. The only choice for secrets: archipel never
    /// reads them, even as a hash, into what it observes.
    Metadata,
    /// Metadata and the SHA-256 of the content (binaries).
    Hash,
    /// Metadata, hash and the content as text (configuration files, to
    /// show a diff).
    Content,
    /// Metadata, hash and the content in hex (small binary files, such as
    /// Garage's public node key).
    Hex,
}

impl FileQuery {
    pub fn new(path: impl Into<String>, read: Read) -> FileQuery {
        FileQuery {
            path: path.into(),
            read,
        }
    }

    pub fn hashed(path: impl Into<String>) -> FileQuery {
        FileQuery::new(path, Read::Hash)
    }

    pub fn metadata_only(path: impl Into<String>) -> FileQuery {
        FileQuery::new(path, Read::Metadata)
    }
}

/// Facts about one host, gathered in a single SSH round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// `ID` from /etc/os-release (`debian`).
    pub os_id: String,
    /// `VERSION_ID` from /etc/os-release (`12`).
    pub os_version: String,
    /// `uname -m` (`x86_64`, `aarch64`).
    pub architecture: String,
    /// Whether systemd is the running init (`/run/systemd/system` exists).
    pub systemd: bool,
    pub files: BTreeMap<String, FileFacts>,
    pub units: BTreeMap<String, UnitFacts>,
    /// Outputs of the probe commands asked for (`garage --version`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probes: BTreeMap<String, ProbeOutput>,
    /// Where SSH lands for this machine, as OpenSSH resolved it (`ssh -G`):
    /// host name and port after the SSH config's aliases, and the jump or
    /// proxy on the way. The login user is not part of it: two users of
    /// one machine are one machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lands_at: Option<String>,
}

/// The name of a probe asked for one backup job (by its id on the host,
/// `CHATON-JOB`): the key of its output in `HostFacts::probes`. Its text
/// (`repository:CHATON-JOB`) is what travels to the host and back, so it
/// is built here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// restic's answer about the job's repository.
    Repository(String),
    /// restic's answer about the job's local repository.
    LocalRepository(String),
    /// Whether each of the job's schedules ever elapses.
    Schedules(String),
    /// The period of the job's backup schedule, for `status`.
    Period(String),
    /// The period of the job's copy schedule, for `status`.
    CopyPeriod(String),
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Repository(job) => write!(f, "repository:{job}"),
            Probe::Schedules(job) => write!(f, "schedules:{job}"),
            Probe::Period(job) => write!(f, "period:{job}"),
            Probe::LocalRepository(job) => write!(f, "local-repository:{job}"),
            Probe::CopyPeriod(job) => write!(f, "copy-period:{job}"),
        }
    }
}

impl HostFacts {
    /// The output of a job's probe, if it ran.
    pub fn probe(&self, probe: &Probe) -> Option<&ProbeOutput> {
        self.probes.get(&probe.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutput {
    pub status: i32,
    /// stdout and stderr together, as text.
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FileFacts {
    Missing,
    File {
        /// Absent for files whose content archipel must not read (secrets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        owner: String,
        group: String,
        /// Permission bits, as `stat -c %a` prints them (`640`).
        mode: String,
        size: u64,
        /// The content, when asked for: text, or hex for binary files.
        /// Never asked for secrets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// Last modification, in seconds since the epoch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        modified: Option<u64>,
    },
    Directory {
        owner: String,
        group: String,
        mode: String,
    },
    /// A symbolic link, socket or device: archipel does not manage those.
    Other {
        description: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    /// systemd knows the unit (`LoadState=loaded`).
    pub installed: bool,
    /// `UnitFileState`: `enabled`, `disabled`, `static`…
    pub enabled: String,
    /// `ActiveState`: `active`, `inactive`, `failed`…
    pub active: String,
    /// When the unit last became active, in seconds since the epoch: a
    /// file it uses changed later means it runs an old version of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since: Option<u64>,
}

impl UnitFacts {
    pub fn is_enabled(&self) -> bool {
        self.enabled == "enabled"
    }

    pub fn is_active(&self) -> bool {
        self.active == "active"
    }
}

/// Everything archipel saw: each machine and each island's Garage cluster.
/// `archipel plan --save-observed FILE` writes it; plans can be computed
/// from a saved copy, offline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Machines by name (a node's name, or a backup host's host name).
    pub machines: BTreeMap<String, MachineObservation>,
    pub islands: BTreeMap<String, IslandObservation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MachineObservation {
    Reached { facts: HostFacts },
    Unreachable { problem: Unreachable },
}

/// Why a machine or an island could not be observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub kind: UnreachableKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnreachableKind {
    /// No answer within the connect timeout.
    Timeout,
    /// Nothing listens on the SSH port.
    Refused,
    /// No route to the machine, or its name does not resolve.
    Unreachable,
    /// The machine refused every key offered.
    Authentication,
    /// The host key is unknown, changed, or not the pinned one.
    HostKey,
    /// Connected, but a command failed (sudo, a missing tool…).
    Command,
    Other,
}

impl UnreachableKind {
    /// Classifies an error message from OpenSSH or a remote command.
    pub fn classify(message: &str) -> UnreachableKind {
        if message.contains("host key refused") {
            UnreachableKind::HostKey
        } else if message.contains("timed out") || message.contains("Timeout") {
            UnreachableKind::Timeout
        } else if message.contains("Permission denied") {
            UnreachableKind::Authentication
        } else if message.contains("Connection refused") {
            UnreachableKind::Refused
        } else if message.contains("No route to host")
            || message.contains("Network is unreachable")
            || message.contains("Could not resolve")
        {
            UnreachableKind::Unreachable
        } else if message.contains("exited with status") {
            UnreachableKind::Command
        } else {
            UnreachableKind::Other
        }
    }
}

/// An island's Garage cluster, as its admin API described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IslandObservation {
    /// No member node runs Garage yet: a new island.
    NotRunning,
    /// Read through one member node (`through`) with `garage json-api`.
    Reached {
        through: String,
        cluster: Box<Cluster>,
    },
    /// Garage runs somewhere, but no member node answered the admin API.
    Unreachable { problem: Unreachable },
}

/// The admin API's answers, keeping the fields archipel uses and ignoring
/// the rest (they change between Garage versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub status: ClusterStatus,
    pub health: ClusterHealth,
    pub layout: ClusterLayout,
    pub history: LayoutHistory,
    pub keys: Vec<KeyInfo>,
    pub buckets: Vec<BucketInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub layout_version: u64,
    pub nodes: Vec<NodeStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub id: String,
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub garage_version: Option<String>,
    pub is_up: bool,
    #[serde(default)]
    pub draining: bool,
    #[serde(default)]
    pub role: Option<NodeRole>,
    /// The disk holding its data: what `status` reports as capacity.
    #[serde(default)]
    pub data_partition: Option<FreeSpace>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeSpace {
    pub available: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRole {
    pub zone: String,
    #[serde(default)]
    pub capacity: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealth {
    /// `healthy`, `degraded` or `unavailable`.
    pub status: String,
    pub known_nodes: u64,
    pub connected_nodes: u64,
    pub storage_nodes: u64,
    /// Called `storageNodesOk` in Garage 2.0, `storageNodesUp` since 2.1.
    #[serde(alias = "storageNodesOk")]
    pub storage_nodes_up: u64,
    pub partitions: u64,
    pub partitions_quorum: u64,
    pub partitions_all_ok: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterLayout {
    pub version: u64,
    pub roles: Vec<LayoutRole>,
    /// Changes staged but not applied: empty at rest.
    #[serde(default)]
    pub staged_role_changes: Vec<StagedRoleChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRole {
    pub id: String,
    pub zone: String,
    #[serde(default)]
    pub capacity: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A staged change: a new or changed role, or a removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedRoleChange {
    pub id: String,
    #[serde(default)]
    pub remove: bool,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub capacity: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutHistory {
    pub current_version: u64,
    pub min_ack: u64,
    pub versions: Vec<LayoutVersion>,
}

impl LayoutHistory {
    /// A layout change is still moving data between nodes.
    pub fn is_draining(&self) -> bool {
        self.versions.iter().any(|v| v.status == "Draining")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutVersion {
    pub version: u64,
    /// `Current`, `Draining` or `Historical`.
    pub status: String,
    pub storage_nodes: u64,
}

/// `GetKeyInfo`, always read without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub access_key_id: String,
    pub name: String,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub buckets: Vec<KeyBucket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyBucket {
    pub id: String,
    #[serde(default)]
    pub global_aliases: Vec<String>,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub write: bool,
    #[serde(default)]
    pub owner: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketInfo {
    pub id: String,
    #[serde(default)]
    pub global_aliases: Vec<String>,
    #[serde(default)]
    pub keys: Vec<BucketKey>,
    #[serde(default)]
    pub objects: u64,
    #[serde(default)]
    pub bytes: u64,
    /// Multipart uploads begun and not finished: data too.
    #[serde(default)]
    pub unfinished_uploads: u64,
    #[serde(default)]
    pub quotas: Quotas,
    /// Rules that let Garage delete the bucket's objects by itself; on a
    /// backup bucket, what an attacker with its key may have set.
    #[serde(default)]
    pub lifecycle_rules: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketKey {
    pub access_key_id: String,
    pub name: String,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub max_objects: Option<u64>,
}

/// `ListKeys` and `ListBuckets` items: what to ask GetKeyInfo and
/// GetBucketInfo about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedId {
    pub id: String,
}
