//! The dependency order of the changes.

use super::{Action, BackupStep, Builder, Change, HostStep, NodeStep, Plan, PlanError, Target};
use crate::address::Address;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeSet;

/// Adds dependencies and puts the changes in a deterministic order that
/// respects them; a cycle (a bug) is reported as a plan error.
pub(super) fn order(mut builder: Builder) -> Plan {
    builder
        .changes
        .sort_by_cached_key(|change| change.address.to_string());
    let changes = &builder.changes;
    let dependencies: Vec<BTreeSet<usize>> = changes
        .iter()
        .map(|change| depends_on(change, changes))
        .collect();
    let addresses: Vec<&Address> = changes.iter().map(|c| &c.address).collect();
    let (sequence, cycles) = sequence(&addresses, &dependencies);
    let mut plan = std::mem::take(&mut builder.plan);
    plan.errors.extend(cycles);
    plan.changes = sequence
        .into_iter()
        .map(|index| {
            let mut change = changes[index].clone();
            change.depends_on = dependencies[index]
                .iter()
                .map(|d| changes[*d].address.clone())
                .collect();
            change
        })
        .collect();
    plan
}

/// A topological order of the changes (by index), taking the first ready
/// change by address at each step so the order is stable; and the cycles,
/// named by their members. Changes caught in a cycle come last.
fn sequence(
    addresses: &[&Address],
    dependencies: &[BTreeSet<usize>],
) -> (Vec<usize>, Vec<PlanError>) {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..addresses.len()).map(|i| graph.add_node(i)).collect();
    for (index, deps) in dependencies.iter().enumerate() {
        for dep in deps {
            graph.add_edge(nodes[*dep], nodes[index], ());
        }
    }
    let mut cycles = Vec::new();
    for component in tarjan_scc(&graph) {
        let is_cycle = component.len() > 1
            || component
                .first()
                .is_some_and(|n| graph.contains_edge(*n, *n));
        if is_cycle {
            let mut members: Vec<&Address> =
                component.iter().map(|n| addresses[graph[*n]]).collect();
            members.sort();
            let names: Vec<String> = members.iter().map(ToString::to_string).collect();
            cycles.push(PlanError {
                address: members[0].clone(),
                message: format!("dependency cycle between {}", names.join(", ")),
            });
        }
    }
    // Kahn's algorithm.
    let mut waiting: Vec<usize> = dependencies.iter().map(BTreeSet::len).collect();
    let mut ready: BTreeSet<usize> = (0..addresses.len()).filter(|i| waiting[*i] == 0).collect();
    let mut done = vec![false; addresses.len()];
    let mut order = Vec::new();
    while let Some(next) = ready.pop_first() {
        done[next] = true;
        order.push(next);
        for (index, deps) in dependencies.iter().enumerate() {
            if !done[index] && deps.contains(&next) {
                waiting[index] -= 1;
                if waiting[index] == 0 {
                    ready.insert(index);
                }
            }
        }
    }
    order.extend((0..addresses.len()).filter(|i| !done[*i]));
    (order, cycles)
}

