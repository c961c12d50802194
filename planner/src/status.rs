//! `archipel status`: how the backups are doing, from what the hosts
//! recorded (each task's last run and last success, written by archipel's
//! runner) and what the islands report (health, capacity, each backup
//! bucket's size against its quota).
//!
//! A job is *stale* when its last success is older than two of its
//! schedule's periods (or it never succeeded), *failing* when its last run
//! failed.
//!
//! Each vault is read from every node of its island (the newest pass
//! report wins: the passes may have moved): its open incidents, and passes
//! that stopped (none finished for three hours) or failed.

use crate::backup::{Task, status_file};
use crate::desired::{Desired, DesiredBackup, DesiredIsland};
use crate::garage;
use crate::observed::{
    FactsQuery, FileFacts, FileQuery, HostFacts, IslandObservation, MachineObservation, Observed,
    Probe, Read,
};
use crate::vault;
use serde::{Deserialize, Serialize};

/// The host's clock and the backup schedule's period, from systemd itself:
/// the next two times the schedule elapses, in seconds since the epoch.
const NOW_PROBE: (&str, &str) = ("now", "date +%s");

/// What `status` reads on a machine, beyond what a plan reads: each job's
/// status files, the host's clock, each backup schedule's period.
pub fn query(desired: &Desired, machine: &str) -> FactsQuery {
    let mut query = desired.facts_query(machine);
    let jobs: Vec<&DesiredBackup> = desired
        .backups
        .iter()
        .filter(|b| b.machine == machine)
        .collect();
    if !jobs.is_empty() {
        query.probes.push((NOW_PROBE.0.into(), NOW_PROBE.1.into()));
    }
    for job in jobs {
        for task in [Task::Backup, Task::Copy, Task::Check, Task::Drill] {
            if task == Task::Copy && job.local_repository.is_none() {
                continue;
            }
            for success in [false, true] {
                query.files.push(FileQuery::new(
                    status_file(&job.id, task, success),
                    Read::Content,
                ));
            }
        }
        query.probes.push((
            Probe::Period(job.id.clone()).to_string(),
            period_probe(&job.schedule),
        ));
        if let Some(copy) = job.units.iter().find(|u| u.task == Task::Copy) {
            query.probes.push((
                Probe::CopyPeriod(job.id.clone()).to_string(),
                period_probe(&copy.schedule),
            ));
        }
    }
    if desired.island_of_node(machine).is_some() {
        if !query.probes.iter().any(|(name, _)| name == NOW_PROBE.0) {
            query.probes.push((NOW_PROBE.0.into(), NOW_PROBE.1.into()));
        }
        for (name, snippet) in node_probes() {
            query.probes.push((name.into(), snippet));
        }
    }
    if let Some(island) = desired.island_of_node(machine)
        && let Some(vaults) = &island.vaults
    {
        for chaton in &vaults.chatons {
            query
                .files
                .push(FileQuery::new(vault::status_file(chaton), Read::Content));
        }
    }
    query
}

/// A node's own health, asked of its Garage (`"node": "self"`, so that a
/// member out of reach costs nothing to the others' answers).
const STATISTICS_PROBE: &str = "garage_statistics";
/// Its background workers' variables: the scrub's last run and findings.
const WORKERS_PROBE: &str = "garage_workers";
/// Its Garage's memory, from the unit's cgroup.
const MEMORY_PROBE: &str = "garage_memory";

