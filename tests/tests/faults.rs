//! Faults on a busy machine: a node whose link is cut (packets dropped,
//! not refused) before or during `archipel plan` costs the plan that node
//! alone, within the connect timeout; a node cut during a rolling restart
//! fails its island's health gate, which stops that island's roll while
//! the other island's changes go on.
//!
//! Every run here happens under CPU load (two busy loops on this 2-core
//! machine), where the faults were first seen.

use archipel_tests::{
    Failed, Lab, archipel, archipel_binary, ensure, output_text, record, run_archipel_lab_tests,
};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn main() {
    run_archipel_lab_tests(
        8,
        &[
            ("the_lab_archipelago_converges", converge),
            ("a_node_cut_before_plan_costs_only_itself", cut_before_plan),
            ("a_node_cut_during_plan_costs_only_itself", cut_during_plan),
            (
                "a_node_cut_before_apply_stops_it_unchanged",
                cut_before_apply,
            ),
            (
                "a_failed_health_gate_stops_its_islands_rolling_restart_only",
                failed_health_gate,
            ),
        ],
    )
}

/// How often each plan fault is tried.
const RUNS: usize = 5;

/// A plan with one machine cut must end well within this: the connect
/// timeout (10 s) and a bounded Garage call or two on top of an unfaulted
/// plan's few seconds. A plan that waits on Garage's own 5-minute RPC
/// timeout, or on keep-alives of 15 s × 4, does not.
const PLAN_WITHIN: Duration = Duration::from_secs(60);

/// Past this a run is stopped and fails (it would otherwise hang the suite).
const GIVE_UP_AFTER: Duration = Duration::from_secs(150);

/// The lab's archipelago, as the README's quickstart makes it: islands
/// lab-a (node1..3) and lab-b (node4..6), backup hosts node7 and node8.
fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    lab.write_archipelago(dir, "--backup-hosts")
}

/// Two busy loops, one per core, for as long as it lives.
struct Load(Vec<Child>);

