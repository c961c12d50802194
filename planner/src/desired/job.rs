//! A backup job as its host gets it: its files, units and repositories,
//! and what the facts ask the host about it.

use super::{backup_bucket, chaton_key};
use crate::backup::{self, Task};
use crate::escrow;
use crate::model::{Backup, Chaton, Island, PingUrl, ResticSource};
use crate::observed::{FactsQuery, FileQuery, Probe, Read};
use crate::templates::shell_word;
use serde::Serialize;

/// A backup job, for the parts of the plan on its host.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredBackup {
    pub chaton: String,
    pub job: String,
    /// How the job is named on its host: `CHATON-JOB`.
    pub id: String,
    /// The machine it runs on (a name of `Archipelago::machines`).
    pub machine: String,
    /// The destination island, its bucket and the chaton's key there.
    pub island: String,
    pub bucket: String,
    pub key: String,
    pub restic: ResticSource,
    /// When the backup runs (systemd's OnCalendar).
    pub schedule: String,
    /// `s3:ENDPOINT/BUCKET/JOB`.
    pub repository: String,
    /// The repository on the host that backups go to first, if any (the
    /// island's is copied from it).
    pub local_repository: Option<String>,
    pub env_file: String,
    /// The settings file's content (no secret in it).
    pub env: String,
    /// The S3 key, root-only: never read back.
    pub s3_file: String,
    /// The repository password, root-only: read back only to escrow it.
    pub password_file: String,
    /// Where the password is escrowed, when the chaton names recipients.
    pub escrow: Option<DesiredEscrow>,
    /// The job's ping URL and where it comes from, when it pings.
    pub ping: Option<DesiredPing>,
    pub units: Vec<DesiredUnit>,
}

/// Where the runner reads the job's ping URL. A URL from apply's
/// environment is written root-only on the host, beside a record of the
/// variable and version it came from (what the plan compares: never the
/// URL); a file the host's admins put there is only checked to be there.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredPing {
    pub file: String,
    /// `None` for a file of the host's admins.
    pub source: Option<DesiredPingSource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesiredPingSource {
    pub variable: String,
    pub version: u64,
    pub record_file: String,
    pub record: String,
}

/// The job's password, encrypted to its chaton's admins, as an object in
/// the job's bucket (a new name each time it is written, the newest under
/// `prefix` the current one); the host records what was escrowed.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredEscrow {
    pub recipients: Vec<String>,
    /// Where the objects are in the job's bucket, `JOB.escrow/`.
    pub prefix: String,
    /// The name of earlier versions, `JOB.escrow.age`: read when no
    /// versioned object exists, deleted once one does.
    pub legacy_object: String,
    pub record_file: String,
    pub record: String,
}

/// One task of a job: its service and the timer that starts it.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredUnit {
    pub task: Task,
    /// Its timer's `OnCalendar=`.
    pub schedule: String,
    pub service_name: String,
    pub service: String,
    pub timer_name: String,
    pub timer: String,
}

