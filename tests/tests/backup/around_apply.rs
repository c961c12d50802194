//! Around apply: drift, saved plans, island locks and `--only`, on an
//! archipelago that backs up.

use crate::fixture::archipelago;
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, output_text};
use std::path::PathBuf;

/// Garage's command line on a lab node.
const GARAGE: &str = "garage -c /etc/garage/garage.toml";

/// Hand-made changes, each reported as what it is; apply then puts the
/// archipelago back, and what archipel does not manage stays listed.
pub fn drift(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["drift"])?;
    ensure(
        output.status.code() == Some(0) && output_text(&output).contains("No drift"),
        output_text(&output),
    )?;

    change_by_hand(lab)?;

    let output = archipel(lab, &file, &["drift", "--output", "json"])?;
    ensure(output.status.code() == Some(2), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    every_change_is_named(&report)?;
    let output = archipel(lab, &file, &["drift", "--output", "markdown"])?;
    let text = output_text(&output);
    ensure(
        text.starts_with("### archipel drift")
            && text.contains("| changed | `island.lab-a.layout` |"),
        text,
    )?;

    // apply puts back what archipel manages; the rest stays listed.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["drift"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(2) && text.contains("0 changed, 0 missing, 2 unmanaged"),
        text,
    )?;
    lab.ssh_ok(
        "node1",
        &format!("{GARAGE} bucket delete --yes hand-made >/dev/null && {GARAGE} key delete --yes hand-made >/dev/null"),
    )?;
    let output = archipel(lab, &file, &["drift"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// Hand-made changes: a node's config edited, the layout changed, a timer
/// disabled, a grant made owner, a key and a bucket made.
fn change_by_hand(lab: &Lab) -> Result<(), Failed> {
    lab.ssh_ok(
        "node2",
        "echo '# edited by hand' >> /etc/garage/garage.toml",
    )?;
    let layout = api(lab, "node1", "GetClusterLayout")?;
    let version = layout["version"].as_u64().ok_or("layout version")?;
    let node3 = layout["roles"]
        .as_array()
        .ok_or("roles")?
        .iter()
        .find(|r| r["zone"] == "chaton-3")
        .and_then(|r| r["id"].as_str())
        .ok_or("node3's role")?
        .to_string();
    lab.ssh_ok(
        "node1",
        &format!(
            "{GARAGE} layout assign -c 5G {node3} >/dev/null && {GARAGE} layout apply --version {} >/dev/null",
            version + 1
        ),
    )?;
    lab.ssh_ok(
        "node7",
        "systemctl disable --now --quiet archipel-check-chaton-1-data.timer",
    )?;
    lab.ssh_ok(
        "node1",
        &format!(
            "{GARAGE} bucket allow --owner backup-chaton-4 --key archipel-chaton-4 >/dev/null && {GARAGE} key create hand-made >/dev/null && {GARAGE} bucket create hand-made >/dev/null"
        ),
    )?;
    Ok(())
}

/// The drift report names each hand-made change as what it is.
fn every_change_is_named(report: &serde_json::Value) -> Result<(), Failed> {
    let listed = |kind: &str| -> Vec<String> {
        report[kind]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["address"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (changed, unmanaged) = (listed("changed"), listed("unmanaged"));
    for expected in [
        "island.lab-a.node.node2.config",
        "island.lab-a.layout",
        "chaton.chaton-1.backup.data.check.timer",
        "island.lab-a.bucket.backup-chaton-4.grant.archipel-chaton-4",
    ] {
        ensure(
            changed.iter().any(|a| a == expected),
            format!("{expected} is changed: {report}"),
        )?;
    }
    // The hand-made key is addressed by its id, and named in the detail.
    let hand_made = report["unmanaged"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i.to_string().contains("hand-made"))
                .count()
        })
        .unwrap_or(0);
    ensure(
        hand_made == 2 && unmanaged.len() == 2,
        format!("the key and the bucket hand-made are unmanaged: {report}"),
    )?;
    ensure(listed("missing").is_empty(), format!("{report}"))?;
    Ok(())
}

/// `plan -out` then `apply FILE`: applied after an unrelated no-op apply;
/// refused, changing nothing, once the live state or the file changed.
pub fn saved_plans(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let text = std::fs::read_to_string(&original)?;
    let at = |hour: &str| -> Result<PathBuf, Failed> {
        let path = dir.path().join(format!("at-{hour}.hcl"));
        std::fs::write(
            &path,
            text.replacen("*-*-* 03:00", &format!("*-*-* {hour}:00"), 1),
        )?;
        Ok(path)
    };
    let timer = || {
        lab.ssh_ok(
            "node7",
            "grep OnCalendar /etc/systemd/system/archipel-backup-chaton-1-data.timer",
        )
    };
    let four = at("04")?;
    let saved = dir.path().join("four.plan");
    let output = archipel(lab, &four, &["plan", "-out", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    no_secret_in(lab, &std::fs::read_to_string(&saved)?)?;
    let output = archipel(
        lab,
        &four,
        &["show", saved.to_str().ok_or("path")?, "--output", "json"],
    )?;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    ensure(
        shown["changes"].as_array().is_some_and(|c| c.len() == 1)
            && shown["changes"][0]["address"] == "chaton.chaton-1.backup.data.backup.timer",
        format!("{shown}"),
    )?;

    // An unrelated apply that changes nothing does not make it stale.
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &four, &["apply", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("04:00"), timer()?)?;

    // A live change after the plan: refused, nothing changed.
    let five = at("05")?;
    let output = archipel(lab, &five, &["plan", "-out", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    lab.ssh_ok(
        "node7",
        "systemctl disable --now --quiet archipel-prune-chaton-1-data.timer",
    )?;
    let output = archipel(lab, &five, &["apply", saved.to_str().ok_or("path")?])?;
    let log = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && log.contains("saved plan is stale: machine.node7 changed since"),
        log,
    )?;
    ensure(timer()?.contains("04:00"), "nothing was changed")?;
    // And with another file than the one it was made from.
    let output = archipel(lab, &original, &["apply", saved.to_str().ok_or("path")?])?;
    ensure(
        output.status.code() == Some(1)
            && output_text(&output).contains("the archipelago file changed since"),
        output_text(&output),
    )?;

    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("03:00"), timer()?)
}

/// No job's password or S3 secret in a saved plan's text.
fn no_secret_in(lab: &Lab, plan_text: &str) -> Result<(), Failed> {
    for (node, job) in [("node7", "chaton-1-data"), ("node8", "chaton-4-data")] {
        for secret in [
            lab.ssh_ok(node, &format!("cat /etc/archipel/restic/{job}.password"))?,
            lab.ssh_ok(
                node,
                &format!("sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/{job}.s3"),
            )?,
        ] {
            ensure(
                !plan_text.contains(secret.trim()),
                "a secret in the saved plan",
            )?;
        }
    }
    Ok(())
}

/// An apply that crashed left lab-b's lock: the next apply stops before
/// any change and names the holder; `unlock` needs the right id; then apply
/// runs, and leaves no lock behind.
pub fn island_locks(lab: &Lab) -> Result<(), Failed> {
    const LOCK: &str = "/var/lib/archipel/island.lock";
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let changed = dir.path().join("changed.hcl");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&original)?.replacen("*-*-* 03:00", "*-*-* 06:00", 1),
    )?;
    let timer = || {
        lab.ssh_ok(
            "node7",
            "grep OnCalendar /etc/systemd/system/archipel-backup-chaton-1-data.timer",
        )
    };
    let unlocked = |node: &str| lab.ssh(node, &format!("test -e {LOCK}")).status.code() == Some(1);
    ensure(unlocked("node1") && unlocked("node4"), "no lock at rest")?;
    lab.ssh_ok(
        "node4",
        &format!(
            r#"mkdir -p /var/lib/archipel && printf '%s' '{{"id":"deadbeef00000000","island":"lab-b","owner":"alice","host":"laptop","pid":4242,"started":"2026-11-18T10:00:00Z","started_unix":1795000000}}' > {LOCK}"#
        ),
    )?;
    // A lock never refreshed since 2026-11-18: its holder is gone.
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("island lab-b is locked by a stale lock: lock deadbeef00000000 held by alice@laptop (pid 4242) since 2026-11-18T10:00:00Z (")
            && text.contains("its holder is gone (not refreshed for")
            && text.contains("archipel unlock lab-b deadbeef00000000")
            && text.contains("Nothing was changed."),
        text,
    )?;
    // Refreshed a moment ago, by the node's clock: another apply runs.
    lab.ssh_ok(
        "node4",
        &format!(r#"sed -i "s/}}$/,\"refreshed_unix\":$(date +%s)}}/" {LOCK}"#),
    )?;
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("island lab-b is locked: lock deadbeef00000000 held by alice@laptop")
            && text.contains("Another apply is running")
            && text.contains("Nothing was changed."),
        text,
    )?;
    ensure(timer()?.contains("03:00"), "nothing changed")?;
    ensure(
        unlocked("node1"),
        "lab-a's lock, taken first, was given back",
    )?;

    let output = archipel(lab, &original, &["unlock", "lab-b", "0123456789abcdef"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("holds another lock"),
        output_text(&output),
    )?;
    let output = archipel(lab, &original, &["unlock", "lab-b", "deadbeef00000000"])?;
    ensure(
        output.status.success() && output_text(&output).contains("Unlocked island lab-b"),
        output_text(&output),
    )?;
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("06:00"), timer()?)?;
    ensure(
        unlocked("node1") && unlocked("node4"),
        "apply gave its locks back",
    )?;
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))
}

