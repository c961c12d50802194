//! An island: its nodes, their connections, the layout, keys and buckets.

use super::bucket::plan_bucket;
use super::files::file_content;
use super::layout::plan_layout;
use super::machines::machine_facts;
use super::node::{IslandSeen, plan_node};
use super::upgrade::plan_upgrade;
use super::{Action, Builder, Incomplete, NodeStep, PlanError, SENSITIVE, Target, Unmanaged};
use crate::address::Address;
use crate::desired::DesiredIsland;
use crate::garage;
use crate::observed::{Cluster, IslandObservation, Observed, Unreachable};
use crate::size::Size;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn node_address(island: &str, node: &str) -> Address {
    Address::Node {
        island: island.to_string(),
        node: node.to_string(),
    }
}

pub(super) fn island_address(island: &str) -> Address {
    Address::Island {
        island: island.to_string(),
    }
}

pub(super) fn plan_island(island: &DesiredIsland, observed: &Observed, b: &mut Builder) {
    let mut node_ids: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut other_factor: Vec<(&str, u8)> = Vec::new();
    let seen = IslandSeen::of(island, observed);
    for node in &island.nodes {
        let address = node_address(&island.name, &node.name);
        match machine_facts(observed, &node.name) {
            Ok(facts) => {
                node_ids.insert(&node.name, garage::observed_node_id(facts, node));
                plan_node(island, node, facts, &seen, b);
                if let Some(live) = facts
                    .files
                    .get(garage::CONFIG)
                    .and_then(file_content)
                    .and_then(garage::replication_factor_in)
                    && live != island.replication_factor
                {
                    other_factor.push((&node.name, live));
                }
            }
            Err(problem) => {
                b.plan.incomplete.push(Incomplete {
                    target: node.name.clone(),
                    problem: problem.cloned().unwrap_or_else(not_observed),
                    not_planned: vec![address],
                });
            }
        }
    }
    if !other_factor.is_empty() {
        b.plan.errors.push(PlanError {
            address: island_address(&island.name),
            message: format!(
                "replication_factor cannot change on a live island: the file says {}, but {} run{} with {}",
                island.replication_factor,
                other_factor.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                if other_factor.len() == 1 { "s" } else { "" },
                other_factor.iter().map(|(_, f)| f.to_string()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", "),
            ),
        });
    }
    one_identity_per_node(island, &node_ids, b);

    match observed.islands.get(&island.name) {
        Some(IslandObservation::Reached { cluster, .. }) => {
            plan_upgrade(island, &seen.releases, b);
            plan_live_island(island, cluster, &node_ids, b)
        }
        Some(IslandObservation::NotRunning) => plan_new_island(island, b),
        Some(IslandObservation::Unreachable { problem }) => b.plan.incomplete.push(Incomplete {
            target: format!("island {}", island.name),
            problem: problem.clone(),
            not_planned: vec![
                Address::Layout {
                    island: island.name.clone(),
                },
                Address::Buckets {
                    island: island.name.clone(),
                },
                Address::Keys {
                    island: island.name.clone(),
                },
            ],
        }),
        None => b.plan.incomplete.push(Incomplete {
            target: format!("island {}", island.name),
            problem: not_observed(),
            not_planned: vec![island_address(&island.name)],
        }),
    }
}

/// Two desired nodes with one Garage identity: a cloned metadata directory.
fn one_identity_per_node(
    island: &DesiredIsland,
    node_ids: &BTreeMap<&str, Option<String>>,
    b: &mut Builder,
) {
    let mut holders: BTreeMap<&str, &str> = BTreeMap::new();
    for (node, id) in node_ids {
        if let Some(id) = id
            && let Some(other) = holders.insert(id, node)
        {
            b.plan.errors.push(PlanError {
                address: node_address(&island.name, node),
                message: format!(
                    "nodes {other} and {node} have the same Garage node ID {}: a metadata directory was copied between machines",
                    short_id(id)
                ),
            });
        }
    }
}

