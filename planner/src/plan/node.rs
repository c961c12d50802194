//! Garage on a node: its binary, user and directories, config, secrets,
//! unit and service.

use super::files::{Drift, managed_file, timer_started};
use super::machines::machine_facts;
use super::upgrade::{NodeRelease, releases};
use super::{Action, Builder, NodeDecision, NodeStep, SENSITIVE, Target};
use crate::desired::{DesiredIsland, DesiredNode};
use crate::garage;
use crate::observed::{FileFacts, HostFacts, IslandObservation, Observed};
use crate::ownership::{self, Ownership};
use std::collections::BTreeMap;

/// What the whole island shows that its nodes' changes depend on: apply
/// is told, not left to judge again (see [`NodeDecision`]).
pub(super) struct IslandSeen<'a> {
    /// The first node of the file that has the island's secrets.
    secrets_holder: Option<&'a str>,
    /// The island answered with its layout: it runs.
    running: bool,
    /// What each node runs.
    pub releases: BTreeMap<&'a str, NodeRelease>,
}

impl<'a> IslandSeen<'a> {
    pub(super) fn of(island: &'a DesiredIsland, observed: &Observed) -> IslandSeen<'a> {
        // The island's secrets are copied from a node that has them, one
        // with the metrics token too first (islands made before it lack
        // it: apply then makes it once for the island).
        let holds = |node: &&DesiredNode, path: &str| {
            machine_facts(observed, &node.name)
                .is_ok_and(|facts| matches!(facts.files.get(path), Some(FileFacts::File { .. })))
        };
        let secrets_holder = island
            .nodes
            .iter()
            .find(|node| holds(node, garage::RPC_SECRET) && holds(node, garage::METRICS_TOKEN))
            .or_else(|| {
                island
                    .nodes
                    .iter()
                    .find(|node| holds(node, garage::RPC_SECRET))
            })
            .map(|node| node.name.as_str());
        IslandSeen {
            releases: releases(island, observed),
            secrets_holder,
            running: matches!(
                observed.islands.get(&island.name),
                Some(IslandObservation::Reached { .. })
            ),
        }
    }
}

pub(super) fn plan_node(
    island: &DesiredIsland,
    node: &DesiredNode,
    facts: &HostFacts,
    seen: &IslandSeen,
    b: &mut Builder,
) {
    let on = OnNode {
        island,
        node,
        facts,
        seen,
    };
    // What changed that the running daemon has not loaded.
    let mut restart_for: Vec<&str> = Vec::new();
    plan_binary(&on, &mut restart_for, b);
    plan_directories(&on, b);
    plan_text_files(&on, &mut restart_for, b);
    plan_secrets(&on, b);
    plan_service(&on, restart_for, b);
    plan_lost_data(&on, b);
    plan_metrics_scraper(&on, b);
}

static MISSING: FileFacts = FileFacts::Missing;

/// A node of an island, and what was seen on it.
struct OnNode<'a> {
    island: &'a DesiredIsland,
    node: &'a DesiredNode,
    facts: &'a HostFacts,
    seen: &'a IslandSeen<'a>,
}

impl OnNode<'_> {
    fn target(&self, step: NodeStep) -> Target {
        Target::Node {
            island: self.island.name.clone(),
            node: self.node.name.clone(),
            step,
            decided: match step {
                NodeStep::Secrets => match self.seen.secrets_holder {
                    Some(holder) => NodeDecision::CopySecretsFrom(holder.to_string()),
                    None => NodeDecision::GenerateSecrets,
                },
                NodeStep::Service | NodeStep::Data if self.was_member() => NodeDecision::Rejoin,
                _ => NodeDecision::Nothing,
            },
        }
    }

    /// The node was part of the running island: it has run Garage (its
    /// node key exists) and the island has a layout.
    fn was_member(&self) -> bool {
        self.seen.running
            && matches!(
                self.file(&garage::node_key_path(&self.node.meta_dir)),
                FileFacts::File { .. }
            )
    }

    fn file(&self, path: &str) -> &FileFacts {
        self.facts.files.get(path).unwrap_or(&MISSING)
    }
}

