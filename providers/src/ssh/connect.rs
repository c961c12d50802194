//! Opening master connections: [`Ssh`] resolves a target as OpenSSH will
//! (`ssh -G`), applies the host-key policy or the pinned key, and keeps each
//! master open while its [`Remote`] lives.

use super::error::error_chain;
use super::key_exchange;
use super::remote::{Remote, RemoteInner};
use super::settings::{CHANNELS_PER_HOST, HostKeyPolicy, SshSettings};
use super::{LocalError, SshError};
use archipel_planner::model::{Machine, SshTarget};
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Keeps one master from exiting idle while its [`Remote`] lives: an idle
/// master exits after `idle_master_lifetime` (which bounds what a crash
/// leaves behind), and a plan or apply can leave a machine idle for longer
/// than that while it waits on another (a machine out of reach, a node
/// draining, an island slow to be healthy). A short session every `every`
/// resets the master's idle clock. Each master has its own keeper, so a
/// machine that hangs delays no other's. Goes through a handle of its own on
/// the control socket, which never closes the master.
async fn keep_master_open(master: Session, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let _ = master.command("true").status().await;
    }
}

/// Opens sessions. Holds the directory of control sockets (short, private,
/// removed when dropped) shared by every session of one archipel run.
#[derive(Debug)]
pub struct Ssh {
    settings: SshSettings,
    control_dir: tempfile::TempDir,
    /// OpenSSH's built-in key exchanges and the wrapper config that puts
    /// the quick ones first, when [`SshSettings::quick_key_exchange`] asks
    /// and reordering changes something (made once per run).
    quick_kex: tokio::sync::OnceCell<Option<(String, PathBuf)>>,
}

impl Ssh {
    /// How often [`keep_master_open`] touches a connection: well within the
    /// idle master's lifetime.
    fn keep_open_every(&self) -> Duration {
        self.settings.idle_master_lifetime / 3
    }

    pub fn new(settings: SshSettings) -> Result<Ssh, SshError> {
        // Unix socket paths are limited to ~108 bytes: keep the directory
        // short. `$TMPDIR` is honoured when it leaves room for the sockets.
        let temp = std::env::temp_dir();
        let parent = if temp.as_os_str().len() <= 48 {
            temp
        } else {
            PathBuf::from("/tmp")
        };
        let control_dir = tempfile::Builder::new()
            .prefix("archipel-ssh-")
            .tempdir_in(parent)
            .map_err(|source| LocalError::ControlDirectory { source })?;
        Ok(Ssh {
            settings,
            control_dir,
            quick_kex: tokio::sync::OnceCell::new(),
        })
    }

    pub fn control_dir(&self) -> &Path {
        self.control_dir.path()
    }

    /// Connects to a machine. `name` is how errors call it (the node's name);
    /// `pinned_key` is the `host_key` from the archipelago file, if any.
    pub async fn connect(
        &self,
        name: &str,
        target: &SshTarget,
        pinned_key: Option<&str>,
    ) -> Result<Remote, SshError> {
        let host = format!("{name} ({target})");
        let resolved = self
            .resolve(target)
            .await
            .map_err(|reason| SshError::Connect {
                host: host.clone(),
                reason,
            })?;

        let mut builder = self.session_builder(target);
        if let Some(wrapper) = self.quick_kex_config(&resolved).await {
            builder.config_file(wrapper);
        }
        let pin_file = self.check_host_key(&mut builder, &resolved, pinned_key)?;
        let session = builder.connect_mux(&target.host).await.map_err(|error| {
            let reason = error_chain(&error);
            if is_host_key_failure(&reason) {
                SshError::HostKey {
                    host: host.clone(),
                    reason: host_key_reason(&reason, pinned_key.is_some()),
                }
            } else {
                SshError::Connect {
                    host: host.clone(),
                    reason,
                }
            }
        })?;
        // The master has read the pin: the file can go.
        drop(pin_file);
        let keeper = tokio::spawn(keep_master_open(
            Session::resume_mux(session.control_socket().into(), None),
            self.keep_open_every(),
        ))
        .abort_handle();
        Ok(Remote {
            inner: Arc::new(RemoteInner {
                host,
                lands_at: resolved.lands_at(),
                session: Some(session),
                keeper,
                lost_after: self.settings.lost_after(),
                keepalive: self.settings.keepalive_interval(),
                sudo: resolved.user != "root",
                channels: Semaphore::new(CHANNELS_PER_HOST),
                commands: AtomicUsize::new(0),
                show_commands: self.settings.show_commands,
            }),
        })
    }

