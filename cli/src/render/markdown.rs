//! `--output markdown`: for a pull-request comment. The summary first (a
//! table of what changes where), then one collapsible section per island,
//! chaton and backup host, diffs in ```diff blocks so forges colour them.
//! It fits in one comment: each section is cut past a bound, and sections
//! that do not fit are named, with where the full plan is.

use super::{file_diff, group, summary_line, symbol, verb};
use archipel_planner::plan::{Action, Plan};
use std::collections::BTreeMap;
use std::fmt::Write;

/// GitHub refuses a comment over 65,536 characters (GitLab and Forgejo
/// allow more); the whole document stays under this.
pub const COMMENT_LIMIT: usize = 65_000;

/// One section's diff is cut past this many characters, so one long file
/// does not crowd the others out.
const SECTION_LIMIT: usize = 8_000;

fn characters(text: &str) -> usize {
    text.chars().count()
}

/// `text` whole, or its first lines up to `limit` characters and a line
/// saying how many more there are.
fn bounded(text: &str, limit: usize) -> String {
    if characters(text) <= limit {
        return text.to_string();
    }
    let mut kept = String::new();
    let mut lines = text.lines();
    for line in lines.by_ref() {
        if characters(&kept) + characters(line) + 1 > limit {
            let rest = 1 + lines.count();
            let _ = writeln!(
                kept,
                "… {rest} more line{} not shown: see the full plan",
                if rest == 1 { "" } else { "s" }
            );
            return kept;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// "**a**, **b** and 3 more sections": a list that stays short.
fn named(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let shown: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("**{n}**"))
        .collect();
    match names.len().saturating_sub(SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more sections", shown.join(", ")),
    }
}

/// The changes of one section, as diff lines.
fn section_body(plan: &Plan, indexes: &[usize]) -> String {
    let mut out = String::new();
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
    out
}

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
    write_destroyed(&mut out, plan);
    write_problems(&mut out, plan);
    for capacity in &plan.capacity {
        let _ = writeln!(out, "- 💾 {}", super::capacity_line(capacity));
    }
    if !plan.capacity.is_empty() {
        out.push('\n');
    }
    let sections = Sections::of(plan);
    write_table(&mut out, &sections);
    write_details(&mut out, &sections);
    write_unmanaged(&mut out, plan);
    out
}

/// The warning that names what the plan destroys, if it destroys anything.
fn write_destroyed(out: &mut String, plan: &Plan) {
    let destroyed: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.address.to_string())
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
}

/// The plan's errors, what could not be observed, and the warnings.
fn write_problems(out: &mut String, plan: &Plan) {
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
}

/// The plan's changes grouped by island, chaton or host: a section each.
struct Sections<'p> {
    plan: &'p Plan,
    /// The sections' names, in plan order of first appearance.
    order: Vec<String>,
    /// Each section's changes, as indexes into the plan's.
    changes: BTreeMap<String, Vec<usize>>,
}

