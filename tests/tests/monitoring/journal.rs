//! The apply journal: two applies by different users leave two entries on
//! every node of the island, readable from any of them, and still there
//! when the node nearest the apply is stopped; never rewritten.

use crate::fixture::archipelago;
use archipel_tests::{Failed, Lab, archipel, archipel_with_env, ensure, output_text};
use std::path::Path;

/// The lab's archipelago with a shared bucket on lab-a of `quota`.
fn with_bucket(dir: &Path, quota: &str) -> Result<std::path::PathBuf, Failed> {
    let file = archipelago(dir)?;
    let mut text = std::fs::read_to_string(&file)?;
    text.push_str(&format!(
        "bucket \"shared\" {{\n  island = \"lab-a\"\n  quota  = \"{quota}\"\n}}\n"
    ));
    std::fs::write(&file, text)?;
    Ok(file)
}

pub fn two_applies_two_entries(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let ping = "http://10.255.255.1/unused";
    let applies = [
        (
            "bob",
            "1G",
            Some("https://ci.example.org/archipel/-/jobs/42"),
        ),
        ("carol", "2G", None),
    ];
    for (user, quota, job) in applies {
        let file = with_bucket(dir.path(), quota)?;
        let mut env = vec![("USER", user), ("CHATON3_PING", ping)];
        if let Some(job) = job {
            env.push(("CI_JOB_URL", job));
        }
        let output = archipel_with_env(lab, &file, &["apply", "--auto-approve"], &env)?;
        let log = output_text(&output);
        ensure(
            output.status.success()
                && log.contains("Journal: island lab-a recorded this apply")
                && log.contains("on all 2 of its nodes"),
            log,
        )?;
    }
    let file = with_bucket(dir.path(), "2G")?;
    let entries = read_entries(lab, &file, None)?;
    let ours: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| {
            e["changes"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["address"] == "island.lab-a.bucket.shared")
            })
        })
        .collect();
    ensure(
        ours.len() == 2,
        format!("two entries for the bucket: {entries:#?}"),
    )?;
    let (first, second) = (ours[0], ours[1]);
    ensure(
        first["user"] == "bob"
            && first["ci_job"] == "https://ci.example.org/archipel/-/jobs/42"
            && second["user"] == "carol"
            && second["ci_job"].is_null()
            && first["outcome"] == "applied"
            && first["summary"]["add"] == 1
            && second["summary"]["change"] == 1
            && first["plan_digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:"))
            && first["plan_digest"] != second["plan_digest"],
        format!("{first:#}\n{second:#}"),
    )?;
    let on_nodes = lab.ssh_ok("node1", "sha256sum /var/lib/archipel/journal/*.json")?;
    ensure(
        on_nodes == lab.ssh_ok("node2", "sha256sum /var/lib/archipel/journal/*.json")?,
        "every node holds the same entries",
    )?;

    // node1 stopped: node2 still tells both.
    lab.stop("node1")?;
    let read = read_entries(lab, &file, Some("node1"));
    let started = lab.start_node("node1");
    let entries = read?;
    started?;
    let users: Vec<&str> = entries.iter().filter_map(|e| e["user"].as_str()).collect();
    ensure(
        users.ends_with(&["bob", "carol"]),
        format!("with node1 stopped: {users:?}"),
    )?;
    let output = archipel(lab, &file, &["log", "lab-a"])?;
    let text = output_text(&output);
    ensure(
        output.status.success()
            && text.contains("APPLIED by bob on")
            && text.contains("(https://ci.example.org/archipel/-/jobs/42)")
            && text.contains("island.lab-a.bucket.shared update: done"),
        text,
    )?;
    // Never rewritten: what was written stays as it was.
    ensure(
        lab.ssh_ok("node1", "sha256sum /var/lib/archipel/journal/*.json")? == on_nodes,
        "the entries are as written",
    )
}

/// The island's entries as `archipel log --output json` gives them;
/// `down`: a node that must be named as not read.
fn read_entries(
    lab: &Lab,
    file: &Path,
    down: Option<&str>,
) -> Result<Vec<serde_json::Value>, Failed> {
    let output = archipel(lab, file, &["log", "lab-a", "--output", "json"])?;
    ensure(output.status.success(), output_text(&output))?;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let island = &value[0];
    let problems = island["problems"].as_array().cloned().unwrap_or_default();
    match down {
        Some(node) => ensure(
            problems.len() == 1 && problems[0].as_str().is_some_and(|p| p.starts_with(node)),
            format!("{node} not read: {problems:?}"),
        )?,
        None => ensure(problems.is_empty(), format!("{problems:?}"))?,
    }
    Ok(island["entries"].as_array().cloned().unwrap_or_default())
}
