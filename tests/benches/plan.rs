//! Benchmark: the converged `archipel plan` a pull request or a drift timer
//! runs, where its time goes, and how it scales.
//!
//!   cargo bench -p archipel-tests --bench plan                    (as root: starts a lab)
//!   cargo bench -p archipel-tests --bench plan -- --machines 15
//!   cargo bench -p archipel-tests --bench plan -- --machines 60 --runs 5
//!
//! The lab: islands of three nodes (a chaton per node, a shared bucket per
//! island) and backup hosts, each backing up its /etc to the next island
//! (`--machines 8`, the default: two islands and two hosts, the lab's own
//! archipelago). `apply` converges it and each job runs a backup (as its
//! timer would have by the time a plan runs); then each plan starts cold,
//! as CI starts it: a new process, no connection or observation kept.
//!
//! Reports, over the runs: wall time (median, min, max), each phase as
//! `archipel -v` prints it (read, connect, facts, admin API, close, plan,
//! render), the CPU of archipel and its ssh clients per machine, the whole
//! machine's CPU (the lab's nodes run on it too), and archipel's peak
//! memory. With 8 machines, also the Ansible playbook of
//! tests/benches/ansible/plan.yml, which reads the same state, run as many
//! times in the same run, and the ratio.
//!
//! Before starting, the lab is sized to the machine: about 160 MiB of
//! memory per machine (Garage's daemon and the node's systemd), and the
//! node roots are overlays of one image (a few MiB of disk each).

use archipel_tests::Lab;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Memory a lab machine takes, with its Garage running.
const MEMORY_PER_MACHINE: u64 = 160 * 1024 * 1024;

/// The phases `archipel -v` reports, in order.
const PHASES: [&str; 7] = [
    "read",
    "connect",
    "facts",
    "admin API",
    "close",
    "plan",
    "render",
];

struct Options {
    machines: usize,
    runs: usize,
}

