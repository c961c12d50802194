//! Garage upgrades by version bump: the older release converged, a minor
//! upgrade rolled one node at a time with no failed read, and what Garage
//! does not support refused.

use crate::fixture::{
    BUCKET, HOST, JOB, LAB_A, Reader, archipelago, started_at, versions, workdir,
};
use archipel_tests::jobs::{job_s3, restic};
use archipel_tests::local_garage::noise;
use archipel_tests::{
    Failed, Lab, OLDER_GARAGE, archipel, ensure, garage_build, older_garage_build, output_text,
};

const PROBE: &str = "upgrade-probe";

/// Every node of lab-a reports `release`, as each of them sees the
/// island. A node learns a peer's release from the peer's status, which
/// Garage exchanges every few seconds: a minute is allowed.
fn all_run(lab: &Lab, release: &str) -> Result<(), Failed> {
    for from in LAB_A {
        let mut versions = Vec::new();
        for _ in 0..60 {
            versions = self::versions(lab, from)?;
            if versions.len() == 3 && versions.iter().all(|(_, v)| v.ends_with(release)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        ensure(
            versions.len() == 3 && versions.iter().all(|(_, v)| v.ends_with(release)),
            format!("{from} sees every node of lab-a on {release}: {versions:?}"),
        )?;
    }
    Ok(())
}

/// `plan` has nothing to do.
fn converged(lab: &Lab, file: &std::path::Path) -> Result<(), Failed> {
    let output = archipel(lab, file, &["plan", "--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(0),
        format!("plan exits 0: {}", output_text(&output)),
    )
}

/// lab-a on 2.4.1: archipel installs it as any release, and chaton-4's
/// first backup lands there.
pub fn converge_on_the_older_release(lab: &Lab) -> Result<(), Failed> {
    let dir = workdir(lab)?;
    let file = archipelago(&dir, OLDER_GARAGE, &older_garage_build()?)?;
    lab.ssh_ok(
        HOST,
        "mkdir -p /srv/data && head -c 3000000 /dev/urandom > /srv/data/blob && date > /srv/data/note",
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    all_run(lab, OLDER_GARAGE)?;
    lab.ssh_ok(
        HOST,
        &format!("systemctl start archipel-backup-{JOB}.service"),
    )?;
    let snapshots = restic(lab, HOST, JOB, "snapshots --json")?;
    ensure(
        serde_json::from_str::<serde_json::Value>(&snapshots)?
            .as_array()
            .is_some_and(|s| s.len() == 1),
        format!("one snapshot on lab-a: {snapshots}"),
    )?;
    job_s3(lab, HOST, JOB, "node1")?.put(BUCKET, PROBE, noise(16, 2_000_000))?;
    converged(lab, &file)
}

/// Pinning 2.5.0: the plan shows what each node runs and the order; apply
/// repairs the tables, snapshots every node's metadata, then restarts
/// the nodes one at a time, while a reader never misses a read; the
/// backup reads back whole, and the next plan has nothing to do.
pub fn minor_upgrade(lab: &Lab) -> Result<(), Failed> {
    let dir = workdir(lab)?;
    let file = archipelago(&dir, "2.5.0", &garage_build()?)?;
    let output = archipel(lab, &file, &["plan"])?;
    let plan = output_text(&output);
    ensure(output.status.success(), plan.clone())?;
    for shown in [
        "island.lab-a.upgrade",
        "Garage 2.4.1 → 2.5.0",
        "node1 runs",
        "node1 → node2 → node3",
        "island.lab-a.node.node3.service",
    ] {
        ensure(
            plan.contains(shown),
            format!("the plan shows {shown:?}: {plan}"),
        )?;
    }
    ensure(
        !plan.contains("island.lab-b.node.node4.service"),
        format!("lab-b does not restart: {plan}"),
    )?;
    let before: Vec<u64> = LAB_A
        .iter()
        .map(|node| started_at(lab, node))
        .collect::<Result<_, _>>()?;

    let reader = Reader::start(lab, PROBE, noise(16, 2_000_000))?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"]);
    let reads = reader.stop()?;
    let output = output?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    eprintln!(
        "reader: {} reads served, {} failed, {} passed over to another node: {:?}",
        reads.served,
        reads.failed.len(),
        reads.passed_over.len(),
        reads.passed_over.iter().take(5).collect::<Vec<_>>()
    );
    ensure(
        reads.failed.is_empty(),
        format!("no read failed during the upgrade: {:?}", reads.failed),
    )?;
    ensure(
        reads.served >= 100,
        format!("{} reads served", reads.served),
    )?;
    ensure(
        log.contains("repairing the tables on every node"),
        format!("the table repair ran first: {log}"),
    )?;

    all_run(lab, "2.5.0")?;
    each_node_upgraded_in_turn(lab, &before, &log)?;
    backup_reads_back(lab)?;
    converged(lab, &file)
}

/// Each node of lab-a restarted on the new binary after the one before
/// had been back for longer than a ping, and keeps its metadata snapshot
/// where apply said.
fn each_node_upgraded_in_turn(lab: &Lab, before: &[u64], log: &str) -> Result<(), Failed> {
    let after: Vec<u64> = LAB_A
        .iter()
        .map(|node| started_at(lab, node))
        .collect::<Result<_, _>>()?;
    for (i, node) in LAB_A.iter().enumerate() {
        ensure(after[i] > before[i], format!("{node} restarted"))?;
        let kept = lab.ssh_ok(node, "ls /var/lib/garage/meta/archipel-snapshots")?;
        ensure(
            kept.lines().count() == 1 && kept.starts_with("before-2.5.0-"),
            format!("{node} keeps its metadata snapshot: {kept}"),
        )?;
        ensure(
            log.contains(&format!(
                "{node}: metadata snapshot kept in /var/lib/garage/meta/archipel-snapshots/{}",
                kept.trim()
            )),
            format!("apply says where {node} keeps it: {log}"),
        )?;
        ensure(
            lab.ssh_ok(node, "/usr/local/bin/garage --version")?
                .contains("2.5.0"),
            format!("{node}'s binary is 2.5.0"),
        )?;
    }
    // Clocks of one boot: the nodes share the host's monotonic clock.
    for pair in after.windows(2) {
        ensure(
            pair[1] >= pair[0] + 16_000_000,
            format!("the next node restarted 16 s or more after the one before: {after:?}"),
        )?;
    }
    Ok(())
}

/// chaton-4's backup on lab-a checks with all its data read, and restores
/// byte for byte.
fn backup_reads_back(lab: &Lab) -> Result<(), Failed> {
    restic(lab, HOST, JOB, "check --read-data")?;
    restic(lab, HOST, JOB, "restore latest --target /tmp/restored")?;
    let same = lab.ssh_ok(
        HOST,
        "cd /srv/data && sha256sum blob note > /tmp/sums && cd /tmp/restored/srv/data && sha256sum -c /tmp/sums && rm -rf /tmp/restored /tmp/sums",
    )?;
    ensure(same.contains("blob: OK"), same)
}

/// Pinning an older release, or another major version: plan and apply
/// refuse, and no node's binary or daemon changed.
pub fn refused(lab: &Lab) -> Result<(), Failed> {
    let dir = workdir(lab)?;
    let state = |lab: &Lab| -> Result<Vec<(u64, String)>, Failed> {
        LAB_A
            .iter()
            .map(|node| {
                Ok((
                    started_at(lab, node)?,
                    lab.ssh_ok(node, "sha256sum /usr/local/bin/garage")?,
                ))
            })
            .collect()
    };
    let before = state(lab)?;
    let older = archipelago(&dir, OLDER_GARAGE, &older_garage_build()?)?;
    for command in [&["plan"][..], &["apply", "--auto-approve"]] {
        let output = archipel(lab, &older, command)?;
        let log = output_text(&output);
        ensure(output.status.code() == Some(1), log.clone())?;
        ensure(
            log.contains("node1 runs Garage 2.5.0, newer than the file's 2.4.1: archipel never downgrades Garage"),
            format!("{command:?} says why: {log}"),
        )?;
    }
    let (binary, sha256) = garage_build()?;
    let major = archipelago(&dir, "3.0.0", &(binary, sha256))?;
    for command in [&["plan"][..], &["apply", "--auto-approve"]] {
        let output = archipel(lab, &major, command)?;
        let log = output_text(&output);
        ensure(output.status.code() == Some(1), log.clone())?;
        ensure(
            log.contains("Garage 3.0.0 is another major version than the island runs")
                && log.contains("every node stopped at once"),
            format!("{command:?} names the procedure: {log}"),
        )?;
    }
    ensure(
        state(lab)? == before,
        "no node of lab-a was restarted or got another binary",
    )?;
    converged(lab, &archipelago(&dir, "2.5.0", &garage_build()?)?)
}
