//! Backup jobs on their hosts: restic, archipel's runner, each job's files,
//! its repository and its systemd units. Secrets (the S3 key, the
//! repository password) travel on a command's stdin only, and are never
//! read back.

use crate::garage;
use crate::s3::Objects;
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::backup::Task;
use archipel_planner::backup::{
    self as files, CACHE_DIR, JOBS_DIR, PINNED_RESTIC, RUNNER, RUNNER_SCRIPT, STATUS_DIR, UNITS_DIR,
};
use archipel_planner::desired::{DesiredBackup, DesiredEscrow, DesiredIsland};
use archipel_planner::escrow as archipel_escrow;
use archipel_planner::ownership::Ownership;
use archipel_planner::restic::RepositoryAnswer;
use std::time::Duration;

/// Debian's restic, installed with apt when it is missing (another restic
/// elsewhere on the PATH does not count: the jobs run /usr/bin/restic).
pub async fn install_package(remote: &Remote) -> Result<(), SshError> {
    const SCRIPT: &str = r#"[ -x /usr/bin/restic ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q restic >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q restic; }"#;
    remote.run_checked(SCRIPT, &[], None).await.map(drop)
}

/// A pinned restic (its sha256 already checked by the caller), installed
/// atomically; what landed is checked again.
pub async fn install_binary(remote: &Remote, binary: &[u8], sha256: &str) -> Result<(), SshError> {
    crate::pinned::install_pinned(remote, PINNED_RESTIC, None, binary, sha256).await
}

/// The runner and the directories its units write to.
pub async fn install_runner(remote: &Remote) -> Result<(), SshError> {
    remote
        .run_checked(
            "mkdir -p -m 0700 -- \"$1\" \"$2\"",
            &[STATUS_DIR, CACHE_DIR],
            None,
        )
        .await?;
    remote
        .upload(RUNNER, RUNNER_SCRIPT.as_bytes(), Ownership::ROOT_EXECUTABLE)
        .await
}

/// The repository password: 32 bytes from the CSPRNG, written only when
/// the file does not exist (a password already there is the one the
/// repository opens with; it is never replaced). Nor is one made for a
/// repository that already exists: restic is asked first, with a throwaway
/// password, and a repository that answers "wrong password" means the
/// host lost its password; `archipel recover` brings it back.
pub async fn write_password(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    const EXISTS: i32 = 20;
    const UNKNOWN: i32 = 21;
    let script = format!(
        r#"set -eu
[ -e "$1" ] && exit 0
set -a; . "$2"; . "$3"; set +a
unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND
RESTIC_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') && export RESTIC_PASSWORD
if answer=$("$ARCHIPEL_RESTIC" cat config --no-lock 2>&1 >/dev/null); then exit 20; fi
case $answer in
    {wrong}) exit 20 ;;
    {missing}) ;;
    *) printf '%s\n' "$answer" | tail -n 3 >&2; exit 21 ;;
esac
unset RESTIC_PASSWORD
dir=$(dirname -- "$1")
mkdir -p -m 0700 -- "$dir"
umask 077
tmp=$(mktemp "$dir/.archipel.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
# A password that appeared meanwhile wins: no clobbering.
ln -- "$tmp" "$1" 2>/dev/null || true"#,
        wrong = RepositoryAnswer::WrongPassword.shell_pattern(),
        missing = RepositoryAnswer::Missing.shell_pattern(),
    );
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| LocalError::NoRandomness {
        reason: e.to_string(),
    })?;
    let password = hex::encode(bytes);
    let output = remote
        .run(
            &script,
            &[&job.password_file, &job.env_file, &job.s3_file],
            Some(password.as_bytes()),
        )
        .await?;
    let refused = |stderr: String| SshError::Failed {
        host: remote.host().to_string(),
        command: format!("create {}", job.password_file),
        status: output.status,
        stderr,
    };
    match output.status {
        0 => Ok(()),
        EXISTS => Err(refused(format!(
            "the repository {} already exists, and this host has no password for it: archipel does not make a new one. Bring the old one back with `archipel recover {}/{} --identity KEY --to {}`",
            job.repository, job.chaton, job.job, job.machine
        ))),
        UNKNOWN => Err(refused(format!(
            "restic could not tell whether {} exists, so no password was made: {}",
            job.repository,
            output.stderr_text().trim()
        ))),
        _ => Err(refused(output.stderr_text())),
    }
}

