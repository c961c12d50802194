//! A PostgreSQL database backed up by its dump: consistent while it is
//! written to, a failed dump never passing for a backup, hooks around it,
//! and drills that check the dump.

use crate::fixture::{
    Commands, DUMP, GOOD, HOST, JOB, archipelago, canary, committed, committed_at_one_instant,
    writer_is_writing,
};

/// Where the writer logs each id it committed.
const WRITER_LOG: &str = "/root/committed";
use archipel_tests::{Failed, Lab, archipel, ensure, jobs, output_text, record};

/// PostgreSQL from Debian's packages, a database `app` whose owner's
/// password is the canary (in `.pgpass` files only), the application's
/// files, and a writer inserting ids one by one, logging each committed.
fn set_up(lab: &Lab) -> Result<(), Failed> {
    let canary = canary(lab)?;
    lab.ssh_ok(
        HOST,
        "apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/tmp/apt.log 2>&1 || { tail /tmp/apt.log; exit 1; }",
    )?;
    lab.ssh_ok(
        HOST,
        &format!(
            "set -e
runuser -u postgres -- psql -qX -c \"create role app login password '{canary}'\" -c 'create database app owner app'
for home in /root /var/lib/postgresql; do
  printf '127.0.0.1:5432:app:app:{canary}\\n' > $home/.pgpass; chmod 600 $home/.pgpass
done
chown postgres: /var/lib/postgresql/.pgpass
PGPASSFILE=/root/.pgpass psql -qX -h 127.0.0.1 -U app app -c 'create table t (id int primary key, at timestamptz default now())'
mkdir -p /srv/app && echo '<?php echo 1;' > /srv/app/index.php
: > /root/committed
systemd-run -q --unit app-writer -E PGPASSFILE=/root/.pgpass sh -c 'i=0; while :; do i=$((i+1)); until psql -qAtX -h 127.0.0.1 -U app app -c \"insert into t (id) values ($i)\" >/dev/null 2>&1; do sleep 0.2; done; echo $i >> /root/committed; done'"
        ),
    )?;
    writer_is_writing(lab, WRITER_LOG)
}

fn apply(lab: &Lab, commands: &Commands<'_>) -> Result<String, Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), commands)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    Ok(log)
}

/// One backup run, as its timer would start it: whether it succeeded.
fn backup(lab: &Lab) -> Result<bool, Failed> {
    Ok(lab
        .ssh(
            HOST,
            &format!("systemctl start archipel-backup-{JOB}.service"),
        )
        .status
        .success())
}

fn snapshots(lab: &Lab) -> Result<Vec<serde_json::Value>, Failed> {
    let text = jobs::restic(lab, HOST, JOB, "snapshots --json")?;
    Ok(serde_json::from_str(&text)?)
}

/// The runner's record of the last backup and its journal, kept for the
/// secret sweep: a dump's or a hook's output must never carry the
/// database password there either.
fn last_run(lab: &Lab) -> Result<serde_json::Value, Failed> {
    let run = jobs::status(lab, HOST, JOB, "backup")?;
    record(&run.to_string());
    record(&lab.ssh_ok(
        HOST,
        &format!(
            "journalctl -q -o cat -u archipel-backup-{JOB}.service -u archipel-drill-{JOB}.service"
        ),
    )?);
    ensure(
        !run.to_string().contains(&canary(lab)?),
        format!("the database password is in the run's record: {run}"),
    )?;
    Ok(run)
}

/// The names and exit codes of the run's commands, in order.
fn steps(run: &serde_json::Value) -> Vec<(String, i64)> {
    run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let name = s["hook"]
                .as_str()
                .map(str::to_string)
                .or_else(|| s["dump"].as_str().map(|d| format!("dump {d}")))
                .unwrap_or_default();
            (name, s["exit_code"].as_i64().unwrap_or(-1))
        })
        .collect()
}

fn last_after(lab: &Lab) -> Result<String, Failed> {
    Ok(lab
        .ssh_ok(HOST, "tail -n 1 /root/after.log")?
        .trim()
        .to_string())
}