fn node_probes() -> [(&'static str, String); 3] {
    // Its stderr only when it fails: a release may log there meanwhile,
    // and the probe's output is read as JSON.
    let api = |endpoint: &str, body: &str| {
        format!(
            "err=$(mktemp); timeout 10 {} -c {} json-api {endpoint} '{{\"node\":\"self\",\"body\":{body}}}' 2>\"$err\"; rc=$?; [ $rc = 0 ] || cat \"$err\"; rm -f \"$err\"; exit $rc",
            garage::BINARY,
            garage::CONFIG
        )
    };
    [
        (STATISTICS_PROBE, api("GetNodeStatistics", "null")),
        (
            WORKERS_PROBE,
            api("GetWorkerVariable", "{\"variable\":null}"),
        ),
        // What Garage itself holds, apart from the page cache, where
        // LMDB's memory-mapped database lives (reclaimable, shared, never
        // what Garage costs): the unit's cgroup v2 counters (memory.stat's
        // anon and kernel, its file; memory.peak, kernel 5.19 and later,
        // counts both), or, without them (cgroup v1), the daemon's
        // proportional set size (Pss_Anon, Pss_File) and its peak RSS.
        (
            MEMORY_PROBE,
            format!(
                r#"cg=$(systemctl show {unit} -p ControlGroup --value); d=/sys/fs/cgroup$cg; pid=$(systemctl show {unit} -p MainPID --value)
if [ -n "$cg" ] && [ -r "$d/memory.stat" ]; then
  echo 'measured cgroup'; grep -E '^(anon|file|kernel) ' "$d/memory.stat"; [ -r "$d/memory.peak" ] && echo "peak $(cat "$d/memory.peak")"; true
elif [ "${{pid:-0}}" != 0 ] && [ -r "/proc/$pid/smaps_rollup" ]; then
  echo 'measured pss'; awk '/^Pss_Anon:/ {{ print "anon", $2 * 1024 }} /^Pss_File:/ {{ print "file", $2 * 1024 }}' "/proc/$pid/smaps_rollup"; awk '/^VmHWM:/ {{ print "peak", $2 * 1024 }}' "/proc/$pid/status"
else
  echo 'Garage is not running'; exit 3
fi"#,
                unit = garage::SERVICE
            ),
        ),
    ]
}

/// The next two times a schedule elapses, by the host's systemd.
fn period_probe(schedule: &str) -> String {
    format!(
        "systemd-analyze calendar --iterations=2 '{}' | sed -n 's/^.*\\(Next elapse\\|#2\\): //p' | while read -r at; do date -d \"$at\" +%s; done",
        schedule.replace('\'', "")
    )
}

/// A vault pass's report, as the pass writes it on its node
/// (`vault::status_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassReport {
    pub started: String,
    pub finished: String,
    #[serde(default)]
    pub finished_unix: u64,
    /// `ok` or `failed`.
    pub result: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub copied_objects: u64,
    #[serde(default)]
    pub copied_bytes: u64,
    #[serde(default)]
    pub vault_objects: u64,
    #[serde(default)]
    pub vault_bytes: u64,
    #[serde(default)]
    pub pending_deletions: u64,
    #[serde(default)]
    pub frozen: bool,
    #[serde(default)]
    pub incidents: Vec<Incident>,
}

/// Something a vault pass saw that the chaton's own backups do not
/// explain; open until a person clears it (`archipel clear`, which runs
/// `vault-pass clear` on a node of the island).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub job: Option<String>,
    pub since: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultStatus {
    pub chaton: String,
    pub island: String,
    /// The node whose report is shown: the one that ran the newest pass.
    pub node: Option<String>,
    pub last_pass: Option<PassReport>,
    /// Seconds since the last pass finished, by that node's clock.
    pub pass_age_seconds: Option<u64>,
    /// No pass finished for `vault::STALE_AFTER_SECONDS` (or ever).
    pub stale: bool,
    /// The last pass could not run to its end.
    pub failing: bool,
    /// Nodes of the island that could not be read: a newer report may be
    /// there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread_nodes: Vec<String>,
}

impl VaultStatus {
    pub fn incidents(&self) -> &[Incident] {
        self.last_pass
            .as_ref()
            .map_or(&[], |p| p.incidents.as_slice())
    }

    pub fn is_good(&self) -> bool {
        !self.stale && !self.failing && self.incidents().is_empty() && self.unread_nodes.is_empty()
    }
}

/// One run of a task, as the runner recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub exit_code: i64,
    pub start: String,
    #[serde(default)]
    pub start_unix: u64,
    pub duration_seconds: u64,
    #[serde(default)]
    pub restic_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Why the run failed: the failing command's last error line (a hook's,
    /// a dump's, or restic's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The job's commands the run ran: hooks and dumps for a backup, the
    /// dumps' checks for a drill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// A hook, a dump or a dump's check, as the runner recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `before`, `on_failure` or `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// The dump's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<String>,
    /// 124: killed at its timeout.
    pub exit_code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// The dump's size: as written, or as restored by a drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// In a drill: whether the dump's check command ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    /// The last lines of its output, what looks like a secret masked.
    #[serde(default)]
    pub output: String,
}

