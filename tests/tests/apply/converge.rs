//! From bare nodes to two healthy islands, S3 working with the keys apply
//! made; a tampered binary refused; applying again changes nothing.

use crate::fixture::{S3Key, archipelago};
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, garage_build, output_text};

pub fn tampered_binary(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let tampered = dir.path().join("garage");
    let mut bytes = std::fs::read(&binary)?;
    bytes.push(0);
    std::fs::write(&tampered, bytes)?;
    let file = archipelago(dir.path(), tampered.to_str().ok_or("path")?, &sha256, |t| t)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    ensure(
        output_text(&output).contains("refusing to install it (nothing was changed)"),
        output_text(&output),
    )?;
    for i in 1..=6 {
        let left = lab.ssh_ok(
            &format!("node{i}"),
            "ls /usr/local/bin; id garage 2>&1 || true; ls /etc/garage 2>&1 || true",
        )?;
        ensure(
            !left.contains("garage\n") && left.contains("no such user"),
            format!("node{i} was touched: {left}"),
        )?;
    }
    Ok(())
}

pub fn bare_to_healthy(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| t)?;
    // Without --auto-approve and without a terminal, apply refuses.
    let output = archipel(lab, &file, &["apply"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("--auto-approve"),
        output_text(&output),
    )?;

    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("The archipelago matches the file."),
        output_text(&output),
    )?;

    both_islands_are_healthy(lab)?;
    shared_a_has_its_quota_and_grants(lab)?;
    s3_works_with_the_keys_apply_made(lab)
}

/// Each island healthy, its layout at version 1 with a role per node.
fn both_islands_are_healthy(lab: &Lab) -> Result<(), Failed> {
    for (island, first, nodes) in [("lab-a", "node1", 1..=3), ("lab-b", "node4", 4..=6)] {
        let health = api(lab, first, "GetClusterHealth")?;
        ensure(health["status"] == "healthy", format!("{island}: {health}"))?;
        let layout = api(lab, first, "GetClusterLayout")?;
        ensure(layout["version"] == 1, format!("{island}: {layout}"))?;
        let roles = layout["roles"].as_array().ok_or("roles")?;
        ensure(roles.len() == 3, format!("{island}: {roles:?}"))?;
        for i in nodes {
            let role = roles
                .iter()
                .find(|r| r["tags"][1] == format!("node{i}"))
                .ok_or(format!("no role for node{i}"))?;
            ensure(
                role["zone"] == format!("chaton-{i}") && role["capacity"] == 10_000_000_000u64,
                format!("{role}"),
            )?;
        }
    }
    Ok(())
}

/// shared-a has its quota, chaton-1's key writes it and chaton-4's reads.
fn shared_a_has_its_quota_and_grants(lab: &Lab) -> Result<(), Failed> {
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"shared-a\"}'",
    )?;
    ensure(
        bucket["quotas"]["maxSize"] == 1_000_000_000u64,
        format!("{bucket}"),
    )?;
    let keys = bucket["keys"].as_array().ok_or("keys")?;
    let permissions = |name: &str| {
        keys.iter()
            .find(|k| k["name"] == name)
            .map(|k| k["permissions"].clone())
    };
    ensure(
        permissions("archipel-chaton-1")
            == Some(serde_json::json!({"owner": false, "read": true, "write": true})),
        format!("{keys:?}"),
    )?;
    ensure(
        permissions("archipel-chaton-4")
            == Some(serde_json::json!({"owner": false, "read": true, "write": false})),
        format!("{keys:?}"),
    )?;
    Ok(())
}

/// S3 with the keys archipel made, as any S3 client uses them:
/// read+write works, read-only cannot write, no permission means no
/// access.
fn s3_works_with_the_keys_apply_made(lab: &Lab) -> Result<(), Failed> {
    let writer = S3Key::of(lab, "node1", "archipel-chaton-1")?;
    let reader = S3Key::of(lab, "node1", "archipel-chaton-4")?;
    let body = b"archipel was here\n".to_vec();
    writer
        .on(lab, "node1")?
        .put("shared-a", "probe", body.clone())?;
    ensure(
        writer.on(lab, "node2")?.get("shared-a", "probe")? == body,
        "get from another node",
    )?;
    ensure(
        reader.on(lab, "node2")?.get("shared-a", "probe")? == body,
        "reader reads",
    )?;
    let refused = reader
        .on(lab, "node1")?
        .put("shared-a", "nope", body.clone());
    ensure(
        refused.as_ref().is_err_and(|e| e.status == Some(403)),
        format!("a reader cannot write: {refused:?}"),
    )?;
    // A bucket the writer's key has no permission on.
    lab.ssh_ok(
        "node1",
        "garage -c /etc/garage/garage.toml bucket create unshared >/dev/null",
    )?;
    let denied = writer.on(lab, "node1")?;
    let put = denied.put("unshared", "nope", body.clone());
    let get = denied.get("unshared", "nope");
    ensure(
        put.as_ref().is_err_and(|e| e.status == Some(403))
            && get.as_ref().is_err_and(|e| e.status == Some(403)),
        format!("no permission, no access: {put:?} {get:?}"),
    )?;
    lab.ssh_ok(
        "node1",
        "garage -c /etc/garage/garage.toml bucket delete --yes unshared >/dev/null",
    )?;
    writer.on(lab, "node1")?.delete("shared-a", "probe")?;
    ensure(
        writer
            .on(lab, "node2")?
            .get("shared-a", "probe")
            .is_err_and(|e| e.status == Some(404)),
        "deleted",
    )
}

pub fn idempotent(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| t)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("No changes. The archipelago matches the file."),
        output_text(&output),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}
