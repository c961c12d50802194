//! Backups against real machines: two islands, two chatons backing up to
//! each other's island with restic under systemd, retention, and no secret
//! in archipel's output.

use archipel_tests::s3::S3;
use archipel_tests::{
    Failed, Lab, archipel, ensure, garage_api as api, garage_build, output_text, run_lab_tests,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    run_lab_tests(
        8,
        &[
            (
                "a_backup_lands_in_the_other_island_and_restores",
                backs_up_to_the_other_island,
            ),
            ("applying_again_changes_nothing", idempotent),
            ("status_tells_fresh_from_stale", status_report),
            ("retention_keeps_what_keep_allows", retention),
            ("a_drill_passes_then_fails_once_packs_are_lost", drill),
        ],
    )
}

/// Two islands of three chatons; chaton-1 (lab-a) backs up node7 to
/// lab-b, chaton-4 (lab-b) backs up node8 to lab-a, with the host's restic
/// pinned (lab nodes have no network for apt).
fn archipelago(dir: &Path) -> Result<PathBuf, Failed> {
    let (garage, sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let mut text = String::new();
    for island in ["lab-a", "lab-b"] {
        text.push_str(&format!(
            "island \"{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
    }
    for i in 1..=6 {
        let (island, other) = if i <= 3 {
            ("lab-a", "lab-b")
        } else {
            ("lab-b", "lab-a")
        };
        let backup = match i {
            1 => Some(7),
            4 => Some(8),
            _ => None,
        }
        .map(|host| {
            format!(
                "\n  backup \"data\" {{\n    host     = \"root@node{host}\"\n    to       = \"{other}\"\n    paths    = [\"/srv/data\"]\n    exclude  = [\"*.tmp\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n  }}\n"
            )
        })
        .unwrap_or_default();
        text.push_str(&format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"admin@chaton-{i}.lab\"\n\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n{backup}}}\n\n"
        ));
    }
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn sha256_of(path: &str) -> Result<String, Failed> {
    let output = Command::new("sha256sum").arg(path).output()?;
    ensure(output.status.success(), output_text(&output))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .ok_or("sha256sum")?
        .to_string())
}

/// restic on a backup host, with the job's own files.
fn restic(lab: &Lab, node: &str, job: &str, args: &str) -> Result<String, Failed> {
    Ok(lab.ssh_ok(
        node,
        &format!(
            "set -a; . /etc/archipel/restic/{job}.env; . /etc/archipel/restic/{job}.s3; set +a; \"$ARCHIPEL_RESTIC\" {args}"
        ),
    )?)
}

/// The job's last run, as its status file records it.
fn status(lab: &Lab, node: &str, job: &str, task: &str) -> Result<serde_json::Value, Failed> {
    Ok(serde_json::from_str(&lab.ssh_ok(
        node,
        &format!("cat /var/lib/archipel/backups/{job}.{task}.json"),
    )?)?)
}

fn backs_up_to_the_other_island(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    for node in ["node7", "node8"] {
        lab.ssh_ok(
            node,
            "mkdir -p /srv/data/sub && head -c 300000 /dev/urandom > /srv/data/blob && echo hello > /srv/data/sub/note && echo skip > /srv/data/x.tmp",
        )?;
    }
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("The archipelago matches the file."),
        log.clone(),
    )?;
    for address in [
        "host.node7.restic: done",
        "host.node7.runner: done",
        "chaton.chaton-1.backup.data.password: done",
        "chaton.chaton-1.backup.data.credentials: done",
        "chaton.chaton-1.backup.data.repository: done",
        "chaton.chaton-1.backup.data.backup.timer: done",
        "chaton.chaton-1.backup.data.prune.timer: done",
        "chaton.chaton-1.backup.data.check.timer: done",
    ] {
        ensure(log.contains(address), format!("{address} missing: {log}"))?;
    }

    // No secret in what archipel printed.
    for (node, job) in [("node7", "chaton-1-data"), ("node8", "chaton-4-data")] {
        let files = lab.ssh_ok(
            node,
            &format!(
                "stat -c '%U:%G %a %n' /etc/archipel/restic/{job}.s3 /etc/archipel/restic/{job}.password"
            ),
        )?;
        ensure(
            files.lines().all(|l| l.starts_with("root:root 600 ")),
            format!("secrets are root-only: {files}"),
        )?;
        let password = lab.ssh_ok(node, &format!("cat /etc/archipel/restic/{job}.password"))?;
        let secret = lab.ssh_ok(
            node,
            &format!("sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/{job}.s3"),
        )?;
        for value in [password.trim(), secret.trim()] {
            ensure(value.len() >= 32, "a real secret")?;
            ensure(
                !log.contains(value),
                format!("a secret of {job} was printed"),
            )?;
        }
    }

    // A run by hand: a snapshot in the other island's bucket.
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-backup-chaton-1-data.service",
    )?;
    let run = status(lab, "node7", "chaton-1-data", "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))?;
    ensure(run["command"] == "backup", format!("{run}"))?;
    ensure(run["restic_version"] == "0.14.0", format!("{run}"))?;
    let snapshot = run["summary"]["snapshot_id"]
        .as_str()
        .ok_or("no snapshot id")?;
    ensure(
        run["summary"]["files_new"] == 2,
        format!("two files, the excluded one left out: {run}"),
    )?;
    let bucket = api(
        lab,
        "node4",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-1\"}'",
    )?;
    ensure(
        bucket["objects"].as_u64().unwrap_or(0) > 0,
        format!("the repository is on lab-b: {bucket}"),
    )?;
    let buckets = api(lab, "node1", "ListBuckets")?;
    ensure(
        !buckets.to_string().contains("backup-chaton-1"),
        format!("and not on lab-a: {buckets}"),
    )?;

    // What was backed up restores byte for byte.
    restic(
        lab,
        "node7",
        "chaton-1-data",
        &format!("restore {snapshot} --target /tmp/restored >/dev/null"),
    )?;
    lab.ssh_ok(
        "node7",
        "cmp /srv/data/blob /tmp/restored/srv/data/blob && cmp /srv/data/sub/note /tmp/restored/srv/data/sub/note && test ! -e /tmp/restored/srv/data/x.tmp",
    )?;
    let timers = lab.ssh_ok(
        "node7",
        "systemctl is-enabled archipel-backup-chaton-1-data.timer archipel-prune-chaton-1-data.timer archipel-check-chaton-1-data.timer; systemctl is-active archipel-backup-chaton-1-data.timer",
    )?;
    ensure(timers == "enabled\nenabled\nenabled\nactive\n", timers)
}

fn idempotent(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

fn retention(lab: &Lab) -> Result<(), Failed> {
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
    ensure(count(lab)?.len() == 3, "three snapshots")?;
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

fn status_report(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
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

    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-data.service",
    )?;
    let output = archipel(lab, &file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("All 2 backup jobs are fresh and passing."),
        text.clone(),
    )?;
    ensure(text.contains("lab-a: healthy, 3/3 storage nodes up"), text)
}

fn drill(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    let output = archipel(lab, &file, &["drill", "chaton-1/data"])?;
    ensure(
        output.status.success() && output_text(&output).contains("Drill of chaton-1/data passed"),
        output_text(&output),
    )?;

    // Lose the repository's data packs (as a broken disk would), with the
    // job's own key.
    let key = |name: &str| -> Result<String, Failed> {
        Ok(lab
            .ssh_ok(
                "node7",
                &format!("sed -n 's/^{name}=//p' /etc/archipel/restic/chaton-1-data.s3"),
            )?
            .trim()
            .to_string())
    };
    let node4 = lab.node("node4").ok_or("node4")?.address;
    let s3 = S3::new(
        &format!("http://{node4}:3900"),
        "garage",
        &key("AWS_ACCESS_KEY_ID")?,
        &key("AWS_SECRET_ACCESS_KEY")?,
    );
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
