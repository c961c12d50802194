//! Plans from observed-state fixtures: a simulated world built from a
//! desired state ("converged"), then changed the way the real one drifts.

use archipel_planner::address::Address;
use archipel_planner::backup;
use archipel_planner::desired::{Desired, desired};
use archipel_planner::garage;
use archipel_planner::observed::*;
use archipel_planner::plan::{Action, Plan, plan};
use archipel_planner::source::Sources;
use std::collections::BTreeMap;

const BASE: &str = r#"
island "ouest" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

island "est" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

chaton "a" {
  island  = "ouest"
  contact = "a@example.org"
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
  node "a-1" {
    ssh      = "root@a1"
    capacity = "10G"
  }
  backup "files" {
    host     = "root@files.a"
    to       = "est"
    paths    = ["/srv"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "1G"
  }
}

chaton "b" {
  island  = "ouest"
  contact = "b@example.org"
  node "b-1" {
    ssh      = "root@b1"
    capacity = "10G"
  }
}

chaton "c" {
  island  = "ouest"
  contact = "c@example.org"
  node "c-1" {
    ssh      = "root@c1"
    capacity = "10G"
  }
}

chaton "d" {
  island  = "est"
  contact = "d@example.org"
  node "d-1" {
    ssh      = "root@d1"
    capacity = "10G"
  }
  backup "mail" {
    host     = "root@d1"
    to       = "ouest"
    paths    = ["/var/vmail"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "2G"
  }
}

chaton "e" {
  island  = "est"
  contact = "e@example.org"
  node "e-1" {
    ssh      = "root@e1"
    capacity = "10G"
  }
}

chaton "f" {
  island  = "est"
  contact = "f@example.org"
  node "f-1" {
    ssh      = "root@f1"
    capacity = "10G"
  }
}

bucket "shared" {
  island  = "est"
  quota   = "1G"
  readers = ["d"]
  writers = ["e"]
}
"#;

fn desired_from(text: &str) -> Desired {
    let mut sources = Sources::new();
    sources.add("test.hcl", text);
    let checked = archipel_planner::check(&sources);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    desired(&checked.archipelago)
}

fn node_id(name: &str) -> String {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0>64}")
}

fn file(
    owner: &str,
    group: &str,
    mode: &str,
    sha256: Option<&str>,
    content: Option<&str>,
) -> FileFacts {
    FileFacts::File {
        sha256: sha256.map(str::to_string),
        owner: owner.into(),
        group: group.into(),
        mode: mode.into(),
        size: content.map_or(0, |c| c.len() as u64),
        content: content.map(str::to_string),
        modified: Some(1_700_000_000),
    }
}

fn active() -> UnitFacts {
    UnitFacts {
        installed: true,
        enabled: "enabled".into(),
        active: "active".into(),
        active_since: Some(1_700_000_100),
    }
}

fn ok(output: &str) -> ProbeOutput {
    ProbeOutput {
        status: 0,
        output: output.into(),
    }
}

fn bare() -> HostFacts {
    HostFacts {
        os_id: "debian".into(),
        os_version: "12".into(),
        architecture: "x86_64".into(),
        systemd: true,
        files: BTreeMap::new(),
        units: BTreeMap::new(),
        probes: BTreeMap::new(),
        lands_at: None,
    }
}

/// The world as a perfect apply of `desired` leaves it.
fn converged(desired: &Desired) -> Observed {
    let mut observed = Observed::default();
    let mut facts: BTreeMap<String, HostFacts> = BTreeMap::new();
    for island in &desired.islands {
        for node in &island.nodes {
            let f = facts.entry(node.name.clone()).or_insert_with(bare);
            f.files.insert(
                garage::BINARY.into(),
                file("root", "root", "755", Some(&island.binary_sha256), None),
            );
            f.files.insert(
                garage::CONFIG.into(),
                file("root", "garage", "640", Some("x"), Some(&node.config)),
            );
            f.files.insert(
                garage::UNIT.into(),
                file("root", "root", "644", Some("x"), Some(&node.unit)),
            );
            f.files.insert(
                garage::RPC_SECRET.into(),
                file("garage", "garage", "600", None, None),
            );
            f.files.insert(
                garage::ADMIN_TOKEN.into(),
                file("garage", "garage", "600", None, None),
            );
            for dir in [&node.meta_dir, &node.data_dir] {
                f.files.insert(
                    dir.clone(),
                    FileFacts::Directory {
                        owner: "garage".into(),
                        group: "garage".into(),
                        mode: "700".into(),
                    },
                );
            }
            f.files.insert(
                garage::node_key_path(&node.meta_dir),
                file(
                    "garage",
                    "garage",
                    "600",
                    Some("x"),
                    Some(&node_id(&node.name)),
                ),
            );
            f.units.insert(garage::SERVICE.into(), active());
            f.probes
                .insert(garage::VERSION_PROBE.0.into(), ok("garage cargo:2.5.0"));
            f.probes.insert(garage::USER_PROBE.0.into(), ok("999"));
        }
        let cluster = Cluster {
            status: ClusterStatus {
                layout_version: 1,
                nodes: island
                    .nodes
                    .iter()
                    .map(|n| NodeStatus {
                        id: node_id(&n.name),
                        addr: Some(n.rpc_public_addr.clone()),
                        hostname: Some(n.name.clone()),
                        garage_version: Some("cargo:2.5.0".into()),
                        is_up: true,
                        draining: false,
                        role: Some(NodeRole {
                            zone: n.zone.clone(),
                            capacity: Some(n.capacity),
                            tags: n.tags.clone(),
                        }),
                        data_partition: Some(FreeSpace {
                            available: 40_000_000_000,
                            total: 50_000_000_000,
                        }),
                    })
                    .collect(),
            },
            health: ClusterHealth {
                status: "healthy".into(),
                known_nodes: island.nodes.len() as u64,
                connected_nodes: island.nodes.len() as u64,
                storage_nodes: island.nodes.len() as u64,
                storage_nodes_up: island.nodes.len() as u64,
                partitions: 256,
                partitions_quorum: 256,
                partitions_all_ok: 256,
            },
            layout: ClusterLayout {
                version: 1,
                roles: island
                    .nodes
                    .iter()
                    .map(|n| LayoutRole {
                        id: node_id(&n.name),
                        zone: n.zone.clone(),
                        capacity: Some(n.capacity),
                        tags: n.tags.clone(),
                    })
                    .collect(),
                staged_role_changes: vec![],
            },
            history: LayoutHistory {
                current_version: 1,
                min_ack: 1,
                versions: vec![LayoutVersion {
                    version: 1,
                    status: "Current".into(),
                    storage_nodes: island.nodes.len() as u64,
                }],
            },
            keys: island
                .keys
                .iter()
                .map(|k| KeyInfo {
                    access_key_id: format!("GK{k}"),
                    name: k.clone(),
                    expired: false,
                    buckets: vec![],
                })
                .collect(),
            buckets: island
                .buckets
                .iter()
                .map(|b| BucketInfo {
                    id: format!("id-{}", b.name),
                    global_aliases: vec![b.name.clone()],
                    keys: b
                        .grants
                        .iter()
                        .map(|(k, p)| BucketKey {
                            access_key_id: format!("GK{k}"),
                            name: k.clone(),
                            permissions: *p,
                        })
                        .collect(),
                    objects: 0,
                    bytes: 0,
                    unfinished_uploads: 0,
                    quotas: Quotas {
                        max_size: b.quota,
                        max_objects: None,
                    },
                })
                .collect(),
        };
        observed.islands.insert(
            island.name.clone(),
            IslandObservation::Reached {
                through: island.nodes[0].name.clone(),
                cluster: Box::new(cluster),
            },
        );
    }
    for job in &desired.backups {
        let f = facts.entry(job.machine.clone()).or_insert_with(bare);
        f.files.insert(
            job.env_file.clone(),
            file("root", "root", "600", None, Some(&job.env)),
        );
        for secret in [&job.s3_file, &job.password_file] {
            f.files
                .insert(secret.clone(), file("root", "root", "600", None, None));
        }
        if let Some(escrow) = &job.escrow {
            f.files.insert(
                escrow.record_file.clone(),
                file("root", "root", "600", None, Some(&escrow.record)),
            );
        }
        f.files.insert(
            backup::RUNNER.into(),
            file("root", "root", "755", None, Some(backup::RUNNER_SCRIPT)),
        );
        for dir in [backup::STATUS_DIR, backup::CACHE_DIR] {
            f.files.insert(
                dir.into(),
                FileFacts::Directory {
                    owner: "root".into(),
                    group: "root".into(),
                    mode: "755".into(),
                },
            );
        }
        for unit in &job.units {
            for (name, text) in [
                (&unit.service_name, &unit.service),
                (&unit.timer_name, &unit.timer),
            ] {
                f.files.insert(
                    format!("{}/{name}", backup::UNITS_DIR),
                    file("root", "root", "644", None, Some(text)),
                );
            }
            f.units.insert(
                unit.service_name.clone(),
                UnitFacts {
                    installed: true,
                    enabled: "static".into(),
                    active: "inactive".into(),
                    active_since: None,
                },
            );
            f.units.insert(unit.timer_name.clone(), active());
        }
        f.probes.insert(
            "restic_version".into(),
            ok("restic 0.14.0 compiled with go1.19.8 on linux/amd64"),
        );
        f.probes
            .insert(Probe::Repository(job.id.clone()).to_string(), ok(""));
        let listed = f
            .probes
            .entry(backup::JOBS_PROBE.0.into())
            .or_insert_with(|| ok(""));
        listed.output.push_str(&format!(
            "{}\t{}\t{}\n",
            job.id,
            u8::from(job.escrow.is_some()),
            job.env.lines().next().unwrap_or_default()
        ));
    }
    observed.machines = facts
        .into_iter()
        .map(|(name, facts)| (name, MachineObservation::Reached { facts }))
        .collect();
    observed
}

/// Every machine reachable and bare; no island running.
fn bare_world(desired: &Desired) -> Observed {
    let mut observed = converged(desired);
    for machine in observed.machines.values_mut() {
        *machine = MachineObservation::Reached { facts: bare() };
    }
    for island in observed.islands.values_mut() {
        *island = IslandObservation::NotRunning;
    }
    observed
}

/// A compact, reviewable text form of a plan.
fn outline(plan: &Plan) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let symbol = match change.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        };
        out.push_str(&format!(
            "{symbol} {}  ({})\n",
            change.address, change.reason
        ));
        for attribute in &change.attributes {
            out.push_str(&format!(
                "    {}: {} -> {}\n",
                attribute.name,
                attribute.before.as_deref().unwrap_or("-"),
                attribute.after.as_deref().unwrap_or("-")
            ));
        }
        if !change.depends_on.is_empty() {
            out.push_str(&format!(
                "    after: {}\n",
                texts(&change.depends_on).join(", ")
            ));
        }
    }
    for unmanaged in &plan.unmanaged {
        out.push_str(&format!(
            "? {}  ({})\n",
            unmanaged.address, unmanaged.description
        ));
    }
    for incomplete in &plan.incomplete {
        out.push_str(&format!(
            "! incomplete: {} ({:?}: {}) leaves out {}\n",
            incomplete.target,
            incomplete.problem.kind,
            incomplete.problem.message,
            texts(&incomplete.not_planned).join(", ")
        ));
    }
    for error in &plan.errors {
        out.push_str(&format!("ERROR {}: {}\n", error.address, error.message));
    }
    for warning in &plan.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    let summary = plan.summary();
    out.push_str(&format!(
        "Plan: {} to add, {} to change, {} to destroy.\n",
        summary.add, summary.change, summary.destroy
    ));
    out
}

