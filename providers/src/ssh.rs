//! SSH sessions over the system's OpenSSH, one multiplexed master connection
//! per host (the `openssh` crate, native mux), reused for every command.
//!
//! Everything the operator's `ssh` honours applies: `~/.ssh/config` (or
//! `-F FILE`), the agent, `ProxyJump`, `known_hosts`. Host keys are checked
//! strictly; a key pinned in the archipelago file is the only one accepted.
//!
//! Secrets never travel in a command line (visible in `ps` on both ends and
//! in error messages): they go through stdin.

use archipel_planner::model::{Machine, SshTarget};
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// sshd's default `MaxSessions` is 10: stay under it, with room for the
/// operator's own session on the same master and for sessions sshd is
/// still closing.
const CHANNELS_PER_HOST: usize = 6;

/// What to do with a host whose key is not known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse (OpenSSH's `StrictHostKeyChecking=yes`).
    #[default]
    Strict,
    /// Accept and remember keys of hosts never seen before; a changed key is
    /// still refused (`StrictHostKeyChecking=accept-new`).
    AcceptNew,
}

#[derive(Debug, Clone)]
pub struct SshSettings {
    /// An ssh_config file used instead of `~/.ssh/config` (`ssh -F`).
    pub config_file: Option<PathBuf>,
    pub host_keys: HostKeyPolicy,
    /// How long ssh may take to open the TCP connection and read the
    /// server's greeting (`ConnectTimeout`): what a machine that drops every
    /// packet costs before archipel moves on.
    pub connect_timeout: Duration,
    /// The interval of ssh's keep-alive probes (`ServerAliveInterval`). A
    /// machine that stops answering (its link cut, its packets dropped) is
    /// given up after [`SshSettings::lost_after`]: its commands then fail,
    /// naming it, instead of hanging. The default keeps that within the
    /// connect timeout.
    pub keepalive: Duration,
    /// How long an idle master outlives archipel if it could not close it
    /// (a crash): the bound on any leftover process.
    pub idle_master_lifetime: Duration,
    /// Print each remote command (its first line and its arguments) on
    /// stderr as it starts. Arguments never hold a secret: secrets travel
    /// on stdin only, and stdin is never printed.
    pub show_commands: bool,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            config_file: None,
            host_keys: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            // Silent for 8 s: lost (see `lost_after`).
            keepalive: Duration::from_secs(2),
            idle_master_lifetime: Duration::from_secs(60),
            show_commands: false,
        }
    }
}

/// ssh gives a connection up when this many keep-alive intervals pass
/// without a word from the server: `ServerAliveCountMax` (3, OpenSSH's
/// default) unanswered probes, then the check after them. The key exchange
/// and authentication are bounded by the probes alone (3 intervals).
const ALIVE_INTERVALS: u32 = 4;

impl SshSettings {
    /// How long a connected machine may stay silent before ssh gives it up
    /// (a command under way then fails): [`SshSettings::keepalive`] × 4.
    pub fn lost_after(&self) -> Duration {
        self.keepalive_interval() * ALIVE_INTERVALS
    }

