//! A lost host recovered from the escrow.

use crate::fixture::{archipelago, escrow_keys, job_s3, live_escrow, restic, status};
use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::path::Path;
use std::process::Output;

/// node8 (chaton-4's backup host) is lost: its archipel files are gone.
/// apply refuses to make a new password for the existing repository; the
/// escrow brings the old one to a fresh machine (node9), which restores
/// the data byte for byte; then node8 itself is recovered and apply
/// converges again.
pub fn lost_host(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let keys = escrow_keys(lab)?;
    let job = "chaton-4-data";
    let original = lab.ssh_ok("node8", "sha256sum /srv/data/blob /srv/data/sub/note")?;
    let password = lab.ssh_ok("node8", &format!("cat /etc/archipel/restic/{job}.password"))?;
    let s3 = job_s3(lab, "node8", job, "node1")?;
    let escrowed = live_escrow(&s3, "backup-chaton-4")?;

    lab.ssh_ok(
        "node8",
        "systemctl disable --now --quiet $(systemctl list-unit-files --plain --no-legend 'archipel-*' | cut -d' ' -f1) && rm -f /etc/systemd/system/archipel-* && systemctl daemon-reload && rm -rf /etc/archipel /var/lib/archipel /var/cache/archipel /usr/local/lib/archipel /usr/local/bin/restic",
    )?;

    a_new_password_is_refused(lab, &file, job, &s3, &escrowed)?;

    // Someone else's key does not open it.
    let output = archipel(
        lab,
        &file,
        &[
            "recover",
            "chaton-4/data",
            "--identity",
            keys.age_identity.to_str().ok_or("path")?,
            "--to",
            "root@node9",
        ],
    )?;
    ensure(
        output.status.code() == Some(1)
            && output_text(&output).contains("is not one of the escrow's recipients"),
        output_text(&output),
    )?;

    // The admin's key does, on a fresh machine.
    let ssh_key = keys.ssh_key.to_str().ok_or("path")?;
    let recover = |to: &str| {
        archipel(
            lab,
            &file,
            &[
                "recover",
                "chaton-4/data",
                "--identity",
                ssh_key,
                "--to",
                to,
            ],
        )
    };
    let output = recover("root@node9")?;
    recovered_on_a_fresh_machine(lab, &output, job, &password, &original)?;

    // Back on node8 (a machine of the file), apply converges with the
    // recovered password.
    let output = recover("node8")?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("chaton.chaton-4.backup.data.escrow: done"),
        log.clone(),
    )?;
    // Escrowed again under a new name, the old one deleted.
    let (again, _) = live_escrow(&s3, "backup-chaton-4")?;
    ensure(
        again > escrowed.0,
        format!("a later name: {again} after {}", escrowed.0),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;
    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-data.service",
    )?;
    let run = status(lab, "node8", job, "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))
}

/// A new password would lock the repository away: apply refuses it, and
/// the escrow is left as it was.
fn a_new_password_is_refused(
    lab: &Lab,
    file: &Path,
    job: &str,
    s3: &S3,
    escrowed: &(String, Vec<u8>),
) -> Result<(), Failed> {
    let output = archipel(lab, file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(!output.status.success(), log.clone())?;
    ensure(
        log.contains("already exists, and this host has no password for it")
            && log.contains("archipel recover chaton-4/data"),
        log.clone(),
    )?;
    ensure(
        lab.ssh(
            "node8",
            &format!("test -e /etc/archipel/restic/{job}.password"),
        )
        .status
        .code()
            == Some(1),
        "no password was made",
    )?;
    ensure(
        live_escrow(s3, "backup-chaton-4")? == *escrowed,
        "the escrow is untouched",
    )?;
    Ok(())
}

/// What `recover` to node9 did: the job's password there, not printed, no
/// timer started, and the data restored byte for byte.
fn recovered_on_a_fresh_machine(
    lab: &Lab,
    output: &Output,
    job: &str,
    password: &str,
    original: &str,
) -> Result<(), Failed> {
    let text = output_text(output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("Recovered chaton-4/data on root@node9:")
            && text.contains("opens with the escrowed password (1 snapshot"),
        text.clone(),
    )?;
    ensure(!text.contains(password.trim()), "the password was printed")?;
    let recovered = lab.ssh_ok("node9", &format!("cat /etc/archipel/restic/{job}.password"))?;
    ensure(recovered == password, "node9 has the job's password")?;
    let timers = lab.ssh(
        "node9",
        "systemctl list-unit-files --plain --no-legend 'archipel-*' | grep -c .",
    );
    ensure(
        String::from_utf8_lossy(&timers.stdout).trim() == "0",
        "recover starts no timer",
    )?;
    restic(
        lab,
        "node9",
        job,
        "restore latest --target /tmp/restored >/dev/null",
    )?;
    let restored = lab.ssh_ok(
        "node9",
        "cd /tmp/restored && sha256sum srv/data/blob srv/data/sub/note | sed 's# srv/# /srv/#'",
    )?;
    ensure(
        restored == original,
        format!("byte for byte: {original} vs {restored}"),
    )?;
    Ok(())
}