/// The job's S3 key, read from its destination island (through that
/// island's coordinator) and written root-only on the host.
pub async fn write_credentials(
    remote: &Remote,
    coordinator: &Remote,
    job: &DesiredBackup,
) -> Result<(), SshError> {
    let key = garage::key_secret(coordinator, &job.island, &job.key).await?;
    let content = files::s3_credentials(&key.id, &key.secret);
    remote
        .upload(&job.s3_file, content.as_bytes(), Ownership::ROOT_PRIVATE)
        .await
}

/// The job's ping URL from apply's environment, checked to be one: the
/// error names the variable, never the value.
pub fn ping_url(job: &DesiredBackup, variable: &str) -> Result<String, LocalError> {
    let problem = |reason| LocalError::PingUrl {
        chaton: job.chaton.clone(),
        job: job.job.clone(),
        variable: variable.to_string(),
        reason,
    };
    let value =
        std::env::var(variable).map_err(|_| problem("is not set in apply's environment"))?;
    let url = value.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(problem("is not an http:// or https:// URL"));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    {
        return Err(problem("holds spaces, quotes or control characters"));
    }
    Ok(url.to_string())
}

/// The job's ping URL as its `notify` block says: written root-only from
/// apply's environment with the record of where it came from (the URL
/// first, so a record never names a URL that is not there), or, when the
/// job no longer takes it from there, both removed.
pub async fn write_ping(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    let record_file = archipel_planner::backup::ping_record_file(&job.id);
    match job
        .ping
        .as_ref()
        .and_then(|p| p.source.as_ref().map(|s| (p, s)))
    {
        Some((ping, source)) => {
            let url = ping_url(job, &source.variable)?;
            remote
                .upload(
                    &ping.file,
                    format!("{url}\n").as_bytes(),
                    Ownership::ROOT_PRIVATE,
                )
                .await?;
            remote
                .upload(
                    &record_file,
                    source.record.as_bytes(),
                    Ownership::ROOT_PRIVATE,
                )
                .await
        }
        None => {
            let written = archipel_planner::backup::written_ping_file(&job.id);
            remote
                .run_checked(r#"rm -f -- "$1" "$2""#, &[&record_file, &written], None)
                .await
                .map(drop)
        }
    }
}

/// The job's settings (no secret in them).
pub async fn write_settings(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    remote
        .upload(&job.env_file, job.env.as_bytes(), Ownership::ROOT_PRIVATE)
        .await
}

/// The repository exists and opens with the job's password: initialised
/// when restic says there is none, never when it exists with another
/// password.
pub async fn ensure_repository(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    let script = format!(
        r#"set -a; . "$1"; . "$2"; set +a
answer=$("$ARCHIPEL_RESTIC" cat config --no-lock 2>&1 >/dev/null) && exit 0
case $answer in
    {wrong})
        echo "the repository exists but does not open with the job's password: not initialised again" >&2
        exit 4 ;;
    {missing})
        "$ARCHIPEL_RESTIC" init ;;
    *)
        printf '%s\n' "$answer" >&2
        exit 5 ;;
esac"#,
        wrong = RepositoryAnswer::WrongPassword.shell_pattern(),
        missing = RepositoryAnswer::Missing.shell_pattern(),
    );
    remote
        .run_checked(&script, &[&job.env_file, &job.s3_file], None)
        .await
        .map(drop)
}