/// The binary: the pinned one.
fn plan_binary(on: &OnNode, restart_for: &mut Vec<&str>, b: &mut Builder) {
    // The release its daemon runs, as the cluster reports it; the installed
    // binary's when the daemon is not seen.
    let live_version = on
        .seen
        .releases
        .get(on.node.name.as_str())
        .and_then(|r| r.effective())
        .map(|r| r.to_string());
    match on.file(garage::BINARY) {
        FileFacts::File { sha256, .. }
            if sha256.as_deref() == Some(on.island.binary_sha256.as_str()) =>
        {
            // The pinned binary is the one installed: it must be the
            // release the file says, which upgrades are decided on.
            let reports = on
                .seen
                .releases
                .get(on.node.name.as_str())
                .and_then(|r| r.installed);
            if let Some(reports) = reports
                && garage::Release::parse(&on.island.version) != Some(reports)
            {
                b.plan.errors.push(super::PlanError {
                    address: on.target(NodeStep::Binary).address(),
                    message: format!(
                        "the binary pinned by sha256 reports Garage {reports}, but the file says version = \"{}\": correct one of them",
                        on.island.version
                    ),
                });
            }
        }
        FileFacts::File { sha256, .. } => {
            restart_for.push("binary");
            b.add(
                on.target(NodeStep::Binary),
                Action::Update,
                "the installed Garage is not the pinned binary",
            )
            .attribute("version", live_version, Some(on.island.version.clone()))
            .attribute(
                "sha256",
                sha256.clone(),
                Some(on.island.binary_sha256.clone()),
            );
        }
        _ => {
            b.add(
                on.target(NodeStep::Binary),
                Action::Create,
                "Garage is not installed",
            )
            .attribute("version", None, Some(on.island.version.clone()))
            .attribute("sha256", None, Some(on.island.binary_sha256.clone()));
        }
    }
}

/// The garage user and its directories.
fn plan_directories(on: &OnNode, b: &mut Builder) {
    let user_exists = on
        .facts
        .probes
        .get(garage::USER_PROBE.0)
        .is_some_and(|p| p.status == 0);
    let mut directories = Vec::new();
    for dir in [&on.node.meta_dir, &on.node.data_dir] {
        let is_directory = matches!(on.file(dir), FileFacts::Directory { .. });
        if !is_directory || !garage::DIRECTORY_OWNER.matches(on.file(dir)) {
            let live = ownership::shown(on.file(dir)).filter(|_| is_directory);
            directories.push((dir.clone(), live));
        }
    }
    if !user_exists || !directories.is_empty() {
        let creating = !user_exists;
        let change = b.add(
            on.target(NodeStep::Directories),
            if creating {
                Action::Create
            } else {
                Action::Update
            },
            if creating {
                "the garage system user and its directories do not exist"
            } else {
                "Garage's directories are missing or not private to the garage user"
            },
        );
        if !user_exists {
            change.attribute("user", None, Some(garage::USER.into()));
        }
        for (dir, live) in directories {
            change.attribute(&dir, live, Some(garage::DIRECTORY_OWNER.to_string()));
        }
    }
}

/// Text files: config and unit. A new text is loaded by a restart.
fn plan_text_files(on: &OnNode, restart_for: &mut Vec<&str>, b: &mut Builder) {
    refuse_unconverted_engine(on, b);
    for (path, desired_text, step, owner, why) in [
        (
            garage::CONFIG,
            &on.node.config,
            NodeStep::Config,
            garage::CONFIG_OWNER,
            "config",
        ),
        (
            garage::UNIT,
            &on.node.unit,
            NodeStep::Unit,
            garage::UNIT_OWNER,
            "unit",
        ),
    ] {
        let drift = managed_file(b, on.target(step), on.facts, path, desired_text, owner);
        if drift == Drift::Content {
            restart_for.push(why);
        }
    }
}

