//! A Garage node: its config, and when its daemon is restarted or
//! connected again.

use crate::converged::{bare_world, converged};
use crate::fixture::{BASE, bare, desired_from, facts, outline, texts, with_node_b2};
use archipel_planner::garage;
use archipel_planner::observed::*;
use archipel_planner::plan::{NodeDecision, NodeStep, Plan, Target, plan};

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

/// Each node's changes of the given step, with what the plan decided.
fn decided(plan: &Plan, step: NodeStep) -> Vec<(String, NodeDecision)> {
    plan.changes
        .iter()
        .filter_map(|c| match &c.target {
            Target::Node {
                node,
                step: s,
                decided,
                ..
            } if *s == step => Some((node.clone(), decided.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_island_s_secrets_are_generated_and_a_joining_node_copies_them() {
    let old = desired_from(BASE);
    // Nothing runs yet: no node has the secrets, so apply generates them.
    let first = plan(&old, &bare_world(&old));
    let secrets = decided(&first, NodeStep::Secrets);
    assert!(!secrets.is_empty());
    assert!(
        secrets
            .iter()
            .all(|(_, d)| *d == NodeDecision::GenerateSecrets),
        "{secrets:?}"
    );
    // A new node of a running island copies them from the island's first
    // node that has them.
    let new = desired_from(&with_node_b2());
    let mut observed = converged(&old);
    observed
        .machines
        .insert("b-2".into(), MachineObservation::Reached { facts: bare() });
    let holder = new.islands[0].nodes[0].name.clone();
    assert_eq!(
        decided(&plan(&new, &observed), NodeStep::Secrets),
        vec![("b-2".to_string(), NodeDecision::CopySecretsFrom(holder))]
    );
}

#[test]
fn a_restarted_member_rejoins_and_a_new_node_is_connected_instead() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    if let Some(FileFacts::File { modified, .. }) =
        facts(&mut observed, "b-1").files.get_mut(garage::CONFIG)
    {
        *modified = Some(1_700_000_200);
    }
    assert_eq!(
        decided(&plan(&desired, &observed), NodeStep::Service),
        vec![("b-1".to_string(), NodeDecision::Rejoin)]
    );
    // A node that never ran Garage is not waited for: the island's connect
    // change brings it in.
    let new = desired_from(&with_node_b2());
    observed
        .machines
        .insert("b-2".into(), MachineObservation::Reached { facts: bare() });
    let services = decided(&plan(&new, &observed), NodeStep::Service);
    assert!(
        services.contains(&("b-2".to_string(), NodeDecision::Nothing)),
        "{services:?}"
    );
}

/// A member's data directory lost its blocks (Garage's marker gone while
/// its data layout records one): one loud change that restarts it as any
/// member, in turn with the others' restarts.
#[test]
fn a_lost_data_directory_is_repaired_in_the_islands_turn() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let a1 = &desired.islands[0].nodes[0];
    let marker = garage::data_marker_path(&a1.data_dir);
    facts(&mut observed, "a-1")
        .files
        .insert(marker, FileFacts::Missing);
    // Another member restarts for its config.
    let f = facts(&mut observed, "b-1");
    if let Some(FileFacts::File {
        content: Some(content),
        ..
    }) = f.files.get_mut(garage::CONFIG)
    {
        *content = content.replace("consistent", "degraded");
    }
    let plan = plan(&desired, &observed);
    let data = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.node.a-1.data")
        .expect("a-1's data is repaired");
    assert!(
        matches!(
            &data.target,
            Target::Node {
                step: NodeStep::Data,
                decided: NodeDecision::Rejoin,
                ..
            }
        ),
        "{data:?}"
    );
    assert!(
        data.reason.starts_with("DATA DIRECTORY LOST"),
        "{}",
        data.reason
    );
    assert!(data.reason.contains("2 copies"), "{}", data.reason);
    // a-1's repair, then b-1's restart: one member at a time.
    let b1 = plan
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.node.b-1.service")
        .expect("b-1 restarts");
    assert!(
        texts(&b1.depends_on).contains(&"island.ouest.node.a-1.data".to_string()),
        "{:?}",
        b1.depends_on
    );
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
}

/// A node whose Garage never ran (no data layout) has nothing lost.
#[test]
fn a_new_node_without_a_marker_has_nothing_lost() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let a1 = &desired.islands[0].nodes[0];
    let f = facts(&mut observed, "a-1");
    f.files
        .insert(garage::data_marker_path(&a1.data_dir), FileFacts::Missing);
    f.files
        .insert(garage::data_layout_path(&a1.meta_dir), FileFacts::Missing);
    let plan = plan(&desired, &observed);
    assert!(plan.changes.is_empty(), "{}", outline(&plan));
}

/// ouest's file says sqlite; a-1's live config and database are lmdb.
fn sqlite_wanted(converted: bool) -> Plan {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "replication_factor = 2\n  }",
        "replication_factor = 2\n    db_engine          = \"sqlite\"\n  }",
        1,
    ));
    let mut observed = converged(&old);
    facts(&mut observed, "a-1").probes.insert(
        garage::DATABASES_PROBE.0.into(),
        crate::fixture::ok(if converted {
            "lmdb\nsqlite\n"
        } else {
            "lmdb\n"
        }),
    );
    plan(&new, &observed)
}

