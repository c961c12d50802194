//! The plan: the desired state against the observed one, as typed changes
//! with stable addresses, ordered by a dependency graph.
//!
//! Addresses read like the archipelago: `island.ouest.node.pica-1.config`,
//! `island.est.bucket.backup-picasoft`, `chaton.picasoft.backup.nextcloud.backup.timer`
//! (see `crate::address`).
//! Secrets never enter a plan: their changes say `(sensitive)`.
//!
//! One file per concern: the plan's types (`types.rs`); what is planned for
//! a Garage node (`node.rs`), an island, its layout and keys (`island.rs`),
//! a bucket (`bucket.rs`), a backup job and its host (`backup.rs`), the jobs
//! the file no longer runs (`removals.rs`), an island's vault passes
//! (`vault.rs`), a new Garage release (`upgrade.rs`); the checks on the whole plan
//! (`machines.rs`, `guard.rs` for `prevent_destroy`); the text files
//! archipel writes (`files.rs`); and the dependency order (`order.rs`).

mod backup;
mod bucket;
mod files;
mod guard;
mod island;
mod layout;
mod machines;
mod node;
mod order;
mod removals;
mod types;
mod upgrade;
mod vault;

pub use types::{
    Action, AttributeChange, BackupStep, Change, FileChange, HostStep, Incomplete, NodeDecision,
    NodeStep, Plan, PlanError, SENSITIVE, Summary, Target, Unmanaged, VaultStep,
};

use backup::plan_backup;
use guard::guard;
use island::plan_island;
use machines::machines_are_distinct;
use order::order;
use removals::plan_backup_removals;
use vault::plan_vaults;

use crate::desired::Desired;
use crate::observed::Observed;
use std::collections::BTreeSet;

/// Computes the plan. Pure: the same desired and observed state always give
/// the same plan, in the same order.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let mut builder = Builder {
        dead_nodes: desired.dead_nodes.clone(),
        ..Builder::default()
    };
    for island in &desired.islands {
        plan_island(island, observed, &mut builder);
        plan_vaults(island, observed, &mut builder);
    }
    let mut hosts_planned = BTreeSet::new();
    for backup in &desired.backups {
        plan_backup(backup, desired, observed, &mut hosts_planned, &mut builder);
    }
    plan_backup_removals(desired, observed, &mut builder);
    machines_are_distinct(observed, &mut builder);
    guard(desired, observed, &mut builder);
    for unknown in builder.dead_nodes.difference(&builder.dead_nodes_found) {
        builder.plan.warnings.push(format!(
            "--dead-node {unknown}: no island's layout has a node of that name, so nothing is dropped"
        ));
    }
    let mut plan = order(builder);
    for island in &desired.islands {
        plan.warnings.extend(island.s3_risks.iter().cloned());
    }
    plan.capacity = desired.islands.iter().map(|i| i.capacity.clone()).collect();
    plan
}

#[derive(Default)]
struct Builder {
    /// The changes, unordered, their dependencies not yet found.
    changes: Vec<Change>,
    plan: Plan,
    /// The nodes declared dead, and those of them found in a layout.
    dead_nodes: BTreeSet<String>,
    dead_nodes_found: BTreeSet<String>,
}

impl Builder {
    /// A change to `target`, at its address.
    fn add(&mut self, target: Target, action: Action, reason: impl Into<String>) -> &mut Change {
        self.changes.push(Change {
            address: target.address(),
            action,
            reason: reason.into(),
            attributes: Vec::new(),
            file: None,
            depends_on: Vec::new(),
            target,
        });
        self.changes.last_mut().expect("just pushed")
    }
}

impl Change {
    fn attribute(
        &mut self,
        name: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> &mut Change {
        self.attributes.push(AttributeChange {
            name: name.to_string(),
            before,
            after,
        });
        self
    }
}