fn reached<'o>(observed: &'o mut Observed, island: &str) -> &'o mut Cluster {
    match observed.islands.get_mut(island) {
        Some(IslandObservation::Reached { cluster, .. }) => cluster,
        _ => panic!("island {island} is not reached"),
    }
}

fn facts<'o>(observed: &'o mut Observed, machine: &str) -> &'o mut HostFacts {
    match observed.machines.get_mut(machine) {
        Some(MachineObservation::Reached { facts }) => facts,
        _ => panic!("machine {machine} is not reached"),
    }
}

/// Addresses as their text, for messages and comparisons.
fn texts(addresses: &[Address]) -> Vec<String> {
    addresses.iter().map(ToString::to_string).collect()
}

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
    insta::assert_snapshot!(outline(&plan));
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
fn capacity_change_touches_only_the_layout() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "capacity = \"10G\"\n  }\n}\n\nchaton \"c\"",
        "capacity = \"20G\"\n  }\n}\n\nchaton \"c\"",
        1,
    ));
    insta::assert_snapshot!(outline(&plan(&new, &converged(&old))));
}

#[test]
fn added_node() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "  node \"b-1\" {",
        "  node \"b-2\" {\n    ssh      = \"root@b2\"\n    capacity = \"5G\"\n  }\n  node \"b-1\" {",
        1,
    ));
    let mut observed = converged(&old);
    observed
        .machines
        .insert("b-2".into(), MachineObservation::Reached { facts: bare() });
    insta::assert_snapshot!(outline(&plan(&new, &observed)));
}

