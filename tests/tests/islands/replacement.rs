//! A storage node whose machine is gone for good (node3, killed and never
//! back), replaced in the file by a new machine (node5): the plan refuses
//! to drain a node that is down until the operator says it is dead
//! (`--dead-node`), then takes it out of the layout in the same version
//! the new node joins in, unblocks the layout Garage's way and launches its
//! repairs; the island heals with node5 and without node3, and the job
//! stored on it checks with all its data read.

use crate::fixture::{HOST, JOB, archipelago_of, blocks_on, workdir};
use archipel_tests::jobs::restic;
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api, garage_build, output_text};
use std::path::Path;
use std::time::{Duration, Instant};

const DEAD: &str = "node3";
const NEW: &str = "node5";

pub fn dead_node_replaced(lab: &Lab) -> Result<(), Failed> {
    let dir = workdir(lab)?;
    let file = archipelago_of(&dir, "2.5.0", &garage_build()?, &["node1", "node2", NEW])?;
    lab.kill(DEAD)?;
    seen_down(lab)?;

    // Without the operator's word, a node that is down is never dropped.
    let output = archipel(lab, &file, &["plan"])?;
    let plan = output_text(&output);
    ensure(
        output.status.code() == Some(1) && plan.contains(&format!("--dead-node {DEAD}")),
        format!("the plan refuses to drain {DEAD} and names the flag: {plan}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--dead-node", DEAD])?;
    let plan = output_text(&output);
    ensure(output.status.success(), plan.clone())?;
    for shown in [
        format!("- island.lab-a.node.{DEAD}"),
        format!("{DEAD} is DEAD"),
        "one copy fewer".to_string(),
        format!("island.lab-a.node.{NEW}.service"),
        "island.lab-a.layout".to_string(),
    ] {
        ensure(
            plan.contains(&shown),
            format!("the plan shows {shown:?}: {plan}"),
        )?;
    }

    let output = archipel(
        lab,
        &file,
        &[
            "apply",
            "--auto-approve",
            "--allow-destroy",
            "--dead-node",
            DEAD,
        ],
    )?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    for said in [
        format!("no longer waits on {DEAD} (skip-dead-nodes)"),
        "block repair launched on every node".to_string(),
    ] {
        ensure(log.contains(&said), format!("apply says {said:?}: {log}"))?;
    }

    // One layout version took node3 out and put node5 in.
    let roles = roles_of_lab_a(lab)?;
    ensure(
        roles.len() == 3 && roles.contains(&NEW.to_string()) && !roles.contains(&DEAD.to_string()),
        format!("lab-a's roles are node1, node2 and node5: {roles:?}"),
    )?;
    healed(lab, &file)?;
    restic(lab, HOST, JOB, "check --read-data")?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(0),
        format!("nothing left to do: {}", output_text(&output)),
    )
}

/// node1 sees node3 down, as Garage's pings tell it.
fn seen_down(lab: &Lab) -> Result<(), Failed> {
    let started = Instant::now();
    loop {
        let status = garage_api(lab, "node1", "GetClusterStatus")?;
        let seen_up = status["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["hostname"] == DEAD && n["isUp"] == true));
        if !seen_up {
            return Ok(());
        }
        ensure(
            started.elapsed() < Duration::from_secs(120),
            format!("node1 sees {DEAD} down within 2 minutes: {status}"),
        )?;
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The node names lab-a's layout roles carry.
fn roles_of_lab_a(lab: &Lab) -> Result<Vec<String>, Failed> {
    let layout = garage_api(lab, "node1", "GetClusterLayout")?;
    Ok(layout["roles"]
        .as_array()
        .ok_or("roles")?
        .iter()
        .map(|r| r["tags"][1].as_str().unwrap_or("?").to_string())
        .collect())
}

/// lab-a healthy, every node up, as `status` reports it, and node5 holding
/// as many blocks as node1 (three copies on three nodes: each holds every
/// block): within 10 minutes.
fn healed(lab: &Lab, file: &Path) -> Result<(), Failed> {
    let started = Instant::now();
    loop {
        let output = archipel(lab, file, &["status", "--output", "json"])?;
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let island = report["islands"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == "lab-a"))
            .cloned()
            .unwrap_or_default();
        let up = island["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["up"] == true));
        let (held, new) = (blocks_on(lab, "node1")?, blocks_on(lab, NEW)?);
        if island["health"] == "healthy" && up && output.status.success() && new >= held {
            eprintln!(
                "{NEW} replaced {DEAD}: lab-a healthy after {} s",
                started.elapsed().as_secs()
            );
            return Ok(());
        }
        ensure(
            started.elapsed() < Duration::from_secs(600),
            format!(
                "lab-a healthy, {NEW} filled ({new} of {held} blocks) within 10 minutes: {island}"
            ),
        )?;
        std::thread::sleep(Duration::from_secs(5));
    }
}