pub fn consistent_dump(lab: &Lab) -> Result<(), Failed> {
    set_up(lab)?;
    let log = apply(lab, &GOOD)?;
    ensure(
        log.contains("The archipelago matches the file."),
        log.clone(),
    )?;
    let units = lab.ssh_ok(
        HOST,
        &format!("systemctl cat archipel-backup-{JOB}.service; cat /etc/archipel/restic/{JOB}.env"),
    )?;
    ensure(
        !units.contains("ProtectSystem") && units.contains("ARCHIPEL_DUMP_1_USER='postgres'"),
        format!("a job with commands runs them unsandboxed, as their users: {units}"),
    )?;

    let before = committed(lab, WRITER_LOG)?;
    ensure(
        backup(lab)?,
        output_text(&lab.ssh(
            HOST,
            &format!("journalctl -q -o cat -u archipel-backup-{JOB}.service | tail -n 20"),
        )),
    )?;
    let after = committed(lab, WRITER_LOG)?;
    ensure(after > before, "the writer committed during the backup")?;

    let run = last_run(lab)?;
    ensure(run["exit_code"] == 0, format!("the run succeeded: {run}"))?;
    ensure(
        steps(&run)
            == [
                ("before".to_string(), 0),
                ("dump app-db".to_string(), 0),
                ("after".to_string(), 0),
            ],
        format!("before, the dump, after, in order: {run}"),
    )?;
    ensure(last_after(lab)? == "success:", "after saw the success")?;
    let listed = snapshots(lab)?;
    ensure(listed.len() == 1, format!("one snapshot: {listed:?}"))?;
    let paths = listed[0]["paths"].to_string();
    ensure(
        paths.contains("/srv/app") && paths.contains("/var/lib/archipel/dumps/chaton-2-app"),
        format!("the snapshot holds the files and the dump: {paths}"),
    )?;
    ensure(
        lab.ssh_ok(HOST, "test ! -e /var/lib/archipel/dumps/chaton-2-app && test ! -e /srv/app/MAINTENANCE && echo gone")?.trim() == "gone",
        "the dump is deleted after the run, and after ran",
    )?;

    // Restored from lab-a into a fresh PostgreSQL: it loads, and holds
    // exactly the ids committed at one instant during the run.
    let restored = lab.ssh_ok(
        HOST,
        &format!(
            "set -e; rm -rf /var/tmp/restore
set -a; . /etc/archipel/restic/{JOB}.env; . /etc/archipel/restic/{JOB}.s3; set +a
\"$ARCHIPEL_RESTIC\" restore latest --target /var/tmp/restore --include {DUMP} --include /srv/app/MAINTENANCE >/dev/null
test -e /var/tmp/restore/srv/app/MAINTENANCE || {{ echo 'before did not run before restic' >&2; exit 1; }}
pg_createcluster -q 15 fresh -p 5433 --start >/dev/null
runuser -u postgres -- createdb -p 5433 app
runuser -u postgres -- pg_restore -p 5433 -d app --no-owner --no-acl --exit-on-error < /var/tmp/restore{DUMP}
runuser -u postgres -- psql -p 5433 -qAtX -d app -c 'select count(*), min(id), max(id) from t'"
        ),
    )?;
    committed_at_one_instant(&restored, before, after)?;
    lab.ssh_ok(HOST, "pg_dropcluster --stop 15 fresh")?;
    Ok(())
}

