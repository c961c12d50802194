//! Running scripts on a [`Remote`]: as root, with arguments and stdin,
//! bounded or checked, and the file transfers built on them.

use super::error::error_chain;
use super::{Remote, SshError};
use archipel_planner::ownership::Ownership;
use openssh::{Child, Session, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

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

/// The first line of a script, shortened, to name it in errors.
fn describe(script: &str) -> String {
    let first = script.trim().lines().next().unwrap_or("").trim();
    if first.chars().count() > 80 {
        format!("{}…", first.chars().take(80).collect::<String>())
    } else {
        first.to_string()
    }
}

/// Writes all of `bytes` to the command's stdin, then closes it.
async fn write_stdin(child: &mut Child<&Session>, bytes: &[u8]) -> Result<(), String> {
    let mut pipe = child.stdin().take().ok_or_else(|| "no stdin".to_string())?;
    pipe.write_all(bytes)
        .await
        .map_err(|e| format!("writing stdin: {e}"))?;
    pipe.shutdown()
        .await
        .map_err(|e| format!("closing stdin: {e}"))
}

impl Remote {
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
        let started = std::time::Instant::now();
        let mut child = self
            .open(script, args, stdin.is_some(), started)
            .await
            .map_err(transport)?;
        if let Some(bytes) = stdin {
            write_stdin(&mut child, bytes).await.map_err(transport)?;
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
        if self.inner.show_commands {
            eprintln!(
                "{}: exit {status} after {} ms: {command_name}",
                self.inner.host,
                started.elapsed().as_millis()
            );
        }
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

    /// Opens the command's session on the master, running `script` as root.
    /// sshd may still be tearing down a finished session when the next one
    /// opens and refuse it for a moment (MaxSessions): the command has not
    /// started then, so opening it again is safe. The error is the reason
    /// the connection failed.
    async fn open(
        &self,
        script: &str,
        args: &[&str],
        piped_stdin: bool,
        started: std::time::Instant,
    ) -> Result<Child<&Session>, String> {
        let session = self.session();
        let mut attempt = 0;
        loop {
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
                .stdin(if piped_stdin {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match command.spawn().await {
                Ok(child) => return Ok(child),
                Err(error) => {
                    let reason = error_chain(&error);
                    attempt += 1;
                    if !reason.contains("Session open refused") || attempt >= 20 {
                        return Err(self.transport_reason(reason, started.elapsed()).await);
                    }
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
            }
        }
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
        ownership: Ownership,
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
        let mode = format!("{:o}", ownership.mode);
        self.run_checked(
            SCRIPT,
            &[path, ownership.user, ownership.group, &mode],
            Some(bytes),
        )
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
}
