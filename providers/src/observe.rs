//! Observing the archipelago: every machine at once (one SSH connection and
//! one round trip each), then every island's Garage cluster through one of
//! its running members. Interruptible: on a stop signal, nothing new starts,
//! connections in progress settle (bounded), and every connection is handed
//! back to be closed.

use crate::garage;
use crate::host;
use crate::ssh::{Remote, Ssh, SshError};
use archipel_planner::desired::{Desired, DesiredIsland};
use archipel_planner::model::Machine;
use archipel_planner::observed::{
    Cluster, FactsQuery, FileFacts, HostFacts, IslandObservation, MachineObservation, Observed,
    Unreachable, UnreachableKind,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// What observing left: what was seen, the open connections (for the caller
/// to close, or to reuse for apply), whether it was interrupted, and when
/// each of its phases ended.
#[derive(Debug, Default)]
pub struct Observation {
    pub observed: Observed,
    pub remotes: BTreeMap<String, Remote>,
    pub interrupted: bool,
    pub timings: Timings,
}

/// When each phase of an observation ended for the last machine or island
/// it waited on, counted from the observation's start: where the time of a
/// slow plan went (`-v` prints them). A phase that did not run is `None`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    /// The last connection up (or given up).
    pub connected: Option<Duration>,
    /// The last machine's facts in.
    pub facts: Option<Duration>,
    /// The last island's admin API answers in.
    pub islands: Option<Duration>,
}

/// An error as the plan reports an unreachable machine or island.
pub fn unreachable(error: &SshError) -> Unreachable {
    let message = error.to_string();
    Unreachable {
        kind: if matches!(error, SshError::HostKey { .. }) {
            UnreachableKind::HostKey
        } else {
            UnreachableKind::classify(&message)
        },
        message,
    }
}

/// Connects to every machine and gathers the facts `query` asks of each.
/// `stop` turning true interrupts: connections in progress get `grace` to
/// settle, then what still runs is aborted.
pub async fn gather_machines(
    ssh: &Arc<Ssh>,
    machines: &[Machine],
    query: impl Fn(&Machine) -> FactsQuery,
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Observation {
    gather_machines_telling(ssh, machines, query, stop, grace, None).await
}

/// [`gather_machines`], telling `connected` of each connection as soon as
/// it is up (before its facts).
async fn gather_machines_telling(
    ssh: &Arc<Ssh>,
    machines: &[Machine],
    query: impl Fn(&Machine) -> FactsQuery,
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
    connected: Option<mpsc::UnboundedSender<(String, Remote)>>,
) -> Observation {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for machine in machines {
        let ssh = Arc::clone(ssh);
        let machine = machine.clone();
        let query = query(&machine);
        let tell = connected.clone();
        tasks.spawn(async move {
            let remote = ssh
                .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
                .await;
            if let (Some(tell), Ok(remote)) = (tell, &remote) {
                let _ = tell.send((machine.name.clone(), remote.clone()));
            }
            let connected = started.elapsed();
            let facts = match &remote {
                Ok(remote) => Some(host::gather(remote, &query).await),
                Err(_) => None,
            };
            Gathered {
                name: machine.name,
                remote,
                facts,
                connected,
                done: started.elapsed(),
            }
        });
    }
    let mut observation = Observation::default();
    for machine in machines {
        observation.observed.machines.insert(
            machine.name.clone(),
            MachineObservation::Unreachable {
                problem: Unreachable {
                    kind: UnreachableKind::Other,
                    message: "not observed: interrupted".into(),
                },
            },
        );
    }
    let deadline = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(deadline);
    let already_stopped = *stop.borrow();
    if already_stopped {
        observation.interrupted = true;
        deadline.as_mut().reset(tokio::time::Instant::now() + grace);
    }
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(gathered)) => gathered.collect_into(&mut observation),
                Some(Err(_)) => {}
                None => break,
            },
            changed = stop.changed(), if !observation.interrupted => {
                if changed.is_err() || *stop.borrow() {
                    observation.interrupted = true;
                    deadline.as_mut().reset(tokio::time::Instant::now() + grace);
                }
            }
            _ = &mut deadline, if observation.interrupted => tasks.abort_all(),
        }
    }
    observation
}

/// One machine's connection and facts, and when each was done.
struct Gathered {
    name: String,
    remote: Result<Remote, SshError>,
    facts: Option<Result<HostFacts, SshError>>,
    connected: Duration,
    done: Duration,
}

