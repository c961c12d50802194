//! An attacker with the backup host's key, then the recovery from the
//! vault onto a fresh machine, then the incidents cleared.

use crate::fixture::{
    BUCKET, GARAGE, GRACE_SECONDS, HOST, JOB, VAULT, archipelago, hand_made_key, identity,
    incident_kinds, pass, put_lifecycle, repository_objects, vault_status,
};
use crate::passes::versions;
use archipel_tests::jobs::{job_s3, restic};
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, output_text};
use std::time::Duration;

/// The host's key in the attacker's hands: the newest snapshot forgotten
/// first (no `keep` explains that), then everything but one, then every
/// object deleted through S3, then a lifecycle rule. Each is flagged; the
/// vault keeps every snapshot past its grace period.
pub fn attacked(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["status"])?;
    ensure(
        output.status.code() == Some(0),
        format!("all is well before: {}", output_text(&output)),
    )?;
    let vault = archipel_tests::jobs::vault_s3(lab, "node1")?;
    let held_before = repository_objects(&vault, VAULT)?;
    let versions = versions(lab)?;
    let (newest, _) = versions.last().ok_or("versions were recorded")?;

    restic(lab, HOST, JOB, &format!("forget {newest} --prune"))?;
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report) == ["unexplained-deletion"]
            && report["incidents"][0]["job"] == "data"
            && report["incidents"][0]["what"]
                .as_str()
                .is_some_and(|w| w.contains("would keep")),
        format!("the newest snapshot's deletion is unexplained: {report}"),
    )?;

    restic(lab, HOST, JOB, "forget --keep-last 1 --prune")?;
    let source = job_s3(lab, HOST, JOB, "node1")?;
    for name in source.list(BUCKET, "")? {
        source.delete(BUCKET, &name)?;
    }
    ensure(source.list(BUCKET, "")?.is_empty(), "the bucket is empty")?;
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report).contains(&"bucket-emptied".to_string()),
        format!("{report}"),
    )?;

    lifecycle_rule(lab)?;
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report).contains(&"lifecycle-rule".to_string()),
        format!("{report}"),
    )?;

    status_names_the_incidents(lab, &file)?;

    // Past the grace period, the open incidents still freeze every deletion.
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 5));
    let report = pass(lab)?;
    ensure(report["frozen"] == true, format!("{report}"))?;
    // (The attacker's prunes wrote index files: copied too.)
    let held = repository_objects(&vault, VAULT)?;
    let lost: Vec<&String> = held_before.iter().filter(|n| !held.contains(n)).collect();
    ensure(lost.is_empty(), format!("the vault lost {lost:?}"))
}

/// Garage refuses the host's key a lifecycle rule (it wants the bucket's
/// owner); a key that owns the bucket sets one.
fn lifecycle_rule(lab: &Lab) -> Result<(), Failed> {
    let key = |name: &str| -> Result<String, Failed> {
        Ok(lab
            .ssh_ok(
                HOST,
                &format!("sed -n 's/^{name}=//p' /etc/archipel/restic/{JOB}.s3"),
            )?
            .trim()
            .to_string())
    };
    let refused = put_lifecycle(
        lab,
        &key("AWS_ACCESS_KEY_ID")?,
        &key("AWS_SECRET_ACCESS_KEY")?,
    )?;
    ensure(
        refused == "403",
        format!("the host's key put a lifecycle rule: HTTP {refused}"),
    )?;
    let (id, secret) = hand_made_key(lab, "intruder", BUCKET, "--owner")?;
    let put = put_lifecycle(lab, &id, &secret)?;
    ensure(
        put == "200",
        format!("an owner's lifecycle rule: HTTP {put}"),
    )
}

