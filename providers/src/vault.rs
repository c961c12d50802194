//! An island's vault passes on the node that runs them: Debian's rclone,
//! the pass and its state directory, what it copies, the island's vault key
//! and the units; and taking them off a node. The key's secret travels on
//! a command's stdin only, and is never read back.

use crate::backup;
use crate::garage;
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::desired::{DesiredIsland, DesiredVaults};
use archipel_planner::ownership::Ownership;
use archipel_planner::vault::{self as files, CONF_DIR, STATE_DIR};

/// The island's vaults, or why apply has none to install.
pub fn vaults(island: &DesiredIsland) -> Result<&DesiredVaults, LocalError> {
    island.vaults.as_ref().ok_or_else(|| LocalError::NoVaults {
        island: island.name.clone(),
    })
}

/// Debian's rclone, installed with apt when it is missing.
pub async fn install_rclone(remote: &Remote) -> Result<(), SshError> {
    const SCRIPT: &str = r#"[ -x /usr/bin/rclone ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends rclone >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends rclone; }"#;
    remote.run_checked(SCRIPT, &[], None).await.map(drop)
}

/// The pass and the directory it keeps its state in.
pub async fn install_pass(remote: &Remote) -> Result<(), SshError> {
    remote
        .run_checked(
            "mkdir -p -- \"$1\" \"$2\" && chmod 0700 -- \"$1\" \"$2\"",
            &[STATE_DIR, CONF_DIR],
            None,
        )
        .await?;
    remote
        .upload(
            files::SCRIPT_PATH,
            files::SCRIPT.as_bytes(),
            Ownership::ROOT_EXECUTABLE,
        )
        .await
}

/// What the passes copy.
pub async fn write_config(remote: &Remote, vaults: &DesiredVaults) -> Result<(), SshError> {
    remote
        .upload(
            files::CONFIG_FILE,
            vaults.config.as_bytes(),
            files::CONFIG_OWNER,
        )
        .await
}

/// The island's vault key, as rclone reads it: fetched from the island
/// and written root-only on the node.
pub async fn write_credentials(
    remote: &Remote,
    coordinator: &Remote,
    island: &DesiredIsland,
) -> Result<(), SshError> {
    let key = garage::key_secret(coordinator, &island.name, files::KEY).await?;
    let content = files::credentials(island, &key.id, &key.secret);
    remote
        .upload(
            files::CREDENTIALS_FILE,
            content.as_bytes(),
            files::CONFIG_OWNER,
        )
        .await
}

pub async fn write_service(remote: &Remote, vaults: &DesiredVaults) -> Result<(), SshError> {
    backup::write_unit(remote, files::SERVICE, &vaults.service, false).await
}

/// The timer, enabled and started: the passes run from now on (the first
/// at the next hour; `systemctl start archipel-vault.service` runs one now).
pub async fn write_timer(remote: &Remote, vaults: &DesiredVaults) -> Result<(), SshError> {
    backup::write_unit(remote, files::TIMER, &vaults.timer, true).await
}

/// Takes the passes off a node: the timer stopped (a pass running is
/// waited for), the units, the key and the state removed. The vaults and
/// their own state in the island stay. Nothing to do on a node without
/// them.
pub async fn remove(remote: &Remote) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
units_dir=$1 timer=$2 service=$3 script=$4 conf=$5 state=$6
systemctl disable --now --quiet "$timer" 2>/dev/null || true
systemctl stop --quiet "$service" 2>/dev/null || true
rm -f -- "$units_dir/$timer" "$units_dir/$service"
systemctl daemon-reload
systemctl reset-failed "$timer" "$service" 2>/dev/null || true
rm -rf -- "$conf" "$state"
rm -f -- "$script""#;
    remote
        .run_checked(
            SCRIPT,
            &[
                files::UNITS_DIR,
                files::TIMER,
                files::SERVICE,
                files::SCRIPT_PATH,
                CONF_DIR,
                STATE_DIR,
            ],
            None,
        )
        .await
        .map(drop)
}

/// What clearing an incident left: the pass run right after it, as the
/// node recorded it.
#[derive(Debug)]
pub struct Cleared {
    /// The pass's report (JSON), as `status` reads it.
    pub report: String,
    /// The pass's messages (which incidents were cleared).
    pub messages: String,
}

/// Clears a vault's incident (`all`: every open one) with the pass on
/// this node, which records it in the vault and runs a pass at once: the
/// grace period of every deletion waiting restarts. `Ok(None)` when the
/// node has no vault pass installed.
pub async fn clear(
    remote: &Remote,
    chaton: &str,
    incident: &str,
) -> Result<Option<Cleared>, SshError> {
    const ABSENT: i32 = 100;
    const SCRIPT: &str = r#"[ -x "$1" ] && [ -r "$2" ] || exit 100
"$1" clear "$3" "$4"
code=$?
cat "$5" 2>/dev/null
exit $code"#;
    let status_file = files::status_file(chaton);
    let output = remote
        .run(
            SCRIPT,
            &[
                files::SCRIPT_PATH,
                files::CREDENTIALS_FILE,
                chaton,
                incident,
                &status_file,
            ],
            None,
        )
        .await?;
    match output.status {
        ABSENT => Ok(None),
        // 0: the vault is fine now; 1: incidents are still open (the pass
        // raises again what is still true).
        0 | 1 => Ok(Some(Cleared {
            report: output.stdout_text(),
            messages: output.stderr_text(),
        })),
        status => Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("{} clear {chaton} {incident}", files::SCRIPT_PATH),
            status,
            stderr: output.stderr_text(),
        }),
    }
}
