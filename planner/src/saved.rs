//! Saved plans (`archipel plan -out FILE`, `archipel apply FILE`): a plan
//! with what it was computed from, so that it is applied exactly as it was
//! reviewed, or not at all.
//!
//! A saved plan carries a digest of the archipelago (its meaning, not its
//! formatting) and a fingerprint of the live state per island and per
//! machine: only what the plan depends on. What moves on its own — disk
//! use, object counts, node liveness, a backup running — is left out, so a
//! no-op apply or a night of backups does not make a plan stale; a layout
//! version, a key, a permission, a file or a timer that changed does.
//!
//! No secret is in it: plans and observations never hold one.

use crate::address::Address;
use crate::model::Archipelago;
use crate::observed::{IslandObservation, MachineObservation, Observed};
use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// 2: each change carries its target (format 1 had them in a list beside
/// the plan). 3: a node's change carries what the plan decided for it. 4:
/// an island's upgrade preparation is a target of its own.
pub const FORMAT_VERSION: &str = "4";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: String,
    /// The archipel that made it.
    pub archipel_version: String,
    /// The archipelago's digest: a plan made from another file is refused.
    pub archipelago_sha256: String,
    /// Per `island.NAME` and `machine.NAME`: the digest of what the plan
    /// was computed from.
    pub fingerprint: BTreeMap<String, String>,
    pub plan: Plan,
}

impl SavedPlan {
    pub fn new(
        plan: &Plan,
        model: &Archipelago,
        observed: &Observed,
        archipel_version: &str,
    ) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION.into(),
            archipel_version: archipel_version.into(),
            archipelago_sha256: archipelago_digest(model),
            fingerprint: fingerprint(observed),
            plan: plan.clone(),
        }
    }

    /// A saved plan's text, read back. Its format is checked first, so
    /// that a plan from another archipel says so rather than fail on a
    /// field.
    pub fn from_json(text: &str) -> Result<SavedPlan, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match value.get("format_version").and_then(Value::as_str) {
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                let by = value
                    .get("archipel_version")
                    .and_then(Value::as_str)
                    .unwrap_or("another version");
                return Err(format!(
                    "it is in format {other} (archipel {by}), this archipel reads format {FORMAT_VERSION}: make the plan again with archipel plan -out"
                ));
            }
            None => return Err("it has no format_version".into()),
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Why this plan may not be applied to `model` and `observed` any
    /// more; empty when it may.
    pub fn staleness(&self, model: &Archipelago, observed: &Observed) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.format_version != FORMAT_VERSION {
            reasons.push(format!(
                "it is in format {}, this archipel reads format {FORMAT_VERSION}",
                self.format_version
            ));
        }
        if self.archipelago_sha256 != archipelago_digest(model) {
            reasons.push("the archipelago file changed since".into());
        }
        let now = fingerprint(observed);
        for part in self.fingerprint.keys().chain(now.keys()) {
            if self.fingerprint.get(part) != now.get(part) {
                let reason = format!("{part} changed since");
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
        }
        reasons
    }

    /// The plan, ready for apply.
    pub fn into_plan(self) -> Plan {
        self.plan
    }
}

/// The archipelago's meaning: comments and layout do not count.
pub fn archipelago_digest(model: &Archipelago) -> String {
    digest(&serde_json::to_value(model).unwrap_or(Value::Null))
}

/// What a plan depends on, per island and per machine.
pub fn fingerprint(observed: &Observed) -> BTreeMap<String, String> {
    let mut parts = BTreeMap::new();
    for (name, island) in &observed.islands {
        let stable = match island {
            IslandObservation::Reached { cluster, .. } => json!({
                "layout": cluster.layout,
                "versions": cluster.history.versions.iter().map(|v| json!([v.version, v.status])).collect::<Vec<_>>(),
                "keys": sorted_keys(&cluster.keys),
                "buckets": cluster.buckets.iter().map(|b| json!({
                    "id": b.id,
                    "aliases": b.global_aliases,
                    "keys": sorted_by(&b.keys, |k| k.access_key_id.clone()),
                    "quotas": b.quotas,
                    "empty": b.objects == 0 && b.unfinished_uploads == 0,
                })).collect::<Vec<_>>(),
            }),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        };
        let part = Address::Island {
            island: name.clone(),
        };
        parts.insert(part.to_string(), digest(&stable));
    }
    for (name, machine) in &observed.machines {
        let stable = match machine {
            MachineObservation::Reached { facts } => {
                // A backup service is active while it runs: only whether
                // it is installed and enabled counts.
                let units: BTreeMap<&String, Value> = facts
                    .units
                    .iter()
                    .map(|(unit, state)| {
                        let value = if unit.starts_with("archipel-") && unit.ends_with(".service") {
                            json!([state.installed, state.enabled])
                        } else {
                            serde_json::to_value(state).unwrap_or(Value::Null)
                        };
                        (unit, value)
                    })
                    .collect();
                json!({ "files": facts.files, "units": units, "probes": facts.probes })
            }
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        };
        let part = Address::Machine {
            machine: name.clone(),
        };
        parts.insert(part.to_string(), digest(&stable));
    }
    parts
}