/// `status` fails and says what happened to which job, in each format.
fn status_names_the_incidents(lab: &Lab, file: &std::path::Path) -> Result<(), Failed> {
    let output = archipel(lab, file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.code() == Some(1), text.clone())?;
    for expected in [
        "unexplained-deletion, job chaton-3/data",
        "bucket-emptied",
        "lifecycle-rule",
        "archipel clear chaton-3",
    ] {
        ensure(text.contains(expected), format!("{expected}: {text}"))?;
    }
    let output = archipel(lab, file, &["status", "--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let vaults = report["vaults"].as_array().ok_or("vaults")?;
    ensure(
        vaults.len() == 1 && vaults[0]["chaton"] == "chaton-3" && vaults[0]["island"] == "lab-a",
        format!("{report}"),
    )?;
    let kinds = incident_kinds(&vaults[0]["last_pass"]);
    ensure(kinds.len() == 3, format!("three incidents: {kinds:?}"))
}

/// Every snapshot the vault kept restores byte for byte on node5, with the
/// password escrowed in the vault, and the key made for it is gone after
/// each; the vault is a valid repository down to the last byte.
pub fn recovered(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let (identity, _) = identity(lab)?;
    let identity = identity.to_str().ok_or("path")?.to_string();
    let versions = versions(lab)?;
    ensure(versions.len() == 3, format!("three versions: {versions:?}"))?;
    for (i, (snapshot, sums)) in versions.iter().enumerate() {
        let target = format!("/srv/restore-{i}");
        let output = archipel(
            lab,
            &file,
            &[
                "recover",
                "chaton-3/data",
                "--identity",
                &identity,
                "--to",
                "root@node5",
                "--from-vault",
                "--target",
                &target,
                "--snapshot",
                snapshot,
            ],
        )?;
        let text = output_text(&output);
        ensure(output.status.success(), text.clone())?;
        for expected in [
            format!("Recovered chaton-3/data from its vault: snapshot {snapshot}"),
            "The vault holds 3 snapshots".to_string(),
            "The read-only key archipel-recover/chaton-3/data made for this recovery was deleted."
                .to_string(),
        ] {
            ensure(text.contains(&expected), format!("{expected}: {text}"))?;
        }
        let restored = lab.ssh_ok(
            "node5",
            &format!("cd {target}/srv && find data -type f | sort | xargs sha256sum"),
        )?;
        ensure(
            &restored == sums,
            format!("snapshot {snapshot} byte for byte: {sums} vs {restored}"),
        )?;
        let keys = api(lab, "node1", "ListKeys")?;
        ensure(
            !keys.to_string().contains("archipel-recover"),
            format!("the recovery key is gone: {keys}"),
        )?;
    }
    read_the_whole_vault(lab)
}

/// `restic check --read-data` of the vault from node5, with a read-only
/// key made for it.
fn read_the_whole_vault(lab: &Lab) -> Result<(), Failed> {
    let (id, secret) = hand_made_key(lab, "checker", VAULT, "--read")?;
    let address = lab.node("node1").ok_or("node1")?.address;
    let checked = lab.ssh(
        "node5",
        &format!(
            "AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=garage RESTIC_REPOSITORY=s3:http://{address}:3900/{VAULT}/data RESTIC_PASSWORD_FILE=/etc/archipel/restic/{JOB}.password /usr/local/bin/restic --no-lock check --read-data"
        ),
    );
    lab.ssh_ok(
        "node1",
        &format!("{GARAGE} key delete --yes checker >/dev/null"),
    )?;
    ensure(checked.status.success(), output_text(&checked))?;
    ensure(
        String::from_utf8_lossy(&checked.stdout).contains("no errors were found"),
        output_text(&checked),
    )
}

/// The lifecycle rule is drift; apply removes it (and the intruder's
/// owner permission). Clearing then leaves the vault in order, its
/// pending deletions waiting a whole grace period again.
pub fn cleared(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["drift"])?;
    let text = output_text(&output);
    ensure(output.status.code() == Some(2), text.clone())?;
    ensure(
        text.contains("island.lab-a.bucket.backup-chaton-3")
            && text.contains("lifecycle configuration"),
        text.clone(),
    )?;
    let output = archipel(
        lab,
        &file,
        &["apply", "--auto-approve", "--only", "island.lab-a"],
    )?;
    ensure(output.status.success(), output_text(&output))?;
    let info = api(
        lab,
        "node1",
        &format!("GetBucketInfo '{{\"globalAlias\":\"{BUCKET}\"}}'"),
    )?;
    ensure(
        info.get("lifecycleRules")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        format!("no lifecycle rule left: {info}"),
    )?;

    let output = archipel(lab, &file, &["clear", "chaton-3", "nothing-like-this"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let output = archipel(lab, &file, &["clear", "chaton-3", "all"])?;
    let text = output_text(&output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("Cleared on chaton-3's vault on island lab-a (through node1)")
            && text.contains("the vault is in order"),
        text.clone(),
    )?;
    let report = vault_status(lab)?;
    ensure(
        incident_kinds(&report).is_empty()
            && report["frozen"] == false
            && report["pending_deletions"].as_u64().unwrap_or(0) > 0,
        format!("nothing open, the deletions waiting again: {report}"),
    )?;
    // Waiting again: a pass right now deletes nothing.
    let vault = archipel_tests::jobs::vault_s3(lab, "node1")?;
    let held = repository_objects(&vault, VAULT)?;
    pass(lab)?;
    ensure(
        repository_objects(&vault, VAULT)? == held,
        "a grace period starts again when a person clears",
    )
}

/// The key the attacker held, deleted on the island: apply makes it anew
/// and writes its new secret to the host, starts the erased repository
/// anew, and the job backs up again.
pub fn key_made_anew(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let secret = |lab: &Lab| {
        lab.ssh_ok(
            HOST,
            &format!("sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/{JOB}.s3"),
        )
    };
    let leaked = secret(lab)?;
    lab.ssh_ok(
        "node1",
        &format!("{GARAGE} key delete --yes archipel-chaton-3 >/dev/null"),
    )?;
    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        text.contains("chaton.chaton-3.backup.data.credentials")
            && text.contains("the key archipel-chaton-3 is made anew"),
        text.clone(),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(secret(lab)? != leaked, "a new secret on the host")?;
    lab.ssh_ok(
        HOST,
        &format!("systemctl start archipel-backup-{JOB}.service"),
    )?;
    let run = archipel_tests::jobs::status(lab, HOST, JOB, "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))?;
    // The erased repository was started anew under the same names: the
    // vault keeps the old one's and reports the new `config`.
    let report = pass(lab)?;
    ensure(
        incident_kinds(&report).contains(&"changed-file".to_string())
            && report.to_string().contains("data/config"),
        format!("{report}"),
    )
}
