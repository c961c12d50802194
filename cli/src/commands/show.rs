//! `archipel show PLANFILE`: a plan saved with `archipel plan -out`, in any
//! of plan's output formats; for a review or a pull-request comment of the
//! exact plan that `archipel apply PLANFILE` will make. Needs no machine.

use crate::args::{self, OutputArgs};
use crate::commands::plan::PlanOutput;
use crate::files::LoadError;
use crate::render;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(mut_arg("output", args::help("How to print it")))]
pub struct Args {
    /// The saved plan.
    #[arg(value_name = "PLANFILE")]
    saved: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs<PlanOutput>,
}

pub fn run(args: &Args) -> Result<ExitCode, LoadError> {
    let plan = crate::files::read_saved(&args.saved)?.into_plan();
    let colour = crate::stdout::colour();
    let text = match args.output.format() {
        PlanOutput::Human => render::human::render(&plan, colour),
        PlanOutput::Json => render::json::render(&plan),
        PlanOutput::Markdown => render::markdown::render(&plan),
    };
    out!("{text}");
    if !text.ends_with('\n') {
        outln!();
    }
    Ok(ExitCode::SUCCESS)
}
