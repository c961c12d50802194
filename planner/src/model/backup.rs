//! A chaton's backup job as the file describes it: what it saves, when,
//! where and for how long, the commands it runs around restic (dumps and
//! hooks), and the local repository it may back up to first.

use super::{BinarySource, Origin, SshTarget};
use crate::duration::Duration;
use crate::schedule::Schedule;
use crate::size::Size;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub name: String,
    pub host: SshTarget,
    /// The destination island.
    pub to: String,
    pub paths: Vec<String>,
    pub exclude: Vec<String>,
    pub schedule: Schedule,
    pub keep: Keep,
    pub quota: Size,
    /// Where the host's restic comes from.
    pub restic: ResticSource,
    /// When `forget --prune` applies `keep`.
    pub prune: Schedule,
    /// When `check` reads a part of the repository's data.
    pub check: Schedule,
    /// When a restore drill runs, if it runs by timer.
    pub drill: Option<Schedule>,
    /// Databases dumped to files of the snapshot, in the file's order.
    pub dumps: Vec<Dump>,
    /// Commands run around each backup.
    pub hooks: Hooks,
    /// A repository on the host itself that backups go to first, copied
    /// to the island on its own schedule.
    pub local: Option<LocalCopy>,
    /// Its own pings, in place of its chaton's.
    pub notify: Option<Notify>,
    #[serde(skip)]
    pub origin: Origin,
}

/// `local { path = "/srv/backup/restic/JOB", copy = "*-*-* 05:00" }`: the
/// job backs up to a restic repository on its host ("J-0 local"), and
/// `restic copy` fills the island's from it on the `copy` schedule ("J-1
/// remote"). Both share the repository password and chunker parameters.
#[derive(Debug, Clone, Serialize)]
pub struct LocalCopy {
    /// The local repository's directory: absolute, outside every path the
    /// host's jobs back up.
    pub path: String,
    /// When `restic copy` sends new snapshots to the island.
    pub copy: Schedule,
    /// The local repository's retention; the job's `keep` when unset.
    pub keep: Option<Keep>,
    #[serde(skip)]
    pub origin: Origin,
}

impl Backup {
    /// Whether the runner runs commands of the user's around its backups
    /// (hooks or dumps): such a job's units cannot be sandboxed, since the
    /// commands may write anywhere.
    pub fn runs_commands(&self) -> bool {
        !self.dumps.is_empty() || !self.hooks.is_empty()
    }
}

/// A command of the user's the job's runner runs on the backup host (a
/// dump or a hook), in a clean environment (no S3 key, no password).
#[derive(Debug, Clone, Serialize)]
pub struct HostCommand {
    /// A line of `sh -c`.
    pub command: String,
    /// Who runs it (`runuser -u USER`); root when none.
    pub user: Option<String>,
    /// Killed after this long (SIGTERM, then SIGKILL 30 s later).
    pub timeout: Duration,
    #[serde(skip)]
    pub origin: Origin,
}

/// `dump "NAME" { command = "pg_dump -Fc app", user = "postgres" }`: the
/// command's output becomes the file `DUMPS_DIR/CHATON-JOB/NAME` of each
/// snapshot. A dump that fails fails the run before restic starts.
#[derive(Debug, Clone, Serialize)]
pub struct Dump {
    pub name: String,
    pub run: HostCommand,
    /// Run by drills with the restored dump on its standard input
    /// (`pg_restore --list`); it passes when it exits 0.
    pub check: Option<String>,
}

/// `before`, `after` and `on_failure` blocks: commands run around each
/// backup (not around prune, check or drill).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hooks {
    /// Before the dumps and restic: failing, it aborts the backup.
    pub before: Option<HostCommand>,
    /// Last, whatever happened, once `before` was started.
    pub after: Option<HostCommand>,
    /// When `before`, a dump or restic failed, before `after`.
    pub on_failure: Option<HostCommand>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The hooks the job has, in the order they can run.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &HostCommand)> {
        ["before", "on_failure", "after"]
            .into_iter()
            .zip([&self.before, &self.on_failure, &self.after])
            .filter_map(|(name, hook)| hook.as_ref().map(|h| (name, h)))
    }
}

/// restic on a backup host: Debian's package, or a pinned binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResticSource {
    Package,
    Binary {
        binary: BinarySource,
        sha256: String,
    },
}

/// restic's `forget --keep-*` policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Keep {
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
}

impl Keep {
    pub const FIELDS: &'static [&'static str] = &["hourly", "daily", "weekly", "monthly", "yearly"];

    pub fn is_empty(&self) -> bool {
        *self == Keep::default()
    }

    pub fn get(&self, field: &str) -> Option<u32> {
        match field {
            "hourly" => self.hourly,
            "daily" => self.daily,
            "weekly" => self.weekly,
            "monthly" => self.monthly,
            _ => self.yearly,
        }
    }

    /// restic's `forget` arguments for it.
    pub fn arguments(&self) -> Vec<String> {
        Self::FIELDS
            .iter()
            .filter_map(|field| {
                self.get(field)
                    .map(|n| [format!("--keep-{field}"), n.to_string()])
            })
            .flatten()
            .collect()
    }

    pub fn set(&mut self, field: &str, value: u32) {
        let slot = match field {
            "hourly" => &mut self.hourly,
            "daily" => &mut self.daily,
            "weekly" => &mut self.weekly,
            "monthly" => &mut self.monthly,
            _ => &mut self.yearly,
        };
        *slot = Some(value);
    }
}

/// `notify { … }`, on a chaton (all its jobs) or a job (its own): a URL
/// the job's runner calls when a backup starts and when a task succeeds or
/// fails, in the convention of the service behind it. The URL is a
/// capability (whoever holds it can fake the job's pings): the file names
/// where it is, never the URL itself.
#[derive(Debug, Clone, Serialize)]
pub struct Notify {
    pub kind: PingKind,
    pub url: PingUrl,
    #[serde(skip)]
    pub origin: Origin,
}

/// Whose convention the pings follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PingKind {
    /// healthchecks.io (and its clones): `URL/start`, `URL`, `URL/fail`,
    /// the run's words in the body.
    Healthchecks,
    /// Uptime Kuma's push monitors: `URL?status=up|down&msg=…&ping=…`.
    UptimeKuma,
    /// ntfy: a message posted to the topic's URL, on failure at high
    /// priority, on success at the lowest.
    Ntfy,
}

impl PingKind {
    pub const NAMES: &'static [(&'static str, PingKind)] = &[
        ("healthchecks", PingKind::Healthchecks),
        ("uptime-kuma", PingKind::UptimeKuma),
        ("ntfy", PingKind::Ntfy),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("healthchecks", |(name, _)| name)
    }
}

/// Where the ping URL is, never what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PingUrl {
    /// `url_file`: a file on the backup host, put there by its admins;
    /// the runner reads it at each run, archipel never does.
    File(String),
    /// `url_env` (and `url_version`): an environment variable of the
    /// `apply` that installs the job (a CI secret), written root-only on
    /// the host. The plan never sees the value: the host records which
    /// variable and version it was written from, and a new `url_version`
    /// writes it again (Terraform's write-only arguments do the same).
    Env { variable: String, version: u64 },
}
