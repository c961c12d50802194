//! The apply journal of an island: one entry per apply that changed it,
//! written on every node of the island (`JOURNAL_DIR/ID.json`, a new
//! file each time, never rewritten), so each member collective sees who
//! changed what on their shared island, whoever ran the apply; `archipel
//! log` reads it back from every node it reaches and merges it.
//!
//! On the nodes rather than in a bucket: it stays readable when Garage is
//! down or broken (when the last apply is the first thing to look at),
//! needs no key, and survives the loss of any node but the last. An entry
//! holds names, addresses, reasons and outcomes: what a plan shows, no
//! secret.

use crate::address::Address;
use crate::plan::{Action, Plan, Summary};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Where each node keeps its island's journal.
pub const JOURNAL_DIR: &str = "/var/lib/archipel/journal";
pub const FORMAT_VERSION: u32 = 1;

/// One apply, as it went on one island.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format_version: u32,
    /// `YYYYMMDDTHHMMSSZ-RANDOM`: unique, and in order of time.
    pub id: String,
    pub island: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    /// Who ran it, on which machine, and the CI job when it ran in one.
    pub user: String,
    pub machine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    pub archipel_version: String,
    /// SHA-256 of the whole plan's changes (every island's): the entries
    /// of one apply on several islands share it.
    pub plan_digest: String,
    /// The island's part of the plan.
    pub summary: Summary,
    /// `applied`, `failed` (some change failed or was skipped) or
    /// `interrupted`.
    pub outcome: String,
    pub changes: Vec<ChangeRecord>,
}

/// One change of the island, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub address: String,
    pub action: Action,
    pub reason: String,
    /// `done`, `failed` or `skipped`.
    pub result: String,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a change went, as apply reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeResult {
    Done,
    Failed(String),
    Skipped(String),
}

/// Who ran an apply and when: what every entry of it shares.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub started: String,
    pub finished: String,
    pub user: String,
    pub machine: String,
    pub ci_job: Option<String>,
    pub archipel_version: String,
    pub interrupted: bool,
}

