//! Backup jobs on their hosts: restic, archipel's runner, each job's files,
//! its repository and its systemd units. Secrets (the S3 key, the
//! repository password) travel on a command's stdin only, and are never
//! read back.

use crate::garage;
use crate::ssh::{Remote, SshError};
use archipel_planner::backup::Task;
use archipel_planner::backup::{
    self as files, CACHE_DIR, PINNED_RESTIC, RUNNER, RUNNER_SCRIPT, STATUS_DIR, UNITS_DIR,
};
use archipel_planner::desired::DesiredBackup;

/// Debian's restic, installed with apt when it is missing.
pub async fn install_package(remote: &Remote) -> Result<(), SshError> {
    const SCRIPT: &str = r#"command -v restic >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q restic >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q restic; }"#;
    remote.run_checked(SCRIPT, &[], None).await.map(drop)
}

/// A pinned restic (its sha256 already checked by the caller), installed
/// atomically; what landed is checked again.
pub async fn install_binary(remote: &Remote, binary: &[u8], sha256: &str) -> Result<(), SshError> {
    remote
        .upload(PINNED_RESTIC, binary, "root", "root", 0o755)
        .await?;
    let landed = crate::host::record_hash(remote, PINNED_RESTIC).await?;
    if landed != sha256 {
        return Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("install {PINNED_RESTIC}"),
            status: 1,
            stderr: format!("the installed restic's sha256 is {landed}, not the pinned {sha256}"),
        });
    }
    Ok(())
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
        .upload(RUNNER, RUNNER_SCRIPT.as_bytes(), "root", "root", 0o755)
        .await
}

/// The repository password: 32 bytes from the CSPRNG, written only when
/// the file does not exist (a password already there is the one the
/// repository opens with; it is never replaced).
pub async fn write_password(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
[ -e "$1" ] && exit 0
dir=$(dirname -- "$1")
mkdir -p -m 0700 -- "$dir"
umask 077
tmp=$(mktemp "$dir/.archipel.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
# A password that appeared meanwhile wins: no clobbering.
ln -- "$tmp" "$1" 2>/dev/null || true"#;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| SshError::Local(format!("no randomness: {e}")))?;
    let password = hex::encode(bytes);
    remote
        .run_checked(SCRIPT, &[&job.password_file], Some(password.as_bytes()))
        .await
        .map(drop)
}

/// The job's S3 key, read from its destination island (through that
/// island's coordinator) and written root-only on the host.
pub async fn write_credentials(
    remote: &Remote,
    coordinator: &Remote,
    job: &DesiredBackup,
) -> Result<(), SshError> {
    let id = garage::key_id(coordinator, &job.key)
        .await?
        .ok_or_else(|| {
            SshError::Local(format!(
                "key {} does not exist on island {}",
                job.key, job.island
            ))
        })?;
    let info = garage::api(
        coordinator,
        "GetKeyInfo",
        Some(&serde_json::json!({ "id": id, "showSecretKey": true })),
    )
    .await?;
    let secret = info["secretAccessKey"].as_str().ok_or_else(|| {
        SshError::Local(format!(
            "island {} did not give key {}'s secret",
            job.island, job.key
        ))
    })?;
    let content = files::s3_credentials(&id, secret);
    remote
        .upload(&job.s3_file, content.as_bytes(), "root", "root", 0o600)
        .await
}

/// The job's settings (no secret in them).
pub async fn write_settings(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    remote
        .upload(&job.env_file, job.env.as_bytes(), "root", "root", 0o600)
        .await
}

/// The repository exists and opens with the job's password: initialised
/// when restic says there is none, never when it exists with another
/// password.
pub async fn ensure_repository(remote: &Remote, job: &DesiredBackup) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -a; . "$1"; . "$2"; set +a
answer=$("$ARCHIPEL_RESTIC" cat config --no-lock 2>&1 >/dev/null) && exit 0
case $answer in
    *"wrong password"*|*"no key found"*)
        echo "the repository exists but does not open with the job's password: not initialised again" >&2
        exit 4 ;;
    *"does not exist"*|*"unable to open config file"*|*"Is there a repository"*)
        "$ARCHIPEL_RESTIC" init ;;
    *)
        printf '%s\n' "$answer" >&2
        exit 5 ;;
esac"#;
    remote
        .run_checked(SCRIPT, &[&job.env_file, &job.s3_file], None)
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
        .upload(&path, content.as_bytes(), "root", "root", 0o644)
        .await?;
    let script = if start_timer {
        "systemctl daemon-reload && systemctl enable --quiet \"$1\" && systemctl restart \"$1\""
    } else {
        "systemctl daemon-reload"
    };
    remote.run_checked(script, &[name], None).await.map(drop)
}
