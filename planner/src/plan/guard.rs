//! `prevent_destroy`: what it guards is never destroyed by a plan.

use super::{Action, Builder, PlanError, Target};
use crate::desired::{Desired, Guarded};
use crate::observed::{IslandObservation, Observed};

/// `prevent_destroy = true`: a plan that would destroy what it guards is
/// an error, never applied.
pub(super) fn guard(desired: &Desired, observed: &Observed, b: &mut Builder) {
    let mut errors = Vec::new();
    for change in &b.changes {
        if !matches!(change.action, Action::Delete | Action::Replace) {
            continue;
        }
        if let Some(owner) = guarded_by(&change.target, &desired.guarded, observed) {
            errors.push(PlanError {
                address: change.address.clone(),
                message: format!(
                    "{owner} has prevent_destroy = true, and this plan would destroy {}: if that is intended, remove prevent_destroy first, in a change of its own",
                    change.address
                ),
            });
        }
    }
    b.plan.errors.extend(errors);
}

/// What `prevent_destroy` guards that destroying `target` would destroy,
/// as the error names it.
fn guarded_by(target: &Target, guarded: &Guarded, observed: &Observed) -> Option<String> {
    let chaton_of_key = |key: &str| {
        key.strip_prefix(crate::desired::KEY_PREFIX)
            .map(str::to_string)
    };
    let chaton_of_bucket = |bucket: &str| {
        bucket
            .strip_prefix(crate::desired::BACKUP_BUCKET_PREFIX)
            .map(str::to_string)
    };
    match target {
        Target::NodeRemoval {
            island, node, id, ..
        } => {
            // The node's chaton is its role's zone.
            let zone = match observed.islands.get(island) {
                Some(IslandObservation::Reached { cluster, .. }) => cluster
                    .layout
                    .roles
                    .iter()
                    .find(|r| &r.id == id)
                    .map(|r| r.zone.clone()),
                _ => None,
            };
            if guarded.nodes.contains(node) {
                Some(format!("node \"{node}\""))
            } else {
                zone.filter(|z| guarded.chatons.contains(z))
                    .map(|z| format!("chaton \"{z}\""))
            }
        }
        Target::Key { island, key } => {
            // Deleting a key takes its permissions away with it.
            let guarded_bucket = match observed.islands.get(island) {
                Some(IslandObservation::Reached { cluster, .. }) => cluster
                    .buckets
                    .iter()
                    .filter(|b| b.keys.iter().any(|k| &k.name == key))
                    .flat_map(|b| &b.global_aliases)
                    .find(|alias| guarded.buckets.contains(*alias))
                    .cloned(),
                _ => None,
            };
            chaton_of_key(key)
                .filter(|c| guarded.chatons.contains(c))
                .map(|c| format!("chaton \"{c}\""))
                .or(guarded_bucket.map(|b| format!("bucket \"{b}\"")))
        }
        Target::Bucket { bucket, .. } => {
            if guarded.buckets.contains(bucket) {
                Some(format!("bucket \"{bucket}\""))
            } else {
                chaton_of_bucket(bucket)
                    .filter(|c| guarded.chatons.contains(c))
                    .map(|c| format!("chaton \"{c}\""))
            }
        }
        Target::Grant { bucket, .. } => guarded
            .buckets
            .contains(bucket)
            .then(|| format!("bucket \"{bucket}\"")),
        Target::BackupRemoval { chaton, .. } => guarded
            .chatons
            .contains(chaton)
            .then(|| format!("chaton \"{chaton}\"")),
        _ => None,
    }
}
