//! `archipel show PLANFILE`: a plan saved with `archipel plan -out`, in any
//! of plan's output formats; for a review or a pull-request comment of the
//! exact plan that `archipel apply PLANFILE` will make. Needs no machine.

use crate::args::{self, OutputArgs};
use crate::commands::plan::{self, PlanOutput};
use crate::files::LoadError;
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
    plan::print(&plan, args.output.format());
    Ok(ExitCode::SUCCESS)
}