impl Gathered {
    fn collect_into(self, observation: &mut Observation) {
        let timings = &mut observation.timings;
        timings.connected = timings.connected.max(Some(self.connected));
        if self.facts.is_some() {
            timings.facts = timings.facts.max(Some(self.done));
        }
        let state = match (&self.remote, self.facts) {
            (Err(error), _) => MachineObservation::Unreachable {
                problem: unreachable(error),
            },
            (Ok(_), Some(Ok(facts))) => MachineObservation::Reached { facts },
            (Ok(_), Some(Err(error))) => MachineObservation::Unreachable {
                problem: unreachable(&error),
            },
            (Ok(_), None) => return,
        };
        observation
            .observed
            .machines
            .insert(self.name.clone(), state);
        if let Ok(remote) = self.remote {
            observation.remotes.insert(self.name, remote);
        }
    }
}

/// Observes the whole archipelago for a plan.
pub async fn observe(
    ssh: &Arc<Ssh>,
    desired: &Desired,
    machines: &[Machine],
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Observation {
    observe_with(
        ssh,
        desired,
        machines,
        |m| desired.facts_query(&m.name),
        stop,
        grace,
    )
    .await
}

/// Observes the archipelago with the facts `query` asks of each machine
/// (a plan's, or more), then each island.
pub async fn observe_with(
    ssh: &Arc<Ssh>,
    desired: &Desired,
    machines: &[Machine],
    query: impl Fn(&Machine) -> FactsQuery,
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Observation {
    let started = Instant::now();
    let (tell, connected) = mpsc::unbounded_channel();
    let (mut observation, mut early) = tokio::join!(
        gather_machines_telling(ssh, machines, query, stop, grace, Some(tell)),
        read_islands_early(desired, connected)
    );
    if observation.interrupted {
        for (_, reading) in std::mem::take(&mut early) {
            reading.abort();
            let _ = reading.await;
        }
        return observation;
    }
    let islands = futures_util::future::join_all(desired.islands.iter().map(|island| {
        let early = early.remove(&island.name);
        let (machines, remotes) = (&observation.observed.machines, &observation.remotes);
        async move {
            match early {
                // Every member seen: the early reading is as good as any
                // and already under way; another is made only if it fails.
                Some(early) if all_seen(island, machines) => match early.await {
                    Ok(Some(read)) => reached(read),
                    _ => observe_island(island, machines, remotes).await,
                },
                // A member out of reach may make Garage wait: whichever
                // reading answers first.
                Some(early) => {
                    first_reading(early, observe_island(island, machines, remotes)).await
                }
                None => observe_island(island, machines, remotes).await,
            }
        }
    }));
    tokio::select! {
        results = islands => {
            for (island, result) in desired.islands.iter().zip(results) {
                observation.observed.islands.insert(island.name.clone(), result);
            }
            if !desired.islands.is_empty() {
                observation.timings.islands = Some(started.elapsed());
            }
        }
        _ = stop.changed() => observation.interrupted = true,
    }
    observation
}

/// An island's cluster read through the first of its members to connect,
/// while the facts are still being gathered: the admin API round trip then
/// costs nothing on a healthy island. `None` when that member could not
/// answer (its Garage not running, or waiting on a member out of reach).
type EarlyReading = JoinHandle<Option<(String, Cluster)>>;

/// Starts an [`EarlyReading`] for each island as soon as one of its members
/// is connected; ends when every connection has been told.
async fn read_islands_early(
    desired: &Desired,
    mut connected: mpsc::UnboundedReceiver<(String, Remote)>,
) -> BTreeMap<String, EarlyReading> {
    let island_of: BTreeMap<&str, &str> = desired
        .islands
        .iter()
        .flat_map(|i| i.nodes.iter().map(|n| (n.name.as_str(), i.name.as_str())))
        .collect();
    let mut early = BTreeMap::new();
    while let Some((name, remote)) = connected.recv().await {
        let Some(island) = island_of.get(name.as_str()) else {
            continue;
        };
        if early.contains_key(*island) {
            continue;
        }
        let reading = tokio::spawn(async move {
            let read = garage::observe_cluster(&[&remote], garage::Asking::InTurn).await;
            read.ok().map(|(_, cluster)| (name, cluster))
        });
        early.insert(island.to_string(), reading);
    }
    early
}

/// An island read through `through`.
fn reached((through, cluster): (String, Cluster)) -> IslandObservation {
    IslandObservation::Reached {
        through,
        cluster: Box::new(cluster),
    }
}

/// Whether the facts of every member of the island came in.
fn all_seen(island: &DesiredIsland, machines: &BTreeMap<String, MachineObservation>) -> bool {
    island.nodes.iter().all(|n| {
        matches!(
            machines.get(&n.name),
            Some(MachineObservation::Reached { .. })
        )
    })
}

/// The first of an early reading and the reading after the facts that
/// reached the island; the other is stopped (and its connection handle
/// dropped before the connections close).
async fn first_reading(
    mut early: EarlyReading,
    after_facts: impl Future<Output = IslandObservation>,
) -> IslandObservation {
    tokio::pin!(after_facts);
    tokio::select! {
        done = &mut early => match done {
            Ok(Some(read)) => reached(read),
            _ => after_facts.await,
        },
        observation = &mut after_facts => {
            if matches!(observation, IslandObservation::Reached { .. }) {
                early.abort();
                let _ = early.await;
                observation
            } else {
                match early.await {
                    Ok(Some(read)) => reached(read),
                    _ => observation,
                }
            }
        }
    }
}

/// Observes again through connections already open (after apply, to prove
/// what converged): one facts round trip per machine, then the islands. A
/// machine that has no connection keeps what `previous` said of it (why it
/// could not be connected).
pub async fn observe_again(
    desired: &Desired,
    remotes: &BTreeMap<String, Remote>,
    machines: &[Machine],
    previous: &Observed,
) -> Observed {
    let gathered = futures_util::future::join_all(machines.iter().map(|machine| async move {
        let state = match remotes.get(&machine.name) {
            Some(remote) => match host::gather(remote, &desired.facts_query(&machine.name)).await {
                Ok(facts) => MachineObservation::Reached { facts },
                Err(error) => MachineObservation::Unreachable {
                    problem: unreachable(&error),
                },
            },
            None => match previous.machines.get(&machine.name) {
                Some(seen @ MachineObservation::Unreachable { .. }) => seen.clone(),
                _ => MachineObservation::Unreachable {
                    problem: Unreachable {
                        kind: UnreachableKind::Other,
                        message: format!("{} was not connected", machine.name),
                    },
                },
            },
        };
        (machine.name.clone(), state)
    }))
    .await;
    let machines: BTreeMap<String, MachineObservation> = gathered.into_iter().collect();
    let islands = futures_util::future::join_all(
        desired
            .islands
            .iter()
            .map(|island| observe_island(island, &machines, remotes)),
    )
    .await;
    Observed {
        islands: desired
            .islands
            .iter()
            .map(|i| i.name.clone())
            .zip(islands)
            .collect(),
        machines,
    }
}

/// Reads an island through the first member node whose Garage runs; a new
/// island when no member ever ran Garage.
async fn observe_island(
    island: &DesiredIsland,
    machines: &BTreeMap<String, MachineObservation>,
    remotes: &BTreeMap<String, Remote>,
) -> IslandObservation {
    let mut running = Vec::new();
    let mut ever_ran = false;
    let mut unknown = Vec::new();
    for node in &island.nodes {
        match machines.get(&node.name) {
            Some(MachineObservation::Reached { facts }) => {
                let key = archipel_planner::garage::node_key_path(&node.meta_dir);
                ever_ran |= matches!(facts.files.get(&key), Some(FileFacts::File { .. }));
                let active = facts
                    .units
                    .get(archipel_planner::garage::SERVICE)
                    .is_some_and(|u| u.is_active());
                if active && let Some(remote) = remotes.get(&node.name) {
                    running.push((node.name.as_str(), remote));
                }
            }
            _ => unknown.push(node.name.as_str()),
        }
    }
    // Through every running member: a call one of them cannot answer in
    // time (its Garage waiting on a member out of reach) is asked of the
    // others. In turn while every member answered archipel; all at once
    // when one did not, as Garage may then make each of them wait on it.
    let mut problems = Vec::new();
    if !running.is_empty() {
        let members: Vec<&Remote> = running.iter().map(|(_, remote)| *remote).collect();
        let asking = if unknown.is_empty() {
            garage::Asking::InTurn
        } else {
            garage::Asking::AtOnce
        };
        match garage::observe_cluster(&members, asking).await {
            Ok((through, cluster)) => {
                return IslandObservation::Reached {
                    through: running[through].0.to_string(),
                    cluster: Box::new(cluster),
                };
            }
            Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
        }
    }
    if !ever_ran && unknown.is_empty() {
        return IslandObservation::NotRunning;
    }
    let message = if !problems.is_empty() && !unknown.is_empty() {
        format!(
            "no running member answered the admin API: {}; {} could not be observed, and Garage waits on a member out of reach before it answers some calls",
            problems.join("; "),
            unknown.join(", ")
        )
    } else if !problems.is_empty() {
        format!(
            "no running member answered the admin API: {}",
            problems.join("; ")
        )
    } else if !unknown.is_empty() {
        format!(
            "no reachable member runs Garage, and {} could not be observed",
            unknown.join(", ")
        )
    } else {
        "Garage has run on this island but runs on no member node now".to_string()
    };
    IslandObservation::Unreachable {
        problem: Unreachable {
            kind: if problems.is_empty() {
                UnreachableKind::Other
            } else {
                UnreachableKind::Command
            },
            message,
        },
    }
}
