//! A running island's layout: each node of the file in its role, and the
//! nodes gone from the file taken out, drained or, declared dead, dropped.

use super::island::{node_address, role_text, short_id};
use super::{Action, Builder, PlanError, Target, Unmanaged};
use crate::address::Address;
use crate::desired::DesiredIsland;
use crate::garage;
use crate::model::SshTarget;
use crate::observed::{Cluster, ClusterLayout, LayoutRole};
use crate::size::Size;
use std::collections::{BTreeMap, BTreeSet};

/// A role change of the layout: its attribute name, before and after.
type RoleChange = (String, Option<String>, Option<String>);

/// The layout: each node's role as the file has it; the roles of nodes
/// gone from the file removed, with their nodes.
pub(super) fn plan_layout(
    island: &DesiredIsland,
    cluster: &Cluster,
    node_ids: &BTreeMap<&str, Option<String>>,
    b: &mut Builder,
) {
    let name = &island.name;
    let layout = &cluster.layout;
    let (mut role_changes, desired_ids) = roles_of_the_file(island, layout, node_ids);
    for role in &layout.roles {
        if !desired_ids.contains(&role.id) {
            plan_role_out_of_file(island, cluster, role, &mut role_changes, b);
        }
    }
    // Running nodes with no role that the file does not know: a node a
    // removal left draining (an interrupted apply), or one connected by
    // hand. archipel cannot reach them (nothing says where they are).
    let file_ids: BTreeSet<&str> = node_ids.values().flatten().map(String::as_str).collect();
    for node in &cluster.status.nodes {
        if node.role.is_none() && node.is_up && !file_ids.contains(node.id.as_str()) {
            b.plan.unmanaged.push(Unmanaged {
                address: node_address(name, short_id(&node.id)),
                description: format!(
                    "a node connected to the island with no role in its layout (host {}, address {}): one a removal left draining, or one connected by hand; once its data directory is empty, stop its Garage (systemctl disable --now garage)",
                    node.hostname.as_deref().unwrap_or("unknown"),
                    node.addr.as_deref().unwrap_or("unknown"),
                ),
            });
        }
    }
    if !layout.staged_role_changes.is_empty() {
        b.plan.warnings.push(format!(
            "island {name} has {} staged layout change(s) that archipel did not make: apply clears them only with your consent",
            layout.staged_role_changes.len()
        ));
    }
    if !role_changes.is_empty() {
        let change = b.add(
            Target::Layout {
                island: name.clone(),
            },
            Action::Update,
            "the layout's roles differ from the file's nodes",
        );
        change.attribute(
            "version",
            Some(layout.version.to_string()),
            Some((layout.version + 1).to_string()),
        );
        for (role, before, after) in role_changes {
            change.attribute(&role, before, after);
        }
    }
}

/// The role changes the file's nodes need, and the IDs of those whose ID
/// is known.
fn roles_of_the_file(
    island: &DesiredIsland,
    layout: &ClusterLayout,
    node_ids: &BTreeMap<&str, Option<String>>,
) -> (Vec<RoleChange>, BTreeSet<String>) {
    let mut role_changes: Vec<RoleChange> = Vec::new();
    let mut desired_ids = BTreeSet::new();
    for node in &island.nodes {
        let Some(Some(id)) = node_ids.get(node.name.as_str()) else {
            if node_ids.contains_key(node.name.as_str()) {
                role_changes.push((
                    format!("role {}", node.name),
                    None,
                    Some(role_text(&node.zone, node.capacity, &node.tags)),
                ));
            }
            continue;
        };
        desired_ids.insert(id.clone());
        let live = layout.roles.iter().find(|r| &r.id == id);
        let wanted = (node.zone.as_str(), Some(node.capacity), &node.tags);
        match live {
            Some(role) if (role.zone.as_str(), role.capacity, &role.tags) == wanted => {}
            Some(role) => role_changes.push((
                format!("role {}", node.name),
                Some(role_text(
                    &role.zone,
                    role.capacity.unwrap_or(0),
                    &role.tags,
                )),
                Some(role_text(&node.zone, node.capacity, &node.tags)),
            )),
            None => role_changes.push((
                format!("role {}", node.name),
                None,
                Some(role_text(&node.zone, node.capacity, &node.tags)),
            )),
        }
    }
    (role_changes, desired_ids)
}