/// Garage lists a key's buckets, and a bucket's keys, in no set order:
/// sorted, two observations of one island fingerprint alike.
fn sorted_by<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort_by_key(key);
    items
}

fn sorted_keys(keys: &[crate::observed::KeyInfo]) -> Vec<crate::observed::KeyInfo> {
    let mut keys = sorted_by(keys, |k| k.access_key_id.clone());
    for key in &mut keys {
        key.buckets = sorted_by(&key.buckets, |b| b.id.clone());
    }
    keys
}

fn digest(value: &Value) -> String {
    Sha256::digest(value.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SshTarget;
    use crate::plan::{Action, Change, NodeDecision, NodeStep, Target};

    fn change(target: Target, depends_on: &[&str]) -> Change {
        Change {
            address: target.address(),
            action: Action::Update,
            reason: "a reason".into(),
            attributes: Vec::new(),
            file: None,
            depends_on: depends_on.iter().map(|a| a.parse().unwrap()).collect(),
            target,
        }
    }

    fn saved() -> SavedPlan {
        let node = |step, decided| Target::Node {
            island: "ouest".into(),
            node: "a-1".into(),
            step,
            decided,
        };
        let changes = vec![
            change(
                node(NodeStep::Config, NodeDecision::Nothing),
                &["island.ouest.node.a-1.binary"],
            ),
            change(
                node(
                    NodeStep::Secrets,
                    NodeDecision::CopySecretsFrom("a-2".into()),
                ),
                &[],
            ),
            change(node(NodeStep::Service, NodeDecision::Rejoin), &[]),
            change(
                Target::NodeRemoval {
                    island: "ouest".into(),
                    node: "a-9".into(),
                    id: "ab".repeat(32),
                    ssh: SshTarget::parse("ops@[fd00::9]:2222").unwrap(),
                    dead: true,
                },
                &[],
            ),
        ];
        SavedPlan {
            format_version: FORMAT_VERSION.into(),
            archipel_version: "0.1.0".into(),
            archipelago_sha256: "00".repeat(32),
            fingerprint: BTreeMap::new(),
            plan: Plan {
                changes,
                ..Plan::default()
            },
        }
    }

    #[test]
    fn a_saved_plan_reads_back_with_every_change_s_target() {
        let saved = saved();
        let text = serde_json::to_string_pretty(&saved).unwrap();
        assert!(text.contains("\"address\": \"island.ouest.node.a-1.config\""));
        // What the plan decided, and the departing node's address as text.
        assert!(text.contains("\"copy_secrets_from\": \"a-2\""));
        assert!(text.contains("\"decided\": \"rejoin\""));
        assert!(text.contains("\"ssh\": \"ops@[fd00::9]:2222\""));
        assert_eq!(SavedPlan::from_json(&text), Ok(saved));
    }

    #[test]
    fn a_plan_saved_in_another_format_is_refused_by_its_version() {
        let mut old = serde_json::to_value(saved()).unwrap();
        for format in ["1", "2", "3"] {
            // Format 2's node changes did not carry the plan's decisions;
            // format 3 had no upgrade preparation.
            old["format_version"] = json!(format);
            let error = SavedPlan::from_json(&old.to_string()).unwrap_err();
            assert_eq!(
                error,
                format!(
                    "it is in format {format} (archipel 0.1.0), this archipel reads format 4: make the plan again with archipel plan -out"
                )
            );
        }
        assert_eq!(
            SavedPlan::from_json("{\"plan\": {}}").unwrap_err(),
            "it has no format_version"
        );
    }

    #[test]
    fn a_saved_plan_whose_departing_node_has_no_ssh_address_is_refused() {
        let mut text = serde_json::to_value(saved()).unwrap();
        text["plan"]["changes"][3]["target"]["ssh"] = json!("root@bad host");
        let error = SavedPlan::from_json(&text.to_string()).unwrap_err();
        assert!(error.contains("is not a host name or address"), "{error}");
    }
}
