//! Recording an apply in the journal of each island it changed: who ran
//! it (the user and machine, the CI job when it runs in one), when, the
//! plan's digest and summary, and how each of the island's changes went;
//! written on every node of the island apply reaches
//! (`planner::journal` says why there).

use archipel_planner::address::Address;
use archipel_planner::desired::Desired;
use archipel_planner::journal::{self, ChangeResult, Run};
use archipel_planner::plan::Plan;
use archipel_providers::apply::Outcome;
use archipel_providers::lock;
use archipel_providers::ssh::Remote;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Now, as the journal writes times: RFC 3339, UTC, to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The CI job that runs archipel, when it runs in one: GitLab's job,
/// GitHub's (and Forgejo Actions') run, Woodpecker's pipeline.
fn ci_job() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    var("CI_JOB_URL")
        .or_else(|| {
            Some(format!(
                "{}/{}/actions/runs/{}",
                var("GITHUB_SERVER_URL")?,
                var("GITHUB_REPOSITORY")?,
                var("GITHUB_RUN_ID")?
            ))
        })
        .or_else(|| var("CI_PIPELINE_URL"))
}

/// `YYYYMMDDTHHMMSSZ-RANDOM`, from `started`.
fn entry_id(started: &str) -> String {
    let stamp: String = started
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T' || *c == 'Z')
        .collect();
    let mut bytes = [0u8; 4];
    // Without randomness the stamp alone, still unique to the second.
    let _ = getrandom::fill(&mut bytes);
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{stamp}-{random}")
}

/// Writes the apply's entry on every node of each island it changed, and
/// says where it could not.
pub async fn record(
    desired: &Desired,
    plan: &Plan,
    outcomes: &[(Address, Outcome)],
    started: String,
    interrupted: bool,
    remotes: &BTreeMap<String, Remote>,
) {
    let results: Vec<(Address, ChangeResult)> = outcomes
        .iter()
        .map(|(address, outcome)| {
            let result = match outcome {
                Outcome::Done(_) => ChangeResult::Done,
                Outcome::Failed(why) => ChangeResult::Failed(why.clone()),
                Outcome::Skipped(why) => ChangeResult::Skipped(why.clone()),
            };
            (address.clone(), result)
        })
        .collect();
    let run = Run {
        id: entry_id(&started),
        started,
        finished: now(),
        user: lock::this_user(),
        machine: lock::this_host(),
        ci_job: ci_job(),
        archipel_version: env!("CARGO_PKG_VERSION").to_string(),
        interrupted,
    };
    for entry in journal::entries(plan, &results, &run) {
        let nodes: Vec<&str> = desired
            .islands
            .iter()
            .filter(|i| i.name == entry.island)
            .flat_map(|i| i.nodes.iter().map(|n| n.name.as_str()))
            .collect();
        let writes = nodes.iter().map(|node| async {
            let written = match remotes.get(*node) {
                Some(remote) => archipel_providers::journal::write(remote, &entry)
                    .await
                    .map_err(|e| e.to_string()),
                None => Err("not connected".to_string()),
            };
            (*node, written)
        });
        let written = futures_util::future::join_all(writes).await;
        let failed: Vec<String> = written
            .iter()
            .filter_map(|(node, result)| result.as_ref().err().map(|e| format!("{node}: {e}")))
            .collect();
        let count = written.len() - failed.len();
        if failed.is_empty() {
            let on = match count {
                1 => "its node".to_string(),
                n => format!("all {n} of its nodes"),
            };
            outln!(
                "Journal: island {} recorded this apply ({}) on {on}.",
                entry.island,
                entry.id
            );
        } else {
            eprintln!(
                "warning: the journal of island {} has this apply ({}) on {count} of {} nodes; not on {}",
                entry.island,
                entry.id,
                written.len(),
                failed.join("; ")
            );
        }
    }
}
