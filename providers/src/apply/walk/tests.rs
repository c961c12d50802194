//! The walk with a fake executor: no machine, and tokio's paused clock, so
//! a change "takes" seconds in no time and the same way every run.

use super::*;
use archipel_planner::plan::{Action, NodeDecision, NodeStep, Target};
use std::sync::Mutex as Shared;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{Instant as Clock, sleep};

const ONE: &str = "island.one.node";
const TWO: &str = "island.two.node";

/// How the tests name a change: a plain change by its bucket's name
/// (`a`, `slow`), a restart by its node's address (`island.one.node.a`).
fn short(address: &Address) -> String {
    match address {
        Address::Bucket { bucket, .. } => bucket.clone(),
        Address::NodeStep { island, node, .. } => format!("island.{island}.node.{node}"),
        other => other.to_string(),
    }
}

/// The address of the plain change the tests call `name`.
fn at(name: &str) -> Address {
    bucket(name).address()
}

fn bucket(name: &str) -> Target {
    Target::Bucket {
        island: "t".into(),
        bucket: name.into(),
    }
}

/// Carries out changes by waiting, and remembers when each ran.
#[derive(Default)]
struct Fake {
    /// How long a change takes; a second unless said.
    takes: BTreeMap<String, Duration>,
    fails: BTreeSet<String>,
    panics: BTreeSet<String>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
    /// When each change that ran began and ended.
    ran: Shared<BTreeMap<String, (Clock, Clock)>>,
}

impl Fake {
    fn new() -> Fake {
        Fake::default()
    }

    fn taking(mut self, address: &str, seconds: u64) -> Fake {
        self.takes
            .insert(address.into(), Duration::from_secs(seconds));
        self
    }

    fn failing(mut self, address: &str) -> Fake {
        self.fails.insert(address.into());
        self
    }

    fn panicking(mut self, address: &str) -> Fake {
        self.panics.insert(address.into());
        self
    }

    fn span(&self, address: &str) -> (Clock, Clock) {
        self.ran.lock().unwrap()[address]
    }

    fn has_run(&self, address: &str) -> bool {
        self.ran.lock().unwrap().contains_key(address)
    }

    fn overlap(&self, a: &str, b: &str) -> bool {
        let (a, b) = (self.span(a), self.span(b));
        a.0 < b.1 && b.0 < a.1
    }
}

impl Executor for Fake {
    fn turn(&self, change: &Change) -> Option<String> {
        match &change.target {
            Target::Node {
                island,
                step: NodeStep::Service,
                decided: NodeDecision::Rejoin,
                ..
            } if change.action == Action::Update => Some(island.clone()),
            _ => None,
        }
    }

    async fn run(
        &self,
        change: &Change,
        _events: &mpsc::UnboundedSender<Event>,
        _stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let begin = Clock::now();
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        let name = short(&change.address);
        let takes = self.takes.get(&name).copied();
        sleep(takes.unwrap_or(Duration::from_secs(1))).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let span = (begin, Clock::now());
        self.ran.lock().unwrap().insert(name.clone(), span);
        if self.panics.contains(&name) {
            panic!("the fake was told to");
        }
        if self.fails.contains(&name) {
            return Err("the fake was told to fail".into());
        }
        Ok(())
    }
}

fn change(name: &str, depends_on: &[&str]) -> Change {
    Change {
        address: at(name),
        action: Action::Create,
        reason: String::new(),
        attributes: Vec::new(),
        file: None,
        depends_on: depends_on.iter().map(|d| at(d)).collect(),
        target: bucket(name),
    }
}

/// A rolling restart: needs its island's turn.
fn restart(island: &str, node: &str) -> Change {
    let target = Target::Node {
        island: island.into(),
        node: node.into(),
        step: NodeStep::Service,
        decided: NodeDecision::Rejoin,
    };
    Change {
        action: Action::Update,
        address: target.address(),
        target,
        ..change("unused", &[])
    }
}

struct Walked {
    outcomes: BTreeMap<String, Outcome>,
    in_order: Vec<String>,
    events: Vec<Event>,
}