/// A node's metadata database in another engine than the file says, not
/// converted: Garage would start on an empty database of the new engine,
/// its metadata left behind. archipel does not convert it (Garage's
/// conversion runs offline, a node at a time); the plan error says how.
/// Once converted, the config change restarts the node on it.
fn refuse_unconverted_engine(on: &OnNode, b: &mut Builder) {
    let live = match on.file(garage::CONFIG) {
        FileFacts::File {
            content: Some(text),
            ..
        } => garage::db_engine_in(text),
        _ => None,
    };
    let Some(wanted) = garage::db_engine_in(&on.node.config) else {
        return;
    };
    let Some(live) = live.filter(|live| *live != wanted) else {
        return;
    };
    let meta = on.node.meta_dir.trim_end_matches('/');
    let databases = on
        .facts
        .probes
        .get(garage::DATABASES_PROBE.0)
        .filter(|p| p.status == 0)
        .map(|p| p.output.as_str())
        .unwrap_or("");
    let holds = |engine: &str| databases.lines().any(|l| l.trim() == engine);
    if holds(wanted) || !holds(live) {
        return;
    }
    let node = &on.node.name;
    b.plan.errors.push(super::PlanError {
        address: on.target(NodeStep::Config).address(),
        message: format!(
            "node {node} keeps its metadata in {live} and the file says db_engine = \"{wanted}\": Garage would start on an empty {wanted} database. archipel does not convert it; Garage's conversion runs offline, one node at a time, each back and the island healthy before the next: on {node}, `systemctl stop garage`, then `garage convert-db -a {live} -i {meta}/db.{live} -b {wanted} -o {meta}/db.{wanted}`, then `chown -R garage:garage {meta}/db.{wanted}`; `archipel apply --only node.{node}` then writes its config and starts it (the {live} database stays until you remove it). Or keep db_engine = \"{live}\""
        ),
    });
}

/// Secrets: present, private; never read.
fn plan_secrets(on: &OnNode, b: &mut Builder) {
    let mut secret_attributes = Vec::new();
    let mut secrets_missing = false;
    for (path, name) in [
        (garage::RPC_SECRET, "rpc_secret"),
        (garage::ADMIN_TOKEN, "admin_token"),
        (garage::METRICS_TOKEN, "metrics_token"),
    ] {
        match on.file(path) {
            FileFacts::File { .. } => {
                if !garage::SECRET_OWNER.matches(on.file(path)) {
                    secret_attributes.push((
                        format!("{name} owner"),
                        ownership::shown(on.file(path)),
                        Some(garage::SECRET_OWNER.to_string()),
                    ));
                }
            }
            _ => {
                secrets_missing = true;
                secret_attributes.push((name.to_string(), None, Some(SENSITIVE.to_string())));
            }
        }
    }
    if !secret_attributes.is_empty() {
        let change = b.add(
            on.target(NodeStep::Secrets),
            if secrets_missing { Action::Create } else { Action::Update },
            if secrets_missing {
                "Garage's secrets are not all on the node (generated for a new island, copied from the island's nodes otherwise; the metrics token is made once for an island made before it)"
            } else {
                "Garage's secret files must be private to the garage user (Garage refuses to start otherwise)"
            },
        );
        for (name, before, after) in secret_attributes {
            change.attribute(&name, before, after);
        }
    }
}

