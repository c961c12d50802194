//! Where a command's time went, phase by phase: `-v` prints one line of
//! them on stderr when the command ends, so a slow plan shows which phase
//! grew (the plan benchmark reads the same line).

use archipel_providers::observe::Timings;
use std::time::{Duration, Instant};

/// The phases of one command, each with its wall time, in order.
#[derive(Debug)]
pub struct Phases {
    shown: bool,
    started: Instant,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Phases {
    /// Starts the clock; `shown` says whether [`Phases::print`] prints.
    pub fn start(shown: bool) -> Phases {
        let now = Instant::now();
        Phases {
            shown,
            started: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// Ends the phase `name`: its time is what passed since the last mark.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }

    /// Ends an observation that started at the last mark: connect, facts
    /// and admin API as the observation saw them end (each for the last
    /// machine or island it waited on), then `close`, the connections
    /// closed, for what remains.
    pub fn observation(&mut self, timings: &Timings) {
        let mut before = Duration::ZERO;
        for (name, end) in [
            ("connect", timings.connected),
            ("facts", timings.facts),
            ("admin API", timings.islands),
        ] {
            if let Some(end) = end {
                self.phases.push((name, end.saturating_sub(before)));
                before = before.max(end);
            }
        }
        self.last += before;
        self.mark("close");
    }

    /// `timings: read 3 ms, connect 412 ms, …, total 851 ms` on stderr,
    /// when shown.
    pub fn print(&self) {
        if !self.shown {
            return;
        }
        let mut line = String::from("timings:");
        for (name, took) in &self.phases {
            line.push_str(&format!(" {name} {} ms,", took.as_millis()));
        }
        line.push_str(&format!(" total {} ms", self.started.elapsed().as_millis()));
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_is_split_at_each_phase_end_and_phases_add_up_to_the_total() {
        let mut phases = Phases::start(false);
        phases.mark("read");
        phases.observation(&Timings {
            connected: Some(Duration::from_millis(400)),
            facts: Some(Duration::from_millis(700)),
            islands: Some(Duration::from_millis(850)),
        });
        let names: Vec<&str> = phases.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["read", "connect", "facts", "admin API", "close"]);
        assert_eq!(phases.phases[1].1, Duration::from_millis(400));
        assert_eq!(phases.phases[2].1, Duration::from_millis(300));
        assert_eq!(phases.phases[3].1, Duration::from_millis(150));
        // The observation's 850 ms are counted from the last mark, so the
        // phases never add up to more than the wall time (close may read 0
        // here, where nothing ran).
        let sum: Duration = phases.phases.iter().map(|(_, d)| *d).sum();
        assert!(sum >= Duration::from_millis(850));
    }

    #[test]
    fn a_phase_that_did_not_run_is_left_out() {
        let mut phases = Phases::start(false);
        phases.observation(&Timings {
            connected: Some(Duration::from_millis(10)),
            facts: None,
            islands: None,
        });
        let names: Vec<&str> = phases.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["connect", "close"]);
    }
}
