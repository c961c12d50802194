//! `archipel status`: each backup job's last success against its schedule,
//! its last snapshot and check, its bucket against its quota; each island's
//! health and capacity; each vault's last pass and open incidents. Reads
//! the status files archipel's runner writes on the hosts, the vault
//! passes' reports on the island nodes, and the islands through their
//! nodes.

use crate::args::{self, Format, OutputArgs};
use crate::files::{self, LoadError};
use crate::remote;
use crate::render::status::html::html;
use crate::render::status::prometheus::prometheus;
use crate::render::status::{human, markdown};
use archipel_planner::desired::desired;
use archipel_planner::status;
use archipel_providers::observe;
use archipel_providers::ssh::{Ssh, SshSettings};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusOutput {
    /// A table per chaton and island.
    Human,
    /// For scripts and monitoring.
    Json,
    /// For a report or an issue.
    Markdown,
    /// Prometheus's text format, for node_exporter's textfile collector.
    Prometheus,
    /// One self-contained page, for a CI job to publish.
    Html,
}

impl Format for StatusOutput {
    const JSON: Self = StatusOutput::Json;
}

#[derive(Debug, clap::Args)]
#[command(mut_arg("output", args::help("How to print the status")))]
pub struct Args {
    #[command(flatten)]
    pub output: OutputArgs<StatusOutput>,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, args.output.json())? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let machines = model.machines();
    let runtime = remote::runtime()?;
    let grace = remote::grace(settings.connect_timeout);
    let ssh = Arc::new(Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?);
    let observation = runtime.block_on(async {
        let mut stop = remote::ctrl_c();
        let mut observation = observe::observe_with(
            &ssh,
            &desired,
            &machines,
            |m| status::query(&desired, &m.name),
            &mut stop,
            grace,
        )
        .await;
        remote::close(std::mem::take(&mut observation.remotes).into_values()).await;
        observation
    });
    drop(ssh);
    if observation.interrupted {
        eprintln!("Interrupted.");
        return Ok(ExitCode::from(remote::INTERRUPTED));
    }
    let report = status::status(&desired, &observation.observed);
    match args.output.format() {
        StatusOutput::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| LoadError::new(e.to_string()))?
        ),
        StatusOutput::Human => out!("{}", human(&report)),
        StatusOutput::Markdown => out!("{}", markdown(&report)),
        StatusOutput::Prometheus => out!("{}", prometheus(&report)),
        StatusOutput::Html => out!(
            "{}",
            html(
                &report,
                &humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
            )
        ),
    }
    Ok(if report.is_good() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