/// The job's local repository: checked, and initialised when there is none,
/// with the island's repository's chunker parameters (so that `restic copy`
/// deduplicates there) and the job's password. One that exists but refuses
/// the password is never initialised again.
pub async fn ensure_local_repository(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    let Some(path) = &job.local_repository else {
        return Ok(());
    };
    let script = format!(
        r#"set -a; . "$1"; . "$2"; set +a
answer=$("$ARCHIPEL_RESTIC" -r "$3" cat config --no-lock 2>&1 >/dev/null) && exit 0
case $answer in
    {wrong})
        echo "the local repository $3 exists but does not open with the job's password: not initialised again" >&2
        exit 4 ;;
    {missing})
        mkdir -p -m 0700 "$3" &&
            "$ARCHIPEL_RESTIC" -r "$3" init --from-repo "$RESTIC_REPOSITORY" --from-password-file "$RESTIC_PASSWORD_FILE" --copy-chunker-params ;;
    *)
        printf '%s
' "$answer" >&2
        exit 5 ;;
esac"#,
        wrong = RepositoryAnswer::WrongPassword.shell_pattern(),
        missing = RepositoryAnswer::Missing.shell_pattern(),
    );
    remote
        .run_checked(&script, &[&job.env_file, &job.s3_file, path], None)
        .await
        .map(drop)
}

/// A restore drill of the job, run now through the runner with the job's
/// settings and key (as its units run it). Returns the drill's record, the
/// JSON the runner wrote, whatever the drill's outcome.
pub async fn drill(remote: &Remote, job: &DesiredBackup) -> Result<String, SshError> {
    const SCRIPT: &str = r#"set -a; . "$1"; . "$2"; set +a
"$3" "$4" drill >/dev/null 2>&1
cat "$5""#;
    let record = files::status_file(&job.id, Task::Drill, false);
    let output = remote
        .run_checked(
            SCRIPT,
            &[&job.env_file, &job.s3_file, RUNNER, &job.id, &record],
            None,
        )
        .await?;
    Ok(output.stdout_text())
}

/// A unit file of the job, then systemd told. A timer is also enabled and
/// (re)started, so a new schedule takes effect.
pub async fn write_unit(
    remote: &Remote,
    name: &str,
    content: &str,
    start_timer: bool,
) -> Result<(), SshError> {
    let path = format!("{UNITS_DIR}/{name}");
    remote
        .upload(&path, content.as_bytes(), Ownership::ROOT_READABLE)
        .await?;
    let script = if start_timer {
        "systemctl daemon-reload && systemctl enable --quiet \"$1\" && systemctl restart \"$1\""
    } else {
        "systemctl daemon-reload"
    };
    remote.run_checked(script, &[name], None).await.map(drop)
}

/// Escrows the job's password: read from the host, sealed here to the
/// chaton's recipients, put beside the repository with the job's own key
/// (through the destination island's coordinator) under a name never
/// used before, and read back; then the older escrows (and the legacy
/// one) are deleted, and only then does the host record it.
pub async fn escrow(
    remote: &Remote,
    coordinator: &Remote,
    island: &DesiredIsland,
    job: &DesiredBackup,
) -> Result<(), SshError> {
    let escrow = job
        .escrow
        .as_ref()
        .ok_or_else(|| LocalError::NoEscrowRecipients {
            chaton: job.chaton.clone(),
            job: job.job.clone(),
        })?;
    let password =
        remote
            .read_file(&job.password_file)
            .await?
            .ok_or_else(|| LocalError::FileMissing {
                host: remote.host().to_string(),
                path: job.password_file.clone(),
            })?;
    let sealed = crate::escrow::seal(&password, &escrow.recipients)?;
    let key = garage::key_secret(coordinator, &job.island, &job.key).await?;
    let objects = Objects::open(coordinator, island, &job.bucket, &key).await?;
    let stored = put_escrow(&objects, job, escrow, sealed).await;
    let closed = objects.close().await;
    stored.and(closed)?;
    remote
        .upload(
            &escrow.record_file,
            escrow.record.as_bytes(),
            Ownership::ROOT_PRIVATE,
        )
        .await
}

