//! A new Garage release for a running island: planned as Garage's
//! preparation, then one node at a time; an older release or another major
//! refused before anything changes.

use crate::converged::{converged, node_id};
use crate::fixture::{BASE, desired_from, facts, ok, outline, reached, texts};
use archipel_planner::desired::Desired;
use archipel_planner::garage;
use archipel_planner::observed::{FileFacts, Observed};
use archipel_planner::plan::{Action, Target, plan};

const NEW_SHA: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// The base archipelago with island ouest pinned to `version`.
fn pinned(version: &str) -> Desired {
    let ouest = BASE.find("island \"est\"").expect("est is after ouest");
    let (first, rest) = BASE.split_at(ouest);
    let first = first
        .replace("\"2.5.0\"", &format!("\"{version}\""))
        .replace(
            "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3",
            NEW_SHA,
        );
    desired_from(&format!("{first}{rest}"))
}

/// Node `name` of ouest runs `version`, its daemon and its binary.
fn runs(observed: &mut Observed, name: &str, version: &str, sha: &str) {
    let f = facts(observed, name);
    f.probes.insert(
        garage::VERSION_PROBE.0.into(),
        ok(&format!("garage cargo:{version} [features: lmdb]")),
    );
    if let Some(FileFacts::File { sha256, .. }) = f.files.get_mut(garage::BINARY) {
        *sha256 = Some(sha.into());
    }
    let id = node_id(name);
    let cluster = reached(observed, "ouest");
    for node in cluster.status.nodes.iter_mut().filter(|n| n.id == id) {
        node.garage_version = Some(format!("cargo:{version}"));
    }
}

#[test]
fn a_minor_release_is_prepared_then_rolled_one_node_at_a_time() {
    let old = desired_from(BASE);
    let observed = converged(&old);
    let plan = plan(&pinned("2.6.0"), &observed);
    snapshot!(
        "a_minor_release_is_prepared_then_rolled_one_node_at_a_time",
        outline(&plan)
    );
    let upgrade = plan
        .changes
        .iter()
        .find(|c| matches!(c.target, Target::Upgrade { .. }))
        .expect("an upgrade");
    assert_eq!(upgrade.address.to_string(), "island.ouest.upgrade");
    // Every running node keeps a snapshot.
    assert!(matches!(&upgrade.target, Target::Upgrade { members, .. } if members.len() == 3));
    // Nothing on the other island.
    assert!(
        plan.changes
            .iter()
            .all(|c| c.address.island() == Some("ouest"))
    );
    // Each binary waits for the preparation, each restart for the one
    // before it.
    let after = |address: &str| {
        texts(
            &plan
                .changes
                .iter()
                .find(|c| c.address == address)
                .expect(address)
                .depends_on,
        )
    };
    assert_eq!(
        after("island.ouest.node.a-1.binary"),
        ["island.ouest.upgrade"]
    );
    assert!(
        after("island.ouest.node.b-1.service")
            .contains(&"island.ouest.node.a-1.service".to_string())
    );
    assert!(
        after("island.ouest.node.c-1.service")
            .contains(&"island.ouest.node.b-1.service".to_string())
    );
}

#[test]
fn an_upgrade_interrupted_between_nodes_is_completed_for_the_others() {
    let old = desired_from(BASE);
    let mut observed = converged(&old);
    // a-1 was upgraded and restarted before the apply stopped.
    runs(&mut observed, "a-1", "2.6.0", NEW_SHA);
    let plan = plan(&pinned("2.6.0"), &observed);
    let outline = outline(&plan);
    assert!(!outline.contains("node.a-1"), "{outline}");
    assert!(outline.contains("b-1 runs: 2.5.0 -> 2.6.0"), "{outline}");
    assert!(
        outline.contains("restart order: - -> b-1 → c-1"),
        "{outline}"
    );
    assert!(plan.errors.is_empty(), "{outline}");
}

#[test]
fn a_binary_installed_but_not_restarted_is_still_upgraded() {
    let old = desired_from(BASE);
    let mut observed = converged(&old);
    // The new binary is on b-1, but its daemon still runs 2.5.0.
    runs(&mut observed, "b-1", "2.6.0", NEW_SHA);
    let id = node_id("b-1");
    for node in reached(&mut observed, "ouest")
        .status
        .nodes
        .iter_mut()
        .filter(|n| n.id == id)
    {
        node.garage_version = Some("cargo:2.5.0".into());
    }
    if let Some(FileFacts::File { modified, .. }) =
        facts(&mut observed, "b-1").files.get_mut(garage::BINARY)
    {
        *modified = Some(1_700_000_200);
    }
    let plan = plan(&pinned("2.6.0"), &observed);
    let outline = outline(&plan);
    assert!(outline.contains("b-1 runs: 2.5.0 -> 2.6.0"), "{outline}");
    let restart = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.node.b-1.service")
        .expect("b-1 restarts");
    assert_eq!(restart.action, Action::Update);
    assert!(
        texts(&restart.depends_on).contains(&"island.ouest.upgrade".to_string()),
        "{outline}"
    );
}

#[test]
fn an_older_release_is_refused() {
    let old = desired_from(BASE);
    let observed = converged(&old);
    let plan = plan(&pinned("2.4.1"), &observed);
    assert!(plan.is_blocked());
    let errors: Vec<String> = plan
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.address, e.message))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("island.ouest.node.a-1: a-1 runs Garage 2.5.0, newer than the file's 2.4.1: archipel never downgrades Garage"), "{errors:#?}");
    assert!(errors[0].contains("docs/upgrades.md"));
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| matches!(c.target, Target::Upgrade { .. }))
    );
}

#[test]
fn another_major_version_is_refused_with_the_procedure_named() {
    let old = desired_from(BASE);
    let observed = converged(&old);
    for version in ["3.0.0", "1.3.0"] {
        let plan = plan(&pinned(version), &observed);
        assert!(plan.is_blocked());
        assert_eq!(plan.errors.len(), 1, "{:#?}", plan.errors);
        let error = &plan.errors[0];
        assert_eq!(error.address.to_string(), "island.ouest");
        assert!(
            error.message.starts_with(&format!("Garage {version} is another major version than the island runs (a-1 runs 2.5.0, b-1 runs 2.5.0, c-1 runs 2.5.0): Garage's major upgrades are not rolling")),
            "{}",
            error.message
        );
        assert!(error.message.contains("every node stopped at once"));
        assert!(error.message.contains("docs/upgrades.md"));
    }
}

#[test]
fn a_pinned_binary_reporting_another_release_is_an_error() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    facts(&mut observed, "b-1")
        .probes
        .insert(garage::VERSION_PROBE.0.into(), ok("garage cargo:2.4.1"));
    // Its daemon is not up: only the binary is seen.
    let id = node_id("b-1");
    for node in reached(&mut observed, "ouest")
        .status
        .nodes
        .iter_mut()
        .filter(|n| n.id == id)
    {
        node.is_up = false;
    }
    let plan = plan(&desired, &observed);
    assert!(
        plan.errors.iter().any(|e| e.address == "island.ouest.node.b-1.binary"
            && e.message == "the binary pinned by sha256 reports Garage 2.4.1, but the file says version = \"2.5.0\": correct one of them"),
        "{:#?}",
        plan.errors
    );
}

#[test]
fn a_converged_island_plans_no_upgrade() {
    let desired = desired_from(BASE);
    let plan = plan(&desired, &converged(&desired));
    assert!(!plan.has_changes());
    assert!(plan.errors.is_empty());
}