#[test]
fn removed_node() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "  node \"b-1\" {",
        "  node \"b-2\" {\n    ssh      = \"root@b2\"\n    capacity = \"5G\"\n  }\n  node \"b-1\" {",
        1,
    ));
    // The world has b-2; the file no longer does.
    let plan = plan(&old, &converged(&new));
    insta::assert_snapshot!(outline(&plan));
    assert_eq!(plan.summary().destroy, 1);
}

#[test]
fn a_removed_node_archipel_cannot_reach_is_an_error_not_a_removal() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen(
        "  node \"b-1\" {",
        "  node \"b-2\" {\n    ssh      = \"root@b2\"\n    capacity = \"5G\"\n  }\n  node \"b-1\" {",
        1,
    ));
    let mut observed = converged(&new);
    // A role whose tags do not say where the node is.
    for role in &mut reached(&mut observed, "ouest").layout.roles {
        if role.tags.get(1).is_some_and(|n| n == "b-2") {
            role.tags.truncate(2);
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
    assert!(
        plan.errors[0].message.contains("SSH"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn key_permission_drift() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let cluster = reached(&mut observed, "est");
    // Someone made archipel-d owner of its bucket by hand, and gave archipel-a read on "shared".
    for bucket in &mut cluster.buckets {
        for key in &mut bucket.keys {
            if key.name == "archipel-d" && bucket.global_aliases == ["shared"] {
                key.permissions.owner = true;
            }
        }
        if bucket.global_aliases == ["shared"] {
            bucket.keys.push(BucketKey {
                access_key_id: "GKarchipel-a".into(),
                name: "archipel-a".into(),
                permissions: Permissions {
                    read: true,
                    write: false,
                    owner: false,
                },
            });
        }
    }
    insta::assert_snapshot!(outline(&plan(&desired, &observed)));
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
    insta::assert_snapshot!(outline(&plan));
}

#[test]
fn keys_and_empty_backup_buckets_no_longer_needed_are_deleted_full_ones_kept() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let cluster = reached(&mut observed, "ouest");
    let bucket = |alias: &str, objects: u64| BucketInfo {
        id: format!("{alias}-id"),
        global_aliases: vec![alias.into()],
        keys: vec![],
        objects,
        bytes: objects * 1000,
        unfinished_uploads: 0,
        quotas: Quotas::default(),
    };
    // A chaton that used to back up here: its key, an emptied bucket, and
    // a bucket still holding its backups.
    cluster.buckets.push(bucket("backup-gone", 0));
    cluster.buckets.push(bucket("backup-kept", 40));
    cluster.keys.push(KeyInfo {
        access_key_id: "GKgone".into(),
        name: "archipel-gone".into(),
        expired: false,
        buckets: vec![],
    });
    let plan = plan(&desired, &observed);
    insta::assert_snapshot!(outline(&plan));
    assert_eq!(plan.summary().destroy, 2);
    assert!(
        plan.unmanaged
            .iter()
            .any(|u| u.address == "island.ouest.bucket.backup-kept"
                && u.description.contains("40 objects")),
        "{:?}",
        plan.unmanaged
    );
}

#[test]
fn replication_factor_change_is_an_error() {
    let old = desired_from(BASE);
    let new = desired_from(&BASE.replacen("replication_factor = 2", "replication_factor = 3", 1));
    let plan = plan(&new, &converged(&old));
    assert!(plan.is_blocked());
    insta::assert_snapshot!(outline(&plan));
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
    insta::assert_snapshot!(outline(&plan));
}

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
    insta::assert_snapshot!(outline(&plan));
    let config = &plan.changes[0];
    assert!(
        config
            .file
            .as_ref()
            .is_some_and(|f| f.before.as_deref().is_some_and(|b| b.contains("degraded")))
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
fn backup_job_files_as_written_on_the_host() {
    let desired = desired_from(BASE);
    let job = desired
        .backups
        .iter()
        .find(|b| b.job == "mail")
        .expect("the mail job");
    let mut text = format!("# {}\n{}", job.env_file, job.env);
    for unit in &job.units {
        text.push_str(&format!("\n# {}\n{}", unit.service_name, unit.service));
        text.push_str(&format!("\n# {}\n{}", unit.timer_name, unit.timer));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn a_repository_that_refuses_the_password_is_an_error_never_a_new_one() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let job = &desired.backups[0];
    let host = facts(&mut observed, &job.machine);
    host.probes.insert(
        Probe::Repository(job.id.clone()).to_string(),
        ProbeOutput {
            status: 1,
            output: "Fatal: wrong password or no key found".into(),
        },
    );
    let refused = plan(&desired, &observed);
    assert!(refused.changes.is_empty(), "{:?}", refused.changes);
    assert_eq!(refused.errors.len(), 1);
    assert!(
        refused.errors[0]
            .message
            .contains("never initialises it again")
    );

    // A repository that does not exist yet is created.
    let host = facts(&mut observed, &job.machine);
    host.probes.insert(
        Probe::Repository(job.id.clone()).to_string(),
        ProbeOutput {
            status: 1,
            output: "Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?".into(),
        },
    );
    let plan = plan(&desired, &observed);
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| c.address.to_string())
            .collect::<Vec<_>>(),
        vec![format!(
            "chaton.{}.backup.{}.repository",
            job.chaton, job.job
        )]
    );
}

#[test]
fn the_password_is_escrowed_once_it_opens_the_repository_and_again_for_new_recipients() {
    let desired = desired_from(BASE);
    let bare = plan(&desired, &bare_world(&desired));
    let escrow = bare
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files.escrow")
        .expect("an escrow change");
    assert!(
        texts(&escrow.depends_on).contains(&"chaton.a.backup.files.repository".to_string())
            && texts(&escrow.depends_on).contains(&"chaton.a.backup.files.password".to_string()),
        "{:?}",
        escrow.depends_on
    );
    // chaton "d" names no recipient: nothing to escrow.
    assert!(
        !bare
            .changes
            .iter()
            .any(|c| c.address.to_string().starts_with("chaton.d.")
                && c.address.to_string().ends_with(".escrow"))
    );

    // Another admin's key: the password is encrypted again, the diff says
    // for whom.
    let admin =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN bob@a";
    let more = desired_from(&BASE.replacen(
        "escrow  = [\"age1",
        &format!("escrow  = [\"{admin}\", \"age1"),
        1,
    ));
    let replan = plan(&more, &converged(&desired));
    assert_eq!(
        outline(&replan),
        "~ chaton.a.backup.files.escrow  (the escrow's recipients or place changed: the password is encrypted again)\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
    );
    let file = replan.changes[0].file.as_ref().expect("the record's diff");
    assert!(file.after.contains(admin) && !file.before.as_deref().unwrap_or("").contains(admin));
}

#[test]
fn a_job_leaving_the_file_or_its_host_is_removed_there_and_its_repository_kept() {
    let observed = converged(&desired_from(BASE));
    let deletions = |plan: &Plan| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| format!("{}  ({})", c.address, c.reason))
            .collect()
    };

    // chaton d drops its only job; its host stays in the file (node d-1).
    let mail = BASE.find("  backup \"mail\"").expect("mail");
    let end = mail + BASE[mail..].find("  }\n").expect("end") + 4;
    let dropped = plan(
        &desired_from(&format!("{}{}", &BASE[..mail], &BASE[end..])),
        &observed,
    );
    insta::assert_debug_snapshot!("dropped", deletions(&dropped));
    let removal = dropped
        .changes
        .iter()
        .find(|c| c.address == "chaton.d.backup.mail")
        .expect("the removal");
    // Never escrowed (chaton d names no recipient): the password stays.
    assert!(
        removal
            .attributes
            .iter()
            .any(|a| a.name == "password" && a.after.as_deref().unwrap_or("").starts_with("kept")),
        "{:?}",
        removal.attributes
    );
    // The chaton's key goes only once no host uses it.
    let key = dropped
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.key.archipel-d")
        .expect("the key's deletion");
    assert!(
        texts(&key.depends_on).contains(&"chaton.d.backup.mail".to_string()),
        "{:?}",
        key.depends_on
    );

    // Jobs a/files and d/mail swap hosts: each old host loses its job;
    // a's password goes (it is escrowed), d's stays.
    let swapped = BASE
        .replacen("host     = \"root@files.a\"", "host     = \"root@SWAP\"", 1)
        .replacen("host     = \"root@d1\"", "host     = \"root@files.a\"", 1)
        .replacen("root@SWAP", "root@d1", 1);
    let swapped = plan(&desired_from(&swapped), &observed);
    insta::assert_debug_snapshot!("swapped", deletions(&swapped));
    let password = |address: &str| {
        swapped
            .changes
            .iter()
            .find(|c| c.address == address)
            .and_then(|c| c.attributes.iter().find(|a| a.name == "password"))
            .and_then(|a| a.after.clone())
            .unwrap_or_default()
    };
    assert!(password("chaton.a.backup.files.previous-host").starts_with("removed"));
    let leaving = swapped
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files.previous-host")
        .expect("a leaves files.a");
    assert_eq!(
        texts(&leaving.depends_on),
        vec!["chaton.a.backup.files.password".to_string()],
        "the old host keeps the job until the new one has its password"
    );
    assert!(password("chaton.d.backup.mail.previous-host").starts_with("kept"));
}