fn options() -> Options {
    let mut options = Options {
        machines: 8,
        runs: 11,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    if let Some(machines) = value("--machines") {
        options.machines = machines;
    }
    if let Some(runs) = value("--runs") {
        options.runs = runs;
    }
    options
}

/// The lab's shape for `machines` machines: three-node islands for about
/// three quarters of them, backup hosts for the rest.
struct Shape {
    islands: usize,
    hosts: usize,
}

impl Shape {
    fn of(machines: usize) -> Shape {
        let islands = (machines / 4).max(2);
        Shape {
            islands,
            hosts: machines.saturating_sub(3 * islands),
        }
    }

    fn machines(&self) -> usize {
        3 * self.islands + self.hosts
    }

    /// The backup host's node number, chaton and destination island.
    fn host(&self, index: usize) -> (usize, usize, usize) {
        let island = index % self.islands;
        (
            3 * self.islands + 1 + index,
            3 * island + 1,
            (island + 1) % self.islands,
        )
    }

    fn job_id(&self, index: usize) -> String {
        let (_, chaton, _) = self.host(index);
        format!("c{chaton}-etc-{index}")
    }
}

/// The archipelago file of the lab.
fn archipelago(shape: &Shape, garage: &str, sha256: &str, restic: &str, escrow: &str) -> String {
    let restic_sha256 = sha256_of(restic);
    let mut text = String::new();
    for island in 0..shape.islands {
        text.push_str(&format!(
            "island \"i{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
        let members: Vec<usize> = (1..=3).map(|n| 3 * island + n).collect();
        for node in &members {
            text.push_str(&format!(
                "chaton \"c{node}\" {{\n  island  = \"i{island}\"\n  contact = \"c{node}@lab\"\n  escrow  = [\"{escrow}\"]\n\n  node \"node{node}\" {{\n    ssh      = \"root@node{node}\"\n    capacity = \"10G\"\n  }}\n"
            ));
            for index in (0..shape.hosts).filter(|i| shape.host(*i).1 == *node) {
                let (host, _, to) = shape.host(index);
                text.push_str(&format!(
                    "\n  backup \"etc-{index}\" {{\n    host     = \"root@node{host}\"\n    to       = \"i{to}\"\n    paths    = [\"/etc\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7, weekly = 4 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n  }}\n"
                ));
            }
            text.push_str("}\n\n");
        }
        let writers: Vec<String> = members.iter().map(|n| format!("\"c{n}\"")).collect();
        text.push_str(&format!(
            "bucket \"shared-{island}\" {{\n  island  = \"i{island}\"\n  quota   = \"1G\"\n  writers = [{}]\n}}\n\n",
            writers.join(", ")
        ));
    }
    text
}

fn sha256_of(path: &str) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What one plan run cost.
struct Run {
    wall: Duration,
    phases: BTreeMap<String, Duration>,
    /// archipel's and its (waited-for) children's CPU: the ssh clients'
    /// handshakes among them.
    controller_cpu: Duration,
    /// Every core's busy time meanwhile, the lab's nodes included.
    machine_cpu: Duration,
    /// archipel's peak resident memory, in KiB.
    peak_kib: u64,
}

/// Every core's busy time so far, from /proc/stat (clock ticks of 10 ms).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .map(|cpu| {
            cpu.split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse::<u64>().ok())
                .enumerate()
                // user nice system (idle iowait) irq softirq steal
                .filter(|(i, _)| ![3, 4].contains(i))
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The archipel measured: `ARCHIPEL_BENCH_BINARY` (another build, to
/// compare), or this checkout's, built as users run it (release).
fn binary() -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(binary) = std::env::var_os("ARCHIPEL_BENCH_BINARY") {
        return Ok(binary.into());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "archipel",
            "--bin",
            "archipel",
        ])
        .current_dir(&workspace)
        .status()?;
    assert!(built.success(), "cargo build --release -p archipel failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or(workspace.join("target"), PathBuf::from);
    Ok(target.join("release/archipel"))
}

/// The `timings:` line of `archipel -v` (none from a build before it had
/// one: its phases read 0).
fn phases_of(stderr: &str) -> BTreeMap<String, Duration> {
    let Some(line) = stderr.lines().find_map(|l| l.strip_prefix("timings: ")) else {
        return BTreeMap::new();
    };
    line.split(", ")
        .filter_map(|part| {
            let (name, ms) = part.rsplit_once(' ')?.0.rsplit_once(' ')?;
            Some((name.to_string(), Duration::from_millis(ms.parse().ok()?)))
        })
        .collect()
}

fn plan_once(binary: &Path, file: &Path, lab: &Lab, scratch: &Path) -> Run {
    let busy = machine_busy();
    let started = Instant::now();
    // GNU time: archipel's CPU with its waited-for children (the ssh
    // clients' handshakes among them) and its peak memory.
    let measured = scratch.join("time");
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&measured)
        .arg(binary)
        .arg("-f")
        .arg(file)
        .args(["plan", "-v", "--detailed-exitcode", "--ssh-config"])
        .arg(lab.ssh_config())
        .output()
        .expect("/usr/bin/time runs archipel (Debian's package time)");
    let wall = started.elapsed();
    let machine_cpu = machine_busy() - busy;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(0),
        "the converged plan is not empty or failed ({:?}):\n{}{stderr}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout)
    );
    let time = std::fs::read_to_string(&measured).unwrap_or_default();
    let fields: Vec<f64> = time
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [user, system, peak_kib] = fields[..] else {
        panic!("unexpected output of /usr/bin/time: {time:?}");
    };
    Run {
        wall,
        phases: phases_of(&stderr),
        controller_cpu: Duration::from_secs_f64(user + system),
        machine_cpu,
        peak_kib: peak_kib as u64,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// Ansible's run of tests/benches/ansible/plan.yml over the same lab.
fn ansible(lab: &Lab, shape: &Shape, dir: &Path, runs: usize) -> Vec<Duration> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ansible");
    let prepared = Command::new(here.join("prepare"))
        .env("ARCHIPEL_LAB_DIR", lab.state_dir())
        .output()
        .expect("prepare runs");
    assert!(
        prepared.status.success(),
        "{}",
        String::from_utf8_lossy(&prepared.stderr)
    );
    let playbook_binary = PathBuf::from(String::from_utf8_lossy(&prepared.stdout).trim());
    let mut inventory = String::from("[nodes]\n");
    for node in 1..=3 * shape.islands {
        inventory.push_str(&format!("node{node}\n"));
    }
    inventory.push_str("\n[first_nodes]\n");
    for island in 0..shape.islands {
        inventory.push_str(&format!("node{}\n", 3 * island + 1));
    }
    inventory.push_str("\n[backup_hosts]\n");
    for index in 0..shape.hosts {
        let (host, _, _) = shape.host(index);
        inventory.push_str(&format!("node{host} job={}\n", shape.job_id(index)));
    }
    inventory
        .push_str("\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n");
    std::fs::write(dir.join("inventory"), inventory).expect("inventory");
    std::fs::write(
        dir.join("ansible.cfg"),
        format!(
            "[defaults]\nforks = {}\nhost_key_checking = True\nstdout_callback = default\n\n[ssh_connection]\npipelining = True\nssh_args = -F {} -o ControlMaster=auto -o ControlPersist=60s\n",
            shape.machines(),
            lab.ssh_config().display()
        ),
    )
    .expect("ansible.cfg");
    let mut times = Vec::new();
    for run in 0..runs {
        // Cold each time: control sockets of a directory of their own.
        let control = dir.join(format!("cp-{run}"));
        std::fs::create_dir_all(&control).expect("control dir");
        let started = Instant::now();
        let output = Command::new(&playbook_binary)
            .arg("-i")
            .arg(dir.join("inventory"))
            .arg(here.join("plan.yml"))
            .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", &control)
            .output()
            .expect("ansible-playbook runs");
        times.push(started.elapsed());
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    times
}

/// How many machines this one can hold, when fewer than asked.
fn fitting(machines: usize) -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(u64::MAX, |kib| kib * 1024);
    let fit = (available / MEMORY_PER_MACHINE) as usize;
    if fit < machines {
        eprintln!(
            "plan bench: {machines} machines need about {} MiB, {} MiB available: {fit} machines instead",
            (machines as u64 * MEMORY_PER_MACHINE) >> 20,
            available >> 20
        );
    }
    machines.min(fit)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options();
    let shape = Shape::of(fitting(options.machines));
    let lab = Lab::start(shape.machines())?;
    let (garage, garage_sha256) = archipel_tests::garage_build()?;
    let restic = "/usr/bin/restic";
    let dir = tempfile::tempdir()?;
    let escrow = dir.path().join("escrow");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "admin@bench", "-f"])
        .arg(&escrow)
        .status()?;
    assert!(made.success());
    let escrow_key = std::fs::read_to_string(escrow.with_extension("pub"))?;
    let file = dir.path().join("archipelago.hcl");
    std::fs::write(
        &file,
        archipelago(&shape, &garage, &garage_sha256, restic, escrow_key.trim()),
    )?;
    let binary = binary()?;

    let started = Instant::now();
    let applied = Command::new(&binary)
        .arg("-f")
        .arg(&file)
        .args(["apply", "--auto-approve", "--ssh-config"])
        .arg(lab.ssh_config())
        .output()?;
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    eprintln!(
        "plan bench: applied in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // Each job's backup, as its timer runs it: the state a plan meets.
    let backups: Vec<_> = (0..shape.hosts)
        .map(|index| {
            let (host, _, _) = shape.host(index);
            Command::new("ssh")
                .arg("-F")
                .arg(lab.ssh_config())
                .arg(format!("node{host}"))
                .arg(format!(
                    "systemctl start archipel-backup-{}.service",
                    shape.job_id(index)
                ))
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for mut backup in backups {
        assert!(backup.wait()?.success(), "a backup failed");
    }

    // One run first, not counted: the nodes' page caches warm.
    plan_once(&binary, &file, &lab, dir.path());
    let runs: Vec<Run> = (0..options.runs)
        .map(|_| plan_once(&binary, &file, &lab, dir.path()))
        .collect();
    report(&shape, &runs);

    if options.machines == 8 {
        let ansible_times = ansible(&lab, &shape, dir.path(), options.runs);
        let archipel = median(runs.iter().map(|r| r.wall).collect());
        let ansible = median(ansible_times.clone());
        println!(
            "ansible-playbook (tests/benches/ansible/plan.yml, same lab, same run): median {} ms (min {}, max {}, {} runs)",
            ms(ansible),
            ms(*ansible_times.iter().min().unwrap_or(&ansible)),
            ms(*ansible_times.iter().max().unwrap_or(&ansible)),
            ansible_times.len()
        );
        println!(
            "archipel plan is {:.1}x faster than Ansible",
            ansible.as_secs_f64() / archipel.as_secs_f64()
        );
    }
    drop(lab);
    Ok(())
}

fn report(shape: &Shape, runs: &[Run]) {
    let machines = shape.machines() as u32;
    let walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    println!(
        "plan, converged: {} machines ({} islands of 3 nodes, {} backup hosts), {} cold runs",
        machines,
        shape.islands,
        shape.hosts,
        runs.len()
    );
    println!(
        "  wall time: median {} ms (min {}, max {})",
        ms(median(walls.clone())),
        ms(*walls.iter().min().unwrap_or(&Duration::ZERO)),
        ms(*walls.iter().max().unwrap_or(&Duration::ZERO))
    );
    let phases: Vec<String> = PHASES
        .iter()
        .map(|phase| {
            let values: Vec<Duration> = runs
                .iter()
                .map(|r| r.phases.get(*phase).copied().unwrap_or_default())
                .collect();
            format!("{phase} {}", ms(median(values)))
        })
        .collect();
    println!("  phases (median ms): {}", phases.join(", "));
    let controller = median(runs.iter().map(|r| r.controller_cpu).collect());
    let machine = median(runs.iter().map(|r| r.machine_cpu).collect());
    println!(
        "  CPU (median): archipel and its ssh clients {} ms, {:.1} ms per machine; the whole machine (lab nodes included) {} ms, {:.1} ms per machine; {} cores",
        ms(controller),
        controller.as_secs_f64() * 1e3 / f64::from(machines),
        ms(machine),
        machine.as_secs_f64() * 1e3 / f64::from(machines),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    println!(
        "  archipel's peak memory: {:.1} MiB (largest of the runs)",
        peak as f64 / 1024.0
    );
}
