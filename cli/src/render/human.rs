//! The Terraform-like plan people read: one block per change with its
//! symbol, reason, changed attributes and file diffs, then what is left
//! alone, what could not be observed, errors, and the summary line.

use super::{file_diff, summary_line, symbol, texts, verb};
use archipel_planner::plan::{Action, AttributeChange, Change, Plan};
use std::fmt::Write;

struct Paint {
    colour: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn action(&self, action: Action, text: &str) -> String {
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace | Action::Delete => "31",
        };
        self.wrap(code, text)
    }

    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
}

pub fn render(plan: &Plan, colour: bool) -> String {
    let paint = Paint { colour };
    let mut out = String::new();
    if !plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "archipel will perform the following actions, in this order:\n"
        );
    }
    for change in &plan.changes {
        write_change(&mut out, &paint, change);
    }
    write_unmanaged(&mut out, plan);
    write_problems(&mut out, &paint, plan);
    write_conclusion(&mut out, &paint, plan);
    out
}

/// One change: its address and verb, its reason, its attributes, its file's
/// diff and what it waits for.
fn write_change(out: &mut String, paint: &Paint, change: &Change) {
    let symbol = paint.action(change.action, symbol(change.action));
    let _ = writeln!(
        out,
        "  {} {} will be {}",
        paint.dim("#"),
        paint.bold(&change.address.to_string()),
        paint.action(change.action, verb(change.action))
    );
    let _ = writeln!(out, "  {}", paint.dim(&format!("# {}", change.reason)));
    let _ = writeln!(out, "  {symbol} {}", change.address);
    let width = change
        .attributes
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0);
    for attribute in &change.attributes {
        if let Some(line) = attribute_line(paint, attribute, width) {
            let _ = writeln!(out, "      {line}");
        }
    }
    if let Some(file) = &change.file {
        for line in file_diff(&file.path, file.before.as_deref(), &file.after).lines() {
            let _ = writeln!(out, "      {}", diff_line(paint, line));
        }
    }
    if !change.depends_on.is_empty() {
        let _ = writeln!(
            out,
            "      {}",
            paint.dim(&format!("after {}", texts(&change.depends_on)))
        );
    }
    out.push('\n');
}

/// `+ name = after`, `- name = before` or `~ name = before -> after`,
/// names aligned to `width`; none for an attribute with neither value.
fn attribute_line(paint: &Paint, attribute: &AttributeChange, width: usize) -> Option<String> {
    Some(match (&attribute.before, &attribute.after) {
        (None, Some(after)) => paint.action(
            Action::Create,
            &format!("+ {:width$} = {after}", attribute.name),
        ),
        (Some(before), None) => paint.action(
            Action::Delete,
            &format!("- {:width$} = {before}", attribute.name),
        ),
        (Some(before), Some(after)) => paint.action(
            Action::Update,
            &format!("~ {:width$} = {before} -> {after}", attribute.name),
        ),
        (None, None) => return None,
    })
}

/// A line of a unified diff, painted by what it is.
fn diff_line(paint: &Paint, line: &str) -> String {
    if line.starts_with("+++") || line.starts_with("---") {
        paint.bold(line)
    } else if line.starts_with('+') {
        paint.action(Action::Create, line)
    } else if line.starts_with('-') {
        paint.action(Action::Delete, line)
    } else if line.starts_with("@@") {
        paint.wrap("36", line)
    } else {
        line.to_string()
    }
}

/// What archipel found and leaves alone.
fn write_unmanaged(out: &mut String, plan: &Plan) {
    if plan.unmanaged.is_empty() {
        return;
    }
    let _ = writeln!(out, "Not managed by archipel (left alone):");
    for unmanaged in &plan.unmanaged {
        let _ = writeln!(out, "  ? {}: {}", unmanaged.address, unmanaged.description);
    }
    out.push('\n');
}

/// Warnings, then what could not be observed, then the plan's errors.
fn write_problems(out: &mut String, paint: &Paint, plan: &Plan) {
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {warning}", paint.wrap("33", "Warning:"));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    for incomplete in &plan.incomplete {
        let _ = writeln!(
            out,
            "{} {} could not be observed ({}): {}\n  Not planned: {}",
            paint.wrap("31", "Error:"),
            incomplete.target,
            serde_json::to_value(incomplete.problem.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
                .replace('_', " "),
            incomplete.problem.message,
            texts(&incomplete.not_planned)
        );
    }
    for error in &plan.errors {
        let _ = writeln!(
            out,
            "{} {}: {}",
            paint.wrap("31", "Error:"),
            error.address,
            error.message
        );
    }
}

/// The islands' capacity, whether the plan can be applied, and the summary.
fn write_conclusion(out: &mut String, paint: &Paint, plan: &Plan) {
    if !plan.capacity.is_empty() {
        let _ = writeln!(out, "Capacity:");
        for capacity in &plan.capacity {
            let _ = writeln!(out, "  {}", super::capacity_line(capacity));
        }
    }
    if plan.is_blocked() {
        let _ = writeln!(
            out,
            "\nThe plan is incomplete or invalid: it cannot be applied."
        );
    }
    let _ = writeln!(out, "{}", paint.bold(&summary_line(plan)));
}
