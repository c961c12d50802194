//! Island locks: one apply at a time per island. The lock is a file on the
//! island's first node (the file's order), created atomically (`O_EXCL`),
//! holding who took it; apply takes every island's lock before it changes
//! anything and removes its own at the end. A lock left by an apply that
//! crashed stays until `archipel unlock ISLAND ID` breaks it.

use crate::ssh::{Remote, SshError};
use serde::{Deserialize, Serialize};

/// Where the lock lives on the island's first node.
pub const LOCK_FILE: &str = "/var/lib/archipel/island.lock";

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Names the lock for `archipel unlock`.
    pub id: String,
    pub island: String,
    /// The user and machine that ran apply, and its process.
    pub owner: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, and seconds since the epoch.
    pub started: String,
    pub started_unix: u64,
}

impl Holder {
    /// How people read it: `lock 3f2a… held by alice@laptop (pid 4242)
    /// since … (5 min ago)`.
    pub fn describe(&self) -> String {
        let age = now_unix().saturating_sub(self.started_unix);
        format!(
            "lock {} held by {}@{} (pid {}) since {} ({} ago)",
            self.id,
            self.owner,
            self.host,
            self.pid,
            self.started,
            humanize(age)
        )
    }
}

/// This machine's clock, in seconds since the epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn humanize(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// Takes the island's lock; `Ok(Err(holder))` when someone holds it.
pub async fn acquire(remote: &Remote, holder: &Holder) -> Result<Result<(), Holder>, SshError> {
    const SCRIPT: &str = r#"set -u
mkdir -p -m 0755 "$(dirname -- "$1")"
if (set -C; cat > "$1") 2>/dev/null; then echo taken; else echo held; cat -- "$1"; fi"#;
    let record = serde_json::to_string(holder).map_err(|e| SshError::Local(e.to_string()))?;
    let output = remote
        .run_checked(SCRIPT, &[LOCK_FILE], Some(record.as_bytes()))
        .await?;
    let text = output.stdout_text();
    match text.split_once('\n') {
        Some(("taken", _)) => Ok(Ok(())),
        Some(("held", held)) => Ok(Err(parse(remote, held)?)),
        _ => Err(SshError::Transport {
            host: remote.host().to_string(),
            command: format!("lock {LOCK_FILE}"),
            reason: format!("unexpected answer {text:?}"),
        }),
    }
}

/// Who holds the island's lock, if anyone.
pub async fn read(remote: &Remote) -> Result<Option<Holder>, SshError> {
    match remote.read_file(LOCK_FILE).await? {
        Some(bytes) => parse(remote, &String::from_utf8_lossy(&bytes)).map(Some),
        None => Ok(None),
    }
}

/// Removes the lock if it is `id`; `Ok(false)` when another one (or none)
/// is there.
pub async fn release(remote: &Remote, id: &str) -> Result<bool, SshError> {
    const SCRIPT: &str =
        r#"[ -f "$1" ] && grep -qF "\"id\":\"$2\"" "$1" && rm -f -- "$1" && echo released"#;
    let output = remote.run(SCRIPT, &[LOCK_FILE, id], None).await?;
    Ok(output.stdout_text().trim() == "released")
}

fn parse(remote: &Remote, text: &str) -> Result<Holder, SshError> {
    serde_json::from_str(text.trim()).map_err(|e| SshError::Transport {
        host: remote.host().to_string(),
        command: format!("read {LOCK_FILE}"),
        reason: format!(
            "the lock file is not archipel's ({e}): remove it by hand if no apply runs"
        ),
    })
}