pub(super) fn not_observed() -> Unreachable {
    Unreachable {
        kind: crate::observed::UnreachableKind::Other,
        message: "not observed".into(),
    }
}

pub(super) fn short_id(id: &str) -> &str {
    &id[..id.len().min(16)]
}

/// A new island: every node connected, the first layout, every bucket and key.
fn plan_new_island(island: &DesiredIsland, b: &mut Builder) {
    let name = &island.name;
    b.add(
        Target::Connect {
            island: name.clone(),
        },
        Action::Create,
        "the island's nodes have never met",
    )
    .attribute(
        "nodes",
        None,
        Some(
            island
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    let change = b.add(
        Target::Layout {
            island: name.clone(),
        },
        Action::Create,
        "the island has no layout yet",
    );
    change.attribute("version", Some("0".into()), Some("1".into()));
    for node in &island.nodes {
        change.attribute(
            &format!("role {}", node.name),
            None,
            Some(role_text(&node.zone, node.capacity, &node.tags)),
        );
    }
    for bucket in &island.buckets {
        plan_bucket(island, bucket, None, b);
    }
    for key in &island.keys {
        add_key(name, key, b);
    }
}

/// A layout role as the plan shows it; the SSH address (the role's third
/// tag) shows too, since changing it changes the role.
pub(super) fn role_text(zone: &str, capacity: u64, tags: &[String]) -> String {
    let mut text = format!("zone {zone}, capacity {}", Size(capacity));
    if let Some(ssh) = tags.get(2) {
        text.push_str(&format!(", ssh {ssh}"));
    }
    text
}

fn add_key(island: &str, key: &str, b: &mut Builder) {
    b.add(
        Target::Key {
            island: island.to_string(),
            key: key.to_string(),
        },
        Action::Create,
        "the key does not exist",
    )
    .attribute("secret", None, Some(SENSITIVE.into()));
}

/// What a running island needs: its nodes connected, its layout, its keys
/// and its buckets as the file has them.
fn plan_live_island(
    island: &DesiredIsland,
    cluster: &Cluster,
    node_ids: &BTreeMap<&str, Option<String>>,
    b: &mut Builder,
) {
    plan_connections(island, cluster, node_ids, b);
    plan_layout(island, cluster, node_ids, b);
    plan_keys(island, cluster, b);
    plan_buckets(island, cluster, b);
}

/// Connections: every node known to the cluster and up.
fn plan_connections(
    island: &DesiredIsland,
    cluster: &Cluster,
    node_ids: &BTreeMap<&str, Option<String>>,
    b: &mut Builder,
) {
    let name = &island.name;
    // A node this plan starts (not restarts) rejoins the island by Connect,
    // which waits until it is up: the cluster may not have noticed yet
    // that it was down.
    let starting = |node: &str| {
        b.changes.iter().any(|c| {
            c.action == Action::Create
                && matches!(&c.target, Target::Node { island: i, node: n, step: NodeStep::Service, .. } if i == name && n == node)
        })
    };
    let not_connected: Vec<&str> = island
        .nodes
        .iter()
        .filter(|node| match node_ids.get(node.name.as_str()) {
            Some(Some(id)) => {
                starting(&node.name) || !cluster.status.nodes.iter().any(|n| &n.id == id && n.is_up)
            }
            // Never started, or not observed: connected once running.
            Some(None) => true,
            None => false,
        })
        .map(|node| node.name.as_str())
        .collect();
    if !not_connected.is_empty() {
        b.add(
            Target::Connect {
                island: name.clone(),
            },
            Action::Update,
            "some nodes are not connected to the island",
        )
        .attribute("nodes", None, Some(not_connected.join(", ")));
    }
}

/// Keys, by the name archipel gives them: the file's created, archipel's
/// own that no chaton uses any more deleted, the others shown.
fn plan_keys(island: &DesiredIsland, cluster: &Cluster, b: &mut Builder) {
    let name = &island.name;
    for key in &island.keys {
        match cluster.keys.iter().filter(|k| &k.name == key).count() {
            0 => add_key(name, key, b),
            1 => {}
            n => b.plan.errors.push(PlanError {
                address: Address::Key {
                    island: name.clone(),
                    key: key.clone(),
                },
                message: format!("{n} live keys are named {key}: archipel will not guess which one is its own; delete the extra ones"),
            }),
        }
    }
    for key in &cluster.keys {
        if island.keys.contains(&key.name) {
            continue;
        }
        if crate::vault::is_recovery_key(&key.name) {
            b.add(
                Target::Key {
                    island: name.clone(),
                    key: key.name.clone(),
                },
                Action::Delete,
                "a read-only key on a vault that an interrupted `archipel recover --from-vault` left: it is deleted",
            )
            .attribute("access key", Some(key.access_key_id.clone()), None);
        } else if key.name.starts_with(crate::desired::KEY_PREFIX) {
            if key.name != crate::vault::KEY {
                b.plan.warnings.push(format!(
                "key {} of island {name} is deleted: a backup host of its chaton that is no longer in the file keeps its archipel timers, which fail from now on: archipel only sees the machines of the file, so name such a host in a `removed \"JOB\" {{ host = … }}` block of the chaton, or disable them there by hand (systemctl disable --now 'archipel-*.timer')",
                key.name
            ));
            }
            b.add(
                Target::Key {
                    island: name.clone(),
                    key: key.name.clone(),
                },
                Action::Delete,
                "no chaton of the file uses this island through this key any more: it is deleted, and its permissions with it",
            )
            .attribute("access key", Some(key.access_key_id.clone()), None);
        } else {
            b.plan.unmanaged.push(Unmanaged {
                address: Address::Key {
                    island: name.clone(),
                    key: key.access_key_id.clone(),
                },
                description: format!("a key archipel does not manage (named \"{}\")", key.name),
            });
        }
    }
}

/// Buckets, by global alias: the file's planned, an emptied backup bucket
/// nobody backs up to deleted, the others shown.
fn plan_buckets(island: &DesiredIsland, cluster: &Cluster, b: &mut Builder) {
    let name = &island.name;
    for bucket in &island.buckets {
        let live = cluster
            .buckets
            .iter()
            .find(|l| l.global_aliases.contains(&bucket.name));
        plan_bucket(island, bucket, live.map(|l| (l, cluster)), b);
    }
    for live in &cluster.buckets {
        if island
            .buckets
            .iter()
            .any(|d| live.global_aliases.contains(&d.name))
        {
            continue;
        }
        let label = live
            .global_aliases
            .first()
            .cloned()
            .unwrap_or_else(|| short_id(&live.id).to_string());
        let backup = live.global_aliases.iter().find(|a| {
            a.starts_with(crate::desired::BACKUP_BUCKET_PREFIX)
                || a.starts_with(crate::vault::BUCKET_PREFIX)
        });
        match backup {
            // An emptied backup bucket (or vault) nobody backs up to any more.
            Some(alias) if live.objects == 0 && live.unfinished_uploads == 0 => {
                b.add(
                    Target::Bucket {
                        island: name.clone(),
                        bucket: alias.clone(),
                    },
                    Action::Delete,
                    "no backup of the file goes to this bucket any more, and it is empty: it is deleted",
                );
            }
            // Backups are never deleted by archipel: the bucket stays,
            // shown, until someone empties it.
            Some(_) => b.plan.unmanaged.push(Unmanaged {
                address: Address::Bucket {
                    island: name.clone(),
                    bucket: label.clone(),
                },
                description: format!(
                    "a backup bucket no backup of the file goes to any more; it holds {} objects ({}), and archipel deletes a bucket only once it is empty",
                    live.objects,
                    Size(live.bytes).rounded()
                ),
            }),
            None => b.plan.unmanaged.push(Unmanaged {
                address: Address::Bucket {
                    island: name.clone(),
                    bucket: label.clone(),
                },
                description: format!(
                    "a bucket archipel does not manage ({} objects, {})",
                    live.objects,
                    Size(live.bytes).rounded()
                ),
            }),
        }
    }
}