#[test]
fn a_saved_plan_goes_stale_with_what_it_depends_on_only() {
    use archipel_planner::saved::SavedPlan;
    let model = |text: &str| {
        let mut sources = Sources::new();
        sources.add("test.hcl", text);
        archipel_planner::check(&sources).archipelago
    };
    let base = model(BASE);
    let desired = desired(&base);
    let observed = bare_world(&desired);
    let made = plan(&desired, &observed);
    let saved = SavedPlan::new(&made, &base, &observed, "test");
    let text = serde_json::to_string(&saved).expect("serializes");
    let read: SavedPlan = serde_json::from_str(&text).expect("reads back");
    assert!(read.staleness(&base, &observed).is_empty());
    let back = read.clone().into_plan();
    assert_eq!(back, made, "targets and all");

    // What moves on its own does not count.
    let mut busy = converged(&desired);
    reached(&mut busy, "ouest").buckets[0].objects = 3;
    let mut quiet = busy.clone();
    let cluster = reached(&mut busy, "ouest");
    cluster.buckets[0].objects += 12;
    cluster.buckets[0].bytes += 1 << 20;
    cluster.status.nodes[0].is_up = false;
    let job = &desired.backups[0];
    let service = &job.units[0].service_name;
    facts(&mut busy, &job.machine)
        .units
        .get_mut(service)
        .expect("the backup service")
        .active = "activating".into();
    let converged_plan = plan(&desired, &quiet);
    let saved = SavedPlan::new(&converged_plan, &base, &quiet, "test");
    assert_eq!(saved.staleness(&base, &busy), Vec::<String>::new());

    // A layout version, a timer, the file: stale, and it says what.
    reached(&mut quiet, "est").layout.version += 1;
    facts(&mut quiet, &job.machine)
        .units
        .get_mut(&job.units[0].timer_name)
        .expect("the timer")
        .enabled = "disabled".into();
    let edited = model(&BASE.replacen("capacity = \"10G\"", "capacity = \"11G\"", 1));
    assert_eq!(
        saved.staleness(&edited, &quiet),
        vec![
            "the archipelago file changed since".to_string(),
            "island.est changed since".to_string(),
            format!("machine.{} changed since", job.machine),
        ]
    );
}

