//! Vault passes beside the job's own runs: a pass while a backup uploads,
//! and the job's prune reaching the vault only after the grace period.

use crate::fixture::{
    BUCKET, GRACE_SECONDS, HOST, JOB, VAULT, archipelago, data_sums, incident_kinds, pass,
    repository_objects,
};
use archipel_tests::jobs::{job_s3, restic, status, vault_s3};
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::collections::BTreeSet;
use std::time::Duration;

/// What each kept backup held, for the recovery to compare with: its
/// snapshot (short id) and the data's checksums. Kept in the lab's state
/// directory, since the cases run in turn.
pub fn record_version(lab: &Lab) -> Result<(), Failed> {
    let id = status(lab, HOST, JOB, "backup")?["summary"]["snapshot_id"]
        .as_str()
        .ok_or("snapshot id")?
        .to_string();
    let mut versions = versions(lab)?;
    versions.push((id, data_sums(lab)?));
    std::fs::write(
        lab.state_dir().join("vault-versions.json"),
        serde_json::to_vec(&versions)?,
    )?;
    Ok(())
}

pub fn versions(lab: &Lab) -> Result<Vec<(String, String)>, Failed> {
    let path = lab.state_dir().join("vault-versions.json");
    if !path.exists() {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// A backup through the job's runner, of data changed first.
pub fn back_up_new_data(lab: &Lab, version: u32) -> Result<(), Failed> {
    lab.ssh_ok(
        HOST,
        &format!(
            "head -c 1000000 /dev/urandom > /srv/data/blob-{version} && echo v{version} > /srv/data/note && systemctl start archipel-backup-{JOB}.service"
        ),
    )?;
    let run = status(lab, HOST, JOB, "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))
}

/// Objects in the vault are those of the backup bucket, byte for byte.
fn same_bytes(lab: &Lab, names: &[String]) -> Result<(), Failed> {
    let source = job_s3(lab, HOST, JOB, "node1")?;
    let vault = vault_s3(lab, "node1")?;
    for name in names {
        ensure(
            vault.get(VAULT, name)? == source.get(BUCKET, name)?,
            format!("{name} differs between the vault and the backup bucket"),
        )?;
    }
    Ok(())
}

pub fn during_a_backup(lab: &Lab) -> Result<(), Failed> {
    // A lab's state directory outlives it: versions of an earlier run go.
    let recorded = lab.state_dir().join("vault-versions.json");
    if recorded.exists() {
        std::fs::remove_file(recorded)?;
    }
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    lab.ssh_ok(
        HOST,
        "mkdir -p /srv/data && head -c 40000000 /dev/urandom > /srv/data/big && echo v1 > /srv/data/note",
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("island.lab-a.node.node1.vault.timer: done"),
        log.clone(),
    )?;
    let first = pass(lab)?;
    ensure(first["result"] == "ok", format!("{first}"))?;

    // restic slowed to 2 MiB/s: about 20 s of uploads, passes all along.
    let copied_during = std::thread::scope(|scope| -> Result<u64, Failed> {
        let backup = scope.spawn(|| restic(lab, HOST, JOB, "backup --limit-upload 2048 /srv/data"));
        let mut copied = 0;
        while !backup.is_finished() {
            let report = pass(lab)?;
            ensure(report["result"] == "ok", format!("{report}"))?;
            if !backup.is_finished() {
                copied += report["copied_objects"].as_u64().unwrap_or(0);
            }
        }
        backup.join().map_err(|_| "the backup thread panicked")??;
        Ok(copied)
    })?;
    ensure(
        copied_during > 0,
        "no pass copied anything while the backup uploaded: the case proves nothing",
    )?;
    let vault = vault_s3(lab, "node1")?;
    same_bytes(lab, &repository_objects(&vault, VAULT)?)?;

    // The next pass completes the copy: the same objects, the same bytes.
    let report = pass(lab)?;
    ensure(
        report["result"] == "ok" && incident_kinds(&report).is_empty(),
        format!("{report}"),
    )?;
    let source = job_s3(lab, HOST, JOB, "node1")?;
    let in_source = repository_objects(&source, BUCKET)?;
    ensure(
        repository_objects(&vault, VAULT)? == in_source,
        "the vault holds what the backup bucket holds",
    )?;
    same_bytes(lab, &in_source)
}

pub fn pruned_then_freed(lab: &Lab) -> Result<(), Failed> {
    for version in 2..=3 {
        back_up_new_data(lab, version)?;
    }
    record_version(lab)?;
    pass(lab)?;
    let source = job_s3(lab, HOST, JOB, "node1")?;
    let vault = vault_s3(lab, "node1")?;
    let before: BTreeSet<String> = repository_objects(&source, BUCKET)?.into_iter().collect();

    // `keep = { daily = 7 }` keeps one of the day's three snapshots.
    lab.ssh_ok(
        HOST,
        &format!("systemctl start archipel-prune-{JOB}.service"),
    )?;
    let prune = status(lab, HOST, JOB, "prune")?;
    ensure(prune["exit_code"] == 0, format!("{prune}"))?;
    let after: BTreeSet<String> = repository_objects(&source, BUCKET)?.into_iter().collect();
    let pruned: Vec<&String> = before.difference(&after).collect();
    ensure(
        pruned.iter().any(|n| n.starts_with("data/snapshots/")),
        format!("the prune deleted snapshots: {pruned:?}"),
    )?;

    // Explained by the job's prune: no incident; kept for the grace period.
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report).is_empty() && report["frozen"] == false,
        format!("a prune the job's keep explains: {report}"),
    )?;
    ensure(
        report["pending_deletions"].as_u64() == Some(pruned.len() as u64),
        format!("{} deletions wait: {report}", pruned.len()),
    )?;
    // What the prune wrote (a new index, repacked packs) is copied too.
    let held: BTreeSet<String> = repository_objects(&vault, VAULT)?.into_iter().collect();
    let both: BTreeSet<String> = before.union(&after).cloned().collect();
    ensure(
        held == both,
        "the vault holds what the prune deleted and what it wrote",
    )?;

    // After the grace period, exactly what the prune deleted goes.
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 5));
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report).is_empty() && report["pending_deletions"] == 0,
        format!("{report}"),
    )?;
    let held: BTreeSet<String> = repository_objects(&vault, VAULT)?.into_iter().collect();
    ensure(
        held == after,
        format!(
            "the vault holds what the bucket holds now: {:?} more, {:?} fewer",
            held.difference(&after).collect::<Vec<_>>(),
            after.difference(&held).collect::<Vec<_>>()
        ),
    )?;

    // Two more backups of changing data: three snapshots, kept as versions.
    for version in 4..=5 {
        back_up_new_data(lab, version)?;
        record_version(lab)?;
    }
    let report = pass(lab)?;
    ensure(incident_kinds(&report).is_empty(), format!("{report}"))
}
