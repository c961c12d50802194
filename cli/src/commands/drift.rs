//! `archipel drift`: how the live archipelago strays from the file —
//! changed, missing, unmanaged — for a check on a timer. Exit 0 when there
//! is none, 2 when there is, 1 when the archipelago could not be read whole.

use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::desired;
use archipel_planner::drift::{Drift, DriftItem, drift};
use archipel_providers::ssh::SshSettings;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftOutput {
    /// For people: a section per kind of drift.
    Human,
    /// For scripts and monitoring.
    Json,
    /// For an issue or a chat message.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = DriftOutput::Human)]
    output: DriftOutput,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path)? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let Some(observed) = remote::observe_all(&model, &desired, settings)? else {
        eprintln!("Interrupted: connections closed, nothing compared.");
        return Ok(ExitCode::from(remote::INTERRUPTED));
    };
    let plan = archipel_planner::plan::plan(&desired, &observed);
    let report = drift(&plan);
    let problems: Vec<String> = plan
        .incomplete
        .iter()
        .map(|i| format!("{} could not be observed: {}", i.target, i.problem.message))
        .chain(
            plan.errors
                .iter()
                .map(|e| format!("{}: {}", e.address, e.message)),
        )
        .collect();
    let text = match args.output {
        DriftOutput::Human => human(&report, &problems),
        DriftOutput::Json => json(&report, &problems),
        DriftOutput::Markdown => markdown(&report, &problems),
    };
    out!("{text}");
    Ok(if !problems.is_empty() {
        ExitCode::FAILURE
    } else if report.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

const SECTIONS: [(&str, &str); 3] = [
    ("changed", "differs from the file"),
    ("missing", "in the file, not in the world"),
    ("unmanaged", "in the world, not in the file"),
];

fn sections(report: &Drift) -> [(&'static str, &'static str, &[DriftItem]); 3] {
    [
        (SECTIONS[0].0, SECTIONS[0].1, &report.changed),
        (SECTIONS[1].0, SECTIONS[1].1, &report.missing),
        (SECTIONS[2].0, SECTIONS[2].1, &report.unmanaged),
    ]
}

fn human(report: &Drift, problems: &[String]) -> String {
    let mut out = String::new();
    for problem in problems {
        out.push_str(&format!("! {problem}\n"));
    }
    for (name, meaning, items) in sections(report) {
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{} {name} ({meaning}):\n", items.len()));
        for item in items {
            out.push_str(&format!("  {}: {}\n", item.address, item.detail));
        }
    }
    out.push_str(&if report.is_empty() {
        "\nNo drift: the archipelago matches the file.\n".to_string()
    } else {
        format!(
            "\nDrift: {} changed, {} missing, {} unmanaged. `archipel plan` shows what apply would do about it.\n",
            report.changed.len(),
            report.missing.len(),
            report.unmanaged.len()
        )
    });
    out
}

fn json(report: &Drift, problems: &[String]) -> String {
    let document = serde_json::json!({
        "format_version": "1",
        "drift": !report.is_empty(),
        "changed": report.changed,
        "missing": report.missing,
        "unmanaged": report.unmanaged,
        "problems": problems,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&document).expect("JSON values serialize")
    )
}

fn markdown(report: &Drift, problems: &[String]) -> String {
    let escape = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("### archipel drift\n\n");
    if report.is_empty() && problems.is_empty() {
        out.push_str("No drift: the archipelago matches the file.\n");
        return out;
    }
    for problem in problems {
        out.push_str(&format!("- :warning: {}\n", escape(problem)));
    }
    out.push_str(&format!(
        "\n**{} changed, {} missing, {} unmanaged**\n\n| kind | address | what was seen |\n|---|---|---|\n",
        report.changed.len(),
        report.missing.len(),
        report.unmanaged.len()
    ));
    for (name, _, items) in sections(report) {
        for item in items {
            out.push_str(&format!(
                "| {name} | `{}` | {} |\n",
                item.address,
                escape(&item.detail)
            ));
        }
    }
    out
}