impl Step {
    /// `before`, `dump nextcloud-db`.
    pub fn name(&self) -> String {
        match (&self.hook, &self.dump) {
            (Some(hook), _) => hook.clone(),
            (None, Some(dump)) => format!("dump {dump}"),
            (None, None) => "command".into(),
        }
    }
}

/// restic's backup summary: what the run added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub data_added: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub chaton: String,
    pub job: String,
    pub host: String,
    pub island: String,
    pub schedule: String,
    /// Seconds between two runs of the schedule, as systemd computes it.
    pub period_seconds: Option<u64>,
    pub last_run: Option<Run>,
    pub last_success: Option<Run>,
    /// Seconds since the last success ended.
    pub success_age_seconds: Option<u64>,
    pub last_check: Option<Run>,
    pub last_drill: Option<Run>,
    /// With a local repository (where `last_success` is), the copies to
    /// the island.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalStatus>,
    /// The chaton's backup bucket on the island: bytes stored, quota.
    pub bucket_bytes: Option<u64>,
    pub bucket_quota: Option<u64>,
    pub stale: bool,
    pub failing: bool,
    /// Why the host could not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A job's local repository and its copies to the island: the island's
/// repository is as fresh as the last copy that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalStatus {
    pub path: String,
    pub copy_schedule: String,
    pub copy_period_seconds: Option<u64>,
    pub last_copy: Option<Run>,
    pub last_copy_success: Option<Run>,
    /// Seconds since the last copy that succeeded ended.
    pub copy_age_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IslandStatus {
    pub name: String,
    /// Garage's word (`healthy`, `degraded`, `unavailable`), or why none.
    pub health: String,
    pub storage_nodes: u64,
    pub storage_nodes_up: u64,
    /// Partitions (256) that have a quorum of their nodes up, and all.
    pub partitions: u64,
    pub partitions_quorum: u64,
    /// Over the nodes' data disks.
    pub used_bytes: u64,
    pub total_bytes: u64,
    /// What the island's buckets hold (one copy counted).
    pub stored_bytes: u64,
    /// The memory its nodes' Garage uses (page cache left out), per GB
    /// stored; absent while nothing is stored or a node's is unknown.
    pub memory_bytes_per_stored_gb: Option<u64>,
    pub nodes: Vec<NodeHealth>,
}

impl IslandStatus {
    /// Healthy, every node read, no data lost, no block Garage failed to
    /// resync, no corruption a scrub found.
    pub fn is_good(&self) -> bool {
        self.health == "healthy" && self.nodes.iter().all(NodeHealth::is_good)
    }
}

/// One node of an island: Garage's own signals and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeHealth {
    pub name: String,
    /// As the island sees it; absent when it is not in the island's view.
    pub up: Option<bool>,
    /// The release its daemon reports.
    pub version: Option<String>,
    /// The capacity its layout role gives it.
    pub capacity: Option<u64>,
    /// Its data disk, as Garage reports it.
    pub disk_used_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    /// Its data directory lost its blocks (Garage's marker gone while its
    /// data layout records one): `apply` repairs it.
    pub data_lost: bool,
    /// Blocks it keeps a reference count of.
    pub blocks: Option<u64>,
    /// Blocks waiting to be fetched from, or checked against, the other
    /// nodes: normal while it fills after a repair or a layout change.
    pub resync_queue: Option<u64>,
    /// Blocks Garage failed to resync: "persistent nonzero values indicate
    /// that some data is likely to be lost".
    pub resync_errors: Option<u64>,
    /// Its last complete scrub (Garage's words: a time, or `never`), its
    /// age and the corruptions scrubs found.
    pub scrub_last_completed: Option<String>,
    pub scrub_age_seconds: Option<u64>,
    pub scrub_corruptions: Option<u64>,
    pub memory: Option<Memory>,
    /// What could not be read, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl NodeHealth {
    pub fn is_good(&self) -> bool {
        !self.data_lost
            && self.up != Some(false)
            && self.resync_errors.unwrap_or(0) == 0
            && self.scrub_corruptions.unwrap_or(0) == 0
            && self.problems.is_empty()
    }
}