/// Puts `sealed` as a new versioned escrow object, reads it back, and
/// deletes what it replaces.
async fn put_escrow(
    objects: &Objects,
    job: &DesiredBackup,
    escrow: &DesiredEscrow,
    sealed: Vec<u8>,
) -> Result<(), SshError> {
    let object = new_escrow_name(objects, job, escrow).await?;
    objects.put(&object, sealed.clone()).await?;
    match objects.get(&object).await? {
        Some(back) if back == sealed => {}
        _ => {
            return Err(LocalError::ReadBackDiffers {
                bucket: job.bucket.clone(),
                object,
            }
            .into());
        }
    }
    let listed = objects.list(&escrow.prefix).await?;
    for older in archipel_escrow::older_than(&job.job, &listed, &object) {
        objects.delete(older).await?;
    }
    objects.delete(&escrow.legacy_object).await
}

/// The name the write takes: the current UTC second, later than every
/// escrow there. Within the second of the newest one it waits for the
/// next second; a newest one from a later time (a clock behind) is an
/// error, never overwritten.
async fn new_escrow_name(
    objects: &Objects,
    job: &DesiredBackup,
    escrow: &DesiredEscrow,
) -> Result<String, SshError> {
    let mut waited = false;
    loop {
        let listed = objects.list(&escrow.prefix).await?;
        let now = unix_seconds();
        match archipel_escrow::next_object(&job.job, now, &listed) {
            Ok(object) => return Ok(object),
            Err(newest)
                if !waited
                    && archipel_escrow::stamp_of(&job.job, &newest)
                        == Some(archipel_escrow::stamp(now).as_str()) =>
            {
                waited = true;
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
            Err(newest) => {
                return Err(LocalError::EscrowNotNewer {
                    bucket: job.bucket.clone(),
                    newest,
                    now: archipel_escrow::stamp(now),
                }
                .into());
            }
        }
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Puts a recovered password in place: written when the host has none,
/// accepted when it has the same one, refused when it has another (that
/// one may open another repository: archipel never overwrites it).
pub async fn restore_password(
    remote: &Remote,
    job: &DesiredBackup,
    password: &[u8],
) -> Result<(), SshError> {
    const OTHER: i32 = 10;
    const SCRIPT: &str = r#"set -eu
dir=$(dirname -- "$1")
mkdir -p -m 0700 -- "$dir"
umask 077
tmp=$(mktemp "$dir/.archipel.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
if [ -e "$1" ]; then
  cmp -s -- "$tmp" "$1" && exit 0
  exit 10
fi
ln -- "$tmp" "$1""#;
    let output = remote
        .run(SCRIPT, &[&job.password_file], Some(password))
        .await?;
    match output.status {
        0 => Ok(()),
        OTHER => Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("restore {}", job.password_file),
            status: OTHER,
            stderr: format!(
                "{} already holds another password: archipel does not overwrite it (move it aside if it is stale)",
                job.password_file
            ),
        }),
        status => Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("restore {}", job.password_file),
            status,
            stderr: output.stderr_text(),
        }),
    }
}

/// The job's snapshots, as `restic snapshots --json` lists them, read with
/// the job's own files on its host.
pub async fn snapshots(remote: &Remote, job: &DesiredBackup) -> Result<String, SshError> {
    const SCRIPT: &str = r#"set -a; . "$1"; . "$2"; set +a
exec "$ARCHIPEL_RESTIC" snapshots --json --no-lock"#;
    let output = remote
        .run_checked(SCRIPT, &[&job.env_file, &job.s3_file], None)
        .await?;
    Ok(output.stdout_text())
}