    /// A session builder with archipel's settings and the target's user
    /// and port.
    fn session_builder(&self, target: &SshTarget) -> SessionBuilder {
        let mut builder = SessionBuilder::default();
        builder
            .connect_timeout(self.settings.connect_timeout)
            .server_alive_interval(self.settings.keepalive_interval())
            .control_directory(self.control_dir.path())
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(self.settings.idle_master_lifetime.as_secs().max(1) as usize)
                    .unwrap_or(NonZeroUsize::MIN),
            ));
        if let Some(config) = &self.settings.config_file {
            builder.config_file(config);
        }
        if let Some(user) = &target.user {
            builder.user(user.clone());
        }
        if let Some(port) = target.port {
            builder.port(port);
        }
        builder
    }

    /// How the host's key is checked: against the pinned key alone, written
    /// to a known_hosts file of its own (returned: it must live until the
    /// master has read it), or as the host-key policy says.
    fn check_host_key(
        &self,
        builder: &mut SessionBuilder,
        resolved: &Resolved,
        pinned_key: Option<&str>,
    ) -> Result<Option<tempfile::NamedTempFile>, SshError> {
        match pinned_key {
            Some(key) => {
                // The pinned key is the only one accepted: a known_hosts file
                // holding just it, under the name ssh will look it up by.
                let file = tempfile::Builder::new()
                    .prefix("pin-")
                    .tempfile_in(self.control_dir.path())
                    .map_err(|source| LocalError::PinnedHostKey { source })?;
                std::fs::write(
                    file.path(),
                    format!("{} {}\n", resolved.known_hosts_name(), key.trim()),
                )
                .map_err(|source| LocalError::PinnedHostKey { source })?;
                builder.known_hosts_check(KnownHosts::Strict);
                builder.user_known_hosts_file(file.path());
                Ok(Some(file))
            }
            None => {
                builder.known_hosts_check(match self.settings.host_keys {
                    HostKeyPolicy::Strict => KnownHosts::Strict,
                    HostKeyPolicy::AcceptNew => KnownHosts::Add,
                });
                Ok(None)
            }
        }
    }

    /// The wrapper config to connect with instead of the user's, when the
    /// settings ask for the quick key exchange and nobody chose the host's
    /// key exchanges (see `key_exchange.rs`).
    async fn quick_kex_config(&self, resolved: &Resolved) -> Option<&Path> {
        if !self.settings.quick_key_exchange {
            return None;
        }
        let quick = self
            .quick_kex
            .get_or_init(|| async {
                let output = tokio::process::Command::new("ssh")
                    .args(["-F", "/dev/null", "-G", "archipel.invalid"])
                    .output()
                    .await
                    .ok()?;
                let text = String::from_utf8_lossy(&output.stdout);
                let default = resolved_value(&text, "kexalgorithms")?;
                let quick = key_exchange::quick_first(&default)?;
                let wrapper = key_exchange::write_wrapper(
                    self.control_dir.path(),
                    &quick,
                    self.settings.config_file.as_deref(),
                )
                .ok()?;
                Some((default, wrapper))
            })
            .await;
        match quick {
            Some((default, wrapper)) if resolved.kex.as_deref() == Some(default) => {
                Some(wrapper.as_path())
            }
            _ => None,
        }
    }

    /// Connects to every machine at once; one result per machine, in order.
    pub async fn connect_all(&self, machines: &[Machine]) -> Vec<Result<Remote, SshError>> {
        futures_util::future::join_all(
            machines
                .iter()
                .map(|m| self.connect(&m.name, &m.ssh, m.host_key.as_deref())),
        )
        .await
    }

    /// What OpenSSH will really use for a target (`ssh -G`): the host name
    /// after `~/.ssh/config` aliases, the port, the user.
    async fn resolve(&self, target: &SshTarget) -> Result<Resolved, String> {
        let mut command = tokio::process::Command::new("ssh");
        command.arg("-G");
        if let Some(config) = &self.settings.config_file {
            command.arg("-F").arg(config);
        }
        if let Some(user) = &target.user {
            command.arg("-l").arg(user);
        }
        if let Some(port) = target.port {
            command.arg("-p").arg(port.to_string());
        }
        command.arg(&target.host);
        let output = command
            .output()
            .await
            .map_err(|e| format!("cannot run the local ssh command: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "ssh -G: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let value = |key: &str| resolved_value(&text, key);
        Ok(Resolved {
            kex: value("kexalgorithms"),
            hostname: value("hostname").unwrap_or_else(|| target.host.clone()),
            port: value("port").and_then(|p| p.parse().ok()).unwrap_or(22),
            user: value("user").unwrap_or_else(|| "root".into()),
            host_key_alias: value("hostkeyalias"),
            // `none` is how ssh -G prints an unset option.
            proxy: value("proxyjump")
                .filter(|jump| jump != "none")
                .map(|jump| format!("jump {jump}"))
                .or_else(|| {
                    // A proxy command may hold anything, a token included:
                    // it is told apart by its digest, never shown.
                    value("proxycommand")
                        .filter(|command| command != "none")
                        .map(|command| {
                            use sha2::Digest;
                            let digest = sha2::Sha256::digest(command.as_bytes());
                            let short: String =
                                digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                            format!("proxy command {short}")
                        })
                }),
        })
    }
}

impl Drop for Ssh {
    /// The safety net: a master whose session was never closed (a task
    /// aborted mid-connect) is told to exit before its socket directory goes.
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.control_dir.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let socket = entry.path().join("master");
            if socket.exists() {
                let _ = std::process::Command::new("ssh")
                    .arg("-o")
                    .arg(format!("ControlPath={}", socket.display()))
                    .args(["-O", "exit", "archipel"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

/// One option's value in `ssh -G`'s output (`KEY VALUE` lines).
fn resolved_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
        .map(str::to_string)
}

struct Resolved {
    /// The key exchanges ssh will offer, in order.
    kex: Option<String>,
    hostname: String,
    port: u16,
    user: String,
    host_key_alias: Option<String>,
    /// `jump HOSTS`, or `proxy command DIGEST`, when ssh goes through one.
    proxy: Option<String>,
}

impl Resolved {
    /// Where ssh lands: `HOST:PORT`, then ` (jump HOSTS)` or
    /// ` (proxy command DIGEST)` when it goes through one.
    fn lands_at(&self) -> String {
        match &self.proxy {
            Some(proxy) => format!("{}:{} ({proxy})", self.hostname, self.port),
            None => format!("{}:{}", self.hostname, self.port),
        }
    }

    /// The name ssh looks a host key up by in known_hosts.
    fn known_hosts_name(&self) -> String {
        match &self.host_key_alias {
            Some(alias) => alias.clone(),
            None if self.port == 22 => self.hostname.clone(),
            None => format!("[{}]:{}", self.hostname, self.port),
        }
    }
}

/// OpenSSH's words for a refused host key: unknown ("Host key verification
/// failed", "No ED25519 host key is known") or changed ("REMOTE HOST
/// IDENTIFICATION HAS CHANGED").
fn is_host_key_failure(reason: &str) -> bool {
    reason.contains("Host key verification failed")
        || reason.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || (reason.contains("No ") && reason.contains(" host key is known"))
}

fn host_key_reason(reason: &str, pinned: bool) -> String {
    if pinned {
        format!(
            "the host's key does not match the `host_key` pinned in the archipelago file ({reason})"
        )
    } else {
        format!(
            "the host's key is not in known_hosts; check it and add it (ssh-keyscan), pin it with `host_key`, or pass --accept-new-host-keys ({reason})"
        )
    }
}