/// Garage's memory on a node, from its unit's cgroup or its process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// `cgroup` (the unit's cgroup v2 counters) or `pss` (the daemon's
    /// proportional set size, where the node has no cgroup v2).
    pub measured: String,
    /// What Garage itself holds: anonymous memory and kernel structures.
    pub used_bytes: u64,
    /// Page cache charged to it (or, by PSS, its share of the files it
    /// maps), LMDB's memory-mapped database among it: reclaimable, so not
    /// what the node costs.
    pub page_cache_bytes: u64,
    /// The most it held since it started, page cache included (the kernel
    /// keeps no peak without it: `memory.peak`, or the peak RSS): an upper
    /// bound.
    pub peak_with_cache_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub jobs: Vec<JobStatus>,
    pub vaults: Vec<VaultStatus>,
    pub islands: Vec<IslandStatus>,
}

impl Status {
    /// Every job fresh and passing, every island healthy.
    pub fn is_good(&self) -> bool {
        self.jobs
            .iter()
            .all(|j| !j.stale && !j.failing && j.problem.is_none())
            && self.vaults.iter().all(VaultStatus::is_good)
            && self.islands.iter().all(IslandStatus::is_good)
    }
}

pub fn status(desired: &Desired, observed: &Observed) -> Status {
    let islands = desired
        .islands
        .iter()
        .map(|island| island_status(island, observed))
        .collect();
    let jobs = desired
        .backups
        .iter()
        .map(|job| job_status(job, observed))
        .collect();
    let vaults = desired
        .islands
        .iter()
        .flat_map(|island| {
            let chatons = island.vaults.iter().flat_map(|v| &v.chatons);
            chatons.map(move |chaton| vault_status(island, chaton, observed))
        })
        .collect();
    Status {
        jobs,
        vaults,
        islands,
    }
}

/// An island: Garage's health, its disks, and each node's signals.
fn island_status(island: &DesiredIsland, observed: &Observed) -> IslandStatus {
    let mut status = IslandStatus {
        name: island.name.clone(),
        health: String::new(),
        storage_nodes: 0,
        storage_nodes_up: 0,
        partitions: 0,
        partitions_quorum: 0,
        used_bytes: 0,
        total_bytes: 0,
        stored_bytes: 0,
        memory_bytes_per_stored_gb: None,
        nodes: Vec::new(),
    };
    let cluster = match observed.islands.get(&island.name) {
        Some(IslandObservation::Reached { cluster, .. }) => Some(cluster),
        Some(IslandObservation::NotRunning) => {
            status.health = "not running".into();
            None
        }
        Some(IslandObservation::Unreachable { problem }) => {
            status.health = format!("unreachable: {}", problem.message);
            None
        }
        None => {
            status.health = "not observed".into();
            None
        }
    };
    if let Some(cluster) = cluster {
        let disks: Vec<_> = cluster
            .status
            .nodes
            .iter()
            .filter(|n| n.role.is_some())
            .filter_map(|n| n.data_partition)
            .collect();
        status.health = cluster.health.status.clone();
        status.storage_nodes = cluster.health.storage_nodes;
        status.storage_nodes_up = cluster.health.storage_nodes_up;
        status.partitions = cluster.health.partitions;
        status.partitions_quorum = cluster.health.partitions_quorum;
        status.used_bytes = disks
            .iter()
            .map(|d| d.total.saturating_sub(d.available))
            .sum();
        status.total_bytes = disks.iter().map(|d| d.total).sum();
        status.stored_bytes = cluster.buckets.iter().map(|b| b.bytes).sum();
    }
    status.nodes = island
        .nodes
        .iter()
        .map(|node| node_health(node, cluster.map(|c| &**c), observed))
        .collect();
    let memory: Option<u64> = status
        .nodes
        .iter()
        .map(|n| n.memory.as_ref().map(|m| m.used_bytes))
        .sum();
    status.memory_bytes_per_stored_gb = match memory {
        Some(memory) if status.stored_bytes > 0 => {
            Some((memory as u128 * 1_000_000_000 / status.stored_bytes as u128) as u64)
        }
        _ => None,
    };
    status
}