/// A metadata engine changed in the file is refused, with Garage's
/// offline conversion spelt out, on each node not converted yet; a node
/// converted by hand gets its config and restarts on it.
#[test]
fn a_db_engine_change_waits_for_the_conversion() {
    let plan = sqlite_wanted(false);
    let errors: Vec<_> = plan
        .errors
        .iter()
        .filter(|e| e.address == "island.ouest.node.a-1.config")
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", plan.errors);
    let message = &errors[0].message;
    assert!(
        message.contains("garage convert-db -a lmdb -i /var/lib/garage/meta/db.lmdb -b sqlite -o /var/lib/garage/meta/db.sqlite")
            && message.contains("archipel apply --only node.a-1"),
        "{message}"
    );
    let plan = sqlite_wanted(true);
    assert!(
        !plan
            .errors
            .iter()
            .any(|e| e.address == "island.ouest.node.a-1.config"),
        "{:?}",
        plan.errors
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.address == "island.ouest.node.a-1.service"),
        "{}",
        outline(&plan)
    );
}

/// Garage's metrics in a textfile: a scraper on each node, its curl config
/// made there; converged, nothing to do. On an address: the admin API
/// listens there, and the scraper (none here) is not needed.
#[test]
fn garages_metrics_by_textfile_or_address() {
    let text = BASE.replacen(
        "    replication_factor = 2\n  }\n}\n\nisland \"est\"",
        "    replication_factor = 2\n    metrics_textfile   = \"/var/lib/prometheus/node-exporter\"\n  }\n}\n\nisland \"est\"",
        1,
    );
    let desired = desired_from(&text);
    let ouest = desired.islands.iter().find(|i| i.name == "ouest").unwrap();
    let node = &ouest.nodes[0];
    let scraper = node.metrics.as_ref().expect("a scraper");
    assert!(
        node.config
            .contains("metrics_token_file = \"/etc/garage/metrics_token\"")
    );
    assert!(node.config.contains("api_bind_addr = \"127.0.0.1:3903\""));
    assert!(
        scraper
            .service
            .contains("--config \"/etc/garage/metrics-scrape.curl\"")
    );
    assert!(
        scraper
            .service
            .contains("\"http://127.0.0.1:3903/metrics\"")
    );
    assert!(
        scraper
            .service
            .contains("/var/lib/prometheus/node-exporter/garage.prom")
    );
    assert!(!scraper.service.contains("Bearer"));
    let mut observed = converged(&desired);
    assert!(!plan(&desired, &observed).has_changes());
    facts(&mut observed, &node.name)
        .files
        .insert(garage::METRICS_CURL_CONFIG.into(), FileFacts::Missing);
    let planned = plan(&desired, &observed);
    let addresses: Vec<String> = planned
        .changes
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        addresses,
        vec![format!("island.ouest.node.{}.metrics_service", node.name)]
    );

    let text = BASE.replacen(
        "    replication_factor = 2\n  }\n}\n\nisland \"est\"",
        "    replication_factor = 2\n    metrics_bind       = \"0.0.0.0:3903\"\n  }\n}\n\nisland \"est\"",
        1,
    );
    let desired = desired_from(&text);
    let node = &desired
        .islands
        .iter()
        .find(|i| i.name == "ouest")
        .unwrap()
        .nodes[0];
    assert!(node.config.contains("api_bind_addr = \"0.0.0.0:3903\""));
    assert!(node.metrics.is_none());
}
