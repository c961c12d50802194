//! `archipel drift`: how the live archipelago strays from the file —
//! changed, missing, unmanaged, and what could not be seen (unknown) — for a
//! check on a timer. Exit 0 when there is none, 2 when there is, 1 when the
//! archipelago could not be read whole: "no drift" is only ever said of an
//! archipelago seen whole.

use crate::args::{self, Format, OutputArgs};
use crate::files::{self, LoadError};
use crate::remote;
use crate::timings::Phases;
use archipel_planner::desired::desired;
use archipel_planner::drift::{Drift, DriftItem, Verdict, drift};
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

impl Format for DriftOutput {
    const JSON: Self = DriftOutput::Json;
}

#[derive(Debug, clap::Args)]
#[command(mut_arg("output", args::help("How to print the report")))]
pub struct Args {
    #[command(flatten)]
    pub output: OutputArgs<DriftOutput>,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, args.output.json())? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let mut phases = Phases::start(settings.show_commands);
    let Some(observed) = remote::observe_all(&model, &desired, settings, &mut phases)? else {
        eprintln!("Interrupted: connections closed, nothing compared.");
        return Ok(ExitCode::from(remote::INTERRUPTED));
    };
    let plan = archipel_planner::plan::plan(&desired, &observed);
    let report = drift(&plan);
    // Unobserved parts are in the report itself (unknown); these are the
    // plan's errors, which also keep it from saying "no drift".
    let problems: Vec<String> = plan
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.address, e.message))
        .collect();
    let text = match args.output.format() {
        DriftOutput::Human => human(&report, &problems),
        DriftOutput::Json => json(&report, &problems),
        DriftOutput::Markdown => markdown(&report, &problems),
    };
    out!("{text}");
    phases.mark("compare");
    phases.print();
    Ok(if !problems.is_empty() || !report.unknown.is_empty() {
        ExitCode::FAILURE
    } else if report.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Each kind of item: its name, what it means, its items.
fn sections(report: &Drift) -> [(&'static str, &'static str, &[DriftItem]); 4] {
    [
        ("changed", "differs from the file", &report.changed),
        ("missing", "in the file, not in the world", &report.missing),
        (
            "unmanaged",
            "in the world, not in the file",
            &report.unmanaged,
        ),
        (
            "unknown",
            "not observed: its drift is unknown",
            &report.unknown,
        ),
    ]
}

/// The closing sentence, the same in every human format.
fn conclusion(report: &Drift, problems: &[String]) -> String {
    let counts = format!(
        "{} changed, {} missing, {} unmanaged",
        report.changed.len(),
        report.missing.len(),
        report.unmanaged.len()
    );
    match report.verdict() {
        Verdict::Drift if report.unknown.is_empty() => {
            format!("Drift: {counts}. `archipel plan` shows what apply would do about it.")
        }
        Verdict::Drift => format!(
            "Drift: {counts}, and {} not observed, whose drift is unknown.",
            report.unknown.len()
        ),
        Verdict::Unknown => format!(
            "Drift unknown: {} could not be observed; no drift was seen in the rest.",
            plural(report.unknown.len(), "part")
        ),
        Verdict::None if !problems.is_empty() => {
            "No drift seen, but the plan has errors (listed first).".to_string()
        }
        Verdict::None => "No drift: the archipelago matches the file.".to_string(),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
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
    out.push_str(&format!("\n{}\n", conclusion(report, problems)));
    out
}

fn json(report: &Drift, problems: &[String]) -> String {
    let document = serde_json::json!({
        "format_version": "1",
        // false only when everything was observed and matches; null when
        // nothing seen drifted but some part was not seen.
        "drift": match report.verdict() {
            Verdict::Drift => serde_json::Value::Bool(true),
            Verdict::Unknown => serde_json::Value::Null,
            Verdict::None => serde_json::Value::Bool(false),
        },
        "verdict": report.verdict(),
        "complete": report.unknown.is_empty(),
        "changed": report.changed,
        "missing": report.missing,
        "unmanaged": report.unmanaged,
        "unknown": report.unknown,
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
    if report.verdict() == Verdict::None && problems.is_empty() {
        out.push_str("No drift: the archipelago matches the file.\n");
        return out;
    }
    for problem in problems {
        out.push_str(&format!("- :warning: {}\n", escape(problem)));
    }
    out.push_str(&format!(
        "\n**{}**\n\n| kind | address | what was seen |\n|---|---|---|\n",
        escape(&conclusion(report, problems))
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