/// A node: how the island sees it, what its own Garage says, and what its
/// machine shows (its data directory's marker, its Garage's memory).
fn node_health(
    node: &crate::desired::DesiredNode,
    cluster: Option<&crate::observed::Cluster>,
    observed: &Observed,
) -> NodeHealth {
    let mut health = NodeHealth {
        name: node.name.clone(),
        up: None,
        version: None,
        capacity: None,
        disk_used_bytes: None,
        disk_total_bytes: None,
        data_lost: false,
        blocks: None,
        resync_queue: None,
        resync_errors: None,
        scrub_last_completed: None,
        scrub_age_seconds: None,
        scrub_corruptions: None,
        memory: None,
        problems: Vec::new(),
    };
    let facts = match observed.machines.get(&node.name) {
        Some(MachineObservation::Reached { facts }) => facts,
        Some(MachineObservation::Unreachable { problem }) => {
            health.problems.push(problem.message.clone());
            return health;
        }
        None => {
            health.problems.push("not observed".into());
            return health;
        }
    };
    let id = match facts.files.get(&garage::node_key_path(&node.meta_dir)) {
        Some(FileFacts::File {
            content: Some(hex), ..
        }) => Some(hex.as_str()),
        _ => None,
    };
    if let (Some(cluster), Some(id)) = (cluster, id)
        && let Some(seen) = cluster.status.nodes.iter().find(|n| n.id == id)
    {
        health.up = Some(seen.is_up);
        health.version = seen.garage_version.clone();
        health.capacity = seen.role.as_ref().and_then(|r| r.capacity);
        if let Some(disk) = seen.data_partition {
            health.disk_used_bytes = Some(disk.total.saturating_sub(disk.available));
            health.disk_total_bytes = Some(disk.total);
        }
    }
    health.data_lost = matches!(
        facts.files.get(&garage::data_layout_path(&node.meta_dir)),
        Some(FileFacts::File { .. })
    ) && matches!(
        facts.files.get(&garage::data_marker_path(&node.data_dir)),
        Some(FileFacts::Missing)
    );
    read_probes(&mut health, facts);
    health
}

/// What the node's own Garage and its cgroup said: block counts, resync
/// queue and errors, the scrub's last run and findings, memory.
fn read_probes(health: &mut NodeHealth, facts: &HostFacts) {
    let output = |name: &str| -> Result<&str, String> {
        match facts.probes.get(name) {
            Some(probe) if probe.status == 0 => Ok(probe.output.as_str()),
            Some(probe) => Err(probe
                .output
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
                .trim()
                .to_string()),
            None => Err("not asked".into()),
        }
    };
    let answer = |name: &str, what: &str| -> Result<serde_json::Value, String> {
        let text = output(name).map_err(|e| format!("{what}: {e}"))?;
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        value["success"]
            .as_object()
            .and_then(|s| s.values().next())
            .cloned()
            .ok_or_else(|| format!("{what}: Garage did not answer for the node"))
    };
    match answer(STATISTICS_PROBE, "statistics") {
        Ok(stats) => {
            let block = &stats["blockManagerStats"];
            health.blocks = block["rcEntries"].as_u64();
            health.resync_queue = block["resyncQueueLen"].as_u64();
            health.resync_errors = block["resyncErrors"].as_u64();
        }
        Err(problem) => health.problems.push(problem),
    }
    let now = output(NOW_PROBE.0)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    match answer(WORKERS_PROBE, "workers") {
        Ok(variables) => {
            let last = variables["scrub-last-completed"].as_str().map(String::from);
            health.scrub_age_seconds = match (last.as_deref().and_then(unix_from_rfc3339), now) {
                (Some(at), Some(now)) => Some(now.saturating_sub(at)),
                _ => None,
            };
            health.scrub_last_completed = last;
            health.scrub_corruptions = variables["scrub-corruptions_detected"]
                .as_str()
                .and_then(|n| n.parse().ok());
        }
        Err(problem) => health.problems.push(problem),
    }
    match output(MEMORY_PROBE) {
        Ok(text) => health.memory = Some(memory(text)),
        Err(problem) => health.problems.push(format!("memory: {problem}")),
    }
}

