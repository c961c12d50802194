//! Backup jobs on their hosts as archipel installs them: restic, archipel's
//! runner, each job's files and its systemd units.
//!
//! A job `JOB` of chaton `CHATON` is known on its host as `CHATON-JOB`: its
//! settings are `/etc/archipel/restic/CHATON-JOB.env`, its S3 key
//! `….s3` and its repository password `….password` (both root-only, never
//! read back by archipel); its tasks are systemd services started by
//! timers: `archipel-backup-CHATON-JOB`, `archipel-prune-…` and
//! `archipel-check-…`.

use crate::model::{Backup, Chaton, HostCommand, PingUrl, ResticSource};
use crate::templates::render;
use minijinja::context;
use serde::{Deserialize, Serialize};

/// A pinned restic is installed here; Debian's package puts it in /usr/bin.
pub const PINNED_RESTIC: &str = "/usr/local/bin/restic";
pub const PACKAGED_RESTIC: &str = "/usr/bin/restic";
/// archipel's wrapper around restic: one task at a time, a status file.
pub const RUNNER: &str = "/usr/local/lib/archipel/restic-run";
pub const RUNNER_SCRIPT: &str = include_str!("../templates/restic-run.sh");
pub const JOBS_DIR: &str = "/etc/archipel/restic";
/// Each task's last run and last success, as JSON.
pub const STATUS_DIR: &str = "/var/lib/archipel/backups";

/// The record of a repository the job's runner opened: the identity of the
/// job's settings, credentials and password files ([`OPENED_SIGNATURE`],
/// on its first line) and when (seconds since the epoch, on its second).
/// `local`: the job's local repository's record.
pub fn opened_record(id: &str, local: bool) -> String {
    let which = if local { "local-opened" } else { "opened" };
    format!("{STATUS_DIR}/{id}.{which}")
}

/// The command, given the job's env, s3 and password files in that order,
/// whose output is the identity an opened record holds. The runner's is
/// the same (a test holds them together).
pub const OPENED_SIGNATURE: &str = "stat --printf '%d:%i:%s:%Y:%Z '";

/// How long a repository the runner opened counts as opening for a plan:
/// a day, so that a daily backup keeps plans from opening it, and a plan
/// still opens a repository no run opened today.
pub const OPENED_WITHIN_SECONDS: u64 = 24 * 3600;
pub const CACHE_DIR: &str = "/var/cache/archipel/restic";
/// Where a job's dumps are written during a run (`DUMPS_DIR/ID/NAME`),
/// then saved in the snapshot under that name, then deleted.
pub const DUMPS_DIR: &str = "/var/lib/archipel/dumps";
pub const UNITS_DIR: &str = "/etc/systemd/system";

/// restic's version, or a failure when it is not installed.
pub const RESTIC_PROBE: (&str, &str) = ("restic_version", "restic version");

/// The jobs installed on a machine, whatever the file says: one line per
/// settings file, `ID<TAB>ESCROWED<TAB>FIRST LINE` (1 when the job's
/// escrow record is there). The first line names the chaton and the job.
pub const JOBS_PROBE: (&str, &str) = (
    "backup_jobs",
    r#"for f in /etc/archipel/restic/*.env; do [ -f "$f" ] || continue; id=$(basename "$f" .env); e=0; [ -f "/etc/archipel/restic/$id.escrow" ] && e=1; printf '%s\t%s\t%s\n' "$id" "$e" "$(head -n 1 "$f")"; done"#,
);

/// A job found on a machine by [`JOBS_PROBE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledJob {
    pub id: String,
    pub chaton: String,
    pub job: String,
    /// Its password was escrowed: removing it from the host loses nothing.
    pub escrowed: bool,
}