#[test]
fn a_removed_block_reaches_a_host_that_left_the_file() {
    let mut observed = converged(&desired_from(BASE));
    // Chaton a's only job on files.a goes; the host goes with it, so a
    // `removed` block names it.
    let files = BASE.find("  backup \"files\"").expect("files");
    let end = files + BASE[files..].find("  }\n").expect("end") + 4;
    let text = format!(
        "{}  removed \"files\" {{\n    host = \"root@files.a\"\n  }}\n{}",
        &BASE[..files],
        &BASE[end..]
    );
    let desired = desired_from(&text);
    let removal = plan(&desired, &observed);
    let change = removal
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files")
        .expect("the job is taken off files.a");
    assert!(
        change.reason.contains("no longer in the file"),
        "{}",
        change.reason
    );
    assert!(removal.warnings.iter().all(|w| !w.contains("can go")));

    // Once it is gone, the plan says the block can go.
    facts(&mut observed, "files.a")
        .probes
        .insert(backup::JOBS_PROBE.0.into(), ok(""));
    let done = plan(&desired, &observed);
    assert!(
        !done
            .changes
            .iter()
            .any(|c| c.address == "chaton.a.backup.files")
    );
    assert!(
        done.warnings
            .iter()
            .any(|w| w.contains("nothing of it is left on files.a")),
        "{:?}",
        done.warnings
    );
}

