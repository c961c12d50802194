//! What keeps backups honest: retention, status, drills, quotas.

use crate::fixture::{archipelago, job_s3, renamed, restic, status, vault_s3};
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, output_text};

pub fn retention(lab: &Lab) -> Result<(), Failed> {
    // Two more snapshots the same day: `keep = { daily = 7 }` keeps one.
    for _ in 0..2 {
        lab.ssh_ok(
            "node7",
            "date > /srv/data/sub/note && systemctl start archipel-backup-chaton-1-data.service",
        )?;
    }
    let latest = status(lab, "node7", "chaton-1-data", "backup")?["summary"]["snapshot_id"]
        .as_str()
        .ok_or("snapshot id")?
        .to_string();
    let count = |lab: &Lab| -> Result<Vec<String>, Failed> {
        let listed: serde_json::Value =
            serde_json::from_str(&restic(lab, "node7", "chaton-1-data", "snapshots --json")?)?;
        Ok(listed
            .as_array()
            .ok_or("snapshots")?
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect())
    };
    // Earlier cases made some too (the first node down, for one).
    let before = count(lab)?;
    ensure(
        before.len() >= 3,
        format!("at least three snapshots: {before:?}"),
    )?;
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-prune-chaton-1-data.service",
    )?;
    let prune = status(lab, "node7", "chaton-1-data", "prune")?;
    ensure(prune["exit_code"] == 0, format!("{prune}"))?;
    let left = count(lab)?;
    // restic 0.14's summary gives the short id.
    ensure(
        left.len() == 1 && left[0].starts_with(&latest),
        format!("only the latest ({latest}) is kept: {left:?}"),
    )?;
    // And the check reads a part of the data back.
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-check-chaton-1-data.service",
    )?;
    let check = status(lab, "node7", "chaton-1-data", "check")?;
    ensure(check["exit_code"] == 0, format!("{check}"))
}

pub fn status_report(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    // chaton-1 has backed up, chaton-4 never has.
    let output = archipel(lab, &file, &["status", "--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let job = |report: &serde_json::Value, chaton: &str| -> Result<serde_json::Value, Failed> {
        Ok(report["jobs"]
            .as_array()
            .ok_or("jobs")?
            .iter()
            .find(|j| j["chaton"] == chaton)
            .ok_or(format!("no job of {chaton}"))?
            .clone())
    };
    let fresh = job(&report, "chaton-1")?;
    ensure(
        fresh["stale"] == false && fresh["failing"] == false,
        format!("{fresh}"),
    )?;
    ensure(fresh["island"] == "lab-b", format!("{fresh}"))?;
    // `*-*-* 03:00` runs daily.
    ensure(fresh["period_seconds"] == 86_400, format!("{fresh}"))?;
    ensure(
        fresh["last_success"]["summary"]["snapshot_id"].is_string()
            && fresh["bucket_bytes"].as_u64().unwrap_or(0) > 0
            && fresh["bucket_quota"] == 1_000_000_000u64,
        format!("{fresh}"),
    )?;
    let never = job(&report, "chaton-4")?;
    ensure(
        never["stale"] == true && never["last_success"].is_null(),
        format!("{never}"),
    )?;
    for island in report["islands"].as_array().ok_or("islands")? {
        ensure(island["health"] == "healthy", format!("{island}"))?;
    }

    // No vault has passed yet: status says so.
    let vaults = report["vaults"].as_array().ok_or("vaults")?;
    ensure(
        vaults.len() == 2 && vaults.iter().all(|v| v["stale"] == true),
        format!("{vaults:?}"),
    )?;

    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-data.service",
    )?;
    vaults_hold_the_backups(lab, &file)?;
    let output = archipel(lab, &file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("All 2 backup jobs are fresh and passing."),
        text.clone(),
    )?;
    ensure(
        text.contains("chaton-1 on lab-b: ok, last pass"),
        text.clone(),
    )?;
    ensure(text.contains("lab-a: healthy, 3/3 storage nodes up"), text)
}