/// Reads [`JOBS_PROBE`]'s output; lines archipel did not write are skipped.
pub fn installed_jobs(output: &str) -> Vec<InstalledJob> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (id, escrowed, header) = (fields.next()?, fields.next()?, fields.next()?);
            let rest = header.strip_prefix("# Managed by archipel (chaton \"")?;
            let (chaton, rest) = rest.split_once('"')?;
            let rest = rest.strip_prefix(", backup \"")?;
            let (job, _) = rest.split_once('"')?;
            (job_id(chaton, job) == id).then(|| InstalledJob {
                id: id.to_string(),
                chaton: chaton.to_string(),
                job: job.to_string(),
                escrowed: escrowed == "1",
            })
        })
        .collect()
}

/// What a job's units do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Backup,
    /// `restic copy` from the job's local repository to the island's.
    Copy,
    Prune,
    Check,
    Drill,
}

impl Task {
    pub const ALL: [Task; 5] = [
        Task::Backup,
        Task::Copy,
        Task::Prune,
        Task::Check,
        Task::Drill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::Backup => "backup",
            Task::Copy => "copy",
            Task::Prune => "prune",
            Task::Check => "check",
            Task::Drill => "drill",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Task::Backup => "restic backup",
            Task::Copy => "restic copy from the local repository to the island",
            Task::Prune => "restic forget --prune (retention)",
            Task::Check => "restic check of a tenth of the data",
            Task::Drill => "restore drill of a sample of the latest snapshot",
        }
    }

    /// How much a timer may wait past its time, so that hosts sharing a
    /// schedule do not reach the island at once.
    fn delay(self) -> &'static str {
        match self {
            Task::Backup | Task::Copy => "15min",
            Task::Prune | Task::Check | Task::Drill => "1h",
        }
    }
}

/// The restic a host runs.
pub fn restic_path(source: &ResticSource) -> &'static str {
    match source {
        ResticSource::Package => PACKAGED_RESTIC,
        ResticSource::Binary { .. } => PINNED_RESTIC,
    }
}

/// How a job is named on its host.
pub fn job_id(chaton: &str, job: &str) -> String {
    format!("{chaton}-{job}")
}

pub fn env_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.env")
}

pub fn s3_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.s3")
}

pub fn password_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.password")
}

pub fn service_name(task: Task, id: &str) -> String {
    format!("archipel-{}-{id}.service", task.name())
}

pub fn timer_name(task: Task, id: &str) -> String {
    format!("archipel-{}-{id}.timer", task.name())
}

/// The job's settings file: everything restic needs but the secrets.
/// `endpoints` are the island's S3 addresses, the repository's first: with
/// more than one, the runner moves to the next that answers.
pub fn env(
    chaton: &Chaton,
    backup: &Backup,
    repository: &str,
    endpoints: &[String],
    region: &str,
) -> String {
    let id = job_id(&chaton.name, &backup.name);
    let notify = backup.notify.as_ref().or(chaton.notify.as_ref());
    render(
        "restic.env",
        context! {
            chaton => &chaton.name,
            job => &backup.name,
            repository => repository,
            endpoints => (endpoints.len() > 1).then(|| endpoints.join(" ")),
            password_file => password_file(&id),
            s3_file => s3_file(&id),
            cache_dir => CACHE_DIR,
            region => region,
            restic => restic_path(&backup.restic),
            commands => commands(&id, backup),
            local => backup.local.as_ref().map(|local| context! {
                path => &local.path,
                keep => local.keep.as_ref().unwrap_or(&backup.keep).arguments().join(" "),
            }),
            metrics_dir => &chaton.metrics_dir,
            ping => notify.map(|notify| context! {
                kind => notify.kind.name(),
                file => ping_file(&id, &notify.url),
            }),
        },
    )
}

/// Where the runner reads the job's ping URL: the file the `notify` block
/// names on the host, or the one apply writes from its environment.
pub fn ping_file(id: &str, url: &PingUrl) -> String {
    match url {
        PingUrl::File(path) => path.clone(),
        PingUrl::Env { .. } => written_ping_file(id),
    }
}

/// Where apply writes a ping URL it read from its environment.
pub fn written_ping_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.ping")
}

/// Beside a ping URL written from apply's environment, which variable and
/// version it came from: what the plan compares, never the URL.
pub fn ping_record_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.ping-source")
}

