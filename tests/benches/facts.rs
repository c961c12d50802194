//! Benchmark: gathering host facts from 12 lab nodes.
//!
//!   cargo bench -p archipel-tests --bench facts      (as root: starts a lab)
//!
//! Reports the wall time of gathering from all nodes at once against the
//! slowest node alone, and the SSH round trips per host. The aim: one round
//! trip per host, and all hosts in about the time of the slowest one.

use archipel_planner::garage;
use archipel_planner::model::{Machine, SshTarget};
use archipel_providers::host::{self, FactsQuery, FileQuery, Read};
use archipel_providers::ssh::{Ssh, SshSettings, close_all};
use archipel_tests::Lab;
use std::time::{Duration, Instant};

const NODES: usize = 12;
const ROUNDS: usize = 10;

/// What `plan` asks every node.
fn plan_query() -> FactsQuery {
    FactsQuery {
        files: vec![
            FileQuery::new(garage::BINARY, Read::Hash),
            FileQuery::new(garage::CONFIG, Read::Content),
            FileQuery::new(garage::UNIT, Read::Content),
            FileQuery::new(garage::RPC_SECRET, Read::Metadata),
            FileQuery::new(garage::ADMIN_TOKEN, Read::Metadata),
            FileQuery::new("/var/lib/garage/meta", Read::Metadata),
            FileQuery::new("/var/lib/garage/data", Read::Metadata),
            FileQuery::new(garage::node_key_path("/var/lib/garage/meta"), Read::Hex),
        ],
        units: vec![garage::SERVICE.into()],
        probes: [garage::VERSION_PROBE, garage::USER_PROBE]
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lab = Lab::start(NODES)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ssh = Ssh::new(SshSettings {
            config_file: Some(lab.ssh_config()),
            ..SshSettings::default()
        })?;
        let machines: Vec<Machine> = lab
            .nodes()
            .iter()
            .map(|n| Machine {
                name: n.name.clone(),
                ssh: SshTarget::parse(&n.name).expect("lab node name"),
                host_key: None,
                node: Some(n.name.clone()),
                backups: Vec::new(),
            })
            .collect();
        let started = Instant::now();
        let remotes = ssh.connect_all(&machines).await.into_iter().collect::<Result<Vec<_>, _>>()?;
        let connect = started.elapsed();

        let query = plan_query();
        let mut all = Vec::new();
        let mut slowest_alone = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            for facts in host::gather_all(&remotes, &query).await {
                facts?;
            }
            all.push(started.elapsed());
            let mut slowest = Duration::ZERO;
            for remote in &remotes {
                let started = Instant::now();
                host::gather(remote, &query).await?;
                slowest = slowest.max(started.elapsed());
            }
            slowest_alone.push(slowest);
        }
        let round_trips: Vec<usize> = remotes.iter().map(|r| r.commands_run()).collect();
        let per_gather = round_trips.iter().max().copied().unwrap_or(0) as f64 / (2 * ROUNDS) as f64;

        // The floor: one trivial command on every host at once. The lab's
        // nodes share this machine's cores, so the facts script's own CPU
        // time adds up across nodes; SSH itself should cost about this.
        let mut trivial = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            for output in futures_util::future::join_all(remotes.iter().map(|r| r.run_checked("true", &[], None))).await {
                output?;
            }
            trivial.push(started.elapsed());
        }
        trivial.sort();
        all.sort();
        slowest_alone.sort();
        println!(
            "facts: {NODES} nodes ({} cores), connect all {:.0} ms; gather all: median {:.1} ms (min {:.1}); slowest single host alone: median {:.1} ms; `true` on all hosts: median {:.1} ms; SSH round trips per host per gather: {per_gather}",
            std::thread::available_parallelism().map_or(0, usize::from),
            connect.as_secs_f64() * 1e3,
            all[ROUNDS / 2].as_secs_f64() * 1e3,
            all[0].as_secs_f64() * 1e3,
            slowest_alone[ROUNDS / 2].as_secs_f64() * 1e3,
            trivial[ROUNDS / 2].as_secs_f64() * 1e3,
        );
        close_all(remotes).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    drop(lab);
    Ok(())
}
