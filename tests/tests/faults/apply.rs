//! Faults around `archipel apply`: a machine cut before it stops it
//! unchanged; a node cut during a rolling restart fails its island's
//! health gate, which stops that island's roll while the other's goes on.

use crate::fixture::{Load, PLAN_WITHIN, Run, archipelago, watch};
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::time::{Duration, Instant};

pub fn converge(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// An apply with a machine cut plans first: it stops there, within the
/// plan's bound, names the machine, and changes nothing anywhere (the
/// other machines' files and services are as they were).
pub fn cut_before_apply(lab: &Lab) -> Result<(), Failed> {
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

pub fn failed_health_gate(lab: &Lab) -> Result<(), Failed> {
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
        fails_soon_after_the_cut(&run, &cut),
        format!("a cut node costs its gate, not minutes: {text}"),
    )?;
    ensure(
        run.stderr
            .contains(&format!("island.lab-b.node.{cut}.service: FAILED")),
        format!("{cut}'s restart fails: {text}"),
    )?;

    lab_a_rolled_entirely(lab, &lab_a, &before_a, &text)?;
    lab_b_stopped_at_the_cut(lab, &lab_b, &before_b, &run, &cut, &text)?;

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

/// The cut node's branch fails within SSH's keep-alive time, and the apply
/// within minutes: lab-a's roll goes on meanwhile (each of its nodes seen
/// back for 16 s).
fn fails_soon_after_the_cut(run: &Run, cut: &str) -> bool {
    let cut_at = run.cut.as_ref().map(|(_, at)| *at).unwrap_or_default();
    let failed_at = run
        .progress
        .iter()
        .find(|(_, line)| line.contains(&format!("island.lab-b.node.{cut}.service: FAILED")))
        .map(|(at, _)| *at);
    failed_at.is_some_and(|at| at.saturating_sub(cut_at) < Duration::from_secs(45))
        && run.elapsed < Duration::from_secs(180)
}

/// lab-a rolled entirely: each node restarted, with the new config.
fn lab_a_rolled_entirely(
    lab: &Lab,
    lab_a: &[&str],
    before_a: &[String],
    text: &str,
) -> Result<(), Failed> {
    let after_a = started_at(lab, lab_a)?;
    for ((node, before), after) in lab_a.iter().zip(before_a).zip(&after_a) {
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
    Ok(())
}

/// lab-b: whoever restarted before the cut node did; nobody after it, and
/// their restarts are reported skipped.
fn lab_b_stopped_at_the_cut(
    lab: &Lab,
    lab_b: &[&str],
    before_b: &[String],
    run: &Run,
    cut: &str,
    text: &str,
) -> Result<(), Failed> {
    let after_b = started_at(lab, lab_b)?;
    let mut untouched = 0;
    for ((node, before), after) in lab_b.iter().zip(before_b).zip(&after_b) {
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
    Ok(())
}