pub fn ping_record(variable: &str, version: u64) -> String {
    format!(
        "# Managed by archipel: the ping URL beside this file was written from ${variable}, url_version {version}.\nvariable={variable}\nversion={version}\n"
    )
}

/// Where a job's dumps are written during a run.
pub fn dump_dir(id: &str) -> String {
    format!("{DUMPS_DIR}/{id}")
}

/// The settings of the commands the runner runs around a backup, as
/// `ARCHIPEL_*` variables: `ARCHIPEL_BEFORE` and its `_USER` and
/// `_TIMEOUT` (seconds), the same for `AFTER` and `ON_FAILURE`,
/// `ARCHIPEL_DUMPS` (their names, in order) and `ARCHIPEL_DUMP_N`,
/// `_USER`, `_TIMEOUT`, `_CHECK` for the Nth.
fn commands(id: &str, backup: &Backup) -> Vec<(String, String)> {
    fn push(out: &mut Vec<(String, String)>, prefix: &str, command: &HostCommand) {
        out.push((prefix.to_string(), command.command.clone()));
        out.push((
            format!("{prefix}_USER"),
            command.user.clone().unwrap_or_else(|| "root".into()),
        ));
        out.push((
            format!("{prefix}_TIMEOUT"),
            command.timeout.seconds().to_string(),
        ));
    }
    let mut out = Vec::new();
    for (name, hook) in backup.hooks.iter() {
        push(
            &mut out,
            &format!("ARCHIPEL_{}", name.to_ascii_uppercase()),
            hook,
        );
    }
    if !backup.dumps.is_empty() {
        let names: Vec<&str> = backup.dumps.iter().map(|d| d.name.as_str()).collect();
        out.push(("ARCHIPEL_DUMPS".into(), names.join(" ")));
        out.push(("ARCHIPEL_DUMP_DIR".into(), dump_dir(id)));
    }
    for (n, dump) in backup.dumps.iter().enumerate() {
        let prefix = format!("ARCHIPEL_DUMP_{}", n + 1);
        push(&mut out, &prefix, &dump.run);
        if let Some(check) = &dump.check {
            out.push((format!("{prefix}_CHECK"), check.clone()));
        }
    }
    out
}

/// The S3 key file's content. Holds a secret: written, never shown.
pub fn s3_credentials(access_key_id: &str, secret_access_key: &str) -> String {
    format!(
        "# Managed by archipel: the job's key on its destination island.\nAWS_ACCESS_KEY_ID={access_key_id}\nAWS_SECRET_ACCESS_KEY={secret_access_key}\n"
    )
}

/// The tasks a job runs on schedule: a backup, its copy to the island when
/// it backs up to a local repository, its retention when it has a policy,
/// checks, and drills when it has a drill schedule.
pub fn tasks(backup: &Backup) -> Vec<Task> {
    let mut tasks = vec![Task::Backup];
    if backup.local.is_some() {
        tasks.push(Task::Copy);
    }
    let local_keep = backup.local.as_ref().and_then(|l| l.keep.as_ref());
    if !backup.keep.is_empty() || local_keep.is_some_and(|k| !k.is_empty()) {
        tasks.push(Task::Prune);
    }
    tasks.push(Task::Check);
    if backup.drill.is_some() {
        tasks.push(Task::Drill);
    }
    tasks
}

/// The file where the runner records a task's last run (or last success).
pub fn status_file(id: &str, task: Task, success: bool) -> String {
    let suffix = if success { ".success" } else { "" };
    format!("{STATUS_DIR}/{id}.{}{suffix}.json", task.name())
}

/// restic's arguments for a task, after the command the runner gives it.
fn arguments(task: Task, backup: &Backup) -> Vec<String> {
    match task {
        Task::Backup => {
            let mut args = Vec::new();
            for pattern in &backup.exclude {
                args.push(format!("--exclude={pattern}"));
            }
            args.push("--".into());
            args.extend(backup.paths.iter().cloned());
            args
        }
        Task::Prune => backup.keep.arguments(),
        // Since restic 0.12 the subset may be a percentage.
        Task::Check => vec!["--read-data-subset=10%".into()],
        Task::Copy | Task::Drill => Vec::new(),
    }
}

