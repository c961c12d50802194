//! A backup job on its host: its password, key, escrow, settings,
//! repository and units; restic and the runner once per host; schedules
//! that never elapse.

use super::files::{managed_file, timer_started};
use super::island::not_observed;
use super::machines::machine_facts;
use super::{
    Action, BackupStep, Builder, FileChange, HostStep, Incomplete, PlanError, SENSITIVE, Target,
};
use crate::address::Address;
use crate::backup::{self, Task};
use crate::desired::{Desired, DesiredBackup, DesiredEscrow};
use crate::model::ResticSource;
use crate::observed::{FileFacts, HostFacts, Observed, Probe, Unreachable};
use crate::ownership::Ownership;
use crate::restic::RepositoryAnswer;
use std::collections::BTreeSet;

pub(super) fn plan_backup(
    backup: &DesiredBackup,
    desired: &Desired,
    observed: &Observed,
    hosts_planned: &mut BTreeSet<String>,
    b: &mut Builder,
) {
    let facts = match machine_facts(observed, &backup.machine) {
        Ok(facts) => facts,
        Err(problem) => return not_planned(backup, desired, problem, b),
    };
    if hosts_planned.insert(backup.machine.clone()) {
        plan_backup_host(backup, facts, b);
    }
    let password_missing = plan_password(backup, facts, b);
    let credentials_missing = plan_credentials(backup, facts, b);
    if let Some(escrow) = &backup.escrow {
        plan_escrow(backup, escrow, facts, password_missing, b);
    }
    let settings_changed = managed_file(
        b,
        job_step(backup, BackupStep::Settings),
        facts,
        &backup.env_file,
        &backup.env,
        ROOT_ONLY,
    )
    .changed();
    plan_ping(backup, facts, b);
    schedules_elapse(b, backup, facts);
    let files_change = password_missing || credentials_missing || settings_changed;
    let repository_planned = plan_repository(backup, facts, files_change, b);
    plan_local_repository(backup, facts, files_change || repository_planned, b);
    plan_units(backup, facts, b);
}

/// A job's password, credentials and settings.
const ROOT_ONLY: Ownership = Ownership::ROOT_PRIVATE;
const UNIT_OWNER: Ownership = Ownership::ROOT_READABLE;

fn job_step(backup: &DesiredBackup, step: BackupStep) -> Target {
    Target::Backup {
        chaton: backup.chaton.clone(),
        job: backup.job.clone(),
        machine: backup.machine.clone(),
        step,
    }
}

fn is_present(facts: &HostFacts, path: &str) -> bool {
    matches!(facts.files.get(path), Some(FileFacts::File { .. }))
}

/// A job whose host was not observed: listed with what is incomplete.
fn not_planned(
    backup: &DesiredBackup,
    desired: &Desired,
    problem: Option<&Unreachable>,
    b: &mut Builder,
) {
    let address = Address::Job {
        chaton: backup.chaton.clone(),
        job: backup.job.clone(),
    };
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
}

/// The repository password, made on the host; whether it is missing.
fn plan_password(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) -> bool {
    let password_missing = !is_present(facts, &backup.password_file);
    if password_missing {
        b.add(
            job_step(backup, BackupStep::Password),
            Action::Create,
            "the repository password does not exist: generated once, kept on the host, never shown",
        )
        .attribute("password", None, Some(SENSITIVE.into()));
    }
    password_missing
}

/// The job's S3 key on the host: written when it is not there, and again
/// when the plan makes the key (one deleted on the island, to cut off a
/// host that leaked it, is made anew with a new secret). Whether it was
/// missing.
fn plan_credentials(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) -> bool {
    let credentials_missing = !is_present(facts, &backup.s3_file);
    let key_is_new = b.changes.iter().any(|c| {
        c.action == Action::Create
            && matches!(&c.target, Target::Key { island, key } if *island == backup.island && *key == backup.key)
    });
    let (action, reason) = match (credentials_missing, key_is_new) {
        (true, _) => (
            Action::Create,
            "the job's S3 key is not on the host".to_string(),
        ),
        (false, true) => (
            Action::Update,
            format!(
                "the key {} is made anew: its secret is written again",
                backup.key
            ),
        ),
        (false, false) => return false,
    };
    let key = format!("{} on island {}", backup.key, backup.island);
    let before = (action == Action::Update).then(|| key.clone());
    b.add(job_step(backup, BackupStep::Credentials), action, reason)
        .attribute("key", before, Some(key))
        .attribute("secret", None, Some(SENSITIVE.into()));
    credentials_missing
}

