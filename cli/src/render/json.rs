//! `--output json`: the plan as a versioned document, described in
//! docs/plan-json.md and docs/plan.schema.json.

use archipel_planner::address::Address;
use archipel_planner::plan::{
    Action, AttributeChange, Change, FileChange, Incomplete, Plan, PlanError, Summary, Unmanaged,
};
use serde::Serialize;

pub const FORMAT_VERSION: &str = "1";

#[derive(Serialize)]
struct Document<'p> {
    format_version: &'static str,
    summary: Summary,
    /// Whether apply may proceed: no errors, everything observed.
    applicable: bool,
    changes: Vec<ChangeView<'p>>,
    unmanaged: &'p [Unmanaged],
    incomplete: &'p [Incomplete],
    errors: &'p [PlanError],
    warnings: &'p [String],
}

/// A change as the document shows it. Its target is for apply (saved plans
/// carry it): the address says the same to people and scripts.
#[derive(Serialize)]
struct ChangeView<'c> {
    address: &'c Address,
    action: Action,
    reason: &'c str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attributes: &'c [AttributeChange],
    #[serde(skip_serializing_if = "Option::is_none")]
    file: &'c Option<FileChange>,
    depends_on: &'c [Address],
}

impl<'c> From<&'c Change> for ChangeView<'c> {
    fn from(change: &'c Change) -> ChangeView<'c> {
        ChangeView {
            address: &change.address,
            action: change.action,
            reason: &change.reason,
            attributes: &change.attributes,
            file: &change.file,
            depends_on: &change.depends_on,
        }
    }
}

pub fn render(plan: &Plan) -> String {
    let document = Document {
        format_version: FORMAT_VERSION,
        summary: plan.summary(),
        applicable: !plan.is_blocked(),
        changes: plan.changes.iter().map(ChangeView::from).collect(),
        unmanaged: &plan.unmanaged,
        incomplete: &plan.incomplete,
        errors: &plan.errors,
        warnings: &plan.warnings,
    };
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
