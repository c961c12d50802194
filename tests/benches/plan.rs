//! Benchmark: `archipel plan` against 12 lab nodes running four live
//! 3-node Garage islands that `archipel apply` set up: the steady-state
//! plan a drift check runs.
//!
//!   cargo bench -p archipel-tests --bench plan      (as root: starts a lab)
//!
//! Reports the wall time of the whole command, and the SSH round trips per
//! host that observing takes.

use archipel_planner::desired::desired;
use archipel_planner::source::Sources;
use archipel_providers::observe;
use archipel_providers::ssh::{Ssh, SshSettings};
use archipel_tests::{Lab, archipel_binary};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ISLANDS: usize = 4;
const NODES_PER_ISLAND: usize = 3;
const RUNS: usize = 7;

fn archipelago(garage: &str, sha256: &str) -> String {
    let mut text = String::new();
    for island in 0..ISLANDS {
        text.push_str(&format!(
            "island \"i{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
        for n in 0..NODES_PER_ISLAND {
            let node = island * NODES_PER_ISLAND + n + 1;
            text.push_str(&format!(
                "chaton \"c-node{node}\" {{\n  island  = \"i{island}\"\n  contact = \"c{node}@lab\"\n\n  node \"node{node}\" {{\n    ssh      = \"root@node{node}\"\n    capacity = \"10G\"\n  }}\n}}\n\n"
            ));
        }
    }
    text
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lab = Lab::start(ISLANDS * NODES_PER_ISLAND)?;
    let (garage, sha256) = archipel_tests::garage_build()?;
    let (garage, sha256) = (garage.as_str(), sha256.as_str());
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("archipelago.hcl");
    let text = archipelago(garage, sha256);
    std::fs::write(&file, &text)?;

    let binary = archipel_binary()?;
    // Converge first: the plan measured is the steady-state one.
    let applied = Command::new(&binary)
        .arg("-f")
        .arg(&file)
        .args(["apply", "--ssh-config"])
        .arg(lab.ssh_config())
        .args(["--auto-approve"])
        .output()?;
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let output = Command::new(&binary)
            .arg("-f")
            .arg(&file)
            .args(["plan", "--ssh-config"])
            .arg(lab.ssh_config())
            .args(["--output", "json"])
            .output()?;
        times.push(started.elapsed());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    times.sort();

    // Round trips: the same observation through the library, counted.
    let mut sources = Sources::new();
    sources.add("archipelago.hcl", text.as_str());
    let model = archipel_planner::check(&sources).archipelago;
    let desired = desired(&model);
    let runtime = tokio::runtime::Runtime::new()?;
    let (per_node, per_through) = runtime.block_on(async {
        let ssh = Arc::new(Ssh::new(SshSettings {
            config_file: Some(lab.ssh_config()),
            ..SshSettings::default()
        })?);
        let (_stop_sender, mut stop) = tokio::sync::watch::channel(false);
        let observation = observe::observe(
            &ssh,
            &desired,
            &model.machines(),
            &mut stop,
            Duration::from_secs(5),
        )
        .await;
        let counts: Vec<usize> = observation
            .remotes
            .values()
            .map(|r| r.commands_run())
            .collect();
        let through = counts.iter().max().copied().unwrap_or(0);
        let plain = counts.iter().min().copied().unwrap_or(0);
        archipel_providers::ssh::close_all(observation.remotes.into_values()).await;
        Ok::<_, Box<dyn std::error::Error>>((plain, through))
    })?;
    println!(
        "plan: {} islands, {} nodes, converged: wall time median {:.0} ms (min {:.0}, max {:.0}, {RUNS} runs); SSH round trips: {per_node} per node, {per_through} on the node each island is read through (facts, then the admin API: one batch, two with keys or buckets)",
        ISLANDS,
        ISLANDS * NODES_PER_ISLAND,
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
    );
    drop(lab);
    Ok(())
}
