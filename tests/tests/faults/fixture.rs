//! A busy machine and a watched run: the load, the lab's archipelago, a
//! run of archipel read line by line that cuts a machine when a line says.

use archipel_tests::{Failed, Lab, archipel_binary, ensure, record};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A plan with one machine cut must end well within this: the connect
/// timeout (10 s) and a bounded Garage call or two on top of an unfaulted
/// plan's few seconds. A plan that waits on Garage's own 5-minute RPC
/// timeout, or on keep-alives of 15 s × 4, does not.
pub const PLAN_WITHIN: Duration = Duration::from_secs(60);

/// Past this a run is stopped and fails (it would otherwise hang the suite).
const GIVE_UP_AFTER: Duration = Duration::from_secs(150);

/// The lab's archipelago, as the README's quickstart makes it: islands
/// lab-a (node1..3) and lab-b (node4..6), backup hosts node7 and node8.
pub fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    lab.write_archipelago(dir, "--backup-hosts")
}

/// Two busy loops, one per core, for as long as it lives.
pub struct Load(Vec<Child>);

impl Load {
    pub fn start() -> Result<Load, Failed> {
        let mut loops = Vec::new();
        for _ in 0..2 {
            loops.push(
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .spawn()?,
            );
        }
        Ok(Load(loops))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A run of archipel watched line by line.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The machine cut during the run, if any, and when.
    pub cut: Option<(String, Duration)>,
    /// When each stderr line that is not a command came.
    pub progress: Vec<(Duration, String)>,
}

impl Run {
    pub fn text(&self) -> String {
        format!(
            "exit {:?} after {:.1} s (cut: {:?})\n{}{}",
            self.status,
            self.elapsed.as_secs_f64(),
            self.cut,
            self.stdout,
            self.stderr
        )
    }
}

/// Cuts a node's link at once: what `lab cut` does (the node's host-side
/// veth down), without the script's start and lock, so that a cut on a
/// line of archipel's output lands while the command it announces runs.
/// `lab restore` brings it back.
fn cut_at_once(node: &str) -> Result<(), Failed> {
    // The lab's link names: `alv-NODE` for lab 0, `alvN-NODE` for lab N.
    let link = match std::env::var("ARCHIPEL_LAB_NET").as_deref() {
        Ok(net) if net != "0" => format!("alv{net}-{node}"),
        _ => format!("alv-{node}"),
    };
    let status = Command::new("ip")
        .args(["link", "set", &link, "down"])
        .status()?;
    ensure(status.success(), format!("cannot cut {node} ({link})"))
}

/// Runs `archipel -f FILE SUBCOMMAND -v --ssh-config … ARGS`, and cuts the
/// machine `cut_when` names for the first stderr line it names one for.
/// Stopped after [`GIVE_UP_AFTER`]. Its output is kept for the secret sweep.
pub fn watch(
    lab: &Lab,
    file: &Path,
    subcommand: &str,
    args: &[&str],
    cut_when: &dyn Fn(&str) -> Option<String>,
) -> Result<Run, Failed> {
    let started = Instant::now();
    let mut child = spawn(lab, file, subcommand, args)?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let stderr = child.stderr.take().ok_or("stderr")?;
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let (lines, from_stderr) = mpsc::channel();
    let err = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let mut cut = None;
    let mut progress = Vec::new();
    let status = loop {
        match from_stderr.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => {
                if cut.is_none()
                    && let Some(node) = cut_when(&line)
                {
                    cut_at_once(&node)?;
                    cut = Some((node, started.elapsed()));
                }
                if !line.contains("): $ ") {
                    progress.push((started.elapsed(), line.clone()));
                }
                log.push_str(&line);
                log.push('\n');
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(20))
            }
        }
        if let Some(status) = child.try_wait()? {
            break status.code();
        }
        if started.elapsed() > GIVE_UP_AFTER {
            give_up(&mut child)?;
            break None;
        }
    };
    let elapsed = started.elapsed();
    let _ = err.join();
    log.extend(from_stderr.try_iter().map(|l| l + "\n"));
    let stdout = out.join().map_err(|_| "stdout reader panicked")?;
    record(&stdout);
    record(&log);
    Ok(Run {
        status,
        stdout,
        stderr: log,
        elapsed,
        cut,
        progress,
    })
}

/// `archipel -f FILE SUBCOMMAND -v --ssh-config … ARGS`, its output piped.
fn spawn(lab: &Lab, file: &Path, subcommand: &str, args: &[&str]) -> Result<Child, Failed> {
    Ok(Command::new(archipel_binary()?)
        .arg("-f")
        .arg(file)
        .arg(subcommand)
        .arg("-v")
        .arg("--ssh-config")
        .arg(lab.ssh_config())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// Stops a run that went on too long: as Ctrl-C first, so that archipel
/// closes its connections, then killed.
fn give_up(child: &mut Child) -> Result<(), Failed> {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && child.try_wait()?.is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
