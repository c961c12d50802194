//! End-to-end test support: the lab of Debian machines.
//!
//! [`Lab`] drives `tests/lab/lab` (systemd-nspawn containers on a private bridge,
//! reached over real SSH). [`run_lab_tests`] is the `main` of a lab test binary: one
//! lab per binary, its cases run one after the other, the lab torn down at the end.

pub mod jobs;
pub mod local_garage;
pub mod s3;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub use libtest_mimic::Failed;

/// Machine-wide: the lab's bridge and namespaces have fixed names, so only one test
/// binary may use it at a time, whatever its checkout.
/// The lab's number (`ARCHIPEL_LAB_NET`, 0 by default): labs with
/// different numbers and state directories run side by side.
fn lab_net() -> String {
    std::env::var("ARCHIPEL_LAB_NET").unwrap_or_else(|_| "0".into())
}

/// Why the lab could not do what was asked; carries the script's stderr.
#[derive(Debug, Clone)]
pub struct LabError {
    what: String,
    detail: String,
}

impl LabError {
    fn new(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = self.detail.trim_end();
        if detail.is_empty() {
            write!(f, "{}", self.what)
        } else {
            write!(f, "{}:\n{detail}", self.what)
        }
    }
}

impl std::error::Error for LabError {}

/// One machine of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabNode {
    pub name: String,
    pub address: Ipv4Addr,
}

/// A running lab. Dropping it tears the lab down and releases the machine-wide lock.
#[derive(Debug)]
pub struct Lab {
    script: PathBuf,
    state_dir: PathBuf,
    nodes: Vec<LabNode>,
    // Held for the lab's whole life; released when the file is closed.
    _lock: File,
}

impl Lab {
    /// Takes the machine-wide lab lock (waiting for another test binary to finish),
    /// clears whatever an earlier run left, and brings up `n` fresh nodes.
    pub fn start(n: usize) -> Result<Lab, LabError> {
        let lock = take_lock()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/lab");
        let state_dir = std::env::var_os("ARCHIPEL_LAB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/state"));
        let started = Instant::now();

