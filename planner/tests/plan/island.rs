//! An island's layout: capacity, nodes joining and leaving, its
//! replication factor, and what archipel does not manage there.

use crate::converged::converged;
use crate::fixture::{BASE, bare, desired_from, outline, reached, with_node_b2};
use archipel_planner::observed::*;
use archipel_planner::plan::{Plan, plan};

#[test]
fn capacity_change_touches_only_the_layout() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "capacity = \"10G\"\n  }\n}\n\nchaton \"c\"",
        "capacity = \"20G\"\n  }\n}\n\nchaton \"c\"",
        1,
    ));
    snapshot!(
        "capacity_change_touches_only_the_layout",
        outline(&plan(&new, &converged(&old)))
    );
}

#[test]
fn added_node() {
    let old = desired_from(BASE);
    let new = desired_from(&with_node_b2());
    let mut observed = converged(&old);
    observed
        .machines
        .insert("b-2".into(), MachineObservation::Reached { facts: bare() });
    snapshot!("added_node", outline(&plan(&new, &observed)));
}

#[test]
fn removed_node() {
    let old = desired_from(BASE);
    let new = desired_from(&with_node_b2());
    // The world has b-2; the file no longer does.
    let plan = plan(&old, &converged(&new));
    snapshot!("removed_node", outline(&plan));
    assert_eq!(plan.summary().destroy, 1);
}

/// b-2 left the file but is still in the layout, its role's tags edited
/// by `tags`: the plan, whose only error must be b-2's (its message).
fn plan_removal_of_b2(tags: impl Fn(&mut Vec<String>)) -> (Plan, String) {
    let old = desired_from(BASE);
    let new = desired_from(&with_node_b2());
    let mut observed = converged(&new);
    for role in &mut reached(&mut observed, "ouest").layout.roles {
        if role.tags.get(1).is_some_and(|n| n == "b-2") {
            tags(&mut role.tags);
        }
    }
    let plan = plan(&old, &observed);
    // No removal: only the settings of jobs to ouest, which list its
    // nodes' S3 addresses, change.
    assert!(
        plan.changes
            .iter()
            .all(|c| c.address.to_string().ends_with(".settings")),
        "{:?}",
        plan.changes
    );
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.errors[0].address, "island.ouest.node.b-2");
    let message = plan.errors[0].message.clone();
    (plan, message)
}

#[test]
fn a_removed_node_archipel_cannot_reach_is_an_error_not_a_removal() {
    // A role whose tags do not say where the node is.
    let (_, message) = plan_removal_of_b2(|tags| tags.truncate(2));
    assert!(message.contains("SSH"), "{message}");
}

#[test]
fn a_removed_node_whose_role_gives_no_valid_ssh_address_is_an_error() {
    let (_, message) = plan_removal_of_b2(|tags| tags[2] = "root@b 2".into());
    assert!(
        message.contains("\"root@b 2\", is not one (\"b 2\" is not a host name or address)"),
        "{message}"
    );
}

#[test]
fn replication_factor_change_is_an_error() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen("replication_factor = 2", "replication_factor = 3", 1));
    let plan = plan(&new, &converged(&old));
    assert!(plan.is_blocked());
    snapshot!("replication_factor_change_is_an_error", outline(&plan));
}

#[test]
fn unmanaged_bucket_key_and_role_are_left_alone() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let cluster = reached(&mut observed, "ouest");
    cluster.buckets.push(BucketInfo {
        id: "f00d".into(),
        global_aliases: vec!["handmade".into()],
        keys: vec![],
        objects: 12,
        bytes: 3_000_000,
        unfinished_uploads: 0,
        quotas: Quotas::default(),
        lifecycle_rules: vec![],
    });
    cluster.keys.push(KeyInfo {
        access_key_id: "GK0123".into(),
        name: "someone".into(),
        expired: false,
        buckets: vec![],
    });
    cluster.layout.roles.push(LayoutRole {
        id: "ab".repeat(32),
        zone: "elsewhere".into(),
        capacity: Some(1_000_000_000),
        tags: vec![],
    });
    // A node out of the layout that still runs (a removal left draining).
    cluster.status.nodes.push(NodeStatus {
        id: "cd".repeat(32),
        addr: Some("10.0.0.99:3901".into()),
        hostname: Some("old-node".into()),
        garage_version: Some("2.5.0".into()),
        is_up: true,
        draining: true,
        role: None,
        data_partition: None,
    });
    let plan = plan(&desired, &observed);
    assert!(!plan.has_changes());
    snapshot!(
        "unmanaged_bucket_key_and_role_are_left_alone",
        outline(&plan)
    );
}