/// Both jobs' schedules change in the file; `--only chaton.chaton-1`
/// plans and applies chaton-1's part only.
pub fn only(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let both = dir.path().join("both.hcl");
    std::fs::write(
        &both,
        std::fs::read_to_string(&original)?.replace("*-*-* 03:00", "*-*-* 07:00"),
    )?;
    let timer = |node: &str, job: &str| {
        lab.ssh_ok(
            node,
            &format!("grep OnCalendar /etc/systemd/system/archipel-backup-{job}.timer"),
        )
    };
    let output = archipel(
        lab,
        &both,
        &["plan", "--only", "chaton.chaton-1", "--output", "json"],
    )?;
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .ok_or("changes")?
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    ensure(
        addresses == ["chaton.chaton-1.backup.data.backup.timer"],
        format!("{addresses:?}"),
    )?;
    let output = archipel(
        lab,
        &both,
        &["apply", "--only", "chaton.chaton-1", "--auto-approve"],
    )?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        timer("node7", "chaton-1-data")?.contains("07:00")
            && timer("node8", "chaton-4-data")?.contains("03:00"),
        "only chaton-1's timer changed",
    )?;
    let output = archipel(lab, &both, &["plan", "--only", "nowhere"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("--only nowhere"),
        output_text(&output),
    )?;
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))
}