/// Each island's passes run on its first node: a pass copies the
/// repositories where their hosts' keys cannot reach, and status reports it.
fn vaults_hold_the_backups(lab: &Lab, file: &std::path::Path) -> Result<(), Failed> {
    for runner in ["node1", "node4"] {
        let started = lab.ssh(runner, "systemctl start archipel-vault.service");
        if !started.status.success() {
            let journal = lab.ssh(
                runner,
                "journalctl -u archipel-vault.service --no-pager -n 60; cat /var/lib/archipel/vault/*.json",
            );
            return Err(format!(
                "a vault pass on {runner} failed: {}\n{}",
                output_text(&started),
                output_text(&journal)
            )
            .into());
        }
    }
    for (host, chaton, runner) in [
        ("node7", "chaton-1", "node4"),
        ("node8", "chaton-4", "node1"),
    ] {
        let live = job_s3(lab, host, &format!("{chaton}-data"), runner)?;
        let vault = vault_s3(lab, runner)?;
        for prefix in ["data/data/", "data/index/", "data/snapshots/", "data/keys/"] {
            let source = live.list(&format!("backup-{chaton}"), prefix)?;
            let copied = vault.list(&format!("vault-{chaton}"), prefix)?;
            ensure(
                !source.is_empty() && source == copied,
                format!("{chaton} {prefix}: {source:?} in the bucket, {copied:?} in the vault"),
            )?;
        }
        ensure(
            live.list(&format!("vault-{chaton}"), "").is_err(),
            format!("{chaton}'s host key has no access to its vault"),
        )?;
    }
    let output = archipel(lab, file, &["status", "--output", "json"])?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    for vault in report["vaults"].as_array().ok_or("vaults")? {
        let node = vault["node"].as_str().unwrap_or("node1");
        let source = format!("backup-{}", vault["chaton"].as_str().unwrap_or("?"));
        let seen = vault_s3(lab, node)?.list(&source, "");
        let pass = lab.ssh(node, &format!("cat /var/lib/archipel/vault/{}.json; cat /etc/archipel/vault/vaults.conf; journalctl -u archipel-vault.service --no-pager -n 30", vault["chaton"].as_str().unwrap_or("?")));
        ensure(
            vault["stale"] == false
                && vault["failing"] == false
                && vault["last_pass"]["incidents"] == serde_json::json!([])
                && vault["last_pass"]["vault_objects"].as_u64().unwrap_or(0) > 0,
            format!(
                "{vault}\n{source} as the vault key lists it: {seen:?}\n{}",
                output_text(&pass)
            ),
        )?;
    }
    Ok(())
}

pub fn drill(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["drill", "chaton-1/data"])?;
    ensure(
        output.status.success() && output_text(&output).contains("Drill of chaton-1/data passed"),
        output_text(&output),
    )?;

    // Lose the repository's data packs (as a broken disk would), with the
    // job's own key.
    let s3 = job_s3(lab, "node7", "chaton-1-data", "node4")?;
    let packs = s3.list("backup-chaton-1", "data/data/")?;
    ensure(!packs.is_empty(), "the repository has data packs")?;
    for pack in &packs {
        s3.delete("backup-chaton-1", pack)?;
    }
    let output = archipel(lab, &file, &["drill", "chaton-1/data"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("FAILED"),
        output_text(&output),
    )?;
    let output = archipel(lab, &file, &["status", "--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let job = report["jobs"]
        .as_array()
        .ok_or("jobs")?
        .iter()
        .find(|j| j["chaton"] == "chaton-1")
        .ok_or("chaton-1")?
        .clone();
    ensure(
        job["failing"] == true && job["last_drill"]["exit_code"] != 0,
        format!("{job}"),
    )
}

/// chaton-4's bucket quota shrinks below what the next backup adds: Garage
/// refuses the upload, the run fails, and status says so in restic's words.
pub fn quota(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "2M")?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-4\"}'",
    )?;
    ensure(
        bucket["quotas"]["maxSize"] == 2_000_000u64,
        format!("the quota is applied: {bucket}"),
    )?;
    lab.ssh_ok("node8", "head -c 4000000 /dev/urandom > /srv/data/big")?;
    let run = lab.ssh(
        "node8",
        "systemctl start archipel-backup-chaton-4-other.service",
    );
    ensure(!run.status.success(), "the backup fails")?;
    lab.ssh_ok("node8", "rm /srv/data/big")?;
    let last = status(lab, "node8", "chaton-4-other", "backup")?;
    let error = last["error"].as_str().unwrap_or_default().to_lowercase();
    ensure(
        last["exit_code"] != 0 && error.contains("quota"),
        format!("the run records Garage's refusal: {last}"),
    )?;
    let output = archipel(lab, &file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.code() == Some(1), text.clone())?;
    ensure(
        text.contains("chaton-4/other")
            && text.contains("FAILING")
            && text.to_lowercase().contains("quota"),
        text,
    )
}
