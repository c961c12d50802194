//! A job that backs up to a repository on its own host ("J-0 local"),
//! copied to the island on its own schedule ("J-1 remote").

use crate::fixture::{Commands, FILES_JOB, GOOD, HOST, LOCAL, archipelago};
use archipel_tests::{Failed, Lab, archipel, ensure, jobs, output_text};

/// restic on the host with the job's files, against the local repository
/// (`local`) or the island's.
fn restic(lab: &Lab, local: bool, args: &str) -> Result<String, Failed> {
    let repository = if local {
        format!("-r {LOCAL} ")
    } else {
        String::new()
    };
    jobs::restic(lab, HOST, FILES_JOB, &format!("{repository}{args}"))
}

fn snapshots(lab: &Lab, local: bool) -> Result<Vec<serde_json::Value>, Failed> {
    Ok(serde_json::from_str(&restic(
        lab,
        local,
        "snapshots --json",
    )?)?)
}

fn start(lab: &Lab, task: &str) -> Result<(), Failed> {
    let started = lab.ssh(
        HOST,
        &format!("systemctl start archipel-{task}-{FILES_JOB}.service"),
    );
    ensure(
        started.status.success(),
        format!(
            "the {task} ran: {}",
            output_text(&lab.ssh(
                HOST,
                &format!(
                    "journalctl -q -o cat -u archipel-{task}-{FILES_JOB}.service | tail -n 20"
                )
            ))
        ),
    )
}

/// Every file restored from the latest snapshot of one repository, by its
/// SHA-256, as `sha256sum` lists it from `/srv/files`.
fn restored(lab: &Lab, local: bool) -> Result<String, Failed> {
    lab.ssh_ok(HOST, "rm -rf /var/tmp/files-restore")?;
    restic(lab, local, "restore latest --target /var/tmp/files-restore")?;
    Ok(lab.ssh_ok(
        HOST,
        "cd /var/tmp/files-restore/srv/files && find . -type f | sort | xargs sha256sum",
    )?)
}

pub fn copied(lab: &Lab) -> Result<(), Failed> {
    lab.ssh_ok(
        HOST,
        "mkdir -p /srv/files/docs && head -c 400000 /dev/urandom > /srv/files/blob && echo 'minutes of the meeting' > /srv/files/docs/minutes.txt",
    )?;
    let source = lab.ssh_ok(
        HOST,
        "cd /srv/files && find . -type f | sort | xargs sha256sum",
    )?;
    start(lab, "backup")?;
    ensure(
        snapshots(lab, true)?.len() == 1,
        "the backup went to the local repository",
    )?;
    ensure(
        snapshots(lab, false)?.is_empty(),
        "and not yet to the island",
    )?;

    start(lab, "copy")?;
    let (local, island) = (snapshots(lab, true)?, snapshots(lab, false)?);
    ensure(
        island.len() == 1,
        format!("the copy reached lab-a: {island:?}"),
    )?;
    ensure(
        local[0]["tree"] == island[0]["tree"],
        "the same tree on both sides: the chunker parameters are shared, the data deduplicates",
    )?;
    ensure(
        restored(lab, true)? == source,
        "the local repository restores the files",
    )?;
    ensure(
        restored(lab, false)? == source,
        "lab-a restores the same files",
    )?;
    let copy = jobs::status(lab, HOST, FILES_JOB, "copy")?;
    ensure(copy["exit_code"] == 0, format!("the copy's record: {copy}"))?;
    start(lab, "prune")?;
    start(lab, "check")?;

    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &GOOD)?;
    let status = archipel(lab, &file, &["status"])?;
    let text = output_text(&status);
    ensure(
        text.contains("Local repositories, copied to the island")
            && text.contains("chaton-2/files: last backup ")
            && text.contains(&format!("in {LOCAL}; copied to lab-a ")),
        format!("status shows both, with their ages: {text}"),
    )?;
    let json = archipel(lab, &file, &["status", "--output", "json"])?;
    let report: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    let job = report["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|j| j["job"] == "files")
        .ok_or("the files job in status")?;
    ensure(
        job["local"]["path"] == LOCAL
            && job["local"]["copy_age_seconds"].is_u64()
            && job["stale"] == false,
        format!("status JSON: {job}"),
    )
}

pub fn lost(lab: &Lab) -> Result<(), Failed> {
    let source = lab.ssh_ok(
        HOST,
        "cd /srv/files && find . -type f | sort | xargs sha256sum",
    )?;
    lab.ssh_ok(HOST, &format!("rm -rf {LOCAL}"))?;
    ensure(
        restored(lab, false)? == source,
        "lab-a still restores everything",
    )?;

    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &GOOD)?;
    let plan = archipel(lab, &file, &["plan"])?;
    let text = output_text(&plan);
    ensure(
        text.contains("chaton.chaton-2.backup.files.local_repository")
            && text.contains("the local repository does not exist"),
        format!("the plan makes the local repository again: {text}"),
    )?;
    let applied = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(applied.status.success(), output_text(&applied))?;
    let config = |local| -> Result<serde_json::Value, Failed> {
        Ok(serde_json::from_str(&restic(lab, local, "cat config")?)?)
    };
    ensure(
        config(true)?["chunker_polynomial"] == config(false)?["chunker_polynomial"],
        "made again with lab-a's chunker parameters",
    )?;
    lab.ssh_ok(HOST, "echo 'a new page' > /srv/files/docs/new.txt")?;
    start(lab, "backup")?;
    start(lab, "copy")?;
    ensure(
        snapshots(lab, false)?.len() == 2,
        "the next backup reaches lab-a beside the first",
    )?;
    let source = lab.ssh_ok(
        HOST,
        "cd /srv/files && find . -type f | sort | xargs sha256sum",
    )?;
    ensure(restored(lab, false)? == source, "and restores from there")
}

pub fn removed(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(
        dir.path(),
        &Commands {
            local: false,
            ..GOOD
        },
    )?;
    let refused = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let text = output_text(&refused);
    ensure(
        !refused.status.success()
            && text.contains("chaton.chaton-2.backup.files.copy.timer")
            && text.contains("nothing is copied to the island from it")
            && text.contains("--allow-destroy"),
        format!("taking the copy off is said, and waits for --allow-destroy: {text}"),
    )?;
    let applied = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    ensure(applied.status.success(), output_text(&applied))?;
    ensure(
        lab.ssh_ok(
            HOST,
            &format!("test ! -e /etc/systemd/system/archipel-copy-{FILES_JOB}.timer && ! systemctl is-active --quiet archipel-copy-{FILES_JOB}.timer && echo gone"),
        )?
        .trim()
            == "gone",
        "the copy's timer is gone",
    )?;
    let before = snapshots(lab, false)?.len();
    start(lab, "backup")?;
    ensure(
        snapshots(lab, false)?.len() == before + 1,
        "backups now go to the island itself",
    )?;
    let plan = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(plan.status.code() == Some(0), output_text(&plan))
}