/// The plan's digest: its changes as JSON, hashed.
pub fn plan_digest(plan: &Plan) -> String {
    let json = serde_json::to_string(&plan.changes).unwrap_or_default();
    let hash = Sha256::digest(json.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The entries of one apply: one per island that the plan changed, with
/// its changes (those whose address is under the island) and their
/// results.
pub fn entries(plan: &Plan, results: &[(Address, ChangeResult)], run: &Run) -> Vec<Entry> {
    let digest = plan_digest(plan);
    let result_of: BTreeMap<String, &ChangeResult> = results
        .iter()
        .map(|(address, result)| (address.to_string(), result))
        .collect();
    let mut by_island: BTreeMap<String, Vec<ChangeRecord>> = BTreeMap::new();
    let mut summaries: BTreeMap<String, Summary> = BTreeMap::new();
    for change in &plan.changes {
        let Some(island) = change.address.island() else {
            continue;
        };
        let (result, detail) = match result_of.get(&change.address.to_string()) {
            Some(ChangeResult::Done) => ("done", None),
            Some(ChangeResult::Failed(why)) => ("failed", Some(why.clone())),
            Some(ChangeResult::Skipped(why)) => ("skipped", Some(why.clone())),
            None => ("skipped", Some("not started".to_string())),
        };
        summaries
            .entry(island.to_string())
            .or_default()
            .count(change.action);
        by_island
            .entry(island.to_string())
            .or_default()
            .push(ChangeRecord {
                address: change.address.to_string(),
                action: change.action,
                reason: change.reason.clone(),
                result: result.to_string(),
                detail,
            });
    }
    by_island
        .into_iter()
        .map(|(island, changes)| {
            let outcome = if run.interrupted {
                "interrupted"
            } else if changes.iter().all(|c| c.result == "done") {
                "applied"
            } else {
                "failed"
            };
            Entry {
                format_version: FORMAT_VERSION,
                id: run.id.clone(),
                summary: summaries.remove(&island).unwrap_or_default(),
                island,
                started: run.started.clone(),
                finished: run.finished.clone(),
                user: run.user.clone(),
                machine: run.machine.clone(),
                ci_job: run.ci_job.clone(),
                archipel_version: run.archipel_version.clone(),
                plan_digest: digest.clone(),
                outcome: outcome.to_string(),
                changes,
            }
        })
        .collect()
}

/// The file an entry is written to on each node.
pub fn entry_file(id: &str) -> String {
    format!("{JOURNAL_DIR}/{id}.json")
}

/// What `archipel log` reads on a node: every entry, each followed by a
/// line holding the record separator alone.
pub const READ_SCRIPT: &str = r#"for f in /var/lib/archipel/journal/*.json; do [ -f "$f" ] || continue; cat "$f"; printf '\n\036\n'; done"#;

/// An island's journal, as its nodes hold it.
#[derive(Debug, Default)]
pub struct Journal {
    /// Oldest first, each once whatever the nodes that hold it.
    pub entries: Vec<Entry>,
    /// Nodes that hold each entry, by id.
    pub holders: BTreeMap<String, Vec<String>>,
    /// What could not be read, and why: `node: reason`.
    pub problems: Vec<String>,
}

impl Journal {
    /// Adds what `node` answered to [`READ_SCRIPT`].
    pub fn add(&mut self, node: &str, answer: &str) {
        for text in answer.split("\n\u{1e}\n") {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(text) {
                Ok(entry) => {
                    let holders = self.holders.entry(entry.id.clone()).or_default();
                    if holders.is_empty() {
                        self.entries.push(entry);
                    }
                    holders.push(node.to_string());
                }
                Err(error) => self
                    .problems
                    .push(format!("{node}: an entry that does not read: {error}")),
            }
        }
        self.entries
            .sort_by(|a, b| a.id.cmp(&b.id).then(a.island.cmp(&b.island)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run {
            id: "20261205T120000Z-0a1b2c3d".into(),
            started: "2026-12-05T12:00:00Z".into(),
            finished: "2026-12-05T12:01:00Z".into(),
            user: "alice".into(),
            machine: "laptop".into(),
            ci_job: None,
            archipel_version: "0.1.0".into(),
            interrupted: false,
        }
    }

    #[test]
    fn an_entry_reads_back_and_merges_once_per_id() {
        let plan = Plan::default();
        let entry = Entry {
            format_version: FORMAT_VERSION,
            id: run().id,
            island: "ouest".into(),
            started: run().started,
            finished: run().finished,
            user: "alice".into(),
            machine: "laptop".into(),
            ci_job: Some("https://ci.example/job/1".into()),
            archipel_version: "0.1.0".into(),
            plan_digest: plan_digest(&plan),
            summary: Summary::default(),
            outcome: "applied".into(),
            changes: Vec::new(),
        };
        let text = serde_json::to_string(&entry).unwrap();
        let mut older = entry.clone();
        older.id = "20261204T120000Z-ffffffff".into();
        let older_text = serde_json::to_string(&older).unwrap();
        let mut journal = Journal::default();
        journal.add("n1", &format!("{text}\n\u{1e}\n{older_text}\n\u{1e}\n"));
        journal.add("n2", &format!("{text}\n\u{1e}\n"));
        journal.add("n3", "{not json\n\u{1e}\n");
        assert_eq!(journal.entries, vec![older, entry]);
        assert_eq!(journal.holders[&run().id], vec!["n1", "n2"]);
        assert_eq!(journal.problems.len(), 1);
        assert!(journal.problems[0].starts_with("n3: "));
    }

    #[test]
    fn an_apply_without_island_changes_has_no_entry() {
        assert!(entries(&Plan::default(), &[], &run()).is_empty());
    }
}