/// Walks the plan, sending the stop signal after `stop_after` if given.
async fn walk_with(changes: Vec<Change>, fake: &Arc<Fake>, stop_after: Option<u64>) -> Walked {
    let plan = Plan {
        changes,
        ..Plan::default()
    };
    let (stop, stopped) = watch::channel(false);
    let (events, mut received) = mpsc::unbounded_channel();
    let stopper = async {
        if let Some(seconds) = stop_after {
            sleep(Duration::from_secs(seconds)).await;
            stop.send(true).unwrap();
        }
    };
    let (outcomes, ()) = tokio::join!(walk(&plan, Arc::clone(fake), stopped, events), stopper);
    let mut events = Vec::new();
    while let Ok(event) = received.try_recv() {
        events.push(event);
    }
    Walked {
        in_order: outcomes.iter().map(|(a, _)| short(a)).collect(),
        outcomes: outcomes.into_iter().map(|(a, o)| (short(&a), o)).collect(),
        events,
    }
}

async fn walked(changes: Vec<Change>, fake: &Arc<Fake>) -> Walked {
    walk_with(changes, fake, None).await
}

fn done(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Done(_))
}

fn skipped(reason: &str) -> Outcome {
    Outcome::Skipped(reason.into())
}

#[tokio::test(start_paused = true)]
async fn independent_changes_run_at_once_and_dependants_wait_for_them() {
    let fake = Arc::new(Fake::new().taking("b", 3));
    let changes = vec![
        change("a", &[]),
        change("b", &[]),
        change("c", &[]),
        change("d", &["a", "b"]),
        change("e", &["d"]),
    ];
    let walked = walked(changes, &fake).await;
    assert!(walked.outcomes.values().all(done), "{:?}", walked.outcomes);
    assert_eq!(fake.most_at_once.load(Ordering::SeqCst), 3);
    assert!(fake.span("d").0 >= fake.span("a").1);
    assert!(fake.span("d").0 >= fake.span("b").1);
    assert!(fake.span("e").0 >= fake.span("d").1);
    // Nothing waits longer than its dependencies: b's three seconds, d's
    // and e's one each.
    assert_eq!(fake.span("e").1 - fake.span("a").0, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_failure_skips_its_dependants_transitively_while_an_independent_branch_completes() {
    let fake = Arc::new(Fake::new().failing("a"));
    let changes = vec![
        change("a", &[]),
        change("b", &["a"]),
        change("c", &["b"]),
        change("d", &["c", "x"]),
        change("x", &[]),
        change("y", &["x"]),
    ];
    let walked = walked(changes, &fake).await;
    let outcomes = &walked.outcomes;
    assert_eq!(
        outcomes["a"],
        Outcome::Failed("the fake was told to fail".into())
    );
    assert_eq!(
        outcomes["b"],
        skipped(&format!("{} did not succeed", at("a")))
    );
    assert_eq!(
        outcomes["c"],
        skipped(&format!("{} did not succeed", at("b")))
    );
    assert_eq!(
        outcomes["d"],
        skipped(&format!("{} did not succeed", at("c")))
    );
    assert!(done(&outcomes["x"]) && done(&outcomes["y"]), "{outcomes:?}");
    for never in ["b", "c", "d"] {
        assert!(!fake.has_run(never), "{never} ran");
    }
}

#[tokio::test(start_paused = true)]
async fn an_islands_restarts_run_one_at_a_time_and_stop_after_one_fails_while_another_island_rolls_on()
 {
    let fake = Arc::new(Fake::new().failing(&format!("{ONE}.b")));
    let changes = vec![
        restart("one", "a"),
        restart("one", "b"),
        restart("one", "c"),
        restart("one", "d"),
        restart("two", "a"),
        restart("two", "b"),
        restart("two", "c"),
    ];
    let walked = walked(changes, &fake).await;
    let outcomes = &walked.outcomes;
    let (a, b) = (format!("{ONE}.a"), format!("{ONE}.b"));
    assert!(done(&outcomes[&a]), "{outcomes:?}");
    assert!(matches!(outcomes[&b], Outcome::Failed(_)), "{outcomes:?}");
    let stops = format!("{b}.service did not succeed: the island's rolling restart stops there");
    for later in ["c", "d"] {
        let later = format!("{ONE}.{later}");
        assert_eq!(outcomes[&later], Outcome::Skipped(stops.clone()));
        assert!(!fake.has_run(&later), "{later} ran");
    }
    assert!(!fake.overlap(&a, &b));
    let two: Vec<String> = ["a", "b", "c"].map(|n| format!("{TWO}.{n}")).into();
    assert!(two.iter().all(|n| done(&outcomes[n])), "{outcomes:?}");
    for (i, x) in two.iter().enumerate() {
        for y in &two[i + 1..] {
            assert!(!fake.overlap(x, y), "{x} and {y} restarted together");
        }
    }
    // One node of each island at a time, the islands side by side.
    assert_eq!(fake.most_at_once.load(Ordering::SeqCst), 2);
    assert!(fake.overlap(&a, &two[0]));
}

#[tokio::test(start_paused = true)]
async fn on_stop_running_changes_finish_and_the_rest_are_interrupted_before_they_started() {
    let fake = Arc::new(Fake::new().taking("a", 10).taking("b", 10));
    let changes = vec![
        change("a", &[]),
        change("b", &[]),
        change("c", &["a"]),
        change("d", &["c"]),
    ];
    let walked = walk_with(changes, &fake, Some(5)).await;
    let outcomes = &walked.outcomes;
    assert!(done(&outcomes["a"]) && done(&outcomes["b"]), "{outcomes:?}");
    assert_eq!(outcomes["c"], skipped(NOT_STARTED));
    assert_eq!(outcomes["d"], skipped(NOT_STARTED));
    assert!(!fake.has_run("c") && !fake.has_run("d"));
}

#[tokio::test(start_paused = true)]
async fn a_restart_waiting_for_its_turn_when_stop_comes_does_not_start() {
    let (a, b) = (format!("{ONE}.a"), format!("{ONE}.b"));
    let fake = Arc::new(Fake::new().taking(&a, 10));
    let changes = vec![restart("one", "a"), restart("one", "b")];
    let walked = walk_with(changes, &fake, Some(5)).await;
    assert!(done(&walked.outcomes[&a]), "{:?}", walked.outcomes);
    assert_eq!(walked.outcomes[&b], skipped(NOT_STARTED));
    assert!(!fake.has_run(&b));
    let started_b = walked
        .events
        .iter()
        .any(|e| matches!(e, Event::Started(x) if short(x) == b));
    assert!(!started_b, "{:?}", walked.events);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_change_is_failed_and_its_dependants_skipped() {
    let fake = Arc::new(Fake::new().panicking("p"));
    let changes = vec![change("p", &[]), change("q", &["p"]), change("x", &[])];
    let walked = walked(changes, &fake).await;
    let outcomes = &walked.outcomes;
    assert_eq!(
        outcomes["p"],
        Outcome::Failed(format!("{} panicked: the fake was told to", at("p")))
    );
    assert_eq!(
        outcomes["q"],
        skipped(&format!("{} did not succeed", at("p")))
    );
    assert!(done(&outcomes["x"]), "{outcomes:?}");
    assert!(!fake.has_run("q"));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_restart_stops_its_islands_roll() {
    let (a, b) = (format!("{ONE}.a"), format!("{ONE}.b"));
    let fake = Arc::new(Fake::new().panicking(&a));
    let changes = vec![restart("one", "a"), restart("one", "b")];
    let walked = walked(changes, &fake).await;
    assert!(matches!(walked.outcomes[&a], Outcome::Failed(_)));
    let stops = format!("{a}.service did not succeed: the island's rolling restart stops there");
    assert_eq!(walked.outcomes[&b], Outcome::Skipped(stops));
}

#[tokio::test(start_paused = true)]
async fn outcomes_come_in_plan_order_and_every_change_finishes_exactly_once() {
    let fake = Arc::new(
        Fake::new()
            .taking("slow", 7)
            .failing("fails")
            .panicking("panics")
            .taking(&format!("{ONE}.a"), 3),
    );
    let changes = vec![
        change("slow", &[]),
        change("fails", &[]),
        change("after-fails", &["fails"]),
        change("panics", &[]),
        change("after-panics", &["panics"]),
        restart("one", "a"),
        restart("one", "b"),
        change("quick", &[]),
        change("last", &["quick", "slow"]),
    ];
    let addresses: Vec<String> = changes.iter().map(|c| short(&c.address)).collect();
    let walked = walked(changes, &fake).await;
    assert_eq!(walked.in_order, addresses);
    for address in &addresses {
        let finished: Vec<&Outcome> = walked
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Finished(a, outcome) if short(a) == *address => Some(outcome),
                _ => None,
            })
            .collect();
        assert_eq!(finished, [&walked.outcomes[address]], "{address}");
    }
    // Every change that started finished after it started.
    for (i, event) in walked.events.iter().enumerate() {
        if let Event::Started(address) = event {
            let later = walked.events[i..]
                .iter()
                .any(|e| matches!(e, Event::Finished(a, _) if a == address));
            assert!(later, "{address}");
        }
    }
}
