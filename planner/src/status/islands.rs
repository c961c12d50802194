//! An island in `archipel status`: Garage's health, disks and stored data,
//! and each node's own signals (what its Garage says of its blocks, resync
//! and scrubs; its data directory; what its Garage costs in memory, apart
//! from the page cache). Each node is asked of itself, in the facts round
//! trip: see [`node_probes`].

use super::NOW_PROBE;
use crate::desired::{DesiredIsland, DesiredNode};
use crate::garage;
use crate::observed::{Cluster, HostFacts, IslandObservation, MachineObservation, Observed};
use serde::Serialize;

/// A node's own health, asked of its Garage (`"node": "self"`, so that a
/// member out of reach costs nothing to the others' answers).
const STATISTICS_PROBE: &str = "garage_statistics";
/// Its background workers' variables: the scrub's last run and findings.
const WORKERS_PROBE: &str = "garage_workers";
/// Its Garage's memory, from the unit's cgroup.
const MEMORY_PROBE: &str = "garage_memory";

pub(super) fn node_probes() -> [(&'static str, String); 3] {
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

/// An island: Garage's health, its disks, and each node's signals.
pub(super) fn island_status(island: &DesiredIsland, observed: &Observed) -> IslandStatus {
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
fn node_health(node: &DesiredNode, cluster: Option<&Cluster>, observed: &Observed) -> NodeHealth {
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
    let id = garage::observed_node_id(facts, node);
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
    health.data_lost = garage::data_directory_lost(facts, node);
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