/// A role no node of the file has: archipel's own is a node removed from
/// the file, drained then stopped; any other is shown, left alone.
fn plan_role_out_of_file(
    island: &DesiredIsland,
    cluster: &Cluster,
    role: &LayoutRole,
    role_changes: &mut Vec<RoleChange>,
    b: &mut Builder,
) {
    let name = &island.name;
    let managed = role.tags.first().map(String::as_str) == Some(garage::ROLE_TAG);
    let node_name = role
        .tags
        .get(1)
        .cloned()
        .unwrap_or_else(|| short_id(&role.id).to_string());
    // A node of the file whose ID could not be read (unreachable): its
    // role is unknown ground, never a removal.
    let in_file = island.nodes.iter().any(|n| n.name == node_name);
    if managed && in_file {
        return;
    }
    if managed {
        let Some(ssh) = role.tags.get(2) else {
            b.plan.errors.push(PlanError {
                address: node_address(name, &node_name),
                message: format!(
                    "node {node_name} is out of the file, but its layout role does not say how to reach it over SSH, so archipel could not stop it once drained; put its block back and apply once, then remove it"
                ),
            });
            return;
        };
        let target = match SshTarget::parse(ssh) {
            Ok(target) => target,
            Err(problem) => {
                b.plan.errors.push(PlanError {
                    address: node_address(name, &node_name),
                    message: format!(
                        "node {node_name} is out of the file, but the SSH address its layout role gives, {ssh:?}, is not one ({problem}), so archipel could not stop it once drained; put its block back and apply once, then remove it"
                    ),
                });
                return;
            }
        };
        let up = cluster
            .status
            .nodes
            .iter()
            .any(|n| n.id == role.id && n.is_up);
        let dead = b.dead_nodes.contains(&node_name);
        if dead {
            b.dead_nodes_found.insert(node_name.clone());
        }
        let Some(reason) = removal_reason(island, &node_name, dead, up, b) else {
            return;
        };
        role_changes.push((
            format!("role {node_name}"),
            Some(role_text(
                &role.zone,
                role.capacity.unwrap_or(0),
                &role.tags,
            )),
            None,
        ));
        b.add(
            Target::NodeRemoval {
                island: name.clone(),
                node: node_name.clone(),
                id: role.id.clone(),
                ssh: target,
                dead,
            },
            Action::Delete,
            reason,
        )
        .attribute("ssh", Some(ssh.clone()), None);
    } else {
        b.plan.unmanaged.push(Unmanaged {
            address: Address::LayoutRole {
                island: name.clone(),
                id: short_id(&role.id).to_string(),
            },
            description: format!(
                "a layout role archipel did not create (zone {}, capacity {})",
                role.zone,
                role.capacity
                    .map_or("gateway".to_string(), |c| Size(c).to_string())
            ),
        });
    }
}

/// Why a node out of the file leaves its island: drained while it runs,
/// dropped when the operator declared it dead. None, with the plan error
/// that says why, when neither applies: a node down that is not declared
/// dead, or one declared dead that the island sees up.
fn removal_reason(
    island: &DesiredIsland,
    node_name: &str,
    dead: bool,
    up: bool,
    b: &mut Builder,
) -> Option<String> {
    let name = &island.name;
    let refused = match (dead, up) {
        (false, true) => return Some("the node is no longer in the file: its data moves to the island's other nodes, then its Garage is stopped (its data directory is kept)".to_string()),
        (true, false) => {
            let warning = format!(
                "node {node_name} is DEAD (--dead-node {node_name}): it leaves island {name}'s layout without handing its data over, so every object it held a copy of has one copy fewer (of {}) until the island's other nodes have copied it again; `archipel status` shows the resync",
                island.replication_factor
            );
            b.plan.warnings.push(warning.clone());
            return Some(format!(
                "{warning}. The layout version that drops it is unblocked as Garage documents (skip-dead-nodes, never allow-missing-data), then Garage's table and block repairs run on every node"
            ));
        }
        (false, false) => format!(
            "node {node_name} is out of the file but down, and a removal drains a node, which needs it up: bring it back; or, if its machine is gone for good, say so with --dead-node {node_name} (its data then has one copy fewer until the island has copied it again)"
        ),
        (true, true) => format!(
            "node {node_name} is declared dead (--dead-node) but the island sees it up: without the flag, its removal hands its data over before it stops"
        ),
    };
    b.plan.errors.push(PlanError {
        address: node_address(name, node_name),
        message: refused,
    });
    None
}