        // A fresh lab each time: nodes left by a crashed run may hold anything.
        run_script(&script, &state_dir, &["down"])?;
        let n_arg = n.to_string();
        let summary = match run_script(&script, &state_dir, &["up", &n_arg]) {
            Ok(summary) => summary,
            Err(e) => {
                // Leave no half-started nodes behind; the error is the one to report.
                let _ = run_script(&script, &state_dir, &["down"]);
                return Err(e);
            }
        };
        let nodes = parse_summary(&summary)?;
        let lab = Lab {
            script,
            state_dir,
            nodes,
            _lock: lock,
        };
        if lab.nodes.len() != n {
            return Err(LabError::new(
                format!("asked for {n} nodes, the lab has {}", lab.nodes.len()),
                summary,
            ));
        }
        eprintln!(
            "lab: {n} nodes up in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            lab.state_dir.display()
        );
        Ok(lab)
    }

    pub fn nodes(&self) -> &[LabNode] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&LabNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Writes the lab's archipelago as `tests/lab/archipelago OPTION` makes it
    /// (`--backups`, `--backup-hosts`) to `dir/archipelago.hcl`.
    pub fn write_archipelago(&self, dir: &Path, option: &str) -> Result<PathBuf, Failed> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/archipelago");
        let output = Command::new(script)
            .arg(option)
            .env("ARCHIPEL_LAB_DIR", self.state_dir())
            .output()?;
        ensure(output.status.success(), output_text(&output))?;
        let path = dir.join("archipelago.hcl");
        std::fs::write(&path, &output.stdout)?;
        Ok(path)
    }

    /// The command lines of archipel's ssh master processes that reach this
    /// lab (through its `ssh_config`). Another lab's masters, running beside
    /// it in the same test run, are not counted.
    pub fn ssh_masters(&self) -> Vec<String> {
        let config = self.ssh_config().display().to_string();
        let output = Command::new("pgrep")
            .args(["-fa", "archipel-ssh-"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        output
            .lines()
            .filter(|line| line.contains(&config))
            .map(str::to_string)
            .collect()
    }

    /// An OpenSSH client configuration with a `Host` entry per node (by name and by
    /// address): root login, the lab's identity, strict host key checking.
    pub fn ssh_config(&self) -> PathBuf {
        self.state_dir.join("ssh_config")
    }

    /// The exact host keys of every node, under its name and its address.
    pub fn known_hosts(&self) -> PathBuf {
        self.state_dir.join("known_hosts")
    }

    /// The private key accepted by root, `ops` (passwordless sudo) and `nosudo`.
    pub fn identity(&self) -> PathBuf {
        self.state_dir.join("id_ed25519")
    }

    /// Shuts the node down; its files are kept for [`Lab::start_node`].
    pub fn stop(&self, name: &str) -> Result<(), LabError> {
        self.fault("stop", name)
    }

    /// Crashes the node: every process in it is killed at once, no shutdown.
    pub fn kill(&self, name: &str) -> Result<(), LabError> {
        self.fault("kill", name)
    }

    /// Boots a stopped node again, same files and address; returns once sshd answers.
    pub fn start_node(&self, name: &str) -> Result<(), LabError> {
        self.fault("start", name)
    }

    /// Takes the node's link down: it keeps running but nothing reaches it.
    pub fn cut(&self, name: &str) -> Result<(), LabError> {
        self.fault("cut", name)
    }

    /// Brings the node's link up again.
    pub fn restore(&self, name: &str) -> Result<(), LabError> {
        self.fault("restore", name)
    }

    fn fault(&self, action: &str, name: &str) -> Result<(), LabError> {
        run_script(&self.script, &self.state_dir, &[action, name]).map(drop)
    }

    /// Runs `cmd` as root on the node with the system's ssh.
    pub fn ssh(&self, name: &str, cmd: &str) -> Output {
        self.ssh_as("root", name, cmd)
    }

    /// Runs `cmd` as `user` on the node with the system's ssh. Never prompts: a
    /// login that would need a password fails.
    pub fn ssh_as(&self, user: &str, name: &str, cmd: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .args(["-o", "BatchMode=yes", "-l", user, name, cmd])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ssh: {e}"))
    }

    /// Like [`Lab::ssh`], and an error (with the remote stderr) unless `cmd` exits 0;
    /// returns its stdout.
    pub fn ssh_ok(&self, name: &str, cmd: &str) -> Result<String, LabError> {
        let out = self.ssh(name, cmd);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(LabError::new(
                format!("`{cmd}` on {name} failed ({})", out.status),
                String::from_utf8_lossy(&out.stderr),
            ))
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = run_script(&self.script, &self.state_dir, &["down"]) {
            eprintln!("lab: tearing the lab down failed: {e}");
        }
    }
}

/// The lock of one lab (one per `ARCHIPEL_LAB_NET`), held by the test
/// binary that uses it.
fn take_lock() -> Result<File, LabError> {
    let lock_path = format!("/run/archipel-lab.{}.lock", lab_net());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| LabError::new(format!("cannot open {lock_path}"), e.to_string()))?;
    // Called through the trait: std's File::lock is newer than the workspace's MSRV.
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => return Ok(file),
        Err(fs4::TryLockError::WouldBlock) => {
            eprintln!("lab: waiting for another test binary to release the lab");
        }
        Err(fs4::TryLockError::Error(e)) => {
            return Err(LabError::new(
                format!("cannot lock {lock_path}"),
                e.to_string(),
            ));
        }
    }
    fs4::FileExt::lock(&file)
        .map_err(|e| LabError::new(format!("cannot lock {lock_path}"), e.to_string()))?;
    Ok(file)
}

