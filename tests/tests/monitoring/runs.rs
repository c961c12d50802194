//! The jobs' runs: their pings, as a real receiver gets them, and their
//! textfiles, as promtool reads them.

use crate::fixture::{Ping, Receiver, archipelago};
use crate::metrics::{promtool_check, value};
use archipel_tests::{Failed, Lab, archipel, archipel_with_env, ensure, output_text};
use std::time::{Duration, Instant};

const TEXTFILES: &str = "/var/lib/prometheus/node-exporter";

pub fn good_failing_and_stale(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    let receiver = Receiver::start(lab)?;
    lab.ssh_ok(
        "node4",
        &format!(
            "mkdir -p /srv/good /srv/stale /srv/full /srv/kuma && head -c 300000 /dev/urandom > /srv/good/blob && echo hi > /srv/stale/note && echo hi > /srv/kuma/note && head -c 4000000 /dev/urandom > /srv/full/big && umask 077 && echo '{base}/full' > /etc/archipel-full-ping && echo '{base}/stale-topic' > /etc/archipel-stale-ping && echo '{base}/api/push/k1?status=up&msg=OK&ping=' > /etc/archipel-kuma-ping",
            base = receiver.base
        ),
    )?;

    // Without the variable, apply stops before anything changes.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(!output.status.success(), log.clone())?;
    ensure(
        log.contains("$CHATON3_PING (the ping URL of backup chaton-3/good) is not set")
            && log.contains("nothing was changed"),
        log.clone(),
    )?;
    let touched = lab.ssh("node1", "test -e /usr/local/bin/garage");
    ensure(!touched.status.success(), "nothing was installed")?;

    let url = format!("{}/c3", receiver.base);
    let env = [("CHATON3_PING", url.as_str())];
    let output = archipel_with_env(lab, &file, &["apply", "--auto-approve"], &env)?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("chaton.chaton-3.backup.good.ping: done") && !log.contains(&receiver.base),
        format!("the URL is written, never shown: {log}"),
    )?;
    let written = lab.ssh_ok(
        "node4",
        "stat -c '%U:%G %a' /etc/archipel/restic/chaton-3-good.ping && cat /etc/archipel/restic/chaton-3-good.ping",
    )?;
    ensure(
        written == format!("root:root 600\n{url}\n"),
        format!("root's alone: {written}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;

    // The stale job runs once, its timer stopped: it turns stale after two
    // minutes. Then a good backup, and one over its quota.
    lab.ssh_ok(
        "node4",
        "systemctl stop archipel-backup-chaton-3-stale.timer",
    )?;
    start(lab, "archipel-backup-chaton-3-stale.service", true)?;
    start(lab, "archipel-backup-chaton-3-good.service", true)?;
    start(lab, "archipel-backup-chaton-3-kuma.service", true)?;
    start(lab, "archipel-backup-chaton-2-full.service", false)?;

    pings_arrive(&receiver)?;
    textfiles_tell_each_run(lab)?;

    // With no one listening, the pings fail and the backup does not.
    drop(receiver);
    start(lab, "archipel-backup-chaton-3-good.service", true)?;
    let journal = lab.ssh_ok(
        "node4",
        "journalctl -u archipel-backup-chaton-3-good.service --no-pager -n 200",
    )?;
    ensure(
        journal.contains("the start ping failed") && journal.contains("the success ping failed"),
        journal,
    )
}

/// Runs a job's service on node4 to its end: it succeeds or fails as
/// `succeeds` says, else its journal says why.
fn start(lab: &Lab, unit: &str, succeeds: bool) -> Result<(), Failed> {
    let run = lab.ssh("node4", &format!("systemctl start {unit}"));
    if run.status.success() == succeeds {
        return Ok(());
    }
    let journal = lab.ssh("node4", &format!("journalctl -u {unit} --no-pager -n 40"));
    Err(format!(
        "{unit} {}: {}",
        if succeeds { "failed" } else { "succeeded" },
        output_text(&journal)
    )
    .into())
}

/// Each service's way: healthchecks' start and success for `good`, its
/// start and failure, in restic's words, for `full`; ntfy's quiet message
/// for `stale`; Uptime Kuma's `up` for `kuma`.
fn pings_arrive(receiver: &Receiver) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = |pings: &[Ping]| {
        let to = |target: &str| {
            pings
                .iter()
                .filter(|p| p.target == target)
                .collect::<Vec<_>>()
        };
        let (good_start, good, full_start, full_fail) = (
            to("/c3/start"),
            to("/c3"),
            to("/full/start"),
            to("/full/fail"),
        );
        let stale = to("/stale-topic");
        let kuma: Vec<&Ping> = pings
            .iter()
            .filter(|p| p.target.starts_with("/api/push/k1?"))
            .collect();
        good_start.len() == 1
            && good.len() == 1
            && good[0].body.contains("backup of chaton-3/good saved snapshot")
            && full_start.len() == 1
            && full_fail.len() == 1
            && full_fail[0].method == "POST"
            && full_fail[0].body.contains("backup of chaton-2/full failed")
            && full_fail[0].body.to_lowercase().contains("quota")
            // (Its minutely timer may have run it once before the test
            // stopped it.)
            && !stale.is_empty()
            && stale.iter().all(|p| p.headers.iter().any(|h| h == "Priority: min"))
            && stale[0].body.contains("backup of chaton-3/stale saved snapshot")
            && kuma.len() == 1
            && kuma[0].method == "GET"
            && kuma[0].target.contains("status=up")
            && kuma[0].target.contains("msg=")
            && kuma[0].target.contains("ping=")
    };
    loop {
        let pings = receiver.pings();
        if wanted(&pings) {
            // What the hosts sent is swept for secrets with archipel's
            // outputs.
            for ping in &pings {
                archipel_tests::record(&format!("{} {}\n{}", ping.method, ping.target, ping.body));
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the pings: {pings:#?}").into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Each job's textfile: accepted by promtool, with the run's values.
fn textfiles_tell_each_run(lab: &Lab) -> Result<(), Failed> {
    let listed = lab.ssh_ok("node4", &format!("ls {TEXTFILES}"))?;
    ensure(
        listed.split_whitespace().collect::<Vec<_>>()
            == [
                "archipel-chaton-2-full.prom",
                "archipel-chaton-3-good.prom",
                "archipel-chaton-3-kuma.prom",
                "archipel-chaton-3-stale.prom",
            ],
        listed.clone(),
    )?;
    let read = |id: &str| lab.ssh_ok("node4", &format!("cat {TEXTFILES}/archipel-{id}.prom"));
    let good = read("chaton-3-good")?;
    promtool_check(&good)?;
    let backup = "chaton=\"chaton-3\",backup=\"good\",task=\"backup\"";
    let island = "chaton=\"chaton-3\",backup=\"good\",repository=\"island\"";
    ensure(
        value(&good, "archipel_backup_last_exit_code", backup) == Some(0.0),
        good.clone(),
    )?;
    ensure(
        value(&good, "archipel_backup_snapshots", island) == Some(1.0),
        good.clone(),
    )?;
    ensure(
        value(&good, "archipel_backup_repository_bytes", island).is_some_and(|b| b > 300_000.0)
            && value(&good, "archipel_backup_last_added_bytes", backup).is_some_and(|b| b > 0.0)
            && value(
                &good,
                "archipel_backup_last_success_timestamp_seconds",
                backup,
            ) == value(&good, "archipel_backup_last_run_timestamp_seconds", backup),
        good.clone(),
    )?;
    // Daily: stale after two days.
    ensure(
        value(
            &good,
            "archipel_backup_stale_after_seconds",
            "chaton=\"chaton-3\",backup=\"good\"",
        ) == Some(172_800.0),
        good.clone(),
    )?;
    let full = read("chaton-2-full")?;
    promtool_check(&full)?;
    let backup = "chaton=\"chaton-2\",backup=\"full\",task=\"backup\"";
    ensure(
        value(&full, "archipel_backup_last_exit_code", backup).is_some_and(|c| c != 0.0)
            && value(
                &full,
                "archipel_backup_last_success_timestamp_seconds",
                backup,
            ) == Some(0.0),
        full.clone(),
    )?;
    let stale = read("chaton-3-stale")?;
    promtool_check(&stale)?;
    ensure(
        value(
            &stale,
            "archipel_backup_stale_after_seconds",
            "chaton=\"chaton-3\",backup=\"stale\"",
        ) == Some(120.0),
        stale,
    )
}