impl Load {
    fn start() -> Result<Load, Failed> {
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
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// The machine cut during the run, if any, and when.
    cut: Option<(String, Duration)>,
    /// When each stderr line that is not a command came.
    progress: Vec<(Duration, String)>,
}

impl Run {
    fn text(&self) -> String {
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
fn watch(
    lab: &Lab,
    file: &Path,
    subcommand: &str,
    args: &[&str],
    cut_when: &dyn Fn(&str) -> Option<String>,
) -> Result<Run, Failed> {
    let started = Instant::now();
    let mut child = Command::new(archipel_binary()?)
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
        .spawn()?;
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
            // As Ctrl-C first, so that archipel closes its connections.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && child.try_wait()?.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
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

fn converge(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// The island a lab machine is a node of.
fn island_of(node: &str) -> Option<&'static str> {
    match node {
        "node1" | "node2" | "node3" => Some("lab-a"),
        "node4" | "node5" | "node6" => Some("lab-b"),
        _ => None,
    }
}

/// What became of the cut node's island.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Island {
    Observed,
    /// Garage kept every running member from answering in time.
    GarageWaited,
    /// The cut machine is a backup host.
    NotAMember,
}

/// A plan with `node` cut: within [`PLAN_WITHIN`], every other machine
/// and the other island observed, no other machine's connection lost;
/// `node` named as out of reach.
///
/// The cut node's island is observed through its running members, except
/// when Garage itself keeps them from answering. A read of Garage's key and
/// bucket tables (replicated on every node; quorum 2 of 3 in the default
/// consistency mode) goes to the member asked and to the peer it pings
/// fastest; when that is the cut node, the read waits for Garage's RPC
/// timeout (5 minutes), and no member of the island can answer it sooner
/// if each prefers the cut node. The island must then be reported with
/// each running member named, its Garage call timed out (archipel's
/// bound), never as a lost connection.
fn check_plan(run: &Run, node: &str) -> Result<Island, Failed> {
    let text = run.text();
    ensure(
        run.status == Some(1),
        format!("an incomplete plan exits 1: {text}"),
    )?;
    ensure(
        run.elapsed < PLAN_WITHIN,
        format!("the plan took {:.1} s: {text}", run.elapsed.as_secs_f64()),
    )?;
    let plan: serde_json::Value =
        serde_json::from_str(&run.stdout).map_err(|e| format!("not JSON ({e}): {text}"))?;
    let incomplete = plan["incomplete"].as_array().ok_or("no incomplete")?;
    let targets: Vec<&str> = incomplete
        .iter()
        .filter_map(|i| i["target"].as_str())
        .collect();
    let island = island_of(node);
    let garage_waited = island.is_some_and(|island| {
        let message = incomplete
            .get(1)
            .and_then(|i| i["problem"]["message"].as_str())
            .unwrap_or("");
        let members_named = ["node1", "node2", "node3", "node4", "node5", "node6"]
            .into_iter()
            .filter(|n| *n != node && island_of(n) == Some(island))
            .all(|n| message.contains(&format!("{n} (root@{n}): `garage json-api ")));
        targets == [node, &format!("island {island}")]
            && members_named
            && message.contains("timed out: no answer within 10 s")
            && !message.contains("lost")
            && !message.contains("terminated")
    });
    ensure(
        targets == [node] || garage_waited,
        format!("only {node} is not observed, not {targets:?}: {text}"),
    )?;
    let kind = incomplete[0]["problem"]["kind"].as_str().unwrap_or("");
    ensure(
        ["timeout", "unreachable"].contains(&kind),
        format!("{node} is named as out of reach: {}", incomplete[0]),
    )?;
    // No other machine lost its connection, not even while closing.
    for line in run.stderr.lines() {
        if line.contains("terminated") || line.starts_with("warning:") {
            ensure(
                line.contains(&format!("{node} (")),
                format!("another machine's connection suffered: {line}\n{text}"),
            )?;
        }
    }
    Ok(match (island, garage_waited) {
        (None, _) => Island::NotAMember,
        (Some(_), true) => Island::GarageWaited,
        (Some(_), false) => Island::Observed,
    })
}

/// Machines cut in turn: coordinators, other members, backup hosts. Each
/// was in touch with its island until its cut (the previous cut machine
/// has had a few runs to come back).
const CUT_BEFORE: [&str; RUNS] = ["node3", "node5", "node1", "node7", "node6"];
const CUT_DURING: [&str; RUNS] = ["node2", "node4", "node8", "node3", "node5"];

fn cut_before_plan(lab: &Lab) -> Result<(), Failed> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let _load = Load::start()?;
    let mut runs = Vec::new();
    for node in CUT_BEFORE {
        lab.cut(node)?;
        let run = watch(lab, &file, "plan", &["--output", "json"], &|_| None);
        lab.restore(node)?;
        let run = run?;
        let this = format!("{node} {:.1} s", run.elapsed.as_secs_f64());
        let island = check_plan(&run, node).map_err(|e| {
            format!(
                "{}\n(runs: {runs:?}; this one: {this})",
                e.message().unwrap_or("")
            )
        })?;
        runs.push(format!("{this} {island:?}"));
    }
    eprintln!(
        "cut before plan ({:.0} s): {runs:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cut_during_plan(lab: &Lab) -> Result<(), Failed> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let _load = Load::start()?;
    let mut runs = Vec::new();
    for node in CUT_DURING {
        // Cut as the node's facts start: connected, its command under way.
        let facts = format!("{node} (root@{node}): $ export LC_ALL=C");
        let run = watch(lab, &file, "plan", &["--output", "json"], &|line| {
            line.starts_with(&facts).then(|| node.to_string())
        });
        lab.restore(node)?;
        let run = run?;
        let this = format!(
            "{node} cut at {:.1} s, {:.1} s",
            run.cut
                .as_ref()
                .map_or(f64::NAN, |(_, at)| at.as_secs_f64()),
            run.elapsed.as_secs_f64()
        );
        ensure(
            run.cut.is_some(),
            format!("{node} was not cut: {}", run.text()),
        )?;
        let island = check_plan(&run, node).map_err(|e| {
            format!(
                "{}\n(runs: {runs:?}; this one: {this})",
                e.message().unwrap_or("")
            )
        })?;
        runs.push(format!("{this} {island:?}"));
    }
    eprintln!(
        "cut during plan ({:.0} s): {runs:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// An apply with a machine cut plans first: it stops there, within the
/// plan's bound, names the machine, and changes nothing anywhere (the
/// other machines' files and services are as they were).
fn cut_before_apply(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let base = archipelago(lab, dir.path())?;
    // A change on every node, so that an apply that went ahead would show.
    let file = dir.path().join("changed.hcl");
    std::fs::write(
        &file,
        std::fs::read_to_string(&base)?.replace(
            "replication_factor = 2\n",
            "replication_factor = 2\n    consistency_mode   = \"degraded\"\n",
        ),
    )?;
    let nodes = ["node1", "node2", "node3", "node4", "node5", "node6"];
    let _load = Load::start()?;
    for node in ["node2", "node6", "node8"] {
        let before = started_at(lab, &nodes)?;
        lab.cut(node)?;
        let run = watch(lab, &file, "apply", &["--auto-approve"], &|_| None);
        lab.restore(node)?;
        let run = run?;
        let text = run.text();
        ensure(run.status == Some(1), format!("apply fails: {text}"))?;
        ensure(
            run.elapsed < PLAN_WITHIN,
            format!("apply took {:.1} s: {text}", run.elapsed.as_secs_f64()),
        )?;
        // Named with why: the connection timed out (not a later "was not
        // connected" from the second look apply takes under its locks).
        ensure(
            (text.contains(&format!("{node} could not be observed (timeout)"))
                || text.contains(&format!("{node} could not be observed (unreachable)")))
                && text.contains("nothing was changed"),
            text.clone(),
        )?;
        ensure(
            !run.stderr.contains(": applying"),
            format!("no change started: {text}"),
        )?;
        let after = started_at(lab, &nodes)?;
        ensure(before == after, format!("no node restarted: {text}"))?;
        for member in &nodes[..3] {
            let config = lab.ssh_ok(member, "cat /etc/garage/garage.toml")?;
            ensure(
                !config.contains("degraded"),
                format!("{member}'s config is unchanged"),
            )?;
        }
    }
    Ok(())
}

/// When Garage last started on each node.
fn started_at(lab: &Lab, nodes: &[&str]) -> Result<Vec<String>, Failed> {
    nodes
        .iter()
        .map(|node| {
            lab.ssh_ok(
                node,
                "systemctl show -p ActiveEnterTimestamp --value garage",
            )
            .map(|s| s.trim().to_string())
            .map_err(Failed::from)
        })
        .collect()
}

fn failed_health_gate(lab: &Lab) -> Result<(), Failed> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let base = archipelago(lab, dir.path())?;
    // Both islands change consistency mode: each restarts its nodes one
    // at a time, the island healthy in between.
    let file = dir.path().join("degraded.hcl");
    std::fs::write(
        &file,
        std::fs::read_to_string(&base)?.replace(
            "replication_factor = 2\n",
            "replication_factor = 2\n    consistency_mode   = \"degraded\"\n",
        ),
    )?;
    let lab_a = ["node1", "node2", "node3"];
    let lab_b = ["node4", "node5", "node6"];
    let before_a = started_at(lab, &lab_a)?;
    let before_b = started_at(lab, &lab_b)?;

    // The first of lab-b's members (not node4: it holds the island's lock)
    // to restart is cut once its restart is done, as apply starts waiting
    // for it to answer: it never gets healthy.
    let restarted = std::cell::RefCell::new(None::<&str>);
    let restart = |line: &str| {
        let mut restarted = restarted.borrow_mut();
        match *restarted {
            None => {
                *restarted = ["node5", "node6"].into_iter().find(|node| {
                    line.starts_with(&format!(
                        "{node} (root@{node}): $ systemctl enable --quiet garage && systemctl restart garage"
                    ))
                });
                None
            }
            Some(node) => line
                .starts_with(&format!("{node} (root@{node}): $ bin=$1"))
                .then(|| node.to_string()),
        }
    };
    let run = {
        let _load = Load::start()?;
        watch(lab, &file, "apply", &["--auto-approve"], &restart)
    };
    let cut = run
        .as_ref()
        .ok()
        .and_then(|r| r.cut.as_ref().map(|(n, _)| n.clone()));
    if let Some(node) = &cut {
        lab.restore(node)?;
    }
    let run = run?;
    let text = run.text();
    let cut = cut.ok_or_else(|| format!("no lab-b member was cut: {text}"))?;
    ensure(run.status == Some(1), format!("apply fails: {text}"))?;
    ensure(
        run.elapsed < Duration::from_secs(120),
        format!("a cut node costs its gate, not minutes: {text}"),
    )?;
    ensure(
        run.stderr
            .contains(&format!("island.lab-b.node.{cut}.service: FAILED")),
        format!("{cut}'s restart fails: {text}"),
    )?;

    // lab-a rolled entirely.
    let after_a = started_at(lab, &lab_a)?;
    for ((node, before), after) in lab_a.iter().zip(&before_a).zip(&after_a) {
        ensure(
            before != after,
            format!("{node} (lab-a) was restarted: {before} = {after}\n{text}"),
        )?;
        let config = lab.ssh_ok(node, "cat /etc/garage/garage.toml")?;
        ensure(
            config.contains("consistency_mode = \"degraded\""),
            format!("{node}: {config}"),
        )?;
    }
    // lab-b: whoever restarted before the cut node did; nobody after it.
    let after_b = started_at(lab, &lab_b)?;
    let mut untouched = 0;
    for ((node, before), after) in lab_b.iter().zip(&before_b).zip(&after_b) {
        if *node == cut {
            continue;
        }
        let done_before_cut = run
            .stderr
            .lines()
            .take_while(|l| !l.contains(&format!("island.lab-b.node.{cut}.service: applying")))
            .any(|l| l.contains(&format!("island.lab-b.node.{node}.service: done")));
        if done_before_cut {
            ensure(before != after, format!("{node} restarted first: {text}"))?;
        } else {
            untouched += 1;
            ensure(
                before == after,
                format!(
                    "{node} was restarted after {cut}'s gate failed ({before} -> {after}): {text}"
                ),
            )?;
            ensure(
                run.stderr
                    .contains(&format!("island.lab-b.node.{node}.service: skipped")),
                format!("{node}'s restart is reported skipped: {text}"),
            )?;
        }
    }
    ensure(
        untouched > 0,
        format!("some lab-b restart came after the cut: {text}"),
    )?;

    // With the node back, apply finishes the roll.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;
    eprintln!(
        "rolling restart ({:.0} s in all), {cut} cut at {:.1} s: apply took {:.1} s",
        started.elapsed().as_secs_f64(),
        run.cut
            .as_ref()
            .map_or(f64::NAN, |(_, at)| at.as_secs_f64()),
        run.elapsed.as_secs_f64()
    );
    for (at, line) in &run.progress {
        if line.contains(".service: ") || line.starts_with("Apply:") {
            eprintln!("  {:6.1} {line}", at.as_secs_f64());
        }
    }
    Ok(())
}