#[test]
fn prevent_destroy_turns_a_destroying_plan_into_errors() {
    let observed = converged(&desired_from(BASE));
    // chaton d, guarded, drops its only job: the job, its key and its
    // emptied bucket would go.
    let mail = BASE.find("  backup \"mail\"").expect("mail");
    let end = mail + BASE[mail..].find("  }\n").expect("end") + 4;
    let guarded = format!("{}{}", &BASE[..mail], &BASE[end..]).replacen(
        "contact = \"d@example.org\"",
        "contact = \"d@example.org\"\n  prevent_destroy = true",
        1,
    );
    let refused = plan(&desired_from(&guarded), &observed);
    let mut errors: Vec<String> = refused
        .errors
        .iter()
        .map(|e| e.address.to_string())
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "chaton.d.backup.mail",
            "island.ouest.bucket.backup-d",
            "island.ouest.key.archipel-d"
        ]
    );
    assert!(
        refused.errors[0]
            .message
            .contains("chaton \"d\" has prevent_destroy = true")
    );
    assert!(refused.is_blocked());

    // A guarded bucket keeps its permissions: a reader taken away is an
    // error; a writer added is fine.
    let bucket = BASE.replacen(
        "  readers = [\"d\"]\n  writers = [\"e\"]",
        "  readers = []\n  writers = [\"e\", \"f\"]\n  prevent_destroy = true",
        1,
    );
    let refused = plan(&desired_from(&bucket), &observed);
    assert_eq!(
        refused
            .errors
            .iter()
            .map(|e| e.address.to_string())
            .collect::<Vec<_>>(),
        vec!["island.est.key.archipel-d"],
        "d needs no key on est any more: deleting it takes its permission away"
    );
    // Unguarded, the same plans are legal.
    assert!(
        plan(
            &desired_from(&bucket.replace("  prevent_destroy = true\n", "")),
            &observed
        )
        .errors
        .is_empty()
    );
}

