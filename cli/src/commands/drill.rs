//! `archipel drill CHATON/JOB`: on the job's host, restore a sample of the
//! latest snapshot into a temporary directory and verify it against the
//! snapshot, through archipel's runner (which records the result where
//! `status` reads it).

use crate::args::{self, JobArgs};
use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::desired;
use archipel_planner::status::Run;
use archipel_providers::backup;
use archipel_providers::ssh::{Ssh, SshSettings};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(mut_arg("job", args::help("The job to drill, as CHATON/JOB")))]
pub struct Args {
    #[command(flatten)]
    job: JobArgs,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let job = args.job.of(&desired)?;
    let machine = model
        .machine(&job.machine)
        .ok_or_else(|| LoadError::new(format!("no machine {}", job.machine)))?;
    let runtime = remote::runtime()?;
    let ssh = Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?;
    let outcome = runtime.block_on(async {
        let remote = ssh
            .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("Drilling {} on {}…", args.job, machine.name);
        let record = backup::drill(&remote, job).await.map_err(|e| e.to_string());
        remote::close([remote]).await;
        record
    });
    let text = match outcome {
        Ok(record) => record,
        Err(error) => {
            eprintln!("Error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let run: Run = serde_json::from_str(text.trim())
        .map_err(|e| LoadError::new(format!("the drill left no readable record: {e}")))?;
    let dumps = dump_lines(&run);
    if run.exit_code == 0 {
        outln!(
            "Drill of {} passed: a sample of the latest snapshot restored and verified in {} s.",
            args.job,
            run.duration_seconds
        );
        for dump in dumps {
            outln!("  {dump}");
        }
        Ok(ExitCode::SUCCESS)
    } else if run
        .steps
        .iter()
        .any(|step| step.dump.is_some() && step.exit_code != 0)
    {
        outln!(
            "Drill of {} FAILED: the latest snapshot restores, but a dump does not pass.",
            args.job
        );
        for dump in dumps {
            outln!("  {dump}");
        }
        Ok(ExitCode::FAILURE)
    } else {
        outln!(
            "Drill of {} FAILED (restic exit {}): the latest snapshot does not restore; see `journalctl` or run restic restore by hand on {}.",
            args.job,
            run.exit_code,
            job.machine
        );
        Ok(ExitCode::FAILURE)
    }
}

/// What the drill found of each dump of the snapshot, a line each.
fn dump_lines(run: &Run) -> Vec<String> {
    run.steps
        .iter()
        .filter_map(|step| {
            let name = step.dump.as_ref()?;
            Some(match (step.exit_code, step.checked) {
                (0, Some(true)) => format!("dump {name} restored and accepted by its check"),
                (0, _) => format!("dump {name} restored, not empty"),
                (code, _) => format!(
                    "dump {name} FAILED (exit {code}){}",
                    step.output
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(|l| format!(": {}", l.trim()))
                        .unwrap_or_default()
                ),
            })
        })
        .collect()
}