/// A task's service unit.
pub fn service(chaton: &Chaton, backup: &Backup, task: Task) -> String {
    let id = job_id(&chaton.name, &backup.name);
    render(
        "restic.service",
        context! {
            chaton => &chaton.name,
            job => &backup.name,
            id => &id,
            task => task.name(),
            description => task.description(),
            env_file => env_file(&id),
            s3_file => s3_file(&id),
            runner => RUNNER,
            args => arguments(task, backup),
            cache_dir => CACHE_DIR,
            status_dir => STATUS_DIR,
            metrics_dir => &chaton.metrics_dir,
            // Backups run the hooks and dumps, drills the dumps' checks.
            commands => backup.runs_commands() && matches!(task, Task::Backup | Task::Drill),
            local => backup.local.as_ref().map(|l| &l.path),
        },
    )
}

/// When a task of a job runs.
pub fn schedule(backup: &Backup, task: Task) -> &crate::schedule::Schedule {
    match task {
        Task::Backup => &backup.schedule,
        Task::Copy => backup.local.as_ref().map_or(&backup.schedule, |l| &l.copy),
        Task::Prune => &backup.prune,
        Task::Check => &backup.check,
        Task::Drill => backup.drill.as_ref().unwrap_or(&backup.check),
    }
}

/// A task's timer unit.
pub fn timer(chaton: &str, backup: &Backup, task: Task) -> String {
    let schedule = schedule(backup, task);
    render(
        "restic.timer",
        context! {
            chaton => chaton,
            job => &backup.name,
            description => task.description(),
            schedule => schedule.as_str(),
            delay => task.delay(),
        },
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_runner_records_an_opened_repository_with_the_identity_the_probe_checks() {
        // The probe compares the record with OPENED_SIGNATURE over the env,
        // s3 and password files; the runner writes it with the same command
        // over the same files, in the same order.
        assert!(RUNNER_SCRIPT.contains(&format!(
            "identity=$({OPENED_SIGNATURE} \"$settings.env\" \"$settings.s3\" \"$settings.password\" 2>/dev/null)"
        )));
        assert!(RUNNER_SCRIPT.contains("record=\"$status_dir/$job.opened\""));
        assert!(RUNNER_SCRIPT.contains("record=\"$status_dir/$job.local-opened\""));
        assert_eq!(
            opened_record("c-j", false),
            format!("{STATUS_DIR}/c-j.opened")
        );
        assert_eq!(
            opened_record("c-j", true),
            format!("{STATUS_DIR}/c-j.local-opened")
        );
        assert_eq!(env_file("c-j"), "/etc/archipel/restic/c-j.env");
        assert_eq!(s3_file("c-j"), "/etc/archipel/restic/c-j.s3");
        assert_eq!(password_file("c-j"), "/etc/archipel/restic/c-j.password");
    }

    use super::*;

    #[test]
    fn installed_jobs_are_read_from_their_settings_header() {
        let output = "chaton-1-data\t1\t# Managed by archipel (chaton \"chaton-1\", backup \"data\"): changes\n\
                      x-y-z\t0\t# Managed by archipel (chaton \"x-y\", backup \"z\"): changes\n\
                      stray\t0\tRESTIC_REPOSITORY=s3:elsewhere\n\
                      lie\t0\t# Managed by archipel (chaton \"a\", backup \"b\"): changes\n";
        assert_eq!(
            installed_jobs(output),
            vec![
                InstalledJob {
                    id: "chaton-1-data".into(),
                    chaton: "chaton-1".into(),
                    job: "data".into(),
                    escrowed: true
                },
                InstalledJob {
                    id: "x-y-z".into(),
                    chaton: "x-y".into(),
                    job: "z".into(),
                    escrowed: false
                },
            ]
        );
    }
}