#[test]
fn only_keeps_its_scope_and_what_it_needs() {
    use archipel_planner::scope::{Scope, restrict};
    let desired = desired_from(BASE);
    let full = plan(&desired, &bare_world(&desired));
    let only = |texts: &[&str]| {
        let scopes: Vec<Scope> = texts
            .iter()
            .map(|t| Scope::parse(t, &desired).expect("a scope"))
            .collect();
        restrict(full.clone(), &scopes, &desired)
    };
    let addresses = |plan: &Plan| -> Vec<String> {
        texts(
            &plan
                .changes
                .iter()
                .map(|c| c.address.clone())
                .collect::<Vec<_>>(),
        )
    };

    let node = only(&["node.a-1"]);
    assert!(node.has_changes());
    assert!(
        addresses(&node)
            .iter()
            .all(|a| a.starts_with("island.ouest.node.a-1.")),
        "{:?}",
        addresses(&node)
    );

    // chaton d: its job, its node, its key and bucket on ouest, and what
    // those need (ouest's layout, its nodes running) — nothing of chaton a.
    let chaton = addresses(&only(&["chaton.d"]));
    for needed in [
        "chaton.d.backup.mail.repository",
        "island.est.node.d-1.service",
        "island.ouest.key.archipel-d",
        "island.ouest.bucket.backup-d",
        "island.ouest.layout",
    ] {
        assert!(chaton.iter().any(|a| a == needed), "{needed}: {chaton:?}");
    }
    assert!(
        !chaton.iter().any(|a| a.starts_with("chaton.a.")),
        "{chaton:?}"
    );
    // Every kept change's dependencies are kept too.
    let kept = only(&["chaton.d"]);
    for change in &kept.changes {
        for dep in &change.depends_on {
            assert!(
                chaton.contains(&dep.to_string()),
                "{} needs {dep}",
                change.address
            );
        }
    }

    let island = addresses(&only(&["island.est"]));
    assert!(
        island.iter().all(|a| a.starts_with("island.est.")),
        "{island:?}"
    );
    assert!(Scope::parse("island.nowhere", &desired).is_err());
    assert!(Scope::parse("pica-1", &desired).is_err());
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

#[test]
fn status_flags_stale_and_failing_jobs() {
    use archipel_planner::status::status;
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let (fresh, broken) = (&desired.backups[0], &desired.backups[1]);
    let now = 1_800_000_000u64;
    let record = |exit_code: i32, start_unix: u64| {
        format!(
            r#"{{"job":"x","command":"backup","exit_code":{exit_code},"start":"2027-01-15T08:00:00Z","start_unix":{start_unix},"duration_seconds":60,"restic_version":"0.14.0","summary":{{"message_type":"summary","snapshot_id":"abcd1234","files_new":3,"data_added":1000}}}}"#
        )
    };
    for (job, last, success) in [
        // Succeeded an hour ago.
        (fresh, record(0, now - 3600), Some(record(0, now - 3600))),
        // Failed just now; last success three days ago.
        (
            broken,
            record(1, now - 100),
            Some(record(0, now - 3 * 86_400)),
        ),
    ] {
        let host = facts(&mut observed, &job.machine);
        let path =
            |suffix: &str| format!("/var/lib/archipel/backups/{}.backup{suffix}.json", job.id);
        host.files
            .insert(path(""), file("root", "root", "644", None, Some(&last)));
        if let Some(success) = &success {
            host.files.insert(
                path(".success"),
                file("root", "root", "644", None, Some(success)),
            );
        }
        host.probes.insert("now".into(), ok(&now.to_string()));
        host.probes.insert(
            format!("period:{}", job.id),
            ok(&format!("{}\n{}\n", now + 1000, now + 1000 + 86_400)),
        );
    }
    let report = status(&desired, &observed);
    let first = &report.jobs[0];
    assert_eq!(first.period_seconds, Some(86_400));
    assert_eq!(first.success_age_seconds, Some(3600 - 60));
    assert!(!first.stale && !first.failing, "{first:?}");
    let second = &report.jobs[1];
    assert!(second.stale && second.failing, "{second:?}");
    assert!(!report.is_good());
    assert_eq!(
        first
            .last_success
            .as_ref()
            .and_then(|r| r.summary.as_ref())
            .and_then(|s| s.snapshot_id.as_deref()),
        Some("abcd1234")
    );
}

/// The host's systemd has the last word on a schedule: one it says never
/// comes again (a date in the past), or refuses (a time zone it does not
/// know), is an error naming the timer, never a timer installed to sleep.
#[test]
fn a_schedule_the_host_never_reaches_is_an_error() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let job = &desired.backups[0];
    let host = facts(&mut observed, &job.machine);
    host.probes.insert(
        Probe::Schedules(job.id.clone()).to_string(),
        ProbeOutput {
            status: 0,
            output: "backup\tnever\ncheck\tinvalid\tFailed to parse calendar specification: Invalid argument\nprune\tnext\n".into(),
        },
    );
    let plan = plan(&desired, &observed);
    let errors: Vec<(String, &str)> = plan
        .errors
        .iter()
        .map(|e| (e.address.to_string(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0.ends_with(".backup.timer"), "{errors:?}");
    assert!(errors[0].1.contains("is never reached again"), "{errors:?}");
    assert!(errors[1].0.ends_with(".check.timer"), "{errors:?}");
    assert!(errors[1].1.contains("Failed to parse"), "{errors:?}");
}

/// Two machines of the file with one SSH host key are one machine under
/// two names, or clones: refused, naming both.
#[test]
fn two_machines_with_one_host_key_are_refused() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let key = |comment: &str| FileFacts::File {
        sha256: None,
        owner: "root".into(),
        group: "root".into(),
        mode: "644".into(),
        size: 100,
        content: Some(format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl {comment}\n"
        )),
        modified: None,
    };
    let path = archipel_planner::desired::HOST_KEY.to_string();
    facts(&mut observed, "a-1")
        .files
        .insert(path.clone(), key("root@a1"));
    assert!(plan(&desired, &observed).errors.is_empty());
    facts(&mut observed, "b-1")
        .files
        .insert(path, key("root@cloned"));
    let errors = plan(&desired, &observed).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].address, "machine.b-1");
    assert!(
        errors[0]
            .message
            .contains("machines a-1 and b-1 present the same SSH host key")
    );
}

/// Two names in the file that SSH resolves to one address (an alias of the
/// SSH config and the address itself) are one machine: refused.
#[test]
fn two_machines_ssh_lands_on_as_one_are_refused() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    facts(&mut observed, "a-1").lands_at = Some("203.0.113.5:2201".into());
    facts(&mut observed, "b-1").lands_at = Some("203.0.113.5:2202".into());
    assert!(plan(&desired, &observed).errors.is_empty());
    facts(&mut observed, "b-1").lands_at = Some("203.0.113.5:2201".into());
    let errors = plan(&desired, &observed).errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].address, "machine.b-1");
    assert!(
        errors[0]
            .message
            .contains("machines a-1 and b-1 are one machine: SSH reaches both at 203.0.113.5:2201"),
        "{}",
        errors[0].message
    );
}
