//! Jobs that leave the file: taken off their host, their repository kept.

use crate::fixture::{job_s3, live_escrow, renamed, status};
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, output_text};

/// chaton-4's job `data` leaves the file, another job of the chaton takes
/// its place on node8: `data` is refused without --allow-destroy, then
/// taken off node8 with it (timers, units, files, and its escrowed
/// password); its repository and escrow stay in the bucket.
pub fn removed_job(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "1G")?;
    let s3 = job_s3(lab, "node8", "chaton-4-data", "node1")?;
    let repository = s3.list("backup-chaton-4", "data/")?.len();
    ensure(repository > 0, "the repository has objects")?;

    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        text.contains("- chaton.chaton-4.backup.data")
            && text.contains("no longer in the file")
            && text.contains("removed from the host (it is escrowed)"),
        text.clone(),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(
        !output.status.success() && output_text(&output).contains("--allow-destroy"),
        output_text(&output),
    )?;
    ensure(
        lab.ssh(
            "node8",
            "systemctl is-active --quiet archipel-backup-chaton-4-data.timer",
        )
        .status
        .success(),
        "refused before any change",
    )?;

    let output = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    let left = lab.ssh_ok(
        "node8",
        "ls /etc/archipel/restic/ /etc/systemd/system/ /var/lib/archipel/backups/ /var/lib/prometheus/node-exporter/ 2>/dev/null | grep chaton-4-data || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let units = lab.ssh(
        "node8",
        "systemctl list-units --all --plain --no-legend 'archipel-*-chaton-4-data.*' | grep -c .",
    );
    ensure(
        String::from_utf8_lossy(&units.stdout).trim() == "0",
        "no unit of the job is loaded",
    )?;
    ensure(
        s3.list("backup-chaton-4", "data/")?.len() == repository,
        "the repository is untouched",
    )?;
    // The escrow stays.
    live_escrow(&s3, "backup-chaton-4")?;
    // The new job runs beside it, in the same bucket.
    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-other.service",
    )?;
    let run = status(lab, "node8", "chaton-4-other", "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// chaton-4's last job goes, and node8 leaves the file with it: a
/// `removed` block names node8 so apply still takes the job off. While
/// chaton-4 has `prevent_destroy`, the plan is an error.
pub fn removed_block(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "2M")?;
    let text = std::fs::read_to_string(&file)?;
    let start = text.find("  backup \"other\" {").ok_or("other")?;
    let end = start + text[start..].find("  }\n").ok_or("end")? + 4;
    let without = format!(
        "{}  removed \"other\" {{\n    host = \"root@node8\"\n  }}\n{}",
        &text[..start],
        &text[end..]
    );
    let guarded = without.replacen(
        "contact = \"admin@chaton-4.lab\"",
        "contact = \"admin@chaton-4.lab\"\n  prevent_destroy = true",
        1,
    );
    std::fs::write(&file, &guarded)?;
    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("chaton \"chaton-4\" has prevent_destroy = true"),
        text,
    )?;

    std::fs::write(&file, &without)?;
    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        text.contains("- chaton.chaton-4.backup.other")
            && text.contains("- island.lab-a.key.archipel-chaton-4"),
        text,
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    ensure(output.status.success(), output_text(&output))?;
    let left = lab.ssh_ok(
        "node8",
        "ls /etc/archipel/restic/ /etc/systemd/system/ /var/lib/archipel/backups/ | grep chaton-4-other || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let keys = api(lab, "node1", "ListKeys")?;
    ensure(
        !keys.to_string().contains("archipel-chaton-4"),
        format!("chaton-4's key is gone: {keys}"),
    )?;
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-4\"}'",
    )?;
    ensure(
        bucket["objects"].as_u64().unwrap_or(0) > 0,
        format!("the backups stay: {bucket}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(0) && text.contains("the `removed` block can go"),
        text,
    )
}