pub fn failing_dump(lab: &Lab) -> Result<(), Failed> {
    // Half a dump, then the error a lost connection gives, naming the
    // connection with its password (read from the host's file).
    let broken = Commands {
        dump: "pg_dump -Fc -h 127.0.0.1 -U app app | head -c 4096; echo \"pg_dump: error: query failed: connection to postgresql://app:$(cut -d: -f5 ~/.pgpass)@127.0.0.1/app lost\" >&2; exit 1",
        ..GOOD
    };
    let log = apply(lab, &broken)?;
    ensure(
        log.contains("chaton.chaton-2.backup.app.settings"),
        format!("the plan shows the settings' change: {log}"),
    )?;
    let good = snapshots(lab)?;
    let success = jobs::status(lab, HOST, JOB, "backup.success")?;
    ensure(!backup(lab)?, "the run fails")?;
    let run = last_run(lab)?;
    let error = run["error"].as_str().unwrap_or_default();
    ensure(
        error
            == "dump app-db failed (exit 1): pg_dump: error: query failed: connection to postgresql://app:<redacted>@127.0.0.1/app lost",
        format!("the run says why, in the command's words: {run}"),
    )?;
    ensure(
        steps(&run)
            == [
                ("before".to_string(), 0),
                ("dump app-db".to_string(), 1),
                ("on_failure".to_string(), 0),
                ("after".to_string(), 0),
            ],
        format!("no restic after the failed dump; on_failure and after ran: {run}"),
    )?;
    ensure(
        snapshots(lab)?.len() == good.len(),
        "no snapshot of the failed run",
    )?;
    ensure(
        jobs::status(lab, HOST, JOB, "backup.success")? == success,
        "the last success is still the previous run",
    )?;
    ensure(
        last_after(lab)?.starts_with("failure: dump app-db failed (exit 1)"),
        "after saw the failure",
    )?;

    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &broken)?;
    let status = archipel(lab, &file, &["status"])?;
    let text = output_text(&status);
    ensure(
        !status.status.success()
            && text.contains("chaton-2/app: the backup of")
            && text.contains("dump app-db failed (exit 1): pg_dump: error: query failed")
            && text.contains("dump app-db FAILED (exit 1)"),
        format!("status says the backup failed, and why: {text}"),
    )?;
    let json = archipel(lab, &file, &["status", "--output", "json"])?;
    ensure(
        output_text(&json).contains("\"dump\": \"app-db\""),
        output_text(&json),
    )?;
    Ok(())
}

pub fn failing_before(lab: &Lab) -> Result<(), Failed> {
    let refused = Commands {
        before: "echo 'occ: could not enable maintenance mode' >&2; exit 3",
        ..GOOD
    };
    apply(lab, &refused)?;
    let count = snapshots(lab)?.len();
    ensure(!backup(lab)?, "the run fails")?;
    let run = last_run(lab)?;
    ensure(
        run["error"] == "before failed (exit 3): occ: could not enable maintenance mode",
        format!("the run says why: {run}"),
    )?;
    ensure(
        steps(&run)
            == [
                ("before".to_string(), 3),
                ("on_failure".to_string(), 0),
                ("after".to_string(), 0),
            ],
        format!("no dump and no restic after before failed: {run}"),
    )?;
    ensure(snapshots(lab)?.len() == count, "no snapshot")?;
    ensure(
        last_after(lab)?
            == "failure: before failed (exit 3): occ: could not enable maintenance mode",
        "after ran anyway and saw the outcome",
    )?;
    Ok(())
}

pub fn drill(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    apply(lab, &GOOD)?;
    ensure(backup(lab)?, "the backup succeeds again")?;
    let file = archipelago(dir.path(), &GOOD)?;
    let output = archipel(lab, &file, &["drill", "chaton-2/app"])?;
    let text = output_text(&output);
    ensure(
        output.status.success() && text.contains("dump app-db restored and accepted by its check"),
        text.clone(),
    )?;
    let run = jobs::status(lab, HOST, JOB, "drill")?;
    record(&run.to_string());
    let step = &run["steps"][0];
    ensure(
        step["dump"] == "app-db"
            && step["checked"] == true
            && step["exit_code"] == 0
            && step["bytes"].as_u64().unwrap_or(0) > 1000,
        format!("the drill restored the dump and checked it: {run}"),
    )?;
    let status = archipel(lab, &file, &["status"])?;
    let text = output_text(&status);
    ensure(
        status.status.success() && text.contains("dump app-db") && text.contains("checked ok"),
        format!("status shows the commands of the last runs: {text}"),
    )?;
    lab.ssh_ok(HOST, "systemctl stop app-writer")?;
    last_run(lab)?;
    Ok(())
}
