//! `archipel validate`: check the archipelago offline.

use crate::Output;
use crate::diagnostics;
use crate::files;
use archipel_planner::capacity::{self, Capacity};
use archipel_planner::source::Sources;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, output: Output) -> Result<ExitCode, files::LoadError> {
    let paths = files::find(path)?;
    let (sources, mut problems) = files::read(&paths)?;
    // A file that is not text would only add noise: report it alone.
    let nothing = Sources::new();
    let checked = archipel_planner::check(if problems.is_empty() {
        &sources
    } else {
        &nothing
    });
    problems.extend(checked.diagnostics);
    archipel_planner::diagnostic::sort(&mut problems);
    let valid = !problems.iter().any(|d| d.is_error());
    let model = &checked.archipelago;
    let by_island = model.by_island();
    let capacities: Vec<Capacity> = model
        .islands
        .iter()
        .map(|island| capacity::island_capacity(island, by_island.of(&island.name)))
        .collect();
    let counts = serde_json::json!({
        "capacity": capacities,
        "islands": model.islands.len(),
        "chatons": model.chatons.len(),
        "nodes": model.chatons.iter().map(|c| c.nodes.len()).sum::<usize>(),
        "backups": model.chatons.iter().map(|c| c.backups.len()).sum::<usize>(),
        "buckets": model.buckets.len(),
    });
    match output {
        Output::Json => {
            outln!(
                "{}",
                diagnostics::render_json(&sources, &problems, valid.then_some(&counts))
            );
        }
        Output::Human => {
            eprint!(
                "{}",
                diagnostics::render_human(&sources, &problems, crate::stdout::colour_on_stderr())
            );
            if valid {
                let plural = |key: &str, word: &str| {
                    let n = counts[key].as_u64().unwrap_or(0);
                    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
                };
                outln!(
                    "The archipelago is valid: {}, {}, {}, {}, {}{}.",
                    plural("islands", "island"),
                    plural("chatons", "chaton"),
                    plural("nodes", "node"),
                    plural("backups", "backup"),
                    plural("buckets", "bucket"),
                    if problems.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", diagnostics::summary(&problems))
                    }
                );
                for capacity in &capacities {
                    outln!("  {}", crate::render::capacity_line(capacity));
                }
            } else {
                eprintln!(
                    "The archipelago is not valid: {}.",
                    diagnostics::summary(&problems)
                );
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
