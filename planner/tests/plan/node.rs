//! A Garage node: its config, and when its daemon is restarted or
//! connected again.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts, outline, texts};
use archipel_planner::garage;
use archipel_planner::observed::*;
use archipel_planner::plan::plan;

#[test]
fn config_drift_restarts_the_node() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let f = facts(&mut observed, "e-1");
    if let Some(FileFacts::File {
        content: Some(content),
        ..
    }) = f.files.get_mut(garage::CONFIG)
    {
        *content = content.clone().replace(
            "consistency_mode = \"consistent\"",
            "consistency_mode = \"degraded\"",
        );
    }
    let plan = plan(&desired, &observed);
    snapshot!("config_drift_restarts_the_node", outline(&plan));
    let config = &plan.changes[0];
    assert!(
        config
            .file
            .as_ref()
            .is_some_and(|f| f.before.as_deref().is_some_and(|b| b.contains("degraded")))
    );
}

#[test]
fn a_file_changed_after_garage_started_needs_a_restart() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    // The config is the file's, but it was written after Garage started
    // (an apply interrupted before the restart).
    if let Some(FileFacts::File { modified, .. }) =
        facts(&mut observed, "b-1").files.get_mut(garage::CONFIG)
    {
        *modified = Some(1_700_000_200);
    }
    let plan = plan(&desired, &observed);
    assert_eq!(
        outline(&plan),
        "~ island.ouest.node.b-1.service  (restart to load the new config (one node of the island at a time))\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
    );
}

#[test]
fn a_node_started_again_is_connected_even_if_the_cluster_still_sees_it_up() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    // Garage on a-1 stopped a moment ago: the cluster has not noticed.
    let unit = facts(&mut observed, "a-1")
        .units
        .get_mut(garage::SERVICE)
        .expect("garage.service");
    unit.active = "inactive".into();
    unit.enabled = "disabled".into();
    let plan = plan(&desired, &observed);
    let connect = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.connect")
        .expect("a-1 rejoins the island");
    assert_eq!(
        texts(&connect.depends_on),
        vec!["island.ouest.node.a-1.service".to_string()]
    );
}
