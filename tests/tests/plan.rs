//! `archipel plan` against real machines: bare nodes, a stopped node, a
//! live Garage island — and no secret in any output.

use archipel_tests::{
    Failed, Lab, archipel, archipel_binary, ensure, output_text, recorded, run_archipel_lab_tests,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn main() {
    run_archipel_lab_tests(
        6,
        &[
            ("bare_nodes_plan_every_island_and_job", bare_nodes),
            ("json_output_follows_its_schema", json_schema),
            ("a_stopped_node_fails_the_plan_naming_it", stopped_node),
            ("a_cut_node_never_hangs_the_plan", cut_node),
            ("a_live_island_is_observed_and_no_secret_leaks", live_island),
            ("a_saved_observation_reproduces_the_plan", saved_observation),
            (
                "one_machine_under_two_names_is_refused",
                one_machine_two_names,
            ),
        ],
    )
}

/// The lab's archipelago (two islands of three chatons, each backing up to
/// the other island), written by tests/lab/archipelago.
fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    lab.write_archipelago(dir, "--backups")
}

fn plan(lab: &Lab, file: &Path, args: &[&str]) -> Result<Output, Failed> {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    archipel(lab, file, &all)
}

fn json(output: &Output) -> Result<serde_json::Value, Failed> {
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("not JSON ({e}): {}", output_text(output)).into())
}

