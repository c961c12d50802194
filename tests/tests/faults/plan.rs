//! A machine cut before or during `archipel plan` costs the plan that
//! machine alone, within the connect timeout.

use crate::fixture::{Load, PLAN_WITHIN, Run, archipelago, watch};
use archipel_tests::{Failed, Lab, ensure};
use std::path::Path;
use std::time::Instant;

/// How often each plan fault is tried.
const RUNS: usize = 5;

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

/// A plan with one machine cut (and restored after): its run, and what it
/// was for the record.
type CutAndPlan = dyn Fn(&Lab, &Path, &str) -> Result<(Run, String), Failed>;

/// Plans once per machine of `nodes`, each cut by `cut_and_plan` (which
/// restores it, and says what its run was): each plan must cost only the
/// cut machine ([`check_plan`]).
fn plan_with_each_cut(
    lab: &Lab,
    what: &str,
    nodes: &[&str; RUNS],
    cut_and_plan: &CutAndPlan,
) -> Result<(), Failed> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let _load = Load::start()?;
    let mut runs = Vec::new();
    for node in nodes {
        let (run, this) = cut_and_plan(lab, &file, node)?;
        let island = check_plan(&run, node).map_err(|e| {
            format!(
                "{}\n(runs: {runs:?}; this one: {this})",
                e.message().unwrap_or("")
            )
        })?;
        runs.push(format!("{this} {island:?}"));
    }
    eprintln!(
        "{what} ({:.0} s): {runs:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn cut_before_plan(lab: &Lab) -> Result<(), Failed> {
    plan_with_each_cut(lab, "cut before plan", &CUT_BEFORE, &|lab, file, node| {
        lab.cut(node)?;
        let run = watch(lab, file, "plan", &["--output", "json"], &|_| None);
        lab.restore(node)?;
        let run = run?;
        let this = format!("{node} {:.1} s", run.elapsed.as_secs_f64());
        Ok((run, this))
    })
}

pub fn cut_during_plan(lab: &Lab) -> Result<(), Failed> {
    plan_with_each_cut(lab, "cut during plan", &CUT_DURING, &|lab, file, node| {
        // Cut as the node's facts start: connected, its command under way.
        let facts = format!("{node} (root@{node}): $ export LC_ALL=C");
        let run = watch(lab, file, "plan", &["--output", "json"], &|line| {
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
        Ok((run, this))
    })
}