/// `machine`: the name of the machine it runs on; `endpoints`: its
/// island's S3 addresses ([`s3_endpoints`]).
pub(super) fn desired_backup(
    island: &Island,
    chaton: &Chaton,
    backup: &Backup,
    machine: String,
    endpoints: &[String],
) -> DesiredBackup {
    let id = backup::job_id(&chaton.name, &backup.name);
    let bucket = backup_bucket(&chaton.name);
    let repository = format!("s3:{}/{bucket}/{}", endpoints[0], backup.name);
    let recipients = chaton.escrow.clone().unwrap_or_default();
    let escrow = (!recipients.is_empty()).then(|| {
        let prefix = escrow::prefix(&backup.name);
        DesiredEscrow {
            record_file: escrow::record_file(&id),
            record: escrow::record(&backup.to, &bucket, &prefix, &recipients),
            recipients,
            prefix,
            legacy_object: escrow::legacy_object(&backup.name),
        }
    });
    let units = backup::tasks(backup)
        .into_iter()
        .map(|task| DesiredUnit {
            task,
            schedule: backup::schedule(backup, task).as_str().to_string(),
            service_name: backup::service_name(task, &id),
            service: backup::service(chaton, backup, task),
            timer_name: backup::timer_name(task, &id),
            timer: backup::timer(&chaton.name, backup, task),
        })
        .collect();
    let ping = backup
        .notify
        .as_ref()
        .or(chaton.notify.as_ref())
        .map(|notify| DesiredPing {
            file: backup::ping_file(&id, &notify.url),
            source: match &notify.url {
                PingUrl::File(_) => None,
                PingUrl::Env { variable, version } => Some(DesiredPingSource {
                    variable: variable.clone(),
                    version: *version,
                    record_file: backup::ping_record_file(&id),
                    record: backup::ping_record(variable, *version),
                }),
            },
        });
    DesiredBackup {
        chaton: chaton.name.clone(),
        job: backup.name.clone(),
        machine,
        island: backup.to.clone(),
        bucket,
        key: chaton_key(&chaton.name),
        restic: backup.restic.clone(),
        schedule: backup.schedule.as_str().to_string(),
        env: backup::env(
            chaton,
            backup,
            &repository,
            endpoints,
            &island.garage.s3_region,
        ),
        repository,
        local_repository: backup.local.as_ref().map(|l| l.path.clone()),
        env_file: backup::env_file(&id),
        s3_file: backup::s3_file(&id),
        password_file: backup::password_file(&id),
        escrow,
        ping,
        units,
        id,
    }
}

/// What a backup job's host is asked about it: its files, its units (and
/// those of tasks it no longer has), its schedules, its repositories.
pub(super) fn job_query(job: &DesiredBackup, query: &mut FactsQuery) {
    query
        .files
        .push(FileQuery::new(job.env_file.clone(), Read::Content));
    if let Some(escrow) = &job.escrow {
        query
            .files
            .push(FileQuery::new(escrow.record_file.clone(), Read::Content));
    }
    for secret in [&job.s3_file, &job.password_file] {
        query
            .files
            .push(FileQuery::new(secret.clone(), Read::Metadata));
    }
    // The ping URL, a secret: whether it is there, never what it says;
    // the record of where apply took it from, whether the job pings or
    // not (a record left is a URL to remove).
    if let Some(ping) = &job.ping {
        query
            .files
            .push(FileQuery::new(ping.file.clone(), Read::Metadata));
    }
    query.files.push(FileQuery::new(
        backup::ping_record_file(&job.id),
        Read::Content,
    ));
    for unit in &job.units {
        for name in [&unit.service_name, &unit.timer_name] {
            query.files.push(FileQuery::new(
                format!("{}/{name}", backup::UNITS_DIR),
                Read::Content,
            ));
            query.units.push(name.clone());
        }
    }
    // Units of tasks the job no longer has, to take off.
    for task in Task::ALL {
        if !job.units.iter().any(|u| u.task == task) {
            query.files.push(FileQuery::new(
                format!(
                    "{}/{}",
                    backup::UNITS_DIR,
                    backup::timer_name(task, &job.id)
                ),
                Read::Metadata,
            ));
        }
    }
    // When each timer would next run, by the host's own systemd (its
    // time zones, its clock): a date in the past never runs.
    query.probes.push((
        Probe::Schedules(job.id.clone()).to_string(),
        schedules_probe(job),
    ));
    // Whether the repository answers to the job's password: the
    // one probe that reaches the island. Secrets stay on the host.
    query.probes.push((
        Probe::Repository(job.id.clone()).to_string(),
        repository_probe(job, None),
    ));
    if let Some(local) = &job.local_repository {
        query.probes.push((
            Probe::LocalRepository(job.id.clone()).to_string(),
            repository_probe(job, Some(local)),
        ));
    }
}