impl<'p> Sections<'p> {
    fn of(plan: &'p Plan) -> Sections<'p> {
        let mut changes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (index, change) in plan.changes.iter().enumerate() {
            let name = group(&change.address);
            if !changes.contains_key(&name) {
                order.push(name.clone());
            }
            changes.entry(name).or_default().push(index);
        }
        Sections {
            plan,
            order,
            changes,
        }
    }

    /// A section's changes to add, change and destroy (a replacement is
    /// one of each of add and destroy).
    fn counts(&self, name: &str) -> (usize, usize, usize) {
        let indexes = &self.changes[name];
        let count = |action: Action| {
            indexes
                .iter()
                .filter(|i| self.plan.changes[**i].action == action)
                .count()
        };
        (
            count(Action::Create) + count(Action::Replace),
            count(Action::Update),
            count(Action::Delete) + count(Action::Replace),
        )
    }
}

/// What changes where, at a glance, before any detail.
fn write_table(out: &mut String, sections: &Sections) {
    const ROWS: usize = 200;
    let order = &sections.order;
    if order.len() <= 1 {
        return;
    }
    let _ = writeln!(out, "| | add | change | destroy |\n|---|---:|---:|---:|");
    for name in order.iter().take(ROWS) {
        let (add, change, destroy) = sections.counts(name);
        let _ = writeln!(out, "| {name} | {add} | {change} | {destroy} |");
    }
    if order.len() > ROWS {
        let _ = writeln!(out, "| … {} more | | | |", order.len() - ROWS);
    }
    out.push('\n');
}

/// A collapsible section per group, as many as fit in one comment, and a
/// note naming those that do not.
fn write_details(out: &mut String, sections: &Sections) {
    // Sections that destroy come first, so the comment's limit never leaves
    // out the details of a destruction.
    let mut detailed = sections.order.clone();
    detailed.sort_by_key(|name| sections.counts(name).2 == 0);
    let mut left_out: Vec<&str> = Vec::new();
    for name in &detailed {
        let (add, change, destroy) = sections.counts(name);
        let mut section = format!(
            "<details><summary><b>{name}</b>: {add} to add, {change} to change, {destroy} to destroy</summary>\n\n```diff\n"
        );
        let body = section_body(sections.plan, &sections.changes[name]);
        section.push_str(&bounded(&body, SECTION_LIMIT));
        section.push_str("```\n\n</details>\n\n");
        // Room is kept for the note that says what was left out.
        if left_out.is_empty() && characters(out) + characters(&section) <= COMMENT_LIMIT - 2_000 {
            out.push_str(&section);
        } else {
            left_out.push(name);
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> This plan is too long for one comment: the details of {} are left out (their counts are in the table above). The full plan is `archipel plan` (or the CI job's plan artifact).\n",
            named(&left_out)
        );
    }
}

/// What archipel found and leaves alone, collapsed.
fn write_unmanaged(out: &mut String, plan: &Plan) {
    if plan.unmanaged.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>Not managed by archipel ({}), left alone</summary>\n",
        plan.unmanaged.len()
    );
    let mut list = String::new();
    for unmanaged in &plan.unmanaged {
        let _ = writeln!(list, "- `{}`: {}", unmanaged.address, unmanaged.description);
    }
    out.push_str(&bounded(&list, SECTION_LIMIT));
    let _ = writeln!(out, "\n</details>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use archipel_planner::plan::{BackupStep, Change, FileChange, HostStep, Target};

    fn change(target: Target, file_lines: usize) -> Change {
        Change {
            address: target.address(),
            action: Action::Create,
            reason: "not on the host".into(),
            attributes: Vec::new(),
            file: Some(FileChange {
                path: "/etc/archipel/x".into(),
                before: None,
                after: (0..file_lines)
                    .map(|i| format!("line {i} of the file\n"))
                    .collect(),
            }),
            depends_on: Vec::new(),
            target,
        }
    }

    fn settings(chaton: &str, job: &str) -> Target {
        Target::Backup {
            chaton: chaton.into(),
            job: job.into(),
            machine: "bk".into(),
            step: BackupStep::Settings,
        }
    }

    fn runner(machine: &str) -> Target {
        Target::BackupHost {
            machine: machine.into(),
            step: HostStep::Runner,
        }
    }

    #[test]
    fn a_large_plan_fits_in_one_comment_and_says_what_it_left_out() {
        let mut plan = Plan::default();
        for chaton in 0..40 {
            for job in 0..4 {
                plan.changes.push(change(
                    settings(&format!("c{chaton}"), &format!("j{job}")),
                    60,
                ));
            }
        }
        let text = render(&plan);
        assert!(
            characters(&text) <= COMMENT_LIMIT,
            "{} characters",
            characters(&text)
        );
        // The summary table names every section, before any detail.
        let table = text
            .find("| chaton c39 | 4 | 0 | 0 |")
            .expect("every section in the table");
        assert!(table < text.find("<details>").unwrap());
        assert!(text.contains("This plan is too long for one comment"));
        assert!(text.contains("more sections"));
    }

    #[test]
    fn a_destruction_is_detailed_even_when_the_comment_is_full() {
        let mut plan = Plan::default();
        for chaton in 0..40 {
            plan.changes
                .push(change(settings(&format!("c{chaton}"), "j"), 200));
        }
        let mut removal = change(
            Target::NodeRemoval {
                island: "zz".into(),
                node: "n9".into(),
                id: "ab".repeat(32),
                ssh: archipel_planner::model::SshTarget::parse("root@n9").unwrap(),
                dead: false,
            },
            3,
        );
        removal.action = Action::Delete;
        plan.changes.push(removal);
        let text = render(&plan);
        assert!(text.contains("This plan is too long for one comment"));
        let destroyed = text
            .find("<summary><b>island zz</b>: 0 to add, 0 to change, 1 to destroy")
            .expect("the destroying section is detailed");
        assert!(destroyed < text.find("<b>chaton c0</b>").unwrap());
    }

    #[test]
    fn one_long_file_is_cut_and_hosts_with_dots_are_their_own_sections() {
        let mut plan = Plan::default();
        plan.changes.push(change(runner("203.0.113.5:2201"), 2_000));
        plan.changes.push(change(runner("203.0.113.5:2202"), 3));
        let text = render(&plan);
        assert!(text.contains("<b>host 203.0.113.5:2201</b>"), "{text}");
        assert!(text.contains("<b>host 203.0.113.5:2202</b>"), "{text}");
        assert!(text.contains("more lines not shown: see the full plan"));
        assert!(!text.contains("too long for one comment"));
        // The short section is whole.
        assert!(text.contains("+line 2 of the file"));
    }
}
