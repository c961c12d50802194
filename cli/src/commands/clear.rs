//! `archipel clear CHATON INCIDENT…|all`: after a person looked into a
//! vault's incidents (`archipel status` lists them), marks them cleared.
//! Until then the vault deletes nothing; once cleared, every deletion
//! waiting starts its grace period again, so clearing never lets a mass
//! delete through at once. Runs the pass of a node of the island that has
//! it, which records the clearing in the vault and passes again at once.

use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::{DesiredIsland, desired};
use archipel_planner::model::Archipelago;
use archipel_planner::status::PassReport;
use archipel_providers::ssh::{Ssh, SshSettings};
use archipel_providers::vault;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The chaton whose vault it is.
    chaton: String,
    /// The incidents' ids, as `archipel status` shows them, or `all` for
    /// every open one.
    #[arg(value_name = "INCIDENT", required = true)]
    incidents: Vec<String>,
    /// The island of the vault, when the chaton has vaults on several.
    #[arg(long, value_name = "ISLAND")]
    island: Option<String>,
}

impl Args {
    /// The island whose vault of the chaton is meant.
    fn island<'a>(&self, islands: &'a [DesiredIsland]) -> Result<&'a DesiredIsland, LoadError> {
        let vaulted: Vec<&DesiredIsland> = islands
            .iter()
            .filter(|i| {
                i.vaults
                    .as_ref()
                    .is_some_and(|v| v.chatons.contains(&self.chaton))
            })
            .collect();
        let names = || {
            vaulted
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (&self.island, vaulted.as_slice()) {
            (_, []) => Err(LoadError::new(format!(
                "chaton {} has no vault in the file",
                self.chaton
            ))),
            (None, [only]) => Ok(only),
            (None, _) => Err(LoadError::new(format!(
                "chaton {} has vaults on islands {}: say which with --island",
                self.chaton,
                names()
            ))),
            (Some(wanted), _) => vaulted
                .iter()
                .find(|i| &i.name == wanted)
                .copied()
                .ok_or_else(|| {
                    LoadError::new(format!(
                        "chaton {} has no vault on island {wanted} (it has on: {})",
                        self.chaton,
                        names()
                    ))
                }),
        }
    }

    /// The incidents, checked to be ids a pass makes (or `all` alone).
    fn checked_incidents(&self) -> Result<&[String], LoadError> {
        if self.incidents.iter().any(|i| i == "all") && self.incidents.len() > 1 {
            return Err(LoadError::new("give `all` alone, or incident ids"));
        }
        for id in &self.incidents {
            let shaped = !id.is_empty()
                && id.len() <= 200
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !shaped {
                return Err(LoadError::new(format!(
                    "{id:?} is not an incident id: they are as `archipel status` shows them (letters, digits and dashes)"
                )));
            }
        }
        Ok(&self.incidents)
    }
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let island = args.island(&desired.islands)?;
    let incidents = args.checked_incidents()?;
    let runtime = remote::runtime()?;
    let ssh = Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?;
    let outcome = runtime.block_on(clear_on_island(
        &ssh,
        &model,
        island,
        &args.chaton,
        incidents,
    ));
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

/// Clears through the first node of the island, in the file's order, that
/// answers and has the pass: the vault's state is in the vault, so any
/// node with the pass and the island's vault key can record it.
async fn clear_on_island(
    ssh: &Ssh,
    model: &Archipelago,
    island: &DesiredIsland,
    chaton: &str,
    incidents: &[String],
) -> Result<String, String> {
    let mut tried = Vec::new();
    for node in &island.nodes {
        let Some(machine) = model.machine(&node.name) else {
            continue;
        };
        let remote = match ssh
            .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
            .await
        {
            Ok(remote) => remote,
            Err(error) => {
                tried.push(error.to_string());
                continue;
            }
        };
        let mut last = None;
        let mut result = Ok(());
        for incident in incidents {
            match vault::clear(&remote, chaton, incident).await {
                Ok(Some(cleared)) => last = Some(cleared),
                Ok(None) => break,
                Err(error) => {
                    result = Err(error.to_string());
                    break;
                }
            }
        }
        remote::close([remote]).await;
        result?;
        match last {
            Some(cleared) => return Ok(summary(chaton, island, &node.name, &cleared)),
            None => tried.push(format!("{}: no vault pass installed", node.name)),
        }
    }
    Err(format!(
        "no node of island {} could clear it ({}); nothing was cleared",
        island.name,
        tried.join("; ")
    ))
}

/// What was cleared, and what the pass right after it still found.
fn summary(chaton: &str, island: &DesiredIsland, node: &str, cleared: &vault::Cleared) -> String {
    let done: Vec<&str> = cleared
        .messages
        .lines()
        .filter_map(|l| l.split_once(": cleared ").map(|(_, id)| id.trim()))
        .collect();
    let mut text = if done.is_empty() {
        format!(
            "No open incident of {chaton}'s vault on island {} was left to clear.",
            island.name
        )
    } else {
        format!(
            "Cleared on {chaton}'s vault on island {} (through {node}): {}. Deletions waiting in the vault start their grace period again.",
            island.name,
            done.join(", ")
        )
    };
    match serde_json::from_str::<PassReport>(cleared.report.trim()) {
        Ok(report) if report.incidents.is_empty() => {
            text.push_str("\nThe pass run after it found nothing: the vault is in order.");
        }
        Ok(report) => {
            text.push_str("\nThe pass run after it still finds (raised again while true):");
            for incident in &report.incidents {
                text.push_str(&format!(
                    "\n  incident {} ({}): {}",
                    incident.id, incident.kind, incident.what
                ));
            }
        }
        Err(error) => text.push_str(&format!(
            "\nThe pass run after it left no readable report ({error}): see `archipel status`."
        )),
    }
    text
}
