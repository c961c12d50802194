//! The world as a perfect apply leaves it, per kind of thing: a Garage
//! node's files and services, an island's cluster, a backup job's host.
//! A test starts from it and changes only what it is about.

use crate::fixture::{active, bare, file, ok};
use archipel_planner::backup;
use archipel_planner::desired::{
    Desired, DesiredBackup, DesiredIsland, DesiredNode, DesiredVaults,
};
use archipel_planner::garage;
use archipel_planner::observed::*;
use archipel_planner::vault;
use std::collections::BTreeMap;

pub fn node_id(name: &str) -> String {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0>64}")
}

/// The world as a perfect apply of `desired` leaves it.
pub fn converged(desired: &Desired) -> Observed {
    let mut observed = Observed::default();
    let mut facts: BTreeMap<String, HostFacts> = BTreeMap::new();
    for island in &desired.islands {
        for node in &island.nodes {
            let f = facts.entry(node.name.clone()).or_insert_with(bare);
            garage_node(f, island, node);
        }
        if let (Some(vaults), Some(first)) = (&island.vaults, island.nodes.first()) {
            let f = facts.entry(first.name.clone()).or_insert_with(bare);
            vault_runner(f, vaults);
        }
        observed.islands.insert(
            island.name.clone(),
            IslandObservation::Reached {
                through: island.nodes[0].name.clone(),
                cluster: Box::new(cluster(island)),
            },
        );
    }
    for job in &desired.backups {
        let f = facts.entry(job.machine.clone()).or_insert_with(bare);
        backup_job(f, job);
    }
    observed.machines = facts
        .into_iter()
        .map(|(name, facts)| (name, MachineObservation::Reached { facts }))
        .collect();
    observed
}

/// A Garage node's machine: its binary, config, unit, secrets and
/// directories in place, the daemon running.
fn garage_node(f: &mut HostFacts, island: &DesiredIsland, node: &DesiredNode) {
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
    for secret in [garage::ADMIN_TOKEN, garage::METRICS_TOKEN] {
        f.files
            .insert(secret.into(), file("garage", "garage", "600", None, None));
    }
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
    f.files.insert(
        garage::data_layout_path(&node.meta_dir),
        file("garage", "garage", "600", None, None),
    );
    f.files.insert(
        garage::data_marker_path(&node.data_dir),
        file("garage", "garage", "644", None, None),
    );
    f.units.insert(garage::SERVICE.into(), active());
    if let Some(scraper) = &node.metrics {
        for (name, text) in [
            (garage::METRICS_SERVICE, &scraper.service),
            (garage::METRICS_TIMER, &scraper.timer),
        ] {
            f.files.insert(
                format!("{}/{name}", backup::UNITS_DIR),
                file("root", "root", "644", None, Some(text)),
            );
        }
        f.files.insert(
            garage::METRICS_CURL_CONFIG.into(),
            file("root", "root", "600", None, None),
        );
        f.units.insert(garage::METRICS_TIMER.into(), active());
    }
    f.probes
        .insert(garage::VERSION_PROBE.0.into(), ok("garage cargo:2.5.0"));
    f.probes.insert(garage::USER_PROBE.0.into(), ok("999"));
}

/// The node that runs an island's vault passes (the first of the file).
fn vault_runner(f: &mut HostFacts, vaults: &DesiredVaults) {
    let unit = |name: &str| format!("{}/{name}", vault::UNITS_DIR);
    for (path, owner, mode, content) in [
        (vault::SCRIPT_PATH.to_string(), "root", "755", vault::SCRIPT),
        (
            vault::CONFIG_FILE.to_string(),
            "root",
            "600",
            vaults.config.as_str(),
        ),
        (unit(vault::SERVICE), "root", "644", vaults.service.as_str()),
        (unit(vault::TIMER), "root", "644", vaults.timer.as_str()),
    ] {
        f.files
            .insert(path, file(owner, "root", mode, Some("x"), Some(content)));
    }
    f.files.insert(
        vault::CREDENTIALS_FILE.into(),
        file("root", "root", "600", None, None),
    );
    f.files.insert(
        vault::STATE_DIR.into(),
        FileFacts::Directory {
            owner: "root".into(),
            group: "root".into(),
            mode: "700".into(),
        },
    );
    f.units.insert(vault::TIMER.into(), active());
    f.probes.insert(vault::RCLONE_PROBE.0.into(), ok("yes"));
}

/// An island's cluster: every node up in the layout, its keys and buckets.
fn cluster(island: &DesiredIsland) -> Cluster {
    Cluster {
        status: status(island),
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
        layout: layout(island),
        history: LayoutHistory {
            current_version: 1,
            min_ack: 1,
            versions: vec![LayoutVersion {
                version: 1,
                status: "Current".into(),
                storage_nodes: island.nodes.len() as u64,
            }],
        },
        keys: keys(island),
        buckets: buckets(island),
    }
}

fn status(island: &DesiredIsland) -> ClusterStatus {
    ClusterStatus {
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
    }
}

fn layout(island: &DesiredIsland) -> ClusterLayout {
    ClusterLayout {
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
    }
}

fn keys(island: &DesiredIsland) -> Vec<KeyInfo> {
    island
        .keys
        .iter()
        .map(|k| KeyInfo {
            access_key_id: format!("GK{k}"),
            name: k.clone(),
            expired: false,
            buckets: vec![],
        })
        .collect()
}

fn buckets(island: &DesiredIsland) -> Vec<BucketInfo> {
    island
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
            lifecycle_rules: vec![],
            quotas: Quotas {
                max_size: b.quota,
                max_objects: None,
            },
        })
        .collect()
}

/// A backup job's host: its files, runner, units and restic, the
/// repository open, the job listed as archipel's.
fn backup_job(f: &mut HostFacts, job: &DesiredBackup) {
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
    if let Some(ping) = &job.ping {
        f.files
            .insert(ping.file.clone(), file("root", "root", "600", None, None));
        if let Some(source) = &ping.source {
            f.files.insert(
                source.record_file.clone(),
                file("root", "root", "600", None, Some(&source.record)),
            );
        }
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
    f.files.insert(
        backup::PACKAGED_RESTIC.into(),
        file("root", "root", "755", None, None),
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

/// Every machine reachable and bare; no island running.
pub fn bare_world(desired: &Desired) -> Observed {
    let mut observed = converged(desired);
    for machine in observed.machines.values_mut() {
        *machine = MachineObservation::Reached { facts: bare() };
    }
    for island in observed.islands.values_mut() {
        *island = IslandObservation::NotRunning;
    }
    observed
}
