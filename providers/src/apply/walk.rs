//! The walk of a plan's dependency graph, apart from what carries out a
//! change: starts every change whose dependencies are done, skips the
//! dependants of one that did not succeed, gives changes that need the
//! same turn (a running island's restarts) one at a time, and on the stop
//! signal lets running changes finish and starts no other.

use super::{Event, Outcome};
use archipel_planner::address::Address;
use archipel_planner::plan::{Change, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::{Id, JoinError, JoinSet};

pub(crate) const NOT_STARTED: &str = "interrupted before it started";

/// What carries out the changes the walk starts.
pub(crate) trait Executor: Send + Sync + 'static {
    /// The turn the change must hold while it runs, if any (for a rolling
    /// restart, its island): changes needing the same turn run one at a
    /// time, and once one of them failed, the later ones do not run.
    fn turn(&self, change: &Change) -> Option<String>;

    /// Makes one change.
    fn run(
        &self,
        change: &Change,
        events: &mpsc::UnboundedSender<Event>,
        stop: watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// A turn, shared by the changes that need it; what it holds is the change
/// that failed holding it, if one has.
type Turn = Arc<Mutex<Option<Address>>>;

/// Walks the plan's changes in dependency order, each carried out by the
/// executor. Returns each change's outcome, in plan order; every change
/// gets exactly one `Finished` event.
pub(crate) async fn walk<E: Executor>(
    plan: &Plan,
    executor: Arc<E>,
    mut stop: watch::Receiver<bool>,
    events: mpsc::UnboundedSender<Event>,
) -> Vec<(Address, Outcome)> {
    let mut walk = Walk::new(&plan.changes, events);
    let mut turns: BTreeMap<String, Turn> = BTreeMap::new();
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    // Which change each task makes, so that one that panicked still has
    // its outcome.
    let mut running: HashMap<Id, usize> = HashMap::new();
    let mut interrupted = false;

    loop {
        // Mark the dependants of failures as skipped, start what is ready.
        walk.skip_blocked();
        if !interrupted {
            for i in walk.ready() {
                walk.started[i] = true;
                let change = walk.changes[i].clone();
                let turn = executor
                    .turn(&change)
                    .map(|turn| Arc::clone(turns.entry(turn).or_default()));
                let task = make(
                    change,
                    Arc::clone(&executor),
                    turn,
                    walk.events.clone(),
                    stop.clone(),
                );
                running.insert(tasks.spawn(task).id(), i);
            }
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            joined = tasks.join_next_with_id() => match joined {
                Some(Ok((id, outcome))) => {
                    if let Some(i) = running.remove(&id) {
                        walk.outcomes[i] = Some(outcome);
                    }
                }
                Some(Err(error)) => {
                    if let Some(i) = running.remove(&error.id()) {
                        walk.broke(i, error);
                    }
                }
                None => {}
            },
            changed = stop.changed(), if !interrupted => {
                if changed.is_err() || *stop.borrow() {
                    interrupted = true;
                }
            }
        }
    }
    walk.finish()
}

/// What the walk knows of each change, by its place in the plan.
struct Walk<'p> {
    changes: &'p [Change],
    dependencies: Vec<BTreeSet<usize>>,
    outcomes: Vec<Option<Outcome>>,
    started: Vec<bool>,
    events: mpsc::UnboundedSender<Event>,
}

impl<'p> Walk<'p> {
    fn new(changes: &'p [Change], events: mpsc::UnboundedSender<Event>) -> Walk<'p> {
        let index: BTreeMap<&Address, usize> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (&c.address, i))
            .collect();
        let dependencies = changes
            .iter()
            .map(|c| {
                c.depends_on
                    .iter()
                    .filter_map(|d| index.get(d).copied())
                    .collect()
            })
            .collect();
        Walk {
            changes,
            dependencies,
            outcomes: vec![None; changes.len()],
            started: vec![false; changes.len()],
            events,
        }
    }

    /// Marks the unstarted dependants of a change that did not succeed as
    /// skipped, until there are no more.
    fn skip_blocked(&mut self) {
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..self.changes.len() {
                if self.started[i] || self.outcomes[i].is_some() {
                    continue;
                }
                if let Some(blocker) = self.dependencies[i].iter().find(|d| {
                    matches!(
                        self.outcomes[**d],
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
                    )
                }) {
                    let outcome = Outcome::Skipped(format!(
                        "{} did not succeed",
                        self.changes[*blocker].address
                    ));
                    self.finished(i, outcome);
                    progress = true;
                }
            }
        }
    }

    /// The changes not started whose dependencies are all done.
    fn ready(&self) -> Vec<usize> {
        (0..self.changes.len())
            .filter(|i| !self.started[*i] && self.outcomes[*i].is_none())
            .filter(|i| {
                self.dependencies[*i]
                    .iter()
                    .all(|d| matches!(self.outcomes[*d], Some(Outcome::Done(_))))
            })
            .collect()
    }

    /// The change's task ended without an outcome: it panicked (or was
    /// cancelled). It failed, and says so once.
    fn broke(&mut self, i: usize, error: JoinError) {
        let address = &self.changes[i].address;
        let outcome = match error.try_into_panic() {
            Ok(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|m| m.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Outcome::Failed(format!("{address} panicked: {message}"))
            }
            Err(_) => Outcome::Failed(format!("{address} was cancelled")),
        };
        self.finished(i, outcome);
    }

    fn finished(&mut self, i: usize, outcome: Outcome) {
        let _ = self.events.send(Event::Finished(
            self.changes[i].address.clone(),
            outcome.clone(),
        ));
        self.outcomes[i] = Some(outcome);
    }

    /// Each change's outcome, in plan order: one never started was
    /// interrupted before it could.
    fn finish(mut self) -> Vec<(Address, Outcome)> {
        for i in 0..self.changes.len() {
            if self.outcomes[i].is_none() {
                self.finished(i, Outcome::Skipped(NOT_STARTED.into()));
            }
        }
        self.changes
            .iter()
            .zip(self.outcomes)
            .map(|(change, outcome)| {
                let outcome = outcome.unwrap_or_else(|| Outcome::Skipped(NOT_STARTED.into()));
                (change.address.clone(), outcome)
            })
            .collect()
    }
}

