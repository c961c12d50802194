//! `--output markdown`: for a pull-request comment. The summary first, then
//! one collapsible section per island and per chaton, diffs in ```diff
//! blocks so forges colour them.

use super::{file_diff, group, summary_line, symbol, verb};
use archipel_planner::plan::{Action, Plan};
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let headline = if plan.is_blocked() {
        format!("❌ **{}** — the plan cannot be applied", summary_line(plan))
    } else if plan.changes.is_empty() {
        format!("✅ {}", summary_line(plan))
    } else {
        format!("**{}**", summary_line(plan))
    };
    let _ = writeln!(out, "### archipel plan\n\n{headline}\n");
    let destroyed: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.address.as_str())
        .collect();
    if !destroyed.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan destroys: {}\n",
            destroyed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for error in &plan.errors {
        let _ = writeln!(out, "- ❌ `{}`: {}", error.address, error.message);
    }
    for incomplete in &plan.incomplete {
        let _ = writeln!(
            out,
            "- ❌ **{}** could not be observed: {} — not planned: {}",
            incomplete.target,
            incomplete.problem.message,
            incomplete
                .not_planned
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "- ⚠️ {warning}");
    }
    if !plan.errors.is_empty() || !plan.incomplete.is_empty() || !plan.warnings.is_empty() {
        out.push('\n');
    }
    for capacity in &plan.capacity {
        let _ = writeln!(out, "- 💾 {}", super::capacity_line(capacity));
    }
    if !plan.capacity.is_empty() {
        out.push('\n');
    }

    // Sections in plan order of first appearance.
    let mut sections: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (index, change) in plan.changes.iter().enumerate() {
        let name = group(&change.address);
        if !sections.contains_key(&name) {
            order.push(name.clone());
        }
        sections.entry(name).or_default().push(index);
    }
    for name in order {
        let indexes = &sections[&name];
        let count = |action: Action| {
            indexes
                .iter()
                .filter(|i| plan.changes[**i].action == action)
                .count()
        };
        let _ = writeln!(
            out,
            "<details><summary><b>{name}</b>: {} to add, {} to change, {} to destroy</summary>\n",
            count(Action::Create) + count(Action::Replace),
            count(Action::Update),
            count(Action::Delete) + count(Action::Replace)
        );
        let _ = writeln!(out, "```diff");
        for index in indexes {
            let change = &plan.changes[*index];
            let _ = writeln!(
                out,
                "{} {} ({}: {})",
                symbol(change.action),
                change.address,
                verb(change.action),
                change.reason
            );
            for attribute in &change.attributes {
                let _ = match (&attribute.before, &attribute.after) {
                    (None, Some(after)) => writeln!(out, "+     {} = {after}", attribute.name),
                    (Some(before), None) => writeln!(out, "-     {} = {before}", attribute.name),
                    (Some(before), Some(after)) => {
                        writeln!(out, "!     {} = {before} -> {after}", attribute.name)
                    }
                    (None, None) => Ok(()),
                };
            }
            if let Some(file) = &change.file {
                for line in file_diff(&file.path, file.before.as_deref(), &file.after).lines() {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = writeln!(out, "```\n\n</details>\n");
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Not managed by archipel ({}), left alone</summary>\n",
            plan.unmanaged.len()
        );
        for unmanaged in &plan.unmanaged {
            let _ = writeln!(out, "- `{}`: {}", unmanaged.address, unmanaged.description);
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}
