//! `archipel unlock ISLAND LOCK_ID`: breaks the island lock an apply left
//! behind (it crashed, or its machine went away). The id must be the one
//! the lock holds, as apply's refusal printed it: a lock is never broken
//! by mistake, nor one taken meanwhile by another apply.

use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::desired;
use archipel_providers::lock;
use archipel_providers::ssh::{Ssh, SshSettings};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The island whose lock to break.
    island: String,
    /// The lock's id, as apply's refusal shows it.
    #[arg(value_name = "LOCK_ID")]
    id: String,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let island = desired
        .islands
        .iter()
        .find(|i| i.name == args.island)
        .ok_or_else(|| LoadError::new(format!("the file has no island {}", args.island)))?;
    let node = island
        .nodes
        .first()
        .ok_or_else(|| LoadError::new(format!("island {} has no node", args.island)))?;
    let machine = model
        .machine(&node.name)
        .ok_or_else(|| LoadError::new(format!("no machine {}", node.name)))?;
    let runtime = remote::runtime()?;
    let ssh = Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?;
    let outcome = runtime.block_on(async {
        let remote = ssh
            .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let result = async {
            match lock::read(&remote).await.map_err(|e| e.to_string())? {
                None => Err(format!("island {} is not locked", args.island)),
                Some(holder) if holder.id != args.id => Err(format!(
                    "island {} holds another lock: {}; nothing was changed",
                    args.island,
                    holder.describe()
                )),
                Some(holder) => match lock::release(&remote, &holder.id).await {
                    Ok(true) => Ok(format!(
                        "Unlocked island {}: {} is broken.",
                        args.island,
                        holder.describe()
                    )),
                    Ok(false) => Err(format!(
                        "the lock of island {} changed meanwhile; nothing was changed",
                        args.island
                    )),
                    Err(e) => Err(e.to_string()),
                },
            }
        }
        .await;
        remote::close([remote]).await;
        result
    });
    match outcome {
        Ok(message) => {
            outln!("{message}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("Error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