/// The job's ping URL. From apply's environment: written when it is not on
/// the host or when the record beside it names another variable or
/// version (the plan never sees the URL); removed, with its record, when
/// the job no longer takes it from there. From a file of the host's
/// admins: a warning when it is not there.
fn plan_ping(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) {
    let record_file = backup::ping_record_file(&backup.id);
    let recorded = match facts.files.get(&record_file) {
        Some(FileFacts::File { content, .. }) => Some(content.as_deref().unwrap_or_default()),
        _ => None,
    };
    let Some(ping) = &backup.ping else {
        if recorded.is_some() {
            b.add(
                job_step(backup, BackupStep::Ping),
                Action::Delete,
                "the job no longer pings a URL from apply's environment: the URL and its record are removed from the host",
            );
        }
        return;
    };
    let Some(source) = &ping.source else {
        if !is_present(facts, &ping.file) {
            b.plan.warnings.push(format!(
                "chaton {}, backup {}: its ping URL file {} is not on {}: its runs ping nothing until the host's admins put it there",
                backup.chaton, backup.job, ping.file, backup.machine
            ));
        }
        if recorded.is_some() {
            b.add(
                job_step(backup, BackupStep::Ping),
                Action::Delete,
                "the job's ping URL now comes from a file of the host's: the one apply wrote and its record are removed",
            );
        }
        return;
    };
    let missing = !is_present(facts, &ping.file);
    let (action, reason) = match recorded {
        _ if missing => (
            Action::Create,
            format!(
                "the job's ping URL is not on the host: written from ${} at apply, root's alone",
                source.variable
            ),
        ),
        Some(text) if text == source.record => return,
        Some(_) => (
            Action::Update,
            format!(
                "the job's ping URL comes from ${} at url_version {} now: written again",
                source.variable, source.version
            ),
        ),
        None => (
            Action::Update,
            format!(
                "nothing records where the job's ping URL came from: written again from ${}",
                source.variable
            ),
        ),
    };
    let change = b.add(job_step(backup, BackupStep::Ping), action, reason);
    change.attribute("url", None, Some(SENSITIVE.into()));
    change.file = Some(FileChange {
        path: record_file,
        before: recorded.map(str::to_string),
        after: source.record.clone(),
    });
}

