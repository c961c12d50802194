//! `archipel plan`: observe the islands and machines, compare them with the
//! file, and show the changes apply would make, in order.

use crate::args::{self, DeadNodeArgs, Format, OutputArgs, ScopeArgs};
use crate::files::{self, LoadError};
use crate::timings::Phases;
use crate::{remote, render};
use archipel_planner::desired::desired;
use archipel_planner::observed::Observed;
use archipel_planner::plan::Plan;
use archipel_planner::saved::SavedPlan;
use archipel_planner::scope::restrict;
use archipel_providers::ssh::SshSettings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanOutput {
    /// For people: Terraform's layout, diffs of files, colour on a terminal.
    Human,
    /// For scripts: the document described in docs/plan-json.md.
    Json,
    /// For a pull-request comment: summary first, a section per island and chaton.
    Markdown,
}

impl Format for PlanOutput {
    const JSON: Self = PlanOutput::Json;
}

#[derive(Debug, clap::Args)]
#[command(mut_arg("output", args::help("How to print the plan")))]
pub struct Args {
    #[command(flatten)]
    pub output: OutputArgs<PlanOutput>,
    /// Also save the plan to FILE (as Terraform's -out; `-out FILE` works
    /// too), with what it was computed from, for `archipel apply FILE` and
    /// `archipel show FILE`. It holds no secret.
    #[arg(long = "out", value_name = "FILE", conflicts_with = "observed")]
    out: Option<PathBuf>,
    #[command(flatten)]
    only: ScopeArgs,
    #[command(flatten)]
    dead: DeadNodeArgs,
    /// Exit 2 when there are changes, 0 when there are none (1 on error),
    /// as `terraform plan -detailed-exitcode`: for drift checks on a timer.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Write what was observed (no secret is ever in it) to FILE, to
    /// reproduce the plan offline with --observed.
    #[arg(long, value_name = "FILE")]
    save_observed: Option<PathBuf>,
    /// Plan against an observation saved with --save-observed instead of
    /// connecting to the machines.
    #[arg(long, value_name = "FILE", conflicts_with = "save_observed")]
    observed: Option<PathBuf>,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let mut phases = Phases::start(settings.show_commands);
    let Some(model) = files::load_valid(path, args.output.json())? else {
        return Ok(ExitCode::FAILURE);
    };
    phases.mark("read");
    let mut desired = desired(&model);
    args.dead.declare(&mut desired)?;
    let scopes = args.only.scopes(&desired)?;
    let observed = match &args.observed {
        Some(file) => read_observation(file)?,
        None => match remote::observe_all(&model, &desired, settings, &mut phases)? {
            Some(observed) => observed,
            None => {
                eprintln!("Interrupted: connections closed, nothing planned.");
                return Ok(ExitCode::from(remote::INTERRUPTED));
            }
        },
    };
    if let Some(file) = &args.save_observed {
        write_json(file, &observed)?;
    }
    let plan = restrict(
        archipel_planner::plan::plan(&desired, &observed),
        &scopes,
        &desired,
    );
    phases.mark("plan");
    print(&plan, args.output.format());
    phases.mark("render");
    phases.print();
    if let Some(out) = &args.out {
        if plan.is_blocked() {
            eprintln!(
                "Error: the plan is incomplete or has errors: not saved to {}.",
                out.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        let saved = SavedPlan::new(&plan, &model, &observed, env!("CARGO_PKG_VERSION"));
        write_json(out, &saved)?;
        eprintln!(
            "Saved the plan to {}: `archipel apply {}` makes exactly these changes, or none if the archipelago changed meanwhile.",
            out.display(),
            out.display()
        );
    }
    Ok(if plan.is_blocked() {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// An observation saved with --save-observed.
fn read_observation(file: &Path) -> Result<Observed, LoadError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| LoadError::new(format!("cannot read {}: {e}", file.display())))?;
    serde_json::from_str::<Observed>(&text).map_err(|e| {
        LoadError::new(format!(
            "{} is not a saved observation: {e}",
            file.display()
        ))
    })
}

/// Writes `value` to `file` as pretty JSON, with a final newline.
fn write_json(file: &Path, value: &impl serde::Serialize) -> Result<(), LoadError> {
    let json = serde_json::to_string_pretty(value).map_err(|e| LoadError::new(e.to_string()))?;
    std::fs::write(file, json + "\n")
        .map_err(|e| LoadError::new(format!("cannot write {}: {e}", file.display())))
}

/// The plan on stdout, in the format asked for, ending with a newline
/// (`show` prints a saved plan so too).
pub fn print(plan: &Plan, format: PlanOutput) {
    let text = match format {
        PlanOutput::Human => render::human::render(plan, crate::stdout::colour()),
        PlanOutput::Json => render::json::render(plan),
        PlanOutput::Markdown => render::markdown::render(plan),
    };
    out!("{text}");
    if !text.ends_with('\n') {
        outln!();
    }
}
