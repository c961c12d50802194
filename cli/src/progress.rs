//! Apply's progress, on stderr. On a terminal: a live line per host (a
//! node, an island's coordinator, a backup host) with what runs there and
//! for how long, above which each finished change is written once. Anywhere
//! else (CI logs, `-v`): one plain line per change start, report and end,
//! with its duration.

use archipel_planner::address::Address;
use archipel_planner::plan::{Plan, Target};
use archipel_providers::apply::{Event, Outcome};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Prints the events until the sender is dropped.
pub async fn show(plan: &Plan, mut events: UnboundedReceiver<Event>, live: bool) {
    let lanes: BTreeMap<&Address, String> = plan
        .changes
        .iter()
        .map(|c| (&c.address, lane(&c.target)))
        .collect();
    let mut screen = live.then(Screen::new);
    while let Some(event) = events.recv().await {
        let line = match &event {
            Event::Started(address) => format!("{address}: applying…"),
            Event::Progress(address, report) => format!("{address}: {report}"),
            Event::Finished(address, Outcome::Done(took)) => {
                format!("{address}: done ({:.1} s)", took.as_secs_f64())
            }
            Event::Finished(address, Outcome::Failed(reason)) => {
                format!("{address}: FAILED: {reason}")
            }
            Event::Finished(address, Outcome::Skipped(reason)) => {
                format!("{address}: skipped: {reason}")
            }
        };
        let Some(screen) = &mut screen else {
            eprintln!("{line}");
            continue;
        };
        match event {
            Event::Started(address) => {
                let lane = lanes.get(&address).cloned().unwrap_or_default();
                screen.start(lane, address.to_string());
            }
            Event::Progress(address, _) => screen.print(&line, &address.to_string(), false),
            Event::Finished(address, _) => screen.print(&line, &address.to_string(), true),
        }
    }
    if let Some(screen) = screen {
        screen.multi.clear().ok();
    }
}

/// Where a change runs, as its live line names it.
fn lane(target: &Target) -> String {
    match target {
        Target::Node { node, .. }
        | Target::NodeRemoval { node, .. }
        | Target::Vault { node, .. }
        | Target::VaultRemoval { node, .. } => node.clone(),
        Target::Connect { island }
        | Target::Upgrade { island, .. }
        | Target::Layout { island }
        | Target::Bucket { island, .. }
        | Target::Key { island, .. }
        | Target::Grant { island, .. } => format!("island {island}"),
        Target::BackupHost { machine, .. }
        | Target::Backup { machine, .. }
        | Target::BackupRemoval { machine, .. } => machine.clone(),
    }
}

/// The live lines: one spinner per host with changes running.
struct Screen {
    multi: MultiProgress,
    /// Per host: its line and the addresses running there.
    lanes: BTreeMap<String, (ProgressBar, Vec<String>)>,
    /// Each running change's host.
    running: BTreeMap<String, String>,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            lanes: BTreeMap::new(),
            running: BTreeMap::new(),
        }
    }

    fn start(&mut self, lane: String, address: String) {
        let (bar, addresses) = self.lanes.entry(lane.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(lane.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            (bar, Vec::new())
        });
        addresses.push(address.clone());
        bar.set_message(addresses.join(", "));
        self.running.insert(address, lane);
    }

    /// Writes a line above the live ones; a finished change leaves its
    /// host's line, which goes when nothing runs there any more.
    fn print(&mut self, line: &str, address: &str, finished: bool) {
        self.multi.println(line).ok();
        if !finished {
            return;
        }
        let Some(lane) = self.running.remove(address) else {
            return;
        };
        if let Some((bar, addresses)) = self.lanes.get_mut(&lane) {
            addresses.retain(|a| a != address);
            if addresses.is_empty() {
                bar.finish_and_clear();
                self.multi.remove(bar);
                self.lanes.remove(&lane);
            } else {
                bar.set_message(addresses.join(", "));
            }
        }
    }
}