/// The node's own scraper of Garage's metrics, when the island writes them
/// into a textfile directory: its service (with the curl config holding
/// the metrics token, made on the node) and its timer, running.
fn plan_metrics_scraper(on: &OnNode, b: &mut Builder) {
    let Some(scraper) = &on.node.metrics else {
        return;
    };
    let service = managed_file(
        b,
        on.target(NodeStep::MetricsService),
        on.facts,
        &format!("{}/{}", crate::backup::UNITS_DIR, garage::METRICS_SERVICE),
        &scraper.service,
        Ownership::ROOT_READABLE,
    );
    if !service.changed() && !matches!(on.file(garage::METRICS_CURL_CONFIG), FileFacts::File { .. })
    {
        b.add(
            on.target(NodeStep::MetricsService),
            Action::Create,
            "the scraper's curl config (the metrics token as a header) is not on the node: made there from the token",
        )
        .attribute("metrics_token", None, Some(SENSITIVE.to_string()));
    }
    let timer = managed_file(
        b,
        on.target(NodeStep::MetricsTimer),
        on.facts,
        &format!("{}/{}", crate::backup::UNITS_DIR, garage::METRICS_TIMER),
        &scraper.timer,
        Ownership::ROOT_READABLE,
    );
    timer_started(
        b,
        on.target(NodeStep::MetricsTimer),
        on.facts,
        garage::METRICS_TIMER,
        timer.changed(),
    );
}

/// The service: enabled and running, restarted for what it has not loaded.
fn plan_service(on: &OnNode, mut restart_for: Vec<&str>, b: &mut Builder) {
    let unit = on.facts.units.get(garage::SERVICE);
    let running = unit.is_some_and(|u| u.installed && u.is_enabled() && u.is_active());
    // A file changed after Garage started (an apply interrupted between
    // writing it and restarting, or a hand edit since reverted to the
    // file's): the daemon still runs the old one.
    if let Some(since) = unit.and_then(|u| u.active_since) {
        for (path, what) in [
            (garage::BINARY, "binary"),
            (garage::CONFIG, "config"),
            (garage::UNIT, "unit"),
        ] {
            let changed_later =
                matches!(on.file(path), FileFacts::File { modified: Some(m), .. } if *m > since);
            if changed_later && !restart_for.contains(&what) {
                restart_for.push(what);
            }
        }
    }
    if !running {
        let change = b.add(
            on.target(NodeStep::Service),
            Action::Create,
            "garage.service is not enabled and running",
        );
        change.attribute(
            "state",
            unit.filter(|u| u.installed)
                .map(|u| format!("{}, {}", u.enabled, u.active)),
            Some("enabled, active".into()),
        );
    } else if !restart_for.is_empty() {
        b.add(
            on.target(NodeStep::Service),
            Action::Update,
            format!(
                "restart to load the new {} (one node of the island at a time)",
                restart_for.join(" and ")
            ),
        );
    }
}

/// A data directory that lost its blocks while the node kept its identity
/// and metadata (a disk swapped, a directory wiped): Garage's marker is
/// gone from it, though the node's data layout records one. Such a node is
/// not healthy whatever its daemon says, and Garage refuses to start on
/// it. Apply makes its data layout anew (the old one kept aside),
/// restarts it as any member (never while another is down), and launches
/// Garage's block repair on it, which fetches every block it should hold
/// from the other nodes.
fn plan_lost_data(on: &OnNode, b: &mut Builder) {
    if !garage::data_directory_lost(on.facts, on.node) {
        return;
    }
    let copies = if on.island.replication_factor > 1 {
        format!(
            "the island keeps {} copies of each block: the other nodes hold them until this one is refilled, one copy fewer meanwhile",
            on.island.replication_factor
        )
    } else {
        "the island keeps ONE copy of each block: the blocks this node held are LOST, and the repair only lets Garage run on the empty directory".to_string()
    };
    let change = b.add(
        on.target(NodeStep::Data),
        Action::Update,
        format!(
            "DATA DIRECTORY LOST: {} has no garage-marker though Garage's data layout records one (a new or wiped disk); Garage restarts on it with a new data layout and a block repair refills it ({copies})",
            on.node.data_dir
        ),
    );
    change.attribute(
        "blocks",
        Some("lost".into()),
        Some("refilled by Garage's block repair".into()),
    );
}
