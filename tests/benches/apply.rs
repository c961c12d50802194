//! Benchmark: `archipel apply` from six bare lab nodes to two healthy
//! 3-node islands with buckets and keys, the binary upload included.
//!
//!   cargo bench -p archipel-tests --bench apply      (as root: starts a lab)
//!
//! Reports the wall time and where it goes: the time spent in each kind of
//! change (from apply's own per-change durations, which overlap).

use archipel_tests::{Lab, archipel_binary};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lab = Lab::start(6)?;
    let (garage, sha256) = archipel_tests::garage_build()?;
    let (garage, sha256) = (garage.as_str(), sha256.as_str());
    let mut text = String::new();
    for island in ["lab-a", "lab-b"] {
        text.push_str(&format!(
            "island \"{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
    }
    for i in 1..=6 {
        let island = if i <= 3 { "lab-a" } else { "lab-b" };
        text.push_str(&format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"c{i}@lab\"\n\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n}}\n\n"
        ));
    }
    text.push_str("bucket \"shared-a\" {\n  island  = \"lab-a\"\n  quota   = \"1G\"\n  writers = [\"chaton-1\", \"chaton-2\"]\n}\n\nbucket \"shared-b\" {\n  island  = \"lab-b\"\n  quota   = \"1G\"\n  writers = [\"chaton-4\"]\n}\n");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("archipelago.hcl");
    std::fs::write(&file, text)?;

    let binary = archipel_binary()?;
    let started = Instant::now();
    let output = Command::new(&binary)
        .arg("-f")
        .arg(&file)
        .args(["apply", "--ssh-config"])
        .arg(lab.ssh_config())
        .args(["--auto-approve"])
        .output()?;
    let wall = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{log}{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // "island.lab-a.node.node1.binary: done (1.2 s)" → kind "binary".
    let mut per_kind: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for line in log.lines() {
        let Some((address, rest)) = line.split_once(": done (") else {
            continue;
        };
        let seconds: f64 = rest.trim_end_matches(" s)").parse().unwrap_or(0.0);
        let parts: Vec<&str> = address.split('.').collect();
        let kind = match parts.as_slice() {
            ["island", _, "node", _, step] => step.to_string(),
            ["island", _, "bucket", _, "grant", _] => "grant".to_string(),
            ["island", _, kind, ..] => kind.to_string(),
            _ => address.to_string(),
        };
        let entry = per_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(seconds);
    }
    let breakdown: Vec<String> = per_kind
        .iter()
        .map(|(kind, (count, slowest))| format!("{kind} ×{count} (slowest {slowest:.1} s)"))
        .collect();
    println!(
        "apply: bare → 2 islands of 3 nodes, binary upload included: {:.1} s wall (observe, plan, apply, observe again); {}",
        wall.as_secs_f64(),
        breakdown.join(", ")
    );
    drop(lab);
    Ok(())
}
