//! `archipel facts`: connect to every machine of the archipelago and report
//! what it is (OS, architecture, systemd, Garage and restic versions) — one
//! SSH round trip per machine, all machines at once. The preflight check
//! before a first plan, and the SSH set-up's proof.

use crate::Output;
use crate::files;
use crate::remote;
use archipel_planner::observed::{HostFacts, MachineObservation};
use archipel_planner::{backup, garage};
use archipel_providers::host::{FactsQuery, FileQuery};
use archipel_providers::observe;
use archipel_providers::ssh::{Ssh, SshSettings};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

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
    let Some(model) = files::load_valid(path, output == Output::Json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let machines = model.machines();
    let runtime = remote::runtime()?;
    let grace = remote::grace(settings.connect_timeout);
    let ssh = Arc::new(Ssh::new(settings).map_err(|e| files::LoadError::new(e.to_string()))?);
    let observation = runtime.block_on(async {
        let mut stop = remote::ctrl_c();
        let mut observation =
            observe::gather_machines(&ssh, &machines, |_| query(), &mut stop, grace).await;
        // Owned, not cloned: a connection closes when its last handle does.
        remote::close(std::mem::take(&mut observation.remotes).into_values()).await;
        observation
    });
    drop(ssh);

    let report = Report {
        format_version: "1",
        machines: machines
            .iter()
            .map(|machine| {
                let (facts, error) = match observation.observed.machines.get(&machine.name) {
                    Some(MachineObservation::Reached { facts }) => (Some(facts.clone()), None),
                    Some(MachineObservation::Unreachable { problem }) => {
                        (None, Some(problem.message.clone()))
                    }
                    None => (None, Some("not observed".to_string())),
                };
                MachineReport {
                    name: machine.name.clone(),
                    ssh: machine.ssh.to_string(),
                    facts,
                    error,
                }
            })
            .collect(),
    };
    let failed = report.machines.iter().filter(|m| m.error.is_some()).count();
    match output {
        Output::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Output::Human => print_table(&report),
    }
    if observation.interrupted {
        eprintln!("Interrupted: connections closed.");
        return Ok(ExitCode::from(remote::INTERRUPTED));
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
        // restic is found by its probe, wherever it is on the PATH.
        files: vec![FileQuery::hashed(garage::BINARY)],
        units: vec![garage::SERVICE.into()],
        probes: [garage::VERSION_PROBE, backup::RESTIC_PROBE]
            .iter()
            .map(|(name, snippet)| (name.to_string(), snippet.to_string()))
            .collect(),
    }
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
        outln!(
            "{:width$}  {:ssh_width$}  {summary}",
            machine.name,
            machine.ssh
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