/// The memory probe's lines: `measured HOW`, `anon N`, `file N`,
/// `kernel N`, `peak N`.
fn memory(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse::<u64>().ok())?
        })
    };
    Memory {
        measured: text
            .lines()
            .find_map(|l| l.strip_prefix("measured "))
            .unwrap_or("?")
            .trim()
            .to_string(),
        used_bytes: field("anon").unwrap_or(0) + field("kernel").unwrap_or(0),
        page_cache_bytes: field("file").unwrap_or(0),
        peak_with_cache_bytes: field("peak"),
    }
}

/// Seconds since the epoch of an RFC 3339 time in UTC, as Garage writes
/// them (`2026-12-05T20:31:07.123Z`); None for anything else (`never`).
fn unix_from_rfc3339(text: &str) -> Option<u64> {
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))?;
    let mut clock = time.split(':');
    let hours: i64 = clock.next()?.parse().ok()?;
    let minutes: i64 = clock.next()?.parse().ok()?;
    let seconds: i64 = clock.next()?.split('.').next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard
    // Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hours * 3600 + minutes * 60 + seconds).ok()
}

/// A chaton's vault on an island: the newest pass report among the
/// island's nodes.
fn vault_status(island: &DesiredIsland, chaton: &str, observed: &Observed) -> VaultStatus {
    let mut status = VaultStatus {
        chaton: chaton.to_string(),
        island: island.name.clone(),
        node: None,
        last_pass: None,
        pass_age_seconds: None,
        stale: true,
        failing: false,
        unread_nodes: Vec::new(),
    };
    let path = vault::status_file(chaton);
    for node in &island.nodes {
        let facts = match observed.machines.get(&node.name) {
            Some(MachineObservation::Reached { facts }) => facts,
            _ => {
                status.unread_nodes.push(node.name.clone());
                continue;
            }
        };
        let Some(FileFacts::File {
            content: Some(text),
            ..
        }) = facts.files.get(&path)
        else {
            continue;
        };
        let Ok(report) = serde_json::from_str::<PassReport>(text) else {
            continue;
        };
        let newer = status
            .last_pass
            .as_ref()
            .is_none_or(|seen| report.finished_unix > seen.finished_unix);
        if newer {
            let now = facts
                .probes
                .get(NOW_PROBE.0)
                .filter(|p| p.status == 0)
                .and_then(|p| p.output.trim().parse::<u64>().ok());
            status.pass_age_seconds = now.map(|now| now.saturating_sub(report.finished_unix));
            status.node = Some(node.name.clone());
            status.last_pass = Some(report);
        }
    }
    status.stale = status
        .pass_age_seconds
        .is_none_or(|age| age > vault::STALE_AFTER_SECONDS);
    status.failing = status
        .last_pass
        .as_ref()
        .is_some_and(|pass| pass.result != "ok");
    status
}

fn job_status(job: &DesiredBackup, observed: &Observed) -> JobStatus {
    let mut status = unread_status(job, observed);
    let facts = match observed.machines.get(&job.machine) {
        Some(MachineObservation::Reached { facts }) => facts,
        Some(MachineObservation::Unreachable { problem }) => {
            status.problem = Some(problem.message.clone());
            return status;
        }
        None => {
            status.problem = Some("not observed".into());
            return status;
        }
    };
    read_runs(&mut status, job, facts);
    read_clock(&mut status, job, facts);
    let stale = |age: Option<u64>, period: Option<u64>| match (age, period) {
        (Some(age), Some(period)) => age > 2 * period,
        // Never succeeded, or the schedule could not be read.
        _ => true,
    };
    status.stale = stale(status.success_age_seconds, status.period_seconds)
        || status
            .local
            .as_ref()
            .is_some_and(|l| stale(l.copy_age_seconds, l.copy_period_seconds));
    status.failing = status
        .last_run
        .as_ref()
        .is_some_and(|run| run.exit_code != 0)
        || status
            .last_check
            .as_ref()
            .is_some_and(|run| run.exit_code != 0)
        || status
            .last_drill
            .as_ref()
            .is_some_and(|run| run.exit_code != 0)
        || status
            .local
            .as_ref()
            .and_then(|l| l.last_copy.as_ref())
            .is_some_and(|run| run.exit_code != 0);
    status
}

