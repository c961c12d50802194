//! A node's data directory emptied under its running Garage (a disk
//! swapped, a directory wiped): `status` and `plan` say so, apply restarts
//! the node on it and launches Garage's block repair, which refills it from
//! the other nodes; `status` shows each node's health and memory.

use crate::fixture::{HOST, JOB, archipelago, blocks_on, workdir};
use archipel_tests::jobs::restic;
use archipel_tests::{Failed, Lab, archipel, ensure, garage_build, output_text};
use std::time::{Duration, Instant};

const EMPTIED: &str = "node2";

/// `archipel status --output json`, its exit status and the island lab-a.
fn status(lab: &Lab, file: &std::path::Path) -> Result<(Option<i32>, serde_json::Value), Failed> {
    let output = archipel(lab, file, &["status", "--output", "json"])?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("status prints JSON ({e}): {}", output_text(&output)))?;
    let island = report["islands"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == "lab-a"))
        .cloned()
        .ok_or("status shows lab-a")?;
    Ok((output.status.code(), island))
}

fn node<'a>(island: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    island["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

pub fn lost_data_directory(lab: &Lab) -> Result<(), Failed> {
    let dir = workdir(lab)?;
    let file = archipelago(&dir, "2.5.0", &garage_build()?)?;
    let healthy_before = blocks_on(lab, "node1")?;
    let before = blocks_on(lab, EMPTIED)?;
    ensure(before > 0, format!("{EMPTIED} holds blocks: {before}"))?;

    // Each node's health and cost, read before anything is wrong.
    let (code, island) = status(lab, &file)?;
    ensure(
        code == Some(0),
        format!("status exits 0 on a healthy island: {island}"),
    )?;
    for name in ["node1", "node2", "node3"] {
        let n = node(&island, name);
        ensure(
            n["up"] == true
                && n["data_lost"] == false
                && n["blocks"].as_u64().is_some_and(|b| b > 0)
                && n["resync_errors"] == 0
                && n["scrub_corruptions"] == 0
                && n["scrub_last_completed"].is_string(),
            format!("{name}'s Garage signals are read: {n}"),
        )?;
        let used = n["memory"]["used_bytes"].as_u64().unwrap_or(0);
        ensure(
            (1_000_000..2_000_000_000).contains(&used) && n["memory"]["page_cache_bytes"].is_u64(),
            format!("{name}'s Garage memory is measured apart from its page cache: {n}"),
        )?;
    }
    ensure(
        island["memory_bytes_per_stored_gb"]
            .as_u64()
            .is_some_and(|m| m > 0)
            && island["partitions_quorum"] == 256,
        format!("the island's memory per stored GB and quorum: {island}"),
    )?;

    lab.ssh_ok(
        EMPTIED,
        "rm -rf /var/lib/garage/data/* && systemctl is-active garage",
    )?;

    let (code, island) = status(lab, &file)?;
    ensure(
        code == Some(1) && node(&island, EMPTIED)["data_lost"] == true,
        format!("status reports {EMPTIED}'s lost data directory, exit 1: {island}"),
    )?;
    let human = output_text(&archipel(lab, &file, &["status"])?);
    ensure(
        human.contains(&format!("{EMPTIED}: DATA DIRECTORY LOST")),
        format!("status says it in words: {human}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    let plan = output_text(&output);
    ensure(
        output.status.code() == Some(2)
            && plan.contains(&format!("island.lab-a.node.{EMPTIED}.data"))
            && plan.contains("DATA DIRECTORY LOST"),
        format!("the plan repairs {EMPTIED}'s data directory: {plan}"),
    )?;

    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains(&format!("{EMPTIED}: block repair launched")),
        format!("apply launched the block repair: {log}"),
    )?;

    // Garage's resync fetches the node's blocks from the other two.
    let started = Instant::now();
    let mut refilled = 0;
    while started.elapsed() < Duration::from_secs(300) {
        refilled = blocks_on(lab, EMPTIED)?;
        if refilled >= before.min(healthy_before) {
            break;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    eprintln!(
        "{EMPTIED}: {before} block files before, {refilled} {} s after the repair began",
        started.elapsed().as_secs()
    );
    ensure(
        refilled >= before.min(healthy_before),
        format!("{EMPTIED} refilled: {refilled} block files of {before}"),
    )?;

    // Refilled, the island is good again: its resync queue may keep some
    // blocks (Garage queues checks for later, such as a deleted block's
    // ten minutes), which is normal.
    let mut last = serde_json::Value::Null;
    for _ in 0..30 {
        let (code, island) = status(lab, &file)?;
        if code == Some(0) && node(&island, EMPTIED)["data_lost"] == false {
            last = serde_json::Value::Null;
            break;
        }
        last = island;
        std::thread::sleep(Duration::from_secs(2));
    }
    ensure(
        last.is_null(),
        format!("status exits 0 once refilled: {last}"),
    )?;
    restic(lab, HOST, JOB, "check --read-data")?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(0),
        format!("nothing left to do: {}", output_text(&output)),
    )
}
