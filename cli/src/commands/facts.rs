//! `archipel facts`: connect to every machine of the archipelago and report
//! what it is (OS, architecture, systemd, Garage and restic present) — one
//! SSH round trip per machine, all machines at once. The preflight check
//! before a first plan, and the SSH set-up's proof.

use crate::Output;
use crate::files;
use archipel_planner::model::Machine;
use archipel_planner::observed::HostFacts;
use archipel_planner::{backup, garage};
use archipel_providers::host::{self, FactsQuery, FileQuery};
use archipel_providers::ssh::{Remote, Ssh, SshError, SshSettings, close_all};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

const RESTIC_BINARY: &str = "/usr/bin/restic";

/// Exit status after Ctrl-C, as shells report SIGINT.
const INTERRUPTED: u8 = 130;

#[derive(Serialize)]
struct Report {
    format_version: &'static str,
    machines: Vec<MachineReport>,
}

#[derive(Serialize)]
struct MachineReport {
    name: String,
    ssh: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<HostFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(
    path: &Path,
    settings: SshSettings,
    output: Output,
) -> Result<ExitCode, files::LoadError> {
    let Some(model) = files::load_valid(path)? else {
        return Ok(ExitCode::FAILURE);
    };
    let machines = model.machines();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| files::LoadError::new(format!("cannot start the async runtime: {e}")))?;
    let connect_timeout = settings.connect_timeout;
    let ssh = Arc::new(Ssh::new(settings).map_err(|e| files::LoadError::new(e.to_string()))?);
    let (results, interrupted) = runtime.block_on(gather(&ssh, &machines, connect_timeout));
    drop(ssh);

    let report = Report {
        format_version: "1",
        machines: machines
            .iter()
            .zip(results)
            .map(|(machine, result)| MachineReport {
                name: machine.name.clone(),
                ssh: machine.ssh.to_string(),
                error: result.as_ref().err().cloned(),
                facts: result.ok(),
            })
            .collect(),
    };
    let failed = report.machines.iter().filter(|m| m.error.is_some()).count();
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Output::Human => print_table(&report),
    }
    if interrupted {
        eprintln!("Interrupted: connections closed.");
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} machines could not be observed.",
            report.machines.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn query() -> FactsQuery {
    FactsQuery {
        files: vec![
            FileQuery::hashed(garage::BINARY),
            FileQuery::metadata_only(RESTIC_BINARY),
        ],
        units: vec![garage::SERVICE.into()],
        probes: [garage::VERSION_PROBE, backup::RESTIC_PROBE]
            .iter()
            .map(|(name, snippet)| (name.to_string(), snippet.to_string()))
            .collect(),
    }
}

/// Connects to and observes every machine at once. On Ctrl-C, starts
/// nothing new, lets connections in progress settle (at most the connect
/// timeout), then closes every connection: no SSH master outlives archipel.
async fn gather(
    ssh: &Arc<Ssh>,
    machines: &[Machine],
    connect_timeout: Duration,
) -> (Vec<Result<HostFacts, String>>, bool) {
    let mut tasks = JoinSet::new();
    for (index, machine) in machines.iter().enumerate() {
        let ssh = Arc::clone(ssh);
        let machine = machine.clone();
        tasks.spawn(async move {
            let remote = ssh
                .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
                .await;
            let facts = match &remote {
                Ok(remote) => host::gather(remote, &query()).await,
                Err(_) => Err(SshError::Local(String::new())),
            };
            (index, remote, facts)
        });
    }
    let mut results: Vec<Result<HostFacts, String>> = machines
        .iter()
        .map(|_| Err("not observed: interrupted".to_string()))
        .collect();
    let mut remotes: Vec<Remote> = Vec::new();
    let mut collect =
        |(index, remote, facts): (usize, Result<Remote, SshError>, Result<HostFacts, SshError>)| {
            results[index] = match (&remote, facts) {
                (Err(error), _) => Err(error.to_string()),
                (Ok(_), facts) => facts.map_err(|e| e.to_string()),
            };
            remotes.extend(remote.ok());
        };

    // Ctrl-C starts a grace period for connections in progress; when it
    // ends, what is still running is aborted.
    let mut interrupted = false;
    let grace = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(done)) => collect(done),
                Some(Err(_)) => {}
                None => break,
            },
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                eprintln!("Interrupted: waiting for connections in progress, then closing them…");
                grace.as_mut().reset(tokio::time::Instant::now() + connect_timeout + Duration::from_secs(2));
            }
            _ = &mut grace, if interrupted => tasks.abort_all(),
        }
    }
    for error in close_all(remotes).await {
        eprintln!("warning: {error}");
    }
    (results, interrupted)
}

fn print_table(report: &Report) {
    let width = report
        .machines
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0);
    let ssh_width = report
        .machines
        .iter()
        .map(|m| m.ssh.len())
        .max()
        .unwrap_or(0);
    for machine in &report.machines {
        let summary = match (&machine.facts, &machine.error) {
            (Some(facts), _) => describe(facts),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => String::new(),
        };
        println!(
            "{:width$}  {:ssh_width$}  {summary}",
            machine.name, machine.ssh
        );
    }
}

fn describe(facts: &HostFacts) -> String {
    let version = |probe: &str| {
        facts
            .probes
            .get(probe)
            .filter(|p| p.status == 0)
            .map(|p| p.output.lines().next().unwrap_or("").to_string())
    };
    let garage = match (
        facts.units.get(garage::SERVICE),
        version(garage::VERSION_PROBE.0),
    ) {
        (Some(unit), Some(version)) if unit.installed => format!("{version} ({})", unit.active),
        (_, Some(version)) => version,
        _ => "no garage".to_string(),
    };
    let restic = version(backup::RESTIC_PROBE.0).unwrap_or_else(|| "no restic".to_string());
    format!(
        "{} {}  {}  {}  {garage}  {restic}",
        facts.os_id,
        facts.os_version,
        facts.architecture,
        if facts.systemd {
            "systemd"
        } else {
            "no systemd"
        },
    )
}
