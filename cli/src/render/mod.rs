//! Rendering plans: for people on a terminal or in CI logs (`human`), for
//! scripts (`json`), for pull-request comments (`markdown`).

pub mod human;
pub mod json;
pub mod markdown;
pub mod status;

use archipel_planner::address::Address;
use archipel_planner::plan::{Action, Plan};

/// Terraform's symbols.
pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
    }
}

pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated in place",
        Action::Replace => "replaced",
        Action::Delete => "DESTROYED",
    }
}

/// "Plan: 3 to add, 1 to change, 0 to destroy." or the no-change sentence.
pub fn summary_line(plan: &Plan) -> String {
    let summary = plan.summary();
    if plan.changes.is_empty() && plan.is_blocked() {
        // No "above" or "below": the formats list the problems in
        // different places.
        format!(
            "No changes planned, but the plan is incomplete: {} not observed, {} {}.",
            plan.incomplete.len(),
            plan.errors.len(),
            if plan.errors.len() == 1 {
                "error"
            } else {
                "errors"
            }
        )
    } else if plan.changes.is_empty() {
        "No changes. The archipelago matches the file.".to_string()
    } else {
        format!(
            "Plan: {} to add, {} to change, {} to destroy.",
            summary.add, summary.change, summary.destroy
        )
    }
}

/// The group a change belongs to in grouped output: `island ouest`,
/// `chaton picasoft`.
pub fn group(address: &Address) -> String {
    if let Some(island) = address.island() {
        format!("island {island}")
    } else if let Some(chaton) = address.chaton() {
        format!("chaton {chaton}")
    } else {
        match address {
            Address::Host { machine, .. } => format!("host {machine}"),
            Address::Machine { machine } => format!("machine {machine}"),
            other => other.to_string(),
        }
    }
}

/// A unified diff of a file's content, live against the file's.
pub fn file_diff(path: &str, before: Option<&str>, after: &str) -> String {
    let before = before.unwrap_or("");
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (live)"), &format!("{path} (archipelago)"))
        .to_string()
}

/// "island ouest holds about 898G (3 copies in 3 of 4 zones, 2.9T of
/// storage): 680G of quotas promised".
pub fn capacity_line(capacity: &archipel_planner::capacity::Capacity) -> String {
    use archipel_planner::size::Size;
    let copies = match capacity.replication_factor {
        1 => "1 copy".to_string(),
        n => format!("{n} copies"),
    };
    let promised = match capacity.promised {
        0 => "no quota promised".to_string(),
        bytes => format!("{} of quotas promised", Size(bytes).rounded()),
    };
    format!(
        "island {} holds about {} ({copies} in {} of {} zones, {} of storage): {promised}",
        capacity.island,
        Size(capacity.usable).rounded(),
        capacity.zone_redundancy,
        capacity.zones.len(),
        Size(capacity.raw).rounded(),
    )
}

/// Addresses as one line: `island.a.layout, island.a.connect`.
pub fn texts(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
