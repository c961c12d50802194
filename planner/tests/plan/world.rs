//! Plans of the whole archipelago: a converged world, a bare one, a
//! machine out of reach; what a plan never shows.

use crate::converged::{bare_world, converged};
use crate::fixture::{BASE, desired_from, outline};
use archipel_planner::observed::*;
use archipel_planner::plan::plan;

#[test]
fn converged_world_has_no_changes() {
    let desired = desired_from(BASE);
    let plan = plan(&desired, &converged(&desired));
    assert_eq!(
        outline(&plan),
        "Plan: 0 to add, 0 to change, 0 to destroy.\n"
    );
    assert!(!plan.has_changes() && !plan.is_blocked());
}

#[test]
fn empty_world() {
    let desired = desired_from(BASE);
    let plan = plan(&desired, &bare_world(&desired));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    snapshot!("empty_world", outline(&plan));
    // Configs and units come with their full text, for a diff.
    let config = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.node.a-1.config")
        .expect("config change");
    assert!(
        config
            .file
            .as_ref()
            .is_some_and(|f| f.before.is_none() && f.after.contains("replication_factor = 2"))
    );
}

#[test]
fn unreachable_machine_makes_the_plan_incomplete() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    observed.machines.insert(
        "d-1".into(),
        MachineObservation::Unreachable {
            problem: Unreachable {
                kind: UnreachableKind::Timeout,
                message: "d-1 (root@d1): cannot connect: Connection timed out".into(),
            },
        },
    );
    let plan = plan(&desired, &observed);
    assert!(plan.is_blocked());
    snapshot!(
        "unreachable_machine_makes_the_plan_incomplete",
        outline(&plan)
    );
}

#[test]
fn secrets_never_appear_in_a_plan() {
    let desired = desired_from(BASE);
    let plan = plan(&desired, &bare_world(&desired));
    let text = format!("{plan:?}");
    assert!(text.contains("(sensitive)"));
    for change in plan.changes.iter().filter(|c| {
        c.address.to_string().ends_with(".secrets") || c.address.to_string().ends_with(".password")
    }) {
        assert!(
            change
                .attributes
                .iter()
                .all(|a| a.after.as_deref() == Some("(sensitive)")),
            "{change:?}"
        );
    }
}

#[test]
fn observed_state_round_trips_through_json() {
    let desired = desired_from(BASE);
    let observed = converged(&desired);
    let json = serde_json::to_string(&observed).expect("serialise");
    let back: Observed = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, observed);
    assert_eq!(plan(&desired, &back), plan(&desired, &observed));
}
