//! `archipel drift`: the plan read as a report of how the live archipelago
//! strays from the file, sorted the way an operator acts on it.
//!
//! - *changed*: something archipel manages differs from the file (a
//!   hand-edited config, a layout role edited by hand, a disabled timer, a
//!   permission the file does not give);
//! - *missing*: the file has it, the world does not;
//! - *unmanaged*: the world has it, the file does not (keys, buckets,
//!   layout nodes, backup jobs), whether archipel would remove it or only
//!   lists it;
//! - *unknown*: a machine or island that could not be observed. Nothing is
//!   known about it, so a report with unknowns never says "no drift".

use crate::plan::{Action, Plan, Target};
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub changed: Vec<DriftItem>,
    pub missing: Vec<DriftItem>,
    pub unmanaged: Vec<DriftItem>,
    /// What could not be observed, and why; its drift is not known.
    pub unknown: Vec<DriftItem>,
}

/// The answer to "does the archipelago match the file?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Everything was observed and matches.
    None,
    /// Something seen strays from the file.
    Drift,
    /// Nothing seen strays, but not everything was seen.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    /// An address, or for what could not be observed, the machine or
    /// island.
    pub address: String,
    /// What was seen.
    pub detail: String,
}

impl Drift {
    /// No drift seen (which says nothing of what was not observed).
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.unmanaged.is_empty()
    }

    pub fn verdict(&self) -> Verdict {
        if !self.is_empty() {
            Verdict::Drift
        } else if !self.unknown.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::None
        }
    }

    pub fn len(&self) -> usize {
        self.changed.len() + self.missing.len() + self.unmanaged.len()
    }
}

/// Sorts a plan's changes and unmanaged things into drift.
pub fn drift(plan: &Plan) -> Drift {
    let mut drift = Drift::default();
    for change in &plan.changes {
        let item = DriftItem {
            address: change.address.to_string(),
            detail: change.reason.clone(),
        };
        match (change.action, &change.target) {
            (Action::Create, _) => drift.missing.push(item),
            (Action::Update | Action::Replace, _) => drift.changed.push(item),
            // A permission the file does not give is a change of the key.
            (Action::Delete, Target::Grant { .. }) => drift.changed.push(item),
            (Action::Delete, _) => drift.unmanaged.push(item),
        }
    }
    drift
        .unmanaged
        .extend(plan.unmanaged.iter().map(|u| DriftItem {
            address: u.address.to_string(),
            detail: u.description.clone(),
        }));
    drift.unknown = plan
        .incomplete
        .iter()
        .map(|part| DriftItem {
            address: part.target.clone(),
            detail: format!("could not be observed: {}", part.problem.message),
        })
        .collect();
    drift
}
