//! The dependency order of the changes.

use super::{
    Action, BackupStep, Builder, Change, HostStep, NodeDecision, NodeStep, Plan, PlanError, Target,
    VaultStep,
};
use crate::address::Address;
use crate::desired::{backup_bucket, chaton_key};
use crate::vault;
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
    let mut dependencies: Vec<BTreeSet<usize>> = changes
        .iter()
        .map(|change| depends_on(change, changes))
        .collect();
    one_restart_at_a_time(changes, &mut dependencies);
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

/// The members of a running island restart one after the other, in the
/// order of their addresses: each waits for the one before, so the plan
/// shows the order, and a restart that fails stops the ones after it.
fn one_restart_at_a_time(changes: &[Change], dependencies: &mut [BTreeSet<usize>]) {
    // A node's restarts (its service, then its data directory's repair)
    // in the order of their steps, the nodes in the order of their names.
    let mut restarts: Vec<(&str, &str, NodeStep, usize)> = changes
        .iter()
        .enumerate()
        .filter_map(|(index, change)| match &change.target {
            Target::Node {
                island,
                node,
                step: step @ (NodeStep::Service | NodeStep::Data),
                decided: NodeDecision::Rejoin,
            } => Some((island.as_str(), node.as_str(), *step, index)),
            _ => None,
        })
        .collect();
    restarts.sort();
    let mut previous: std::collections::BTreeMap<&str, usize> = Default::default();
    for (island, _, _, index) in restarts {
        if let Some(before) = previous.insert(island, index) {
            dependencies[index].insert(before);
        }
    }
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

/// A kind of step a change can wait for, named from the waiting change:
/// `Node(Config)` is the config of the same node, `Layout` the layout of
/// the same island, `Job(Password)` the password of the same backup job.
#[derive(Debug, Clone, Copy)]
enum Step {
    Node(NodeStep),
    /// Every node's service in the island.
    Services,
    Connect,
    Layout,
    /// The island's preparation for a new Garage release.
    Upgrade,
    /// The bucket a grant is on, and the key it is for.
    GrantedBucket,
    GrantedKey,
    /// The backup job's chaton's bucket, key and grant, on any island.
    ChatonBucket,
    ChatonKey,
    ChatonGrant,
    /// The jobs leaving hosts that use the chaton key being deleted (the
    /// vault passes leaving their node, for the island's vault key).
    JobsUsingKey,
    Job(BackupStep),
    /// The service of a timer's task.
    TaskService,
    /// What the backup job's host needs once.
    Host(HostStep),
    /// A step of the vault passes on the same node.
    Vault(VaultStep),
    /// The island's vault key, its vault buckets and the key's grants.
    VaultKey,
    VaultBuckets,
    VaultGrants,
    /// The vault passes' timer on the island's node that runs them.
    VaultTimer,
}

/// Steps that are waited for together.
type Group = &'static [Step];
/// Groups in order of preference: the nearest step first.
type Preference = &'static [Group];

const INSTALLED: Group = &[
    Step::Node(NodeStep::Binary),
    Step::Node(NodeStep::Directories),
];
const CONFIGURED: Group = &[Step::Node(NodeStep::Config), Step::Node(NodeStep::Secrets)];
const JOB_FILES: Group = &[
    Step::Job(BackupStep::Password),
    Step::Job(BackupStep::Credentials),
    Step::Job(BackupStep::Settings),
    Step::Job(BackupStep::Ping),
];
const RESTIC: Group = &[Step::Host(HostStep::Restic)];
/// The island's Garage runs as one cluster with its layout.
const ISLAND_READY: Preference = &[&[Step::Layout], &[Step::Connect], &[Step::Services]];
/// The chaton's key and its permission on the destination island's bucket.
const ISLAND_ACCESS: Preference = &[&[Step::ChatonGrant], &[Step::ChatonBucket, Step::ChatonKey]];
/// The island's vault key and its permissions on the backups and vaults.
const VAULT_ACCESS: Preference = &[&[Step::VaultGrants], &[Step::VaultBuckets, Step::VaultKey]];
const VAULT_FILES: Group = &[
    Step::Vault(VaultStep::Rclone),
    Step::Vault(VaultStep::Pass),
    Step::Vault(VaultStep::Config),
    Step::Vault(VaultStep::Credentials),
    Step::Vault(VaultStep::Service),
];

/// What each kind of change waits for: one or more preferences, each
/// followed on its own, whose results add up.
///
/// The rule for steps absent from the plan (nothing to do there): a
/// change waits for the first group of a preference with at least one of
/// its steps planned, all of that group's planned steps; a group with none
/// planned hands the wait to the next; no group planned, nothing to wait
/// for. Why the nearest only: each present step itself waits for those
/// before it, so the chain binary → config and secrets → unit → running
/// → connected → layout → buckets and keys → permissions → backup
/// credentials → repository → timer still holds through it, while each
/// change lists only what it directly follows.
fn waits_for(change: &Change) -> &'static [Preference] {
    use BackupStep as B;
    match &change.target {
        Target::Node { step, .. } => match step {
            // A running node's binary is replaced once Garage's preparation
            // for the release is done.
            NodeStep::Binary => &[&[&[Step::Upgrade]]],
            NodeStep::Directories => &[],
            NodeStep::Config => &[&[INSTALLED]],
            // Secret files belong to the garage user.
            NodeStep::Secrets => &[&[&[Step::Node(NodeStep::Directories)]]],
            NodeStep::Unit => &[&[CONFIGURED, INSTALLED]],
            NodeStep::Service => &[
                &[&[Step::Node(NodeStep::Unit)], CONFIGURED, INSTALLED],
                &[&[Step::Upgrade]],
            ],
            // Restarted on its empty directory once it runs what the file
            // says (its service's change, when there is one).
            NodeStep::Data => &[&[
                &[Step::Node(NodeStep::Service)],
                &[Step::Node(NodeStep::Directories)],
            ]],
            // The scraper's curl config is made from the node's metrics
            // token; its first run once Garage runs with it.
            NodeStep::MetricsService => &[&[&[Step::Node(NodeStep::Secrets)]]],
            NodeStep::MetricsTimer => &[
                &[&[Step::Node(NodeStep::MetricsService)]],
                &[&[Step::Node(NodeStep::Service)], CONFIGURED],
            ],
        },
        Target::Upgrade { .. } => &[],
        Target::Connect { .. } => &[&[&[Step::Services]]],
        Target::Layout { .. } => &[&[&[Step::Connect], &[Step::Services]]],
        Target::NodeRemoval { .. } => &[&[&[Step::Layout]]],
        // A chaton's key goes once no host of its jobs still uses it.
        Target::Key { .. } if change.action == Action::Delete => {
            &[ISLAND_READY, &[&[Step::JobsUsingKey]]]
        }
        Target::Bucket { .. } | Target::Key { .. } => &[ISLAND_READY],
        Target::Grant { .. } => &[&[
            &[Step::GrantedBucket, Step::GrantedKey],
            &[Step::Layout],
            &[Step::Connect],
            &[Step::Services],
        ]],
        // A job moving hosts leaves the old one only once the new one has
        // its password (apply never makes a new one for a repository that
        // exists: until `archipel recover` brings it, the old host runs on).
        Target::BackupRemoval { .. } => &[&[&[Step::Job(B::Password)]]],
        Target::BackupHost { .. } => &[],
        Target::Backup { step, .. } => match step {
            B::Settings | B::Ping => &[],
            B::Credentials => &[ISLAND_ACCESS],
            // restic, with the job's key and settings, first says that no
            // repository exists without this password.
            B::Password => &[
                &[&[Step::Job(B::Credentials), Step::Job(B::Settings)]],
                &[RESTIC],
            ],
            // Only a password the repository opens with is escrowed (an
            // escrow is never replaced by a wrong one), with the job's key.
            B::Escrow => &[
                ISLAND_ACCESS,
                &[&[Step::Job(B::Password), Step::Job(B::Repository)]],
            ],
            B::Repository => &[&[JOB_FILES], &[RESTIC]],
            // It takes the island's repository's chunker parameters, so
            // that copies from it deduplicate there.
            B::LocalRepository => &[&[JOB_FILES], &[RESTIC], &[&[Step::Job(B::Repository)]]],
            B::Service(_) => &[
                &[&[Step::Job(B::Settings)]],
                &[&[Step::Host(HostStep::Runner)]],
            ],
            // A schedule starts once its service and the repository are
            // there.
            B::Timer(_) => &[&[
                &[
                    Step::TaskService,
                    Step::Job(B::Repository),
                    Step::Job(B::LocalRepository),
                ],
                JOB_FILES,
                RESTIC,
            ]],
        },
        Target::Vault { step, .. } => match step {
            VaultStep::Rclone | VaultStep::Pass | VaultStep::Config => &[],
            // The key's secret is read from the island.
            VaultStep::Credentials => &[&[&[Step::VaultKey]], ISLAND_READY],
            VaultStep::Service => {
                &[&[&[Step::Vault(VaultStep::Pass), Step::Vault(VaultStep::Config)]]]
            }
            // The first pass runs once everything it uses is there: its
            // files, the node's Garage, the key's permissions.
            VaultStep::Timer => &[
                &[VAULT_FILES],
                &[&[Step::Node(NodeStep::Service)]],
                VAULT_ACCESS,
            ],
        },
        // The passes leave a node once they run on the next one.
        Target::VaultRemoval { .. } => &[&[&[Step::VaultTimer]]],
    }
}