    /// ssh takes whole seconds.
    fn keepalive_interval(&self) -> Duration {
        Duration::from_secs(self.keepalive.as_secs().max(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{host}: cannot connect: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host}: host key refused: {reason}")]
    HostKey { host: String, reason: String },
    #[error(
        "{host}: `{command}` exited with status {status}{}",
        stderr_suffix(stderr)
    )]
    Failed {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("{host}: `{command}`: {reason}")]
    Transport {
        host: String,
        command: String,
        reason: String,
    },
    /// A command archipel stopped waiting for (it bounds the commands that
    /// can hang on something else than the machine itself, such as Garage
    /// waiting on an unreachable member).
    #[error("{host}: `{command}` timed out: no answer within {} s", .after.as_secs())]
    Timeout {
        host: String,
        command: String,
        after: Duration,
    },
    #[error("{0}")]
    Local(String),
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl SshError {
    /// The host the error is about.
    pub fn host(&self) -> Option<&str> {
        match self {
            SshError::Connect { host, .. }
            | SshError::HostKey { host, .. }
            | SshError::Failed { host, .. }
            | SshError::Transport { host, .. }
            | SshError::Timeout { host, .. } => Some(host),
            SshError::Local(_) => None,
        }
    }
}

/// The result of a remote command that ran to completion.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Closes every connection (on success, error or Ctrl-C alike), so no
/// master process or control socket outlives archipel.
pub async fn close_all(remotes: impl IntoIterator<Item = Remote>) -> Vec<SshError> {
    futures_util::future::join_all(remotes.into_iter().map(Remote::close))
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

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
            .map_err(|e| {
                SshError::Local(format!(
                    "cannot create a directory for SSH control sockets: {e}"
                ))
            })?;
        Ok(Ssh {
            settings,
            control_dir,
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
        let mut pin_file = None;
        match pinned_key {
            Some(key) => {
                // The pinned key is the only one accepted: a known_hosts file
                // holding just it, under the name ssh will look it up by.
                let file = tempfile::Builder::new()
                    .prefix("pin-")
                    .tempfile_in(self.control_dir.path())
                    .map_err(|e| {
                        SshError::Local(format!("cannot write the pinned host key: {e}"))
                    })?;
                std::fs::write(
                    file.path(),
                    format!("{} {}\n", resolved.known_hosts_name(), key.trim()),
                )
                .map_err(|e| SshError::Local(format!("cannot write the pinned host key: {e}")))?;
                builder.known_hosts_check(KnownHosts::Strict);
                builder.user_known_hosts_file(file.path());
                pin_file = Some(file);
            }
            None => {
                builder.known_hosts_check(match self.settings.host_keys {
                    HostKeyPolicy::Strict => KnownHosts::Strict,
                    HostKeyPolicy::AcceptNew => KnownHosts::Add,
                });
            }
        }
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
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
                .map(str::to_string)
        };
        Ok(Resolved {
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

struct Resolved {
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

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(cause_text.trim());
        }
        source = cause.source();
    }
    text
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

/// A connected machine. Cheap to clone; the connection closes with
/// [`Remote::close`] (or, as a fallback, when the last clone is dropped).
#[derive(Clone)]
pub struct Remote {
    inner: Arc<RemoteInner>,
}

struct RemoteInner {
    host: String,
    /// Where ssh lands (see [`Resolved::lands_at`]).
    lands_at: String,
    session: Option<Session>,
    /// The task that keeps the master from exiting idle; ends with this.
    keeper: tokio::task::AbortHandle,
    /// How long ssh waits on a silent machine before it gives it up, and
    /// the interval of its keep-alives.
    lost_after: Duration,
    keepalive: Duration,
    /// Whether commands go through `sudo -n` (the login user is not root).
    sudo: bool,
    channels: Semaphore,
    /// Commands run so far: archipel's unit of SSH round trips.
    commands: AtomicUsize,
    show_commands: bool,
}

impl Drop for RemoteInner {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("host", &self.inner.host)
            .finish()
    }
}

/// The first line of a script, shortened, to name it in errors.
fn describe(script: &str) -> String {
    let first = script.trim().lines().next().unwrap_or("").trim();
    if first.chars().count() > 80 {
        format!("{}…", first.chars().take(80).collect::<String>())
    } else {
        first.to_string()
    }
}

impl Remote {
    /// How errors name this machine: `node1 (root@10.0.0.1)`.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// Where ssh lands for this machine, as `ssh -G` resolved it: host name
    /// and port, and the jump or proxy on the way.
    pub fn lands_at(&self) -> &str {
        &self.inner.lands_at
    }

    fn session(&self) -> &Session {
        // Only `close` takes the session out, and it consumes the Remote.
        self.inner.session.as_ref().expect("session is open")
    }

    /// Why a command's connection failed, `running_for` after it started.
    /// When the master is gone, the error says the machine was lost rather
    /// than that a command was "terminated": with the master's last words
    /// when its log has them (ssh's "Timeout, server … not responding." for
    /// a machine that went silent, at the default LogLevel), or as a time
    /// out when the command ran as long as ssh waits on a silent machine.
    /// Otherwise `reason` as it came.
    async fn transport_reason(&self, reason: String, running_for: Duration) -> String {
        if self.session().check().await.is_ok() {
            return reason;
        }
        // The openssh crate keeps the master's log (`ssh -E`) beside its socket.
        let log = self.session().control_socket().with_file_name("log");
        let last_words = std::fs::read_to_string(log).ok().and_then(|text| {
            text.lines()
                .rev()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with("Warning: Permanently added"))
                .map(str::to_string)
        });
        match last_words {
            Some(words) => format!("the connection to the machine was lost: {words}"),
            // ssh counts its silence from the machine's last word, a little
            // before the command started.
            None if running_for + self.inner.keepalive >= self.inner.lost_after => format!(
                "the connection to the machine was lost: timed out, no answer to ssh's keep-alives for {} s",
                self.inner.lost_after.as_secs()
            ),
            None => format!("the connection to the machine was lost ({reason})"),
        }
    }

    /// Runs a POSIX shell script as root (through `sudo -n` for other users:
    /// never a password prompt), with positional arguments and optional
    /// stdin. Returns whatever exit status the script had.
    pub async fn run(
        &self,
        script: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Output, SshError> {
        let command_name = describe(script);
        let transport = |reason: String| SshError::Transport {
            host: self.inner.host.clone(),
            command: command_name.clone(),
            reason,
        };
        let _permit = self
            .inner
            .channels
            .acquire()
            .await
            .map_err(|_| transport("the connection is closing".into()))?;
        self.inner.commands.fetch_add(1, Ordering::Relaxed);
        if self.inner.show_commands {
            eprintln!(
                "{}: $ {command_name}{}",
                self.inner.host,
                args.iter().map(|a| format!(" {a:?}")).collect::<String>()
            );
        }
        let session = self.session();
        let started = std::time::Instant::now();
        // sshd may still be tearing down a finished session when the next
        // one opens and refuse it for a moment (MaxSessions): the command
        // has not started then, so opening it again is safe.
        let mut attempt = 0;
        let mut child = loop {
            let mut command = if self.inner.sudo {
                let mut command = session.command("sudo");
                command.args(["-n", "--", "sh", "-c", script, "sh"]);
                command
            } else {
                let mut command = session.command("sh");
                command.args(["-c", script, "sh"]);
                command
            };
            command.args(args);
            command
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match command.spawn().await {
                Ok(child) => break child,
                Err(error) => {
                    let reason = error_chain(&error);
                    attempt += 1;
                    if !reason.contains("Session open refused") || attempt >= 20 {
                        return Err(transport(
                            self.transport_reason(reason, started.elapsed()).await,
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
            }
        };
        if let Some(bytes) = stdin {
            let mut pipe = child
                .stdin()
                .take()
                .ok_or_else(|| transport("no stdin".into()))?;
            pipe.write_all(bytes)
                .await
                .map_err(|e| transport(format!("writing stdin: {e}")))?;
            pipe.shutdown()
                .await
                .map_err(|e| transport(format!("closing stdin: {e}")))?;
            drop(pipe);
        }
        let output = match child.wait_with_output().await {
            Ok(output) => output,
            Err(e) => {
                return Err(transport(
                    self.transport_reason(error_chain(&e), started.elapsed())
                        .await,
                ));
            }
        };
        let Some(status) = output.status.code() else {
            return Err(transport(
                "the remote command was killed by a signal".into(),
            ));
        };
        let output = Output {
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        };
        if self.inner.sudo
            && status == 1
            && output
                .stderr_text()
                .contains("sudo: a password is required")
        {
            return Err(SshError::Failed {
                host: self.inner.host.clone(),
                command: command_name,
                status,
                stderr: "sudo needs a password: give this user passwordless sudo (NOPASSWD), or connect as root"
                    .into(),
            });
        }
        Ok(output)
    }

    /// Like [`Remote::run`], but gives up after `limit`: for commands that
    /// may wait on something else than the machine (ssh's keep-alives bound
    /// a silent machine already). The command is abandoned, not killed;
    /// bound it on the machine too where it matters.
    pub async fn run_within(
        &self,
        script: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        limit: Duration,
    ) -> Result<Output, SshError> {
        tokio::time::timeout(limit, self.run(script, args, stdin))
            .await
            .unwrap_or_else(|_| {
                Err(SshError::Timeout {
                    host: self.inner.host.clone(),
                    command: describe(script),
                    after: limit,
                })
            })
    }

    /// Like [`Remote::run`], but a non-zero exit status is an error that
    /// names the host, the command and what it printed on stderr.
    pub async fn run_checked(
        &self,
        script: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Output, SshError> {
        let output = self.run(script, args, stdin).await?;
        if output.status != 0 {
            return Err(SshError::Failed {
                host: self.inner.host.clone(),
                command: describe(script),
                status: output.status,
                stderr: output.stderr_text(),
            });
        }
        Ok(output)
    }

    /// Writes a file atomically: a private temporary file in the same
    /// directory (created if missing), owner, group and mode set, then
    /// renamed over the target.
    /// Readers see the old file or the new one, never a partial one.
    pub async fn upload(
        &self,
        path: &str,
        bytes: &[u8],
        owner: &str,
        group: &str,
        mode: u32,
    ) -> Result<(), SshError> {
        const SCRIPT: &str = r#"set -eu
dir=$(dirname -- "$1")
mkdir -p -- "$dir"
tmp=$(mktemp "$dir/.archipel.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
chown -- "$2:$3" "$tmp"
chmod -- "$4" "$tmp"
mv -f -- "$tmp" "$1"
trap - EXIT"#;
        let mode = format!("{mode:o}");
        self.run_checked(SCRIPT, &[path, owner, group, &mode], Some(bytes))
            .await
            .map(drop)
            .map_err(|e| match e {
                SshError::Failed {
                    host,
                    status,
                    stderr,
                    ..
                } => SshError::Failed {
                    host,
                    command: format!("upload {path}"),
                    status,
                    stderr,
                },
                other => other,
            })
    }

    /// Reads a file; `None` when it does not exist.
    pub async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SshError> {
        const MISSING: i32 = 100;
        let output = self
            .run(
                "[ -e \"$1\" ] || exit 100\nexec cat -- \"$1\"",
                &[path],
                None,
            )
            .await?;
        match output.status {
            0 => Ok(Some(output.stdout)),
            MISSING => Ok(None),
            status => Err(SshError::Failed {
                host: self.inner.host.clone(),
                command: format!("read {path}"),
                status,
                stderr: output.stderr_text(),
            }),
        }
    }

    /// Forwards a local Unix socket to a TCP port on the machine's own
    /// loopback, through the master connection already open: how archipel
    /// reaches a service that listens on the node only (Garage's S3 API).
    pub async fn forward_local(&self, socket: &Path, port: u16) -> Result<(), SshError> {
        self.session()
            .request_port_forward(
                openssh::ForwardType::Local,
                socket,
                (std::net::Ipv4Addr::LOCALHOST, port),
            )
            .await
            .map_err(|e| SshError::Transport {
                host: self.inner.host.clone(),
                command: format!("forward to port {port}"),
                reason: error_chain(&e),
            })
    }

    /// Ends a forward opened with [`Remote::forward_local`].
    pub async fn close_forward(&self, socket: &Path, port: u16) -> Result<(), SshError> {
        self.session()
            .close_port_forward(
                openssh::ForwardType::Local,
                socket,
                (std::net::Ipv4Addr::LOCALHOST, port),
            )
            .await
            .map_err(|e| SshError::Transport {
                host: self.inner.host.clone(),
                command: format!("close the forward to port {port}"),
                reason: error_chain(&e),
            })
    }

    /// How many commands (SSH round trips) ran on this machine so far.
    pub fn commands_run(&self) -> usize {
        self.inner.commands.load(Ordering::Relaxed)
    }

    /// Closes the master connection and removes its control socket, when
    /// this is the last handle on it; with other clones alive it does
    /// nothing (the last one to close or drop ends the connection).
    pub async fn close(self) -> Result<(), SshError> {
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        let host = inner.host.clone();
        inner.keeper.abort();
        match inner.session.take() {
            Some(session) => session.close().await.map_err(|e| SshError::Connect {
                host,
                reason: format!("closing the connection: {}", error_chain(&e)),
            }),
            None => Ok(()),
        }
    }
}
