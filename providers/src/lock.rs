//! Island locks: one apply at a time per island. The lock is a file on the
//! island's first node (the file's order), created atomically (`O_EXCL`),
//! holding who took it; apply takes every island's lock before it changes
//! anything, refreshes it while it runs (as k0sctl's host locks are), and
//! removes its own at the end. A lock left behind (a crash, or the node out
//! of reach at the end) stays until `archipel unlock ISLAND ID` breaks it;
//! one whose holder is gone — not refreshed for [`STALE_AFTER`], or its
//! process dead on this very machine — is reported as such.

use crate::ssh::{LocalError, Remote, SshError};
use serde::{Deserialize, Serialize};

/// Where the lock lives on the island's first node.
pub const LOCK_FILE: &str = "/var/lib/archipel/island.lock";

/// How often a running apply refreshes its locks.
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// A lock not refreshed for this long has lost its holder: ten refreshes
/// missed, far beyond a slow link or a busy node.
pub const STALE_AFTER: u64 = 300;

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
    /// When its holder last said it still runs, by the node's clock (the
    /// clock it is judged by); a lock written before refreshes existed
    /// counts from its start.
    #[serde(default)]
    pub refreshed_unix: u64,
}

/// Whether a lock's holder still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Refreshed lately: another apply is (or may be) running.
    Live,
    /// Its holder is gone, for this reason.
    Gone(String),
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

    /// Whether the holder still runs. `node_now` is the lock node's clock;
    /// `this_host` this machine's name; `pid_alive` tells whether a process
    /// of this machine is a running archipel.
    pub fn liveness(
        &self,
        node_now: u64,
        this_host: &str,
        pid_alive: impl Fn(u32) -> bool,
    ) -> Liveness {
        if self.host == this_host && !pid_alive(self.pid) {
            return Liveness::Gone(format!(
                "process {} no longer runs on {this_host}, where it took the lock",
                self.pid
            ));
        }
        let refreshed = self.refreshed_unix.max(self.started_unix);
        let silent = node_now.saturating_sub(refreshed);
        if silent > STALE_AFTER {
            return Liveness::Gone(format!(
                "not refreshed for {} (a running apply refreshes it every {} s)",
                humanize(silent),
                REFRESH_EVERY.as_secs()
            ));
        }
        Liveness::Live
    }
}

/// Whether a process of this machine is an archipel that runs: `/proc/PID`
/// exists and runs a program called archipel.
pub fn archipel_runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|name| name.trim().starts_with("archipel"))
}

/// This machine's name, as locks record it.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Who runs archipel: `$USER` (or `$LOGNAME`), else the name of the
/// process's user in /etc/passwd, else `uid N`.
pub fn this_user() -> String {
    for variable in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(variable)
            && !name.is_empty()
        {
            return name;
        }
    }
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.len() > 2 && fields[2] == uid.to_string()).then(|| fields[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
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

/// A lock someone else holds, and whether they still run.
#[derive(Debug, Clone)]
pub struct Held {
    pub holder: Holder,
    pub liveness: Liveness,
}

/// Takes the island's lock; `Ok(Err(held))` when someone holds it.
pub async fn acquire(remote: &Remote, holder: &Holder) -> Result<Result<(), Held>, SshError> {
    // The node's clock stamps the lock and judges others' (one clock, so
    // no skew between machines).
    const SCRIPT: &str = r#"set -u
mkdir -p -m 0755 "$(dirname -- "$1")"
now=$(date +%s)
if (set -C; sed "s/\"refreshed_unix\":0/\"refreshed_unix\":$now/" > "$1") 2>/dev/null; then echo taken; else echo "held $now"; cat -- "$1"; fi"#;
    let record = serde_json::to_string(&Holder {
        refreshed_unix: 0,
        ..holder.clone()
    })
    .map_err(|source| LocalError::LockRecord { source })?;
    let output = remote
        .run_checked(SCRIPT, &[LOCK_FILE], Some(record.as_bytes()))
        .await?;
    let text = output.stdout_text();
    match text.split_once('\n') {
        Some(("taken", _)) => Ok(Ok(())),
        Some((first, held)) if first.starts_with("held ") => {
            let holder = parse(remote, held)?;
            let node_now = first["held ".len()..].trim().parse().unwrap_or(0);
            let liveness = holder.liveness(node_now, &this_host(), archipel_runs);
            Ok(Err(Held { holder, liveness }))
        }
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

/// Says the lock `id` is still held: its refresh time becomes the node's
/// now. `Ok(false)` when the lock is no longer this one.
pub async fn refresh(remote: &Remote, id: &str) -> Result<bool, SshError> {
    const SCRIPT: &str = r#"[ -f "$1" ] && grep -qF "\"id\":\"$2\"" "$1" || exit 0
tmp=$(mktemp "$1.XXXXXX") && sed "s/\"refreshed_unix\":[0-9]*/\"refreshed_unix\":$(date +%s)/" "$1" > "$tmp" && mv -f -- "$tmp" "$1" && echo refreshed"#;
    let output = remote.run(SCRIPT, &[LOCK_FILE, id], None).await?;
    Ok(output.stdout_text().trim() == "refreshed")
}

/// Refreshes every lock in `held` every [`REFRESH_EVERY`] until dropped
/// (a refresh that fails is tried again at the next tick: the lock only
/// goes stale after [`STALE_AFTER`]).
pub async fn keep_fresh(held: Vec<(Remote, String)>) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        futures_util::future::join_all(held.iter().map(|(remote, id)| refresh(remote, id))).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, started: u64, refreshed: u64) -> Holder {
        Holder {
            id: "deadbeef00000000".into(),
            island: "ouest".into(),
            owner: "alice".into(),
            host: host.into(),
            pid: 4242,
            started: "2026-11-18T10:00:00Z".into(),
            started_unix: started,
            refreshed_unix: refreshed,
        }
    }

    #[test]
    fn a_lock_whose_holder_is_gone_is_told_apart() {
        let now = 10_000;
        // Refreshed a minute ago, elsewhere: live.
        assert_eq!(
            holder("laptop", 1_000, now - 60).liveness(now, "ci", |_| false),
            Liveness::Live
        );
        // Not refreshed for ten minutes: gone, whatever the machine.
        let Liveness::Gone(why) = holder("laptop", 1_000, now - 600).liveness(now, "ci", |_| true)
        else {
            panic!("a silent lock is stale");
        };
        assert!(why.contains("not refreshed for 10 min"), "{why}");
        // A lock from before refreshes counts from its start.
        assert!(matches!(
            holder("laptop", now - 900, 0).liveness(now, "ci", |_| true),
            Liveness::Gone(_)
        ));
        // Taken on this machine by a process that no longer runs: gone at once.
        let Liveness::Gone(why) = holder("ci", now - 5, now - 5).liveness(now, "ci", |_| false)
        else {
            panic!("a dead process holds nothing");
        };
        assert!(why.contains("process 4242 no longer runs on ci"), "{why}");
        assert_eq!(
            holder("ci", now - 5, now - 5).liveness(now, "ci", |_| true),
            Liveness::Live
        );
    }

    #[test]
    fn the_user_has_a_name_even_without_user_in_the_environment() {
        assert!(!this_user().is_empty());
        assert_ne!(this_user(), "unknown");
    }
}