/// One change's task: waits for its turn if it needs one, then makes it.
async fn make<E: Executor>(
    change: Change,
    executor: Arc<E>,
    turn: Option<Turn>,
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
) -> Outcome {
    let finished = |outcome: Outcome| {
        let _ = events.send(Event::Finished(change.address.clone(), outcome.clone()));
        outcome
    };
    // A rolling restart waits for its island's turn before it counts as
    // started; interrupted while waiting, it does not start.
    let mut turn = match turn {
        Some(turn) => Some(turn.lock_owned().await),
        None => None,
    };
    if *stop.borrow() {
        return finished(Outcome::Skipped(NOT_STARTED.into()));
    }
    // A restart of the island failed (its node did not come back healthy):
    // the island's roll stops there, no other node of it goes down. Other
    // islands roll on.
    if let Some(failed) = turn.as_ref().and_then(|turn| turn.as_ref()) {
        return finished(Outcome::Skipped(format!(
            "{failed} did not succeed: the island's rolling restart stops there"
        )));
    }
    // Recorded as the failure before the change runs, cleared once it
    // succeeded: a change that panics holding the turn stops the roll too.
    if let Some(turn) = turn.as_mut() {
        **turn = Some(change.address.clone());
    }
    let _ = events.send(Event::Started(change.address.clone()));
    let begin = Instant::now();
    let outcome = match executor.run(&change, &events, stop).await {
        Ok(()) => Outcome::Done(begin.elapsed()),
        Err(error) => Outcome::Failed(error),
    };
    // Recorded before the turn passes on.
    if let (Some(turn), Outcome::Done(_)) = (turn.as_mut(), &outcome) {
        **turn = None;
    }
    // Reported before the turn passes on, so progress reads in the order
    // things happened.
    let outcome = finished(outcome);
    drop(turn);
    outcome
}

#[cfg(test)]
mod tests;
