//! `archipel log [ISLAND]`: the applies that changed an island, from its
//! journal, read on every node of the island at once and merged (an entry
//! is there as long as one node that holds it answers): when, who (and
//! from which CI job), the plan's digest and summary, and how each change
//! went.

use crate::args::{self, Format, OutputArgs};
use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::journal::{Entry, Journal};
use archipel_planner::model::Archipelago;
use archipel_providers::ssh::{Ssh, SshSettings};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogOutput {
    /// One paragraph per apply, its changes below it.
    Human,
    /// Every entry as recorded, for scripts.
    Json,
    /// For a report or an issue.
    Markdown,
}

impl Format for LogOutput {
    const JSON: Self = LogOutput::Json;
}

#[derive(Debug, clap::Args)]
#[command(mut_arg("output", args::help("How to print the journal")))]
pub struct Args {
    /// The island whose journal to read (every island's when left out).
    #[arg(value_name = "ISLAND")]
    island: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs<LogOutput>,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, args.output.json())? else {
        return Ok(ExitCode::FAILURE);
    };
    let islands: Vec<&str> = match &args.island {
        Some(name) if model.island(name).is_none() => {
            return Err(LoadError::new(format!("the file has no island {name:?}")));
        }
        Some(name) => vec![name.as_str()],
        None => model.islands.iter().map(|i| i.name.as_str()).collect(),
    };
    let runtime = remote::runtime()?;
    let ssh = Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?;
    let journals: Vec<(String, Journal)> = runtime.block_on(async {
        futures_util::future::join_all(
            islands
                .iter()
                .map(|island| read_island(&ssh, &model, island)),
        )
        .await
    });
    let unread = journals
        .iter()
        .any(|(_, j)| j.entries.is_empty() && !j.problems.is_empty());
    match args.output.format() {
        LogOutput::Json => {
            let value: Vec<serde_json::Value> = journals
                .iter()
                .map(|(island, journal)| {
                    serde_json::json!({
                        "island": island,
                        "entries": journal.entries,
                        "holders": journal.holders,
                        "problems": journal.problems,
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&value).map_err(|e| LoadError::new(e.to_string()))?
            );
        }
        LogOutput::Human => out!("{}", human(&journals)),
        LogOutput::Markdown => out!("{}", markdown(&journals)),
    }
    Ok(if unread {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every node of the island, read at once.
async fn read_island(ssh: &Ssh, model: &Archipelago, island: &str) -> (String, Journal) {
    let nodes: Vec<_> = model
        .members(island)
        .flat_map(|c| c.nodes.iter())
        .filter_map(|n| model.machine(&n.name))
        .collect();
    let answers = futures_util::future::join_all(nodes.iter().map(|machine| async move {
        let answer = match ssh
            .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
            .await
        {
            Ok(remote) => {
                let read = archipel_providers::journal::read(&remote).await;
                remote::close([remote]).await;
                read.map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        (machine.name.clone(), answer)
    }))
    .await;
    let mut journal = Journal::default();
    for (node, answer) in answers {
        match answer {
            Ok(text) => journal.add(&node, &text),
            Err(error) => journal.problems.push(format!("{node}: {error}")),
        }
    }
    (island.to_string(), journal)
}

/// "alice on laptop", "ci on runner-3 (https://…/jobs/42)".
fn who(entry: &Entry) -> String {
    match &entry.ci_job {
        Some(job) => format!("{} on {} ({job})", entry.user, entry.machine),
        None => format!("{} on {}", entry.user, entry.machine),
    }
}

fn summary(entry: &Entry) -> String {
    format!(
        "{} to add, {} to change, {} to destroy",
        entry.summary.add, entry.summary.change, entry.summary.destroy
    )
}

fn change_line(change: &archipel_planner::journal::ChangeRecord) -> String {
    let action = serde_json::to_value(change.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match &change.detail {
        Some(detail) => format!("{} {action}: {} ({detail})", change.address, change.result),
        None => format!("{} {action}: {}", change.address, change.result),
    }
}

fn human(journals: &[(String, Journal)]) -> String {
    let mut out = String::new();
    for (island, journal) in journals {
        out.push_str(&format!("Island {island}\n"));
        if journal.entries.is_empty() && journal.problems.is_empty() {
            out.push_str("  no apply recorded\n");
        }
        for entry in &journal.entries {
            out.push_str(&format!(
                "\n  {} {} by {}: {}, {}\n    plan {}, apply {}\n",
                entry.started,
                entry.outcome.to_uppercase(),
                who(entry),
                summary(entry),
                entry.id,
                entry.plan_digest,
                entry.archipel_version,
            ));
            for change in &entry.changes {
                out.push_str(&format!("    {}\n", change_line(change)));
            }
        }
        for problem in &journal.problems {
            out.push_str(&format!("  not read: {problem}\n"));
        }
        out.push('\n');
    }
    out
}

fn markdown(journals: &[(String, Journal)]) -> String {
    let escape = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("### archipel log\n");
    for (island, journal) in journals {
        out.push_str(&format!(
            "\n**Island {island}**\n\n| when | who | outcome | changes | plan |\n|---|---|---|---|---|\n"
        ));
        for entry in &journal.entries {
            out.push_str(&format!(
                "| {} | {} | {} | {} | `{}` |\n",
                entry.started,
                escape(&who(entry)),
                entry.outcome,
                summary(entry),
                entry.plan_digest
            ));
        }
        for problem in &journal.problems {
            out.push_str(&format!("\n- not read: {}\n", escape(problem)));
        }
    }
    out
}
