//! The escrow's names never change content: each escrow is a new object
//! `data.escrow/TIME.age`, the older ones deleted from the live bucket, and
//! the legacy `data.escrow.age` of earlier versions is read by `recover`
//! and moved by apply.

use crate::fixture::{EscrowKeys, archipelago, escrow_keys, job_s3, live_escrow};
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::path::Path;

/// A second recipient for chaton-1 escrows its password again, under a
/// later name, with the older one deleted; `recover` opens the new one
/// with the new recipient's key. Back to the file's recipients, it is
/// escrowed again, and the archipelago converges.
pub fn re_escrowed(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let keys = escrow_keys(lab)?;
    let s3 = job_s3(lab, "node7", "chaton-1-data", "node4")?;
    let (first, _) = live_escrow(&s3, "backup-chaton-1")?;

    let text = std::fs::read_to_string(&file)?;
    let one = format!("  escrow  = [\"{}\"]\n", keys.age_public);
    let two = format!(
        "  escrow  = [\"{}\", \"{}\"]\n",
        keys.age_public, keys.ssh_public
    );
    ensure(text.contains(&one), "chaton-1's recipient is in the file")?;
    let both = dir.path().join("two-recipients.hcl");
    std::fs::write(&both, text.replacen(&one, &two, 1))?;

    let output = archipel(lab, &both, &["plan"])?;
    let plan = output_text(&output);
    ensure(
        plan.contains("~ chaton.chaton-1.backup.data.escrow\n")
            && plan.contains("# the escrow's recipients or place changed"),
        plan.clone(),
    )?;
    apply_escrows(lab, &both, "chaton-1")?;
    let (name, sealed) = live_escrow(&s3, "backup-chaton-1")?;
    ensure(name > first, format!("a later name: {name} after {first}"))?;
    let password = lab.ssh_ok("node7", "cat /etc/archipel/restic/chaton-1-data.password")?;
    ensure(
        opens_with_age(&keys, &sealed)? == password.as_bytes(),
        "the first recipient still opens it",
    )?;
    let output = recover(lab, &both, "chaton-1/data", &keys.ssh_key, "node7")?;
    let text = output_text(&output);
    ensure(
        output.status.success()
            && text.contains(&format!(
                "Reading s3://backup-chaton-1/{name} on island lab-b"
            )),
        text,
    )?;

    apply_escrows(lab, &file, "chaton-1")?;
    let (last, _) = live_escrow(&s3, "backup-chaton-1")?;
    ensure(last > name, format!("a later name: {last} after {name}"))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// As an earlier version left it: chaton-4's escrow as `data.escrow.age`,
/// and the host's record naming it. `recover` reads it there; the plan
/// shows the move as an escrow change and says why; apply leaves one
/// versioned object, the legacy one deleted, and `recover` reads that.
pub fn legacy_moved(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let keys = escrow_keys(lab)?;
    let s3 = job_s3(lab, "node8", "chaton-4-data", "node1")?;
    let (versioned, sealed) = live_escrow(&s3, "backup-chaton-4")?;
    let record_file = "/etc/archipel/restic/chaton-4-data.escrow";
    let record = lab.ssh_ok("node8", &format!("cat {record_file}"))?;
    let legacy_record = record.replace(
        "s3://backup-chaton-4/data.escrow/, the newest TIME.age there, on island",
        "s3://backup-chaton-4/data.escrow.age on island",
    );
    ensure(legacy_record != record, record.clone())?;
    s3.put("backup-chaton-4", "data.escrow.age", sealed)?;
    s3.delete("backup-chaton-4", &versioned)?;
    lab.ssh_ok(
        "node8",
        &format!("umask 077 && cat > {record_file} <<'RECORD'\n{legacy_record}RECORD\n"),
    )?;
    ensure(
        lab.ssh_ok("node8", &format!("cat {record_file}"))? == legacy_record,
        "the legacy record is in place",
    )?;

    let output = recover(lab, &file, "chaton-4/data", &keys.ssh_key, "node8")?;
    let text = output_text(&output);
    ensure(
        output.status.success()
            && text.contains("Reading s3://backup-chaton-4/data.escrow.age on island lab-a"),
        text,
    )?;

    let output = archipel(lab, &file, &["plan"])?;
    let plan = output_text(&output);
    ensure(
        plan.contains("~ chaton.chaton-4.backup.data.escrow\n")
            && plan.contains("# the escrow moves from its one rewritten name to a new name per write")
            && plan.contains("-# It is encrypted with age in s3://backup-chaton-4/data.escrow.age on island lab-a"),
        plan.clone(),
    )?;
    apply_escrows(lab, &file, "chaton-4")?;
    let (moved, _) = live_escrow(&s3, "backup-chaton-4")?;
    let output = recover(lab, &file, "chaton-4/data", &keys.ssh_key, "node8")?;
    let text = output_text(&output);
    ensure(
        output.status.success()
            && text.contains(&format!(
                "Reading s3://backup-chaton-4/{moved} on island lab-a"
            ))
            && !text.contains("data.escrow.age"),
        text,
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// Applies `file`, which escrows `chaton`'s job `data` again.
fn apply_escrows(lab: &Lab, file: &Path, chaton: &str) -> Result<(), Failed> {
    let output = archipel(lab, file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains(&format!("chaton.{chaton}.backup.data.escrow: done")),
        log,
    )
}

fn recover(
    lab: &Lab,
    file: &Path,
    job: &str,
    identity: &Path,
    to: &str,
) -> Result<std::process::Output, Failed> {
    let identity = identity.to_str().ok_or("path")?;
    archipel(
        lab,
        file,
        &["recover", job, "--identity", identity, "--to", to],
    )
}

fn opens_with_age(keys: &EscrowKeys, sealed: &[u8]) -> Result<Vec<u8>, Failed> {
    let identity: age::x25519::Identity = std::fs::read_to_string(&keys.age_identity)?
        .trim()
        .parse()
        .map_err(|e: &str| e.to_string())?;
    Ok(age::decrypt(&identity, sealed).map_err(|e| format!("{e}"))?)
}
