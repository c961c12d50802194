//! A new Garage release for a running island: Garage's preparation first,
//! then its nodes one at a time (the binary and restart `node.rs` plans,
//! chained by `order.rs`); an older release, or another major, refused.

use super::island::{island_address, node_address};
use super::machines::machine_facts;
use super::{Action, Builder, PlanError, Target};
use crate::desired::DesiredIsland;
use crate::garage::{self, Release};
use crate::observed::{IslandObservation, Observed};
use std::collections::BTreeMap;

/// The release a node of the island runs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NodeRelease {
    /// As the cluster reports the node's daemon (`GetClusterStatus`), when
    /// it is up.
    pub daemon: Option<Release>,
    /// As the installed binary reports itself (`garage --version`).
    pub installed: Option<Release>,
}

impl NodeRelease {
    /// What the node's metadata was last written by, as far as can be
    /// seen: the running daemon, or the binary it would start.
    pub fn effective(self) -> Option<Release> {
        self.daemon.or(self.installed)
    }
}

/// What each node of the island runs, by node name.
pub(super) fn releases<'a>(
    island: &'a DesiredIsland,
    observed: &Observed,
) -> BTreeMap<&'a str, NodeRelease> {
    let cluster = match observed.islands.get(&island.name) {
        Some(IslandObservation::Reached { cluster, .. }) => Some(cluster),
        _ => None,
    };
    let mut releases = BTreeMap::new();
    for node in &island.nodes {
        let Ok(facts) = machine_facts(observed, &node.name) else {
            continue;
        };
        let installed = facts
            .probes
            .get(garage::VERSION_PROBE.0)
            .filter(|p| p.status == 0)
            .and_then(|p| Release::reported(&p.output));
        let daemon = garage::observed_node_id(facts, node).and_then(|id| {
            cluster?
                .status
                .nodes
                .iter()
                .find(|n| n.id == id && n.is_up)?
                .garage_version
                .as_deref()
                .and_then(Release::reported)
        });
        releases.insert(node.name.as_str(), NodeRelease { daemon, installed });
    }
    releases
}

/// Refuses what Garage does not support, and plans the preparation when
/// running nodes move to a newer release of the same major.
pub(super) fn plan_upgrade(
    island: &DesiredIsland,
    releases: &BTreeMap<&str, NodeRelease>,
    b: &mut Builder,
) {
    let Some(wanted) = Release::parse(&island.version) else {
        return;
    };
    let mut behind: Vec<(&str, Release)> = Vec::new();
    let mut other_major: Vec<(&str, Release)> = Vec::new();
    let mut downgrades = false;
    for (node, release) in releases {
        let Some(running) = release.effective() else {
            continue;
        };
        if running.major_line() != wanted.major_line() {
            other_major.push((node, running));
        } else if running > wanted {
            downgrades = true;
            b.plan.errors.push(PlanError {
                address: node_address(&island.name, node),
                message: format!(
                    "{node} runs Garage {running}, newer than the file's {wanted}: archipel never downgrades Garage (a release may not read the metadata a newer one wrote). To go back after a bad release, restore the metadata snapshot taken before the upgrade, as docs/upgrades.md says"
                ),
            });
        } else if running < wanted {
            behind.push((node, running));
        }
    }
    if !other_major.is_empty() {
        let nodes: Vec<String> = other_major
            .iter()
            .map(|(node, release)| format!("{node} runs {release}"))
            .collect();
        b.plan.errors.push(PlanError {
            address: island_address(&island.name),
            message: format!(
                "Garage {wanted} is another major version than the island runs ({}): Garage's major upgrades are not rolling. Its procedure (a table repair and a metadata snapshot on every node, then every node stopped at once and started together on the new release, the island down in between) is in docs/upgrades.md; archipel does not run it",
                nodes.join(", ")
            ),
        });
        return;
    }
    if behind.is_empty() || downgrades {
        return;
    }
    let from: Vec<String> = {
        let mut from: Vec<String> = behind.iter().map(|(_, r)| r.to_string()).collect();
        from.dedup();
        from
    };
    let change = b.add(
        Target::Upgrade {
            island: island.name.clone(),
            members: releases
                .iter()
                .filter(|(_, r)| r.daemon.is_some())
                .map(|(node, _)| node.to_string())
                .collect(),
        },
        Action::Update,
        format!(
            "Garage {} → {wanted}: before any node restarts, a table repair on every node, waited for until done, and a metadata snapshot of every node, kept in {} (under each node's metadata directory) for a way back; then one node at a time",
            from.join(", "),
            garage::UPGRADE_SNAPSHOTS,
        ),
    );
    for (node, running) in &behind {
        change.attribute(
            &format!("{node} runs"),
            Some(running.to_string()),
            Some(wanted.to_string()),
        );
    }
    change.attribute(
        "restart order",
        None,
        Some(
            behind
                .iter()
                .map(|(node, _)| *node)
                .collect::<Vec<_>>()
                .join(" → "),
        ),
    );
}
