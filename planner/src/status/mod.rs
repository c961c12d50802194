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
//!
//! Each island and its nodes: `islands.rs`.

mod islands;

pub use islands::{IslandStatus, Memory, NodeHealth};
use islands::{island_status, node_probes};

use crate::backup::{Task, status_file};
use crate::desired::{Desired, DesiredBackup, DesiredIsland};
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