/// A shell snippet run on the backup host: for each of the job's
/// schedules, a line `TASK<TAB>next` or `TASK<TAB>never` (or `invalid`),
/// from `systemd-analyze calendar`: one call for all of them (it prints a
/// block per schedule, in order), and one per schedule only when one of
/// them does not parse, to tell which.
fn schedules_probe(job: &DesiredBackup) -> String {
    let schedules: Vec<String> = job.units.iter().map(|u| shell_word(&u.schedule)).collect();
    let tasks: Vec<&str> = job.units.iter().map(|u| u.task.name()).collect();
    let mut script = format!(
        "if answer=$(systemd-analyze calendar --iterations=1 -- {} 2>&1); then set -- {}; printf '%s\\n' \"$answer\" | while IFS= read -r line; do case $line in *'Next elapse: never'*) printf '%s\\tnever\\n' \"$1\"; shift;; *'Next elapse:'*) printf '%s\\tnext\\n' \"$1\"; shift;; esac; done; exit 0; fi\n",
        schedules.join(" "),
        tasks.join(" "),
    );
    for unit in &job.units {
        script.push_str(&format!(
            "if answer=$(systemd-analyze calendar --iterations=1 -- {schedule} 2>&1); then case $answer in *'Next elapse: never'*) printf '%s\\tnever\\n' {task};; *) printf '%s\\tnext\\n' {task};; esac; else printf '%s\\tinvalid\\t%s\\n' {task} \"$(printf '%s' \"$answer\" | tail -n 1)\"; fi\n",
            schedule = shell_word(&unit.schedule),
            task = unit.task.name(),
        ));
    }
    script
}

/// A shell snippet run on the backup host: restic's answer about the
/// job's repository, read with the job's own files. Prints nothing secret:
/// restic's error messages name the repository, never the key.
/// With `local`, about the job's local repository at that path.
///
/// Opening a repository costs restic its key derivation (scrypt, tuned to
/// half a second of CPU and 60 MiB), so a repository the job's own runner
/// opened within [`backup::OPENED_WITHIN_SECONDS`], with the same settings,
/// credentials and password files (the same identity: device, inode, size,
/// times), counts as opening without restic started again, provided its
/// `config` is still there: a file test for a local repository, a signed
/// S3 `HEAD` with curl for the island's (the key given to curl on its
/// input, never in its arguments). The runner records the identity after
/// each run that read the repository's snapshots
/// ([`backup::opened_record`]); a file apply rewrites changes it. Anything
/// else (no record, another identity, no curl, any answer but 200) asks
/// restic, as before.
fn repository_probe(job: &DesiredBackup, local: Option<&str>) -> String {
    let config_there = match local {
        Some(path) => format!("[ -f {} ]", shell_word(&format!("{path}/config"))),
        None => format!(
            "command -v curl >/dev/null && [ \"$(set -a; . {env}; . {s3}; printf 'user = \"%s:%s\"\\n' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" | curl --config - --silent --head --output /dev/null --write-out '%{{http_code}}' --max-time 5 --aws-sigv4 \"aws:amz:${{AWS_DEFAULT_REGION:-garage}}:s3\" --header 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \"${{RESTIC_REPOSITORY#s3:}}/config\")\" = 200 ]",
            env = shell_word(&job.env_file),
            s3 = shell_word(&job.s3_file),
        ),
    };
    format!(
        "[ -r {env} ] && [ -r {s3} ] && [ -r {password} ] || {{ echo no-credentials; exit 3; }}; if {{ IFS= read -r seen && read -r at; }} < {record} 2>/dev/null && [ \"$seen\" = \"$({signature} {env} {s3} {password} 2>/dev/null)\" ] && [ $(($(date +%s) - at)) -lt {within} ] && {config_there}; then echo \"opened by the job's run at $at\"; exit 0; fi; set -a; . {env}; . {s3}; set +a; answer=$(\"$ARCHIPEL_RESTIC\" {repository}cat config --no-lock 2>&1 >/dev/null); code=$?; printf '%s\\n' \"$answer\" | tail -n 3; exit $code",
        env = shell_word(&job.env_file),
        s3 = shell_word(&job.s3_file),
        password = shell_word(&job.password_file),
        record = shell_word(&backup::opened_record(&job.id, local.is_some())),
        signature = backup::OPENED_SIGNATURE,
        within = backup::OPENED_WITHIN_SECONDS,
        repository = local.map_or(String::new(), |path| format!("-r {} ", shell_word(path))),
    )
}
