//! `--output json`: the plan as a versioned document, described in
//! docs/plan-json.md and docs/plan.schema.json.

use archipel_planner::plan::{Change, Incomplete, Plan, PlanError, Summary, Unmanaged};
use serde::Serialize;

pub const FORMAT_VERSION: &str = "1";

#[derive(Serialize)]
struct Document<'p> {
    format_version: &'static str,
    summary: Summary,
    /// Whether apply may proceed: no errors, everything observed.
    applicable: bool,
    changes: &'p [Change],
    unmanaged: &'p [Unmanaged],
    incomplete: &'p [Incomplete],
    errors: &'p [PlanError],
    warnings: &'p [String],
}

pub fn render(plan: &Plan) -> String {
    let document = Document {
        format_version: FORMAT_VERSION,
        summary: plan.summary(),
        applicable: !plan.is_blocked(),
        changes: &plan.changes,
        unmanaged: &plan.unmanaged,
        incomplete: &plan.incomplete,
        errors: &plan.errors,
        warnings: &plan.warnings,
    };
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