/// The password sealed to the chaton's admins, as the record on the host
/// says it was.
fn plan_escrow(
    backup: &DesiredBackup,
    escrow: &DesiredEscrow,
    facts: &HostFacts,
    password_missing: bool,
    b: &mut Builder,
) {
    let recorded = match facts.files.get(&escrow.record_file) {
        Some(FileFacts::File { content, .. }) => content.as_deref(),
        _ => None,
    };
    if recorded != Some(escrow.record.as_str()) {
        let reason = match recorded {
            _ if password_missing => "the new password is escrowed once generated",
            None => "the password is not escrowed",
            Some(text) if crate::escrow::names_legacy(text, &backup.job) => {
                "the escrow moves from its one rewritten name to a new name per write (JOB.escrow/TIME.age): the password is encrypted again and the old object deleted"
            }
            Some(_) => "the escrow's recipients or place changed: the password is encrypted again",
        };
        let object = format!(
            "s3://{}/{}TIME.age on island {}",
            backup.bucket, escrow.prefix, backup.island
        );
        let action = match recorded {
            Some(_) => Action::Update,
            None => Action::Create,
        };
        let change = b.add(job_step(backup, BackupStep::Escrow), action, reason);
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

/// The repository, as restic sees it with the job's own files
/// (`files_change`: some of them are about to be written). Whether the
/// plan checks or makes it.
fn plan_repository(
    backup: &DesiredBackup,
    facts: &HostFacts,
    files_change: bool,
    b: &mut Builder,
) -> bool {
    let probe = facts.probe(&Probe::Repository(backup.id.clone()));
    let answer = probe.map(|p| {
        let output = p.output.trim();
        (RepositoryAnswer::of(p.status, output), output)
    });
    let repository_reason = match answer {
        Some((RepositoryAnswer::Opens, _)) => None,
        _ if files_change => Some(
            "checked once the job's files are in place, and initialised if it does not exist"
                .to_string(),
        ),
        Some((RepositoryAnswer::WrongPassword, _)) => {
            b.plan.errors.push(PlanError {
                address: job_step(backup, BackupStep::Repository).address(),
                message: format!(
                    "the repository at {} exists but does not open with the job's password: archipel never initialises it again; restore the password (archipel recover) or move the repository aside",
                    backup.repository
                ),
            });
            None
        }
        Some((RepositoryAnswer::Missing, _)) => {
            Some("the repository does not exist yet".to_string())
        }
        Some((RepositoryAnswer::Unknown, output)) => Some(format!(
            "restic could not tell whether the repository exists ({}): apply checks again before initialising it",
            output.lines().last().unwrap_or("no answer")
        )),
        None => Some("the repository was not checked".to_string()),
    };
    let planned = repository_reason.is_some();
    if let Some(reason) = repository_reason {
        b.add(
            job_step(backup, BackupStep::Repository),
            Action::Create,
            reason,
        )
        .attribute("repository", None, Some(backup.repository.clone()));
    }
    planned
}

/// The job's local repository, as restic sees it with the job's password
/// (`before_it`: the job's files or its island repository are about to
/// change, so it is checked after them).
fn plan_local_repository(
    backup: &DesiredBackup,
    facts: &HostFacts,
    before_it: bool,
    b: &mut Builder,
) {
    let Some(path) = &backup.local_repository else {
        return;
    };
    let answer = facts
        .probe(&Probe::LocalRepository(backup.id.clone()))
        .map(|p| {
            let output = p.output.trim();
            (RepositoryAnswer::of(p.status, output), output)
        });
    let reason = match answer {
        Some((RepositoryAnswer::Opens, _)) => return,
        _ if before_it => "checked once the job's files and island repository are in place, and initialised with the island repository's chunker parameters if it does not exist".to_string(),
        Some((RepositoryAnswer::WrongPassword, _)) => {
            b.plan.errors.push(PlanError {
                address: job_step(backup, BackupStep::LocalRepository).address(),
                message: format!(
                    "the local repository at {path} exists but does not open with the job's password: archipel never initialises it again; move it aside"
                ),
            });
            return;
        }
        Some((RepositoryAnswer::Missing, _)) => "the local repository does not exist: initialised with the island repository's chunker parameters, so that copies deduplicate there".to_string(),
        Some((RepositoryAnswer::Unknown, output)) => format!(
            "restic could not tell whether the local repository exists ({}): apply checks again before initialising it",
            output.lines().last().unwrap_or("no answer")
        ),
        None => "the local repository was not checked".to_string(),
    };
    b.add(
        job_step(backup, BackupStep::LocalRepository),
        Action::Create,
        reason,
    )
    .attribute("path", None, Some(path.clone()));
}

/// Each task's service and timer, the timer enabled and active; a task
/// the job no longer has taken off.
fn plan_units(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) {
    for task in Task::ALL {
        let timer = format!(
            "{}/{}",
            backup::UNITS_DIR,
            backup::timer_name(task, &backup.id)
        );
        if !backup.units.iter().any(|u| u.task == task) && is_present(facts, &timer) {
            let why = match task {
                Task::Copy => {
                    "the job has no local repository any more: nothing is copied to the island from it"
                }
                Task::Prune => {
                    "the job has no retention any more: its snapshots are no longer forgotten"
                }
                Task::Drill => "the job has no drill schedule any more",
                Task::Backup | Task::Check => "the job no longer runs it",
            };
            b.add(
                job_step(backup, BackupStep::Timer(task)),
                Action::Delete,
                format!("{why}: its timer is stopped, its units and records removed"),
            );
        }
    }
    for unit in &backup.units {
        managed_file(
            b,
            job_step(backup, BackupStep::Service(unit.task)),
            facts,
            &format!("{}/{}", backup::UNITS_DIR, unit.service_name),
            &unit.service,
            UNIT_OWNER,
        );
        let timer_path = format!("{}/{}", backup::UNITS_DIR, unit.timer_name);
        let changed = managed_file(
            b,
            job_step(backup, BackupStep::Timer(unit.task)),
            facts,
            &timer_path,
            &unit.timer,
            UNIT_OWNER,
        )
        .changed();
        timer_started(
            b,
            job_step(backup, BackupStep::Timer(unit.task)),
            facts,
            &unit.timer_name,
            changed,
        );
    }
}

/// restic and the runner, once per backup host.
fn plan_backup_host(backup: &DesiredBackup, facts: &HostFacts, b: &mut Builder) {
    let kind = |step| Target::BackupHost {
        machine: backup.machine.clone(),
        step,
    };
    match &backup.restic {
        ResticSource::Package => {
            if !matches!(
                facts.files.get(backup::PACKAGED_RESTIC),
                Some(FileFacts::File { .. })
            ) {
                b.add(
                    kind(HostStep::Restic),
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
        facts,
        backup::RUNNER,
        backup::RUNNER_SCRIPT,
        Ownership::ROOT_EXECUTABLE,
    )
    .changed();
    if !changed && directories_missing {
        b.add(
            kind(HostStep::Runner),
            Action::Create,
            "the runner's status and cache directories do not exist",
        );
    }
}

/// A schedule the host's systemd says never comes (a date in the past) or
/// refuses (a time zone the host does not have) is an error: such a timer
/// would be installed and never run.
fn schedules_elapse(b: &mut Builder, backup: &DesiredBackup, facts: &HostFacts) {
    let Some(probe) = facts.probe(&Probe::Schedules(backup.id.clone())) else {
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
            address: Address::JobStep {
                chaton: backup.chaton.clone(),
                job: backup.job.clone(),
                step: BackupStep::Timer(unit.task),
            },
            message: format!(
                "the {task} schedule \"{}\" {problem}: its timer would never run",
                unit.schedule
            ),
        });
    }
}