fn run_script(script: &Path, state_dir: &Path, args: &[&str]) -> Result<String, LabError> {
    let what = format!("`lab {}`", args.join(" "));
    let out = Command::new(script)
        .args(args)
        .env("ARCHIPEL_LAB_DIR", state_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::new(format!("cannot run {}", script.display()), e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::new(
            format!("{what} failed ({})", out.status),
            String::from_utf8_lossy(&out.stderr),
        ))
    }
}

/// `lab up` prints one line per node: name, address, state.
fn parse_summary(summary: &str) -> Result<Vec<LabNode>, LabError> {
    summary
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next().unwrap_or_default();
            let address = fields.next().and_then(|a| a.parse().ok());
            match address {
                Some(address) if !name.is_empty() => Ok(LabNode {
                    name: name.to_owned(),
                    address,
                }),
                _ => Err(LabError::new(
                    "cannot read `lab up`'s summary",
                    summary.to_owned(),
                )),
            }
        })
        .collect()
}

/// The `archipel` binary of this checkout, built if needed (the tests crate
/// cannot depend on a binary crate, so it asks cargo, like a user would),
/// once per test binary: every case runs the same archipel, and the
/// checkout may change while they run.
pub fn archipel_binary() -> Result<PathBuf, LabError> {
    ARCHIPEL.get_or_init(build_archipel).clone()
}

static ARCHIPEL: std::sync::OnceLock<Result<PathBuf, LabError>> = std::sync::OnceLock::new();

fn build_archipel() -> Result<PathBuf, LabError> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--package",
            "archipel",
            "--bin",
            "archipel",
            "--message-format",
            "short",
        ])
        .current_dir(&workspace)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::new("cannot run cargo to build archipel", e.to_string()))?;
    if !output.status.success() {
        return Err(LabError::new(
            "cargo build -p archipel failed",
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    // A copy of its own: another build in the checkout replaces the
    // target's. Copies of test processes gone are removed.
    let copies = target.join("archipel-lab-copies");
    let copy_error =
        |e: std::io::Error| LabError::new("cannot copy the archipel binary", e.to_string());
    std::fs::create_dir_all(&copies).map_err(copy_error)?;
    for entry in std::fs::read_dir(&copies).map_err(copy_error)?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let copy = copies.join(std::process::id().to_string());
    std::fs::copy(target.join("debug/archipel"), &copy).map_err(copy_error)?;
    Ok(copy)
}

/// A test's check: `Err(message)` when `condition` does not hold.
pub fn ensure(condition: bool, message: impl Into<String>) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(message.into().into())
    }
}

/// The subcommands that reach machines, and so take the SSH options.
const SSH_COMMANDS: [&str; 10] = [
    "facts", "plan", "apply", "status", "drill", "recover", "drift", "unlock", "clear", "log",
];

/// Runs archipel against the lab as a user would: `-f FILE`, the lab's
/// ssh_config, no colour, no terminal; at its highest verbosity, its output
/// and any plan file it writes kept for the secret sweep.
pub fn archipel(lab: &Lab, file: &Path, args: &[&str]) -> Result<Output, Failed> {
    archipel_with_env(lab, file, args, &[])
}