/// Restores `snapshot` of the job's copy in its vault (`repository`) into
/// `target` on the host, with a read-only key given on stdin and kept in a
/// root-only directory under /run for the time of the restore. restic runs
/// with `--no-lock`: the key may not write, and a vault holds no locks.
/// Returns the vault's snapshots, as `restic snapshots --json` lists them.
pub async fn restore_from_vault(
    remote: &Remote,
    job: &DesiredBackup,
    repository: &str,
    key: &garage::KeySecret,
    snapshot: &str,
    target: &str,
) -> Result<String, SshError> {
    const SCRIPT: &str = r#"set -eu
umask 077
dir=$(mktemp -d /run/archipel-recover.XXXXXXXX)
trap 'rm -rf -- "$dir"' EXIT
cat > "$dir/s3"
set -a; . "$1"; . "$dir/s3"; set +a
RESTIC_REPOSITORY=$2
export RESTIC_REPOSITORY
"$ARCHIPEL_RESTIC" snapshots --json --no-lock > "$dir/snapshots.json"
mkdir -p -- "$4"
"$ARCHIPEL_RESTIC" restore "$3" --target "$4" --no-lock >&2
cat "$dir/snapshots.json""#;
    let credentials = files::s3_credentials(&key.id, &key.secret);
    let output = remote
        .run_checked(
            SCRIPT,
            &[&job.env_file, repository, snapshot, target],
            Some(credentials.as_bytes()),
        )
        .await?;
    Ok(output.stdout_text())
}

/// Takes one task off a job the file no longer gives it (a `drill`
/// schedule, `keep`, or a `local` repository removed): its timer stopped
/// and disabled, a run in progress stopped, its units and records removed.
pub async fn remove_task(remote: &Remote, id: &str, task: Task) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
units="archipel-$2-$1.timer archipel-$2-$1.service"
systemctl disable --now --quiet $units 2>/dev/null || true
for unit in $units; do rm -f -- "$3/$unit"; done
systemctl daemon-reload
systemctl reset-failed $units 2>/dev/null || true
rm -f -- "$4/$1.$2.json" "$4/$1.$2.success.json""#;
    remote
        .run_checked(SCRIPT, &[id, task.name(), UNITS_DIR, STATUS_DIR], None)
        .await
        .map(drop)
}

/// Takes a job off a host: its timers stopped and disabled, a run in
/// progress interrupted (restic stops cleanly on SIGINT), its units, settings,
/// key, escrow record and status files removed. Its password goes only
/// when it was escrowed. The repository is not touched.
pub async fn remove_job(remote: &Remote, id: &str, escrowed: bool) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
id=$1 escrowed=$2 jobs=$3 status=$4 units_dir=$5
units=
for task in backup copy prune check drill; do
    units="$units archipel-$task-$id.timer archipel-$task-$id.service"
done
systemctl disable --now --quiet $units 2>/dev/null || true
for unit in $units; do rm -f -- "$units_dir/$unit"; done
systemctl daemon-reload
systemctl reset-failed $units 2>/dev/null || true
# Its metrics, which would otherwise report a job that no longer runs (the
# textfile directory is the one its settings name).
metrics=$( { . "$jobs/$id.env" && printf '%s' "${ARCHIPEL_METRICS_DIR:-}"; } 2>/dev/null || true)
[ -z "$metrics" ] || rm -f -- "$metrics/archipel-$id.prom"
rm -f -- "$jobs/$id.s3" "$jobs/$id.escrow" "$jobs/$id.ping" "$jobs/$id.ping-source" \
    "$status/$id".*.json "$status/$id".*.prom "$status/$id.lock" \
    "$status/$id.opened" "$status/$id.local-opened"
[ "$escrowed" = 1 ] && rm -f -- "$jobs/$id.password"
# The settings last: they are how archipel finds the job.
rm -f -- "$jobs/$id.env""#;
    let escrowed = if escrowed { "1" } else { "0" };
    remote
        .run_checked(
            SCRIPT,
            &[id, escrowed, JOBS_DIR, STATUS_DIR, UNITS_DIR],
            None,
        )
        .await
        .map(drop)
}
