//! A job's runs: a backup lands in the other island and restores, with no
//! secret printed; it goes through another node when its first does not
//! answer; applying again changes nothing.

use crate::fixture::{archipelago, escrow_keys, job_s3, live_escrow, restic, status};
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, output_text};
use std::path::Path;

pub fn backs_up_to_the_other_island(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
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
        "chaton.chaton-1.backup.data.escrow: done",
        "chaton.chaton-1.backup.data.backup.timer: done",
        "chaton.chaton-1.backup.data.prune.timer: done",
        "chaton.chaton-1.backup.data.check.timer: done",
    ] {
        ensure(log.contains(address), format!("{address} missing: {log}"))?;
    }

    no_secret_is_printed(lab, &log)?;
    the_password_is_escrowed(lab)?;
    a_run_by_hand_restores(lab)
}

/// No secret in what archipel printed: the secrets are root-only files on
/// the hosts, and the log of the apply shows none of them.
fn no_secret_is_printed(lab: &Lab, log: &str) -> Result<(), Failed> {
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
    Ok(())
}

/// The password is escrowed beside the repository, under a name of its
/// time of writing, readable with chaton-1's admin key only; the host's
/// record names where.
fn the_password_is_escrowed(lab: &Lab) -> Result<(), Failed> {
    let password = lab.ssh_ok("node7", "cat /etc/archipel/restic/chaton-1-data.password")?;
    let s3 = job_s3(lab, "node7", "chaton-1-data", "node4")?;
    let (_, sealed) = live_escrow(&s3, "backup-chaton-1")?;
    let record = lab.ssh_ok("node7", "cat /etc/archipel/restic/chaton-1-data.escrow")?;
    ensure(
        record.contains(
            "s3://backup-chaton-1/data.escrow/, the newest TIME.age there, on island lab-b",
        ),
        record.clone(),
    )?;
    ensure(
        sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
            && !String::from_utf8_lossy(&sealed).contains(password.trim()),
        "the escrow is an age file that does not show the password",
    )?;
    let identity: age::x25519::Identity = std::fs::read_to_string(escrow_keys(lab)?.age_identity)?
        .trim()
        .parse()
        .map_err(|e: &str| e.to_string())?;
    let opened = age::decrypt(&identity, &sealed).map_err(|e| format!("{e}"))?;
    ensure(
        opened == password.as_bytes(),
        "the escrow opens to the host's password",
    )?;
    Ok(())
}

/// A run by hand: a snapshot in the other island's bucket, that restores
/// byte for byte, and the job's timers on.
fn a_run_by_hand_restores(lab: &Lab) -> Result<(), Failed> {
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

/// The job's repository names its island's first node; when the backup
/// host cannot reach it (the host alone resolves that node's name to an
/// address where nothing listens, so the island itself stays healthy), the
/// runner uses the next node, and the backup succeeds.
pub fn first_node_down(lab: &Lab) -> Result<(), Failed> {
    let job = "chaton-1-data";
    let settings = lab.ssh_ok("node7", &format!("cat /etc/archipel/restic/{job}.env"))?;
    let first = settings
        .lines()
        .find_map(|l| l.strip_prefix("RESTIC_REPOSITORY='s3:http://"))
        .and_then(|rest| rest.split(':').next())
        .ok_or_else(|| format!("no repository in {settings}"))?
        .to_string();
    ensure(
        settings.contains("ARCHIPEL_S3_ENDPOINTS='http://"),
        format!("the settings list the island's nodes: {settings}"),
    )?;
    let before = restic(lab, "node7", job, "snapshots --json")?;
    // Containers may not change their routes: the name moves instead.
    lab.ssh_ok(
        "node7",
        &format!(
            "cp /etc/hosts /etc/hosts.before-test && sed -i 's/^[^ ]* {first}$/127.0.0.2 {first}/' /etc/hosts && grep -q '^127.0.0.2 {first}$' /etc/hosts"
        ),
    )?;
    let run = lab.ssh(
        "node7",
        &format!("systemctl start archipel-backup-{job}.service"),
    );
    let journal = lab.ssh_ok(
        "node7",
        &format!("journalctl -u archipel-backup-{job}.service -n 200 --no-pager"),
    )?;
    lab.ssh_ok("node7", "mv -f /etc/hosts.before-test /etc/hosts")?;
    ensure(
        run.status.success(),
        format!("the backup failed: {journal}"),
    )?;
    ensure(
        journal.contains(&format!(
            "http://{first}:3900 does not answer, using http://"
        )),
        journal.clone(),
    )?;
    let record = status(lab, "node7", job, "backup")?;
    ensure(record["exit_code"] == 0, record.to_string())?;
    let after = restic(lab, "node7", job, "snapshots --json")?;
    let count = |text: &str| serde_json::from_str::<Vec<serde_json::Value>>(text).map(|v| v.len());
    ensure(
        count(&after)? == count(&before)? + 1,
        format!("one more snapshot: {before} then {after}"),
    )
}

pub fn idempotent(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// A converged plan's repository probe of chaton-1's job on node7, from the
/// observation it saved.
fn planned_repository_probe(lab: &Lab, file: &Path, dir: &Path) -> Result<(i64, String), Failed> {
    let observed = dir.join("observed.json");
    let saved = observed.display().to_string();
    let output = archipel(
        lab,
        file,
        &["plan", "--detailed-exitcode", "--save-observed", &saved],
    )?;
    ensure(output.status.code() == Some(0), output_text(&output))?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&observed)?)?;
    let probe = &json["machines"]["node7"]["facts"]["probes"]["repository:chaton-1-data"];
    Ok((
        probe["status"].as_i64().unwrap_or(-1),
        probe["output"].as_str().unwrap_or_default().to_string(),
    ))
}

/// A plan after the job's own run opens no repository (restic's key
/// derivation is half a second of CPU per job): the runner recorded the
/// identity of the files it opened it with. A file changed since (here its
/// password file touched) makes the plan open it with restic again; the
/// record holds no secret.
pub fn opened_repositories_are_not_opened_again(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    // Converged already when the tests before it ran; on its own, made so.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    lab.ssh_ok(
        "node7",
        "mkdir -p /srv/data && systemctl start archipel-backup-chaton-1-data.service",
    )?;
    let record = lab.ssh_ok(
        "node7",
        "cat /var/lib/archipel/backups/chaton-1-data.opened",
    )?;
    let lines: Vec<&str> = record.lines().collect();
    ensure(
        lines.len() == 2
            && lines[0].split_whitespace().count() == 3
            && lines[0].split_whitespace().all(|id| {
                id.split(':').count() == 5 && id.chars().all(|c| c.is_ascii_digit() || c == ':')
            })
            && lines[1].parse::<u64>().is_ok(),
        format!("the record is not three file identities and a time: {record:?}"),
    )?;
    let (status, said) = planned_repository_probe(lab, &file, dir.path())?;
    ensure(
        status == 0 && said == format!("opened by the job's run at {}", lines[1]),
        format!("the plan opened the repository again: {status} {said:?}"),
    )?;

    lab.ssh_ok("node7", "touch /etc/archipel/restic/chaton-1-data.password")?;
    let (status, said) = planned_repository_probe(lab, &file, dir.path())?;
    ensure(
        status == 0 && !said.contains("opened by"),
        format!("a changed password file kept the record: {status} {said:?}"),
    )?;
    // The next run records the new identity.
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-backup-chaton-1-data.service",
    )?;
    let (_, said) = planned_repository_probe(lab, &file, dir.path())?;
    ensure(said.starts_with("opened by the job's run"), said)
}