/// [`archipel`] with variables of its environment (a ping URL apply reads).
pub fn archipel_with_env(
    lab: &Lab,
    file: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Output, Failed> {
    let mut command = Command::new(archipel_binary()?);
    command.envs(env.iter().copied());
    command.arg("-f").arg(file);
    match args.split_first() {
        Some((subcommand, rest)) if SSH_COMMANDS.contains(subcommand) => {
            command
                .arg(subcommand)
                .arg("-v")
                .arg("--ssh-config")
                .arg(lab.ssh_config())
                .args(rest);
        }
        _ => {
            command.args(args);
        }
    }
    let output = command.env("NO_COLOR", "1").stdin(Stdio::null()).output()?;
    // Files archipel wrote: saved plans and observations.
    for pair in args.windows(2) {
        if matches!(pair[0], "-out" | "--out" | "--save-observed") {
            record(&std::fs::read_to_string(pair[1]).unwrap_or_default());
        }
    }
    Ok(recorded(output))
}

/// Everything archipel printed or wrote during this test binary, and every
/// secret seen on the lab's machines: the sweep compares them at the end.
static OUTPUTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SECRETS: Mutex<std::collections::BTreeSet<String>> =
    Mutex::new(std::collections::BTreeSet::new());

/// Keeps text archipel printed or wrote, for the secret sweep.
pub fn record(text: &str) {
    OUTPUTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(text.to_string());
}

/// Keeps a command's output for the secret sweep, and returns it.
pub fn recorded(output: Output) -> Output {
    record(&output_text(&output));
    output
}

/// Reads every secret on the lab's machines now: islands' rpc secrets and
/// admin tokens, every Garage key's secret, backup jobs' passwords and S3
/// secrets, database passwords in `.pgpass` and `.my.cnf` files. Machines that do not answer (stopped, cut) are skipped. One SSH
/// round trip per machine, all machines at once (it runs after every test).
fn gather_secrets(lab: &Lab) {
    const SCRIPT: &str = r#"for f in /etc/garage/rpc_secret /etc/garage/admin_token /etc/garage/metrics_token /etc/archipel/restic/*.password /etc/archipel/restic/*.ping; do [ -f "$f" ] && { cat "$f"; echo; }; done
sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/*.s3 2>/dev/null
cut -d: -f5 /root/.pgpass /var/lib/postgresql/.pgpass 2>/dev/null
sed -n 's/^password *= *//p' /root/.my.cnf 2>/dev/null
if [ -f /etc/garage/garage.toml ] && command -v garage >/dev/null; then
  for id in $(garage -c /etc/garage/garage.toml json-api ListKeys 2>/dev/null | sed -n 's/^ *"id": *"\([A-Za-z0-9]*\)".*/\1/p'); do
    garage -c /etc/garage/garage.toml json-api GetKeyInfo "{\"id\":\"$id\",\"showSecretKey\":true}" 2>/dev/null | sed -n 's/^ *"secretAccessKey": *"\([^"]*\)".*/\1/p' &
  done
  wait
fi
true"#;
    let found: Vec<String> = std::thread::scope(|scope| {
        let readers: Vec<_> = lab
            .nodes()
            .iter()
            .map(|node| scope.spawn(|| lab.ssh(&node.name, SCRIPT)))
            .collect();
        readers
            .into_iter()
            .filter_map(|reader| reader.join().ok())
            .flat_map(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 16)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    SECRETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(found);
}

/// The sweep: no secret seen on the lab in anything archipel printed or
/// wrote.
fn no_secret_in_any_output() -> Result<(), Failed> {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    let outputs = OUTPUTS.lock().unwrap_or_else(PoisonError::into_inner);
    ensure(
        !outputs.is_empty(),
        "archipel's outputs were recorded for the sweep",
    )?;
    let leaks: Vec<usize> = outputs
        .iter()
        .enumerate()
        .filter(|(_, text)| secrets.iter().any(|s| text.contains(s.as_str())))
        .map(|(i, _)| i)
        .collect();
    ensure(
        leaks.is_empty(),
        format!(
            "{} of {} recorded outputs contain one of the {} secrets seen on the lab (outputs #{leaks:?})",
            leaks.len(),
            outputs.len(),
            secrets.len()
        ),
    )
}

/// One call to a node's Garage admin API, through `garage json-api`:
/// what a test reads of an island, independently of archipel.
pub fn garage_api(lab: &Lab, node: &str, call: &str) -> Result<serde_json::Value, Failed> {
    let output = lab.ssh_ok(
        node,
        &format!("garage -c /etc/garage/garage.toml json-api {call}"),
    )?;
    Ok(serde_json::from_str(&output)?)
}

/// A command's stdout and stderr, as text, for messages and searches.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The cached Garage build (built if missing): its path and sha256.
pub fn garage_build() -> Result<(String, String), LabError> {
    build_garage(&[])
}

/// The release upgrades start from in the lab, and its cached build
/// (without k2v and metrics: all an island needs to run and be upgraded).
pub const OLDER_GARAGE: &str = "2.4.1";

pub fn older_garage_build() -> Result<(String, String), LabError> {
    build_garage(&[
        ("GARAGE_VERSION", OLDER_GARAGE),
        ("GARAGE_FEATURES", "minimal"),
    ])
}

fn build_garage(env: &[(&str, &str)]) -> Result<(String, String), LabError> {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/build-garage"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::new("cannot run tests/lab/build-garage", e.to_string()))?;
    if !output.status.success() {
        return Err(LabError::new(
            "tests/lab/build-garage failed",
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    match (lines.next(), lines.next()) {
        (Some(path), Some(sha256)) => Ok((path.to_string(), sha256.to_string())),
        _ => Err(LabError::new(
            "tests/lab/build-garage printed no path and sha256",
            stdout.into_owned(),
        )),
    }
}

/// A lab test: a name and a function run against the shared lab.
pub type LabTest = (&'static str, fn(&Lab) -> Result<(), Failed>);

/// The `main` of a lab test binary (`harness = false`): parses libtest's command line,
/// starts a lab of `nodes` nodes when the first selected test runs (none selected, no
/// lab), runs the tests one at a time, tears the lab down and exits with the outcome.
/// If the lab cannot start, every test fails with the reason.
pub fn run_lab_tests(nodes: usize, tests: &[LabTest]) -> ! {
    run(nodes, tests, false)
}

/// [`run_lab_tests`] for tests that run archipel (through [`archipel`] or
/// [`recorded`]): after them, a last test sweeps everything archipel printed
/// or wrote, at its highest verbosity, for every secret seen on the lab.
pub fn run_archipel_lab_tests(nodes: usize, tests: &[LabTest]) -> ! {
    run(nodes, tests, true)
}

fn run(nodes: usize, tests: &[LabTest], sweep: bool) -> ! {
    let mut args = libtest_mimic::Arguments::from_args();
    args.test_threads = Some(1);
    // Started by the first test that runs; a panicking test poisons the mutex, which
    // says nothing about the lab, hence `into_inner` on poison.
    let lab: Arc<Mutex<Option<Result<Lab, LabError>>>> = Arc::new(Mutex::new(None));
    let mut trials: Vec<libtest_mimic::Trial> = tests
        .iter()
        .map(|&(name, test)| {
            let lab = Arc::clone(&lab);
            libtest_mimic::Trial::test(name, move || {
                let mut slot = lab.lock().unwrap_or_else(PoisonError::into_inner);
                match slot.get_or_insert_with(|| Lab::start(nodes)) {
                    Ok(lab) => {
                        let outcome = test(lab);
                        // Secrets a later test removes are swept too.
                        gather_secrets(lab);
                        outcome
                    }
                    Err(e) => Err(format!("the lab did not start: {e}").into()),
                }
            })
        })
        .collect();
    // Last: every command above ran at -v; none may have shown a secret.
    if sweep {
        trials.push(libtest_mimic::Trial::test(
            "no_secret_in_any_output_at_the_highest_verbosity",
            no_secret_in_any_output,
        ));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Tear down before exiting: `exit` runs no destructors.
    drop(lab.lock().unwrap_or_else(PoisonError::into_inner).take());
    if let Some(Ok(copy)) = ARCHIPEL.get() {
        let _ = std::fs::remove_file(copy);
    }
    conclusion.exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_parsed() {
        let nodes = parse_summary("node1    10.242.57.11   running\nnode2 10.242.57.12 cut\n")
            .expect("summary parses");
        assert_eq!(
            nodes,
            vec![
                LabNode {
                    name: "node1".into(),
                    address: Ipv4Addr::new(10, 242, 57, 11)
                },
                LabNode {
                    name: "node2".into(),
                    address: Ipv4Addr::new(10, 242, 57, 12)
                },
            ]
        );
    }

    #[test]
    fn garbled_summary_is_an_error() {
        assert!(parse_summary("lab: booting node1\n").is_err());
    }
}
