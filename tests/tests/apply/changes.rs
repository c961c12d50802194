//! Changes to running islands: a capacity change bumps the layout once; a
//! config change restarts nodes one at a time under reads.

use crate::fixture::{S3Key, archipelago};
use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, garage_build, output_text};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub fn capacity_change(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| {
        t.replacen(
            "ssh      = \"root@node2\"\n    capacity = \"10G\"",
            "ssh      = \"root@node2\"\n    capacity = \"20G\"",
            1,
        )
    })?;
    let before = api(lab, "node1", "GetClusterLayout")?["version"]
        .as_u64()
        .ok_or("version")?;
    let output = archipel(lab, &file, &["plan", "--output", "json"])?;
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .ok_or("changes")?
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    ensure(
        addresses == ["island.lab-a.layout"],
        format!("{addresses:?}"),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let after = api(lab, "node1", "GetClusterLayout")?;
    ensure(
        after["version"] == before + 1,
        format!("{before} -> {}", after["version"]),
    )?;
    let role = after["roles"]
        .as_array()
        .ok_or("roles")?
        .iter()
        .find(|r| r["tags"][1] == "node2")
        .cloned()
        .ok_or("role")?;
    ensure(role["capacity"] == 20_000_000_000u64, format!("{role}"))
}

pub fn rolling_restart(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let base = archipelago(dir.path(), &binary, &sha256, |t| {
        t.replacen(
            "ssh      = \"root@node2\"\n    capacity = \"10G\"",
            "ssh      = \"root@node2\"\n    capacity = \"20G\"",
            1,
        )
    })?;
    let writer = S3Key::of(lab, "node1", "archipel-chaton-1")?;
    writer
        .on(lab, "node1")?
        .put("shared-a", "steady", b"still here\n".to_vec())?;
    // One client per node.
    let endpoints: Vec<S3> = (1..=3)
        .map(|i| writer.on(lab, &format!("node{i}")))
        .collect::<Result<_, _>>()?;

    // A reader that, like any client with several endpoints, moves to the
    // next node when one does not answer; a read fails only when none does.
    let done = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (done, reads, failures) = (done.clone(), reads.clone(), failures.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let ok = endpoints.iter().any(|node| {
                    node.get("shared-a", "steady")
                        .is_ok_and(|body| body == b"still here\n")
                });
                reads.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let file = dir.path().join("degraded.hcl");
    std::fs::write(
        &file,
        std::fs::read_to_string(&base)?.replacen("replication_factor = 2\n  }\n}\n\nisland \"lab-b\"", "replication_factor = 2\n    consistency_mode   = \"degraded\"\n  }\n}\n\nisland \"lab-b\"", 1),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"]);
    done.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let output = output?;
    ensure(output.status.success(), output_text(&output))?;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    // Restarts one after the other: each ends before the next starts.
    let events: Vec<&str> = log.lines().filter(|l| l.contains(".service: ")).collect();
    ensure(events.len() == 6, format!("{events:?}"))?;
    for pair in events.chunks(2) {
        ensure(
            pair[0].ends_with("applying…") && pair[1].contains(": done"),
            format!("restarts overlap: {events:?}"),
        )?;
    }
    ensure(reads.load(Ordering::Relaxed) > 5, "the reader ran")?;
    ensure(
        failures.load(Ordering::Relaxed) == 0,
        format!(
            "{} of {} reads failed during the roll",
            failures.load(Ordering::Relaxed),
            reads.load(Ordering::Relaxed)
        ),
    )?;
    let config = lab.ssh_ok("node3", "cat /etc/garage/garage.toml")?;
    ensure(config.contains("consistency_mode = \"degraded\""), config)
}
