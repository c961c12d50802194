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

/// b-2 left the file and the island sees it down: with `up` false.
fn plan_without_b2(b2_up: bool, dead: bool) -> Plan {
    let mut old = desired_from(BASE);
    if dead {
        old.dead_nodes.insert("b-2".into());
    }
    let new = desired_from(&with_node_b2());
    let mut observed = converged(&new);
    let cluster = reached(&mut observed, "ouest");
    let b2 = cluster
        .layout
        .roles
        .iter()
        .find(|r| r.tags.get(1).is_some_and(|n| n == "b-2"))
        .map(|r| r.id.clone())
        .expect("b-2 has a role");
    for node in &mut cluster.status.nodes {
        if node.id == b2 {
            node.is_up = b2_up;
        }
    }
    plan(&old, &observed)
}

#[test]
fn a_removed_node_that_is_down_is_never_drained_nor_dropped_unsaid() {
    let plan = plan_without_b2(false, false);
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    assert_eq!(plan.errors[0].address, "island.ouest.node.b-2");
    assert!(
        plan.errors[0].message.contains("--dead-node b-2"),
        "{}",
        plan.errors[0].message
    );
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| matches!(c.target, archipel_planner::plan::Target::NodeRemoval { .. }))
    );
}

#[test]
fn a_dead_node_is_dropped_from_the_layout_with_a_loud_warning() {
    use archipel_planner::plan::{Action, Target};
    let plan = plan_without_b2(false, true);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let removal = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.node.b-2")
        .expect("b-2 is removed");
    assert_eq!(removal.action, Action::Delete);
    assert!(matches!(
        removal.target,
        Target::NodeRemoval { dead: true, .. }
    ));
    assert!(removal.reason.contains("DEAD"), "{}", removal.reason);
    assert!(
        removal.reason.contains("skip-dead-nodes"),
        "{}",
        removal.reason
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("b-2 is DEAD") && w.contains("one copy fewer (of 2)")),
        "{:?}",
        plan.warnings
    );
    // The layout drops its role in the same change as any other.
    let layout = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.layout")
        .expect("a layout change");
    assert!(
        layout
            .attributes
            .iter()
            .any(|a| a.name == "role b-2" && a.after.is_none())
    );
}

#[test]
fn a_node_declared_dead_that_the_island_sees_up_is_an_error() {
    let plan = plan_without_b2(true, true);
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    assert!(
        plan.errors[0].message.contains("sees it up"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn a_dead_node_no_layout_has_is_a_warning() {
    let mut desired = desired_from(BASE);
    desired.dead_nodes.insert("z-9".into());
    let plan = plan(&desired, &converged(&desired_from(BASE)));
    assert!(plan.changes.is_empty());
    assert!(
        plan.warnings.iter().any(|w| w.contains("--dead-node z-9")),
        "{:?}",
        plan.warnings
    );
}