/// A job's status before its host is read: what it is, and its bucket as
/// its island reports it.
fn unread_status(job: &DesiredBackup, observed: &Observed) -> JobStatus {
    let bucket = match observed.islands.get(&job.island) {
        Some(IslandObservation::Reached { cluster, .. }) => cluster
            .buckets
            .iter()
            .find(|b| b.global_aliases.contains(&job.bucket)),
        _ => None,
    };
    JobStatus {
        chaton: job.chaton.clone(),
        job: job.job.clone(),
        host: job.machine.clone(),
        island: job.island.clone(),
        schedule: job.schedule.clone(),
        period_seconds: None,
        last_run: None,
        last_success: None,
        success_age_seconds: None,
        last_check: None,
        last_drill: None,
        local: job.local_repository.as_ref().map(|path| LocalStatus {
            path: path.clone(),
            copy_schedule: job
                .units
                .iter()
                .find(|u| u.task == Task::Copy)
                .map(|u| u.schedule.clone())
                .unwrap_or_default(),
            copy_period_seconds: None,
            last_copy: None,
            last_copy_success: None,
            copy_age_seconds: None,
        }),
        bucket_bytes: bucket.map(|b| b.bytes),
        bucket_quota: bucket.and_then(|b| b.quotas.max_size),
        stale: true,
        failing: false,
        problem: None,
    }
}

/// Each task's last run and last success, as the runner recorded them.
fn read_runs(status: &mut JobStatus, job: &DesiredBackup, facts: &HostFacts) {
    let run = |task: Task, success: bool| -> Option<Run> {
        match facts.files.get(&status_file(&job.id, task, success)) {
            Some(FileFacts::File {
                content: Some(text),
                ..
            }) => serde_json::from_str(text).ok(),
            _ => None,
        }
    };
    status.last_run = run(Task::Backup, false);
    status.last_success = run(Task::Backup, true);
    status.last_check = run(Task::Check, false);
    status.last_drill = run(Task::Drill, false);
    if let Some(local) = &mut status.local {
        local.last_copy = run(Task::Copy, false);
        local.last_copy_success = run(Task::Copy, true);
    }
}

/// The schedule's period and the last success's age, by the host's clock.
fn read_clock(status: &mut JobStatus, job: &DesiredBackup, facts: &HostFacts) {
    let number = |name: &str| {
        facts
            .probes
            .get(name)
            .filter(|p| p.status == 0)
            .map(|p| {
                p.output
                    .lines()
                    .filter_map(|l| l.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let now = number(NOW_PROBE.0).first().copied();
    status.period_seconds = match number(&Probe::Period(job.id.clone()).to_string())[..] {
        [next, after, ..] if after > next => Some(after - next),
        _ => None,
    };
    let age = |run: Option<&Run>| match (run, now) {
        (Some(run), Some(now)) => Some(now.saturating_sub(run.start_unix + run.duration_seconds)),
        _ => None,
    };
    status.success_age_seconds = age(status.last_success.as_ref());
    let copy_period = number(&Probe::CopyPeriod(job.id.clone()).to_string());
    if let Some(local) = &mut status.local {
        local.copy_period_seconds = match copy_period[..] {
            [next, after, ..] if after > next => Some(after - next),
            _ => None,
        };
        local.copy_age_seconds = age(local.last_copy_success.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::{memory, unix_from_rfc3339};

    #[test]
    fn garage_times_read_as_seconds_since_the_epoch() {
        assert_eq!(unix_from_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_from_rfc3339("2026-12-05T20:31:07.123Z"),
            Some(1_796_502_667)
        );
        assert_eq!(
            unix_from_rfc3339("2024-02-29T12:00:00+00:00"),
            Some(1_709_208_000)
        );
        assert_eq!(unix_from_rfc3339("never"), None);
    }

    #[test]
    fn the_page_cache_is_not_garages_memory() {
        let m = memory(
            "measured cgroup\nanon 41943040\nfile 524288000\nkernel 1048576\npeak 600000000\n",
        );
        assert_eq!(m.measured, "cgroup");
        assert_eq!(m.used_bytes, 41_943_040 + 1_048_576);
        assert_eq!(m.page_cache_bytes, 524_288_000);
        assert_eq!(m.peak_with_cache_bytes, Some(600_000_000));
    }
}