/// The changes a change waits for: the nearest present ones before it in
/// the chain binary → config and secrets → unit → running → connected →
/// layout → buckets and keys → permissions → backup credentials →
/// repository → timer.
fn depends_on(item: &Change, all: &[Change]) -> BTreeSet<usize> {
    let find = |pred: &dyn Fn(&Target) -> bool| -> BTreeSet<usize> {
        all.iter()
            .enumerate()
            .filter(|(_, c)| pred(&c.target))
            .map(|(i, _)| i)
            .collect()
    };
    // The first non-empty group, in order of preference.
    let first = |groups: Vec<BTreeSet<usize>>| {
        groups
            .into_iter()
            .find(|g| !g.is_empty())
            .unwrap_or_default()
    };
    let services = |island: &str| {
        let island = island.to_string();
        find(
            &move |k| matches!(k, Target::Node { island: i, step: NodeStep::Service, .. } if *i == island),
        )
    };
    let island_ready = |island: &str| {
        let (a, b) = (island.to_string(), island.to_string());
        first(vec![
            find(&move |k| matches!(k, Target::Layout { island: i } if *i == a)),
            find(&move |k| matches!(k, Target::Connect { island: i } if *i == b)),
            services(island),
        ])
    };
    match &item.target {
        Target::Node { island, node, step } => {
            let same = |steps: &[NodeStep]| {
                let (island, node, steps) = (island.clone(), node.clone(), steps.to_vec());
                find(
                    &move |k| matches!(k, Target::Node { island: i, node: n, step: s } if *i == island && *n == node && steps.contains(s)),
                )
            };
            let installed = || same(&[NodeStep::Binary, NodeStep::Directories]);
            match step {
                NodeStep::Binary | NodeStep::Directories => BTreeSet::new(),
                NodeStep::Config => installed(),
                // Secret files belong to the garage user.
                NodeStep::Secrets => same(&[NodeStep::Directories]),
                NodeStep::Unit => first(vec![
                    same(&[NodeStep::Config, NodeStep::Secrets]),
                    installed(),
                ]),
                NodeStep::Service => first(vec![
                    same(&[NodeStep::Unit]),
                    same(&[NodeStep::Config, NodeStep::Secrets]),
                    installed(),
                ]),
            }
        }
        Target::Connect { island } => services(island),
        Target::Layout { island } => {
            let i = island.clone();
            first(vec![
                find(&move |k| matches!(k, Target::Connect { island: x } if *x == i)),
                services(island),
            ])
        }
        Target::NodeRemoval { island, .. } => {
            let i = island.clone();
            find(&move |k| matches!(k, Target::Layout { island: x } if *x == i))
        }
        // A chaton's key goes once no host of its jobs still uses it.
        Target::Key { island, key } if item.action == Action::Delete => {
            let mut deps = island_ready(island);
            let key = key.clone();
            deps.extend(find(
                &move |k| matches!(k, Target::BackupRemoval { chaton, .. } if crate::desired::chaton_key(chaton) == key),
            ));
            deps
        }
        Target::Bucket { island, .. } | Target::Key { island, .. } => island_ready(island),
        // A job moving hosts leaves the old one only once the new one has
        // its password (apply never makes a new one for a repository that
        // exists: until `archipel recover` brings it, the old host runs on).
        Target::BackupRemoval { chaton, job, .. } => {
            let (c, j) = (chaton.clone(), job.clone());
            find(
                &move |k| matches!(k, Target::Backup { chaton: x, job: y, step: BackupStep::Password, .. } if *x == c && *y == j),
            )
        }
        Target::Grant {
            island,
            bucket,
            key,
        } => {
            let (i1, b1, i2, k2) = (island.clone(), bucket.clone(), island.clone(), key.clone());
            let mut deps = find(
                &move |k| matches!(k, Target::Bucket { island: i, bucket: b } if *i == i1 && *b == b1),
            );
            deps.extend(find(
                &move |k| matches!(k, Target::Key { island: i, key: x } if *i == i2 && *x == k2),
            ));
            if deps.is_empty() {
                island_ready(island)
            } else {
                deps
            }
        }
        Target::BackupHost { .. } => BTreeSet::new(),
        Target::Backup {
            chaton,
            job,
            machine,
            step,
        } => {
            let same_job = |steps: &[BackupStep]| {
                let (c, j, steps) = (chaton.clone(), job.clone(), steps.to_vec());
                find(
                    &move |k| matches!(k, Target::Backup { chaton: x, job: y, step: z, .. } if *x == c && *y == j && steps.contains(z)),
                )
            };
            // The chaton's key and its permission on the destination
            // island's bucket.
            let island_access = |chaton: &str| {
                let bucket = crate::desired::backup_bucket(chaton);
                let key = crate::desired::chaton_key(chaton);
                let (b1, k1, b2, k2) = (bucket.clone(), key.clone(), bucket, key);
                first(vec![
                    find(
                        &move |k| matches!(k, Target::Grant { bucket: b, key: x, .. } if *b == b1 && *x == k1),
                    ),
                    find(&move |k| {
                        matches!(k, Target::Bucket { bucket: b, .. } if *b == b2)
                            || matches!(k, Target::Key { key: x, .. } if *x == k2)
                    }),
                ])
            };
            let host = |step: HostStep| {
                let m = machine.clone();
                find(
                    &move |k| matches!(k, Target::BackupHost { machine: x, step: s } if *x == m && *s == step),
                )
            };
            match step {
                BackupStep::Settings => BTreeSet::new(),
                BackupStep::Credentials => island_access(chaton),
                // restic, with the job's key and settings, first says that
                // no repository exists without this password.
                BackupStep::Password => {
                    let mut deps = same_job(&[BackupStep::Credentials, BackupStep::Settings]);
                    deps.extend(host(HostStep::Restic));
                    deps
                }
                // Only a password the repository opens with is escrowed
                // (an escrow is never replaced by a wrong one), with the
                // job's key.
                BackupStep::Escrow => {
                    let mut deps = island_access(chaton);
                    deps.extend(same_job(&[BackupStep::Password, BackupStep::Repository]));
                    deps
                }
                BackupStep::Repository => {
                    let mut deps = same_job(&[
                        BackupStep::Password,
                        BackupStep::Credentials,
                        BackupStep::Settings,
                    ]);
                    deps.extend(host(HostStep::Restic));
                    deps
                }
                BackupStep::Service(_) => {
                    let mut deps = same_job(&[BackupStep::Settings]);
                    deps.extend(host(HostStep::Runner));
                    deps
                }
                // A schedule starts once its service and the repository
                // are there.
                BackupStep::Timer(task) => {
                    let mut deps = same_job(&[BackupStep::Service(*task), BackupStep::Repository]);
                    if deps.is_empty() {
                        deps = first(vec![
                            same_job(&[
                                BackupStep::Password,
                                BackupStep::Credentials,
                                BackupStep::Settings,
                            ]),
                            host(HostStep::Restic),
                        ]);
                    }
                    deps
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(texts: &[&str]) -> Vec<Address> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn order_respects_dependencies_and_is_stable() {
        let addresses = addresses(&["island.a", "island.b", "island.c", "island.d"]);
        let addresses: Vec<&Address> = addresses.iter().collect();
        // d needs a; b needs d; c needs nothing.
        let deps = vec![
            BTreeSet::new(),
            BTreeSet::from([3]),
            BTreeSet::new(),
            BTreeSet::from([0]),
        ];
        let (order, cycles) = sequence(&addresses, &deps);
        assert_eq!(order, vec![0, 2, 3, 1]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn cycles_are_reported_with_their_members() {
        let addresses = addresses(&[
            "island.i.node.x.binary",
            "island.i.node.x.config",
            "island.i.node.x.service",
            "island.y",
        ]);
        let addresses: Vec<&Address> = addresses.iter().collect();
        // binary -> config -> service -> binary, and y alone.
        let deps = vec![
            BTreeSet::from([2]),
            BTreeSet::from([0]),
            BTreeSet::from([1]),
            BTreeSet::new(),
        ];
        let (order, cycles) = sequence(&addresses, &deps);
        assert_eq!(order[0], 3, "the change outside the cycle still runs first");
        assert_eq!(order.len(), 4, "no change is lost");
        assert_eq!(cycles.len(), 1);
        assert_eq!(
            cycles[0].message,
            "dependency cycle between island.i.node.x.binary, island.i.node.x.config, island.i.node.x.service"
        );
    }
}