fn addresses(plan: &serde_json::Value) -> Vec<String> {
    plan["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .filter_map(|c| c["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn bare_nodes(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = plan(lab, &file, &["--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(2),
        format!("exit {:?}: {}", output.status.code(), output_text(&output)),
    )?;
    ensure(
        String::from_utf8_lossy(&output.stdout).contains("to add, 0 to change, 0 to destroy."),
        output_text(&output),
    )?;

    let output = plan(lab, &file, &["--output", "json"])?;
    ensure(output.status.success(), output_text(&output))?;
    let document = json(&output)?;
    let addresses = addresses(&document);
    for (island, nodes) in [("lab-a", 1..=3), ("lab-b", 4..=6)] {
        for i in nodes {
            for part in [
                "binary",
                "directories",
                "config",
                "secrets",
                "unit",
                "service",
            ] {
                let address = format!("island.{island}.node.node{i}.{part}");
                ensure(
                    addresses.contains(&address),
                    format!("{address} missing from {addresses:?}"),
                )?;
            }
        }
        for part in ["connect", "layout"] {
            ensure(
                addresses.contains(&format!("island.{island}.{part}")),
                format!("{island}.{part}"),
            )?;
        }
    }
    for i in 1..=6 {
        let to = if i <= 3 { "lab-b" } else { "lab-a" };
        for address in [
            format!("island.{to}.bucket.backup-chaton-{i}"),
            format!("island.{to}.key.archipel-chaton-{i}"),
            format!("island.{to}.bucket.backup-chaton-{i}.grant.archipel-chaton-{i}"),
            format!("chaton.chaton-{i}.backup.etc.credentials"),
            format!("chaton.chaton-{i}.backup.etc.backup.timer"),
        ] {
            ensure(addresses.contains(&address), format!("{address} missing"))?;
        }
    }
    ensure(
        document["applicable"] == true,
        "a plan of bare nodes is applicable",
    )?;
    // Dependencies come first in the list.
    let position = |a: &str| addresses.iter().position(|x| x == a);
    ensure(
        position("island.lab-a.node.node1.binary") < position("island.lab-a.node.node1.service")
            && position("island.lab-a.node.node1.service") < position("island.lab-a.connect")
            && position("island.lab-a.connect") < position("island.lab-a.layout")
            && position("island.lab-a.layout") < position("island.lab-a.bucket.backup-chaton-4"),
        "changes are in dependency order",
    )?;

    every_section_is_in_the_markdown(lab, &file)
}

/// The Markdown plan (a pull request comment) counts every island and
/// chaton in its table, and shows each or names it among those left out.
fn every_section_is_in_the_markdown(lab: &Lab, file: &Path) -> Result<(), Failed> {
    let output = plan(lab, file, &["--output", "markdown"])?;
    let markdown = String::from_utf8_lossy(&output.stdout);
    ensure(
        markdown.starts_with("### archipel plan"),
        markdown.to_string(),
    )?;
    for section in [
        "island lab-a",
        "island lab-b",
        "chaton chaton-1",
        "chaton chaton-6",
    ] {
        // Every section is counted in the table, and either shown or named
        // among those left out of a comment too long for the forge.
        ensure(
            markdown.contains(&format!("| {section} | ")),
            format!("no table row for {section}:\n{markdown}"),
        )?;
        ensure(
            markdown.contains(&format!("<details><summary><b>{section}</b>"))
                || markdown
                    .lines()
                    .any(|l| l.contains("left out") && l.contains(&format!("**{section}**"))),
            format!("no section for {section}:\n{markdown}"),
        )?;
    }
    Ok(())
}

fn json_schema(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plan.schema.json"),
    )?)?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    let output = plan(lab, &file, &["--output", "json"])?;
    let document = json(&output)?;
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    ensure(errors.is_empty(), format!("{errors:?}"))?;
    // The schema is strict enough to catch a wrong document.
    let mut broken = document.clone();
    broken["changes"][0]["action"] = "explode".into();
    ensure(
        !validator.is_valid(&broken),
        "the schema accepts an unknown action",
    )
}

fn stopped_node(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    lab.stop("node5")?;
    let output = plan(lab, &file, &["--detailed-exitcode"]);
    lab.start_node("node5")?;
    let output = output?;
    ensure(
        output.status.code() == Some(1),
        format!("exit {:?}: {}", output.status.code(), output_text(&output)),
    )?;
    let all = output_text(&output);
    ensure(
        all.contains("Error: node5 could not be observed"),
        all.clone(),
    )?;
    ensure(
        all.contains("Not planned: island.lab-b.node.node5, chaton.chaton-5.backup.etc"),
        all.clone(),
    )?;
    ensure(all.contains("cannot be applied"), all)
}

fn cut_node(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    lab.cut("node2")?;
    let started = Instant::now();
    let output = plan(lab, &file, &["--output", "json"]);
    lab.restore("node2")?;
    let output = output?;
    ensure(
        started.elapsed() < Duration::from_secs(20),
        format!("took {:?}", started.elapsed()),
    )?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let document = json(&output)?;
    ensure(
        document["applicable"] == false,
        "an incomplete plan is not applicable",
    )?;
    let incomplete = &document["incomplete"][0];
    // A cut link reads as a timeout or, once the host's ARP entry expires, as no route.
    let kind = incomplete["problem"]["kind"].as_str().unwrap_or("");
    ensure(
        incomplete["target"] == "node2" && ["timeout", "unreachable"].contains(&kind),
        format!("{incomplete}"),
    )
}

fn live_island(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/garage-by-hand");
    let made = Command::new(script)
        .args(["lab-a", "node1", "node2", "node3"])
        .env("ARCHIPEL_LAB_DIR", lab.state_dir())
        .output()?;
    ensure(made.status.success(), output_text(&made))?;

    let observed = dir.path().join("observed.json");
    let output = plan(
        lab,
        &file,
        &[
            "--output",
            "json",
            "--save-observed",
            observed.to_str().ok_or("path")?,
        ],
    )?;
    ensure(output.status.success(), output_text(&output))?;
    let document = json(&output)?;
    let changes = document["changes"].as_array().ok_or("changes")?;
    let layout = changes
        .iter()
        .find(|c| c["address"] == "island.lab-a.layout")
        .ok_or("no layout change")?;
    ensure(layout["action"] == "update", format!("{layout}"))?;
    ensure(
        layout["attributes"][0]["before"] == "1" && layout["attributes"][0]["after"] == "2",
        format!("{layout}"),
    )?;
    ensure(
        !addresses(&document).contains(&"island.lab-a.connect".to_string()),
        "the nodes are connected",
    )?;
    ensure(
        !addresses(&document).contains(&"island.lab-a.node.node1.binary".to_string()),
        "the binary is the pinned one",
    )?;
    // The key and the empty backup bucket of a chaton the file does not
    // know: archipel's names, so deleted (when allowed), and said loudly.
    for address in [
        "island.lab-a.key.archipel-c-node1",
        "island.lab-a.bucket.backup-c-node1",
    ] {
        let change = changes
            .iter()
            .find(|c| c["address"] == address)
            .ok_or(format!("{address} is not planned"))?;
        ensure(change["action"] == "delete", format!("{change}"))?;
    }

    no_secret_of_the_island_is_in_any_output(lab, &file, &output, &observed)
}

/// Every secret on the island, and the key's secret from Garage itself,
/// are absent from the plan in every format and from the saved observation.
fn no_secret_of_the_island_is_in_any_output(
    lab: &Lab,
    file: &Path,
    output: &Output,
    observed: &Path,
) -> Result<(), Failed> {
    let mut secrets = vec![
        lab.ssh_ok("node1", "cat /etc/garage/rpc_secret")?,
        lab.ssh_ok("node1", "cat /etc/garage/admin_token")?,
    ];
    let key = lab.ssh_ok(
        "node1",
        "garage -c /etc/garage/garage.toml json-api GetKeyInfo '{\"search\":\"archipel-c-node1\",\"showSecretKey\":true}'",
    )?;
    let key: serde_json::Value = serde_json::from_str(&key)?;
    secrets.push(
        key["secretAccessKey"]
            .as_str()
            .ok_or("no secret key")?
            .to_string(),
    );
    let mut outputs = vec![
        String::from_utf8_lossy(&output.stdout).into_owned(),
        std::fs::read_to_string(observed)?,
    ];
    for format in ["human", "markdown"] {
        outputs.push(output_text(&plan(lab, file, &["--output", format])?));
    }
    for secret in &secrets {
        let secret = secret.trim();
        ensure(secret.len() >= 20, "a real secret")?;
        for output in &outputs {
            ensure(
                !output.contains(secret),
                "a secret value appears in a plan output",
            )?;
        }
    }
    Ok(())
}

fn saved_observation(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let observed = dir.path().join("observed.json");
    let live = plan(
        lab,
        &file,
        &[
            "--output",
            "json",
            "--save-observed",
            observed.to_str().ok_or("path")?,
        ],
    )?;
    ensure(live.status.success(), output_text(&live))?;
    // Offline: no SSH config needed, the machines are not contacted.
    let offline = recorded(
        Command::new(archipel_binary()?)
            .arg("-f")
            .arg(&file)
            .args(["plan", "-v", "--output", "json", "--observed"])
            .arg(&observed)
            .output()?,
    );
    ensure(offline.status.success(), output_text(&offline))?;
    ensure(
        offline.stdout == live.stdout,
        "the saved observation gives the same plan",
    )
}

/// chaton-2's backup host names node1 by its address: SSH lands on one
/// machine for both names (`ssh -G` resolves `node1` to that address), and
/// the plan refuses it, naming both.
fn one_machine_two_names(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let address = lab.node("node1").ok_or("node1")?.address.to_string();
    let text = std::fs::read_to_string(&file)?;
    ensure(text.contains("host     = \"root@node2\""), text.clone())?;
    std::fs::write(
        &file,
        text.replace(
            "host     = \"root@node2\"",
            &format!("host     = \"root@{address}\""),
        ),
    )?;
    let output = plan(lab, &file, &["--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let document = json(&output)?;
    let errors = document["errors"].to_string();
    ensure(
        errors.contains(&format!(
            "are one machine: SSH reaches both at {address}:22"
        )) && errors.contains("node1")
            && errors.contains(&address),
        errors,
    )?;
    ensure(
        document["applicable"] == false,
        "a plan with an error cannot be applied",
    )
}