/// The changes a change waits for, by the table above and its rule for
/// absent steps.
fn depends_on(change: &Change, all: &[Change]) -> BTreeSet<usize> {
    waits_for(change)
        .iter()
        .flat_map(|preference| nearest_planned(preference, &change.target, all))
        .collect()
}

/// The planned changes of the first group with any planned.
fn nearest_planned(preference: Preference, waiting: &Target, all: &[Change]) -> BTreeSet<usize> {
    preference
        .iter()
        .map(|group| {
            all.iter()
                .enumerate()
                .filter(|(_, c)| group.iter().any(|step| step.is(waiting, &c.target)))
                .map(|(i, _)| i)
                .collect::<BTreeSet<usize>>()
        })
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

impl Step {
    /// Whether `other` is this step of the change to `waiting`.
    fn is(self, waiting: &Target, other: &Target) -> bool {
        match (self, other) {
            (
                Step::Node(wanted),
                Target::Node {
                    island, node, step, ..
                },
            ) => wanted == *step && node_of(waiting) == Some((island, node)),
            (
                Step::Services,
                Target::Node {
                    island,
                    step: NodeStep::Service,
                    ..
                },
            )
            | (Step::Connect, Target::Connect { island })
            | (Step::Upgrade, Target::Upgrade { island, .. })
            | (Step::Layout, Target::Layout { island }) => island_of(waiting) == Some(island),
            (Step::GrantedBucket, Target::Bucket { island, bucket }) => {
                grant_of(waiting).is_some_and(|(i, b, _)| i == island && b == bucket)
            }
            (Step::GrantedKey, Target::Key { island, key }) => {
                grant_of(waiting).is_some_and(|(i, _, k)| i == island && k == key)
            }
            (Step::ChatonGrant, Target::Grant { bucket, key, .. }) => chaton_of(waiting)
                .is_some_and(|c| *bucket == backup_bucket(c) && *key == chaton_key(c)),
            (Step::ChatonBucket, Target::Bucket { bucket, .. }) => {
                chaton_of(waiting).is_some_and(|c| *bucket == backup_bucket(c))
            }
            (Step::ChatonKey, Target::Key { key, .. }) => {
                chaton_of(waiting).is_some_and(|c| *key == chaton_key(c))
            }
            (Step::JobsUsingKey, Target::BackupRemoval { chaton, .. }) => {
                matches!(waiting, Target::Key { key, .. } if chaton_key(chaton) == *key)
            }
            (Step::JobsUsingKey, Target::VaultRemoval { island, .. }) => {
                matches!(waiting, Target::Key { island: i, key } if i == island && key == vault::KEY)
            }
            (Step::Job(wanted), Target::Backup { step, .. }) => {
                wanted == *step && same_job(waiting, other)
            }
            (
                Step::TaskService,
                Target::Backup {
                    step: BackupStep::Service(task),
                    ..
                },
            ) => {
                matches!(waiting, Target::Backup { step: BackupStep::Timer(t), .. } if t == task)
                    && same_job(waiting, other)
            }
            (Step::Host(wanted), Target::BackupHost { machine, step }) => {
                wanted == *step
                    && matches!(waiting, Target::Backup { machine: m, .. } if m == machine)
            }
            (Step::Vault(wanted), Target::Vault { step, .. }) => {
                wanted == *step && node_of(waiting) == node_of(other)
            }
            (Step::VaultKey, Target::Key { island, key }) => {
                *key == vault::KEY && island_of(waiting) == Some(island)
            }
            (Step::VaultBuckets, Target::Bucket { island, bucket }) => {
                bucket.starts_with(vault::BUCKET_PREFIX) && island_of(waiting) == Some(island)
            }
            (Step::VaultGrants, Target::Grant { island, key, .. }) => {
                *key == vault::KEY && island_of(waiting) == Some(island)
            }
            (
                Step::VaultTimer,
                Target::Vault {
                    island,
                    step: VaultStep::Timer,
                    ..
                },
            ) => island_of(waiting) == Some(island),
            _ => false,
        }
    }
}

fn island_of(target: &Target) -> Option<&String> {
    match target {
        Target::Node { island, .. }
        | Target::NodeRemoval { island, .. }
        | Target::Connect { island }
        | Target::Upgrade { island, .. }
        | Target::Layout { island }
        | Target::Bucket { island, .. }
        | Target::Key { island, .. }
        | Target::Grant { island, .. }
        | Target::Vault { island, .. }
        | Target::VaultRemoval { island, .. } => Some(island),
        Target::BackupRemoval { .. } | Target::BackupHost { .. } | Target::Backup { .. } => None,
    }
}

fn node_of(target: &Target) -> Option<(&String, &String)> {
    match target {
        Target::Node { island, node, .. }
        | Target::Vault { island, node, .. }
        | Target::VaultRemoval { island, node } => Some((island, node)),
        _ => None,
    }
}

/// A grant's island, bucket and key.
fn grant_of(target: &Target) -> Option<(&String, &String, &String)> {
    match target {
        Target::Grant {
            island,
            bucket,
            key,
        } => Some((island, bucket, key)),
        _ => None,
    }
}

/// The chaton of a backup job's step.
fn chaton_of(target: &Target) -> Option<&str> {
    match target {
        Target::Backup { chaton, .. } => Some(chaton),
        _ => None,
    }
}

/// Whether two changes are about one backup job (on whichever host).
fn same_job(a: &Target, b: &Target) -> bool {
    let job = |t: &Target| match t {
        Target::Backup { chaton, job, .. } | Target::BackupRemoval { chaton, job, .. } => {
            Some((chaton.clone(), job.clone()))
        }
        _ => None,
    };
    job(a).is_some() && job(a) == job(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::NodeDecision;

    fn addresses(texts: &[&str]) -> Vec<Address> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn change(target: Target) -> Change {
        Change {
            address: target.address(),
            action: Action::Create,
            reason: String::new(),
            attributes: Vec::new(),
            file: None,
            depends_on: Vec::new(),
            target,
        }
    }

    #[test]
    fn an_absent_step_hands_the_wait_to_the_nearest_one_before_it() {
        let node = |step| {
            change(Target::Node {
                island: "i".into(),
                node: "n".into(),
                step,
                decided: NodeDecision::Nothing,
            })
        };
        // No directories, secrets or unit to change.
        let all = vec![
            node(NodeStep::Binary),
            node(NodeStep::Config),
            node(NodeStep::Service),
        ];
        assert_eq!(depends_on(&all[0], &all), BTreeSet::new());
        assert_eq!(depends_on(&all[1], &all), BTreeSet::from([0]));
        assert_eq!(
            depends_on(&all[2], &all),
            BTreeSet::from([1]),
            "the service waits for the config, not for the binary before it"
        );
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
