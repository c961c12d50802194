//! `--only`: a plan cut down to some islands, chatons or nodes, and what
//! their changes need first (a bucket's key, a node's island layout…).
//!
//! - `island.NAME`: everything addressed under the island: its nodes,
//!   layout, buckets, keys and permissions;
//! - `chaton.NAME`: its backup jobs, its nodes (the island's nodes in its
//!   zone), its key and backup bucket on every island;
//! - `node.NAME`: that node's own steps (binary, config, unit, service…),
//!   or its removal.
//!
//! What lies outside is neither shown nor applied; a part that could not be
//! observed or a plan error outside the scope does not block it.

use crate::address::Address;
use crate::desired::{BACKUP_BUCKET_PREFIX, Desired, KEY_PREFIX};
use crate::plan::{Change, Plan, Target};
use std::collections::BTreeSet;

/// One `--only` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Island(String),
    Chaton(String),
    Node(String),
}

impl Scope {
    pub fn parse(text: &str, desired: &Desired) -> Result<Scope, String> {
        let (kind, name) = text
            .split_once('.')
            .ok_or_else(|| format!("--only {text}: write island.NAME, chaton.NAME or node.NAME"))?;
        let known = |exists: bool, what: &str| {
            if exists {
                Ok(())
            } else {
                Err(format!("--only {text}: the file has no {what} {name}"))
            }
        };
        match kind {
            "island" => {
                known(desired.islands.iter().any(|i| i.name == name), "island")?;
                Ok(Scope::Island(name.into()))
            }
            "chaton" => {
                let exists = desired
                    .islands
                    .iter()
                    .flat_map(|i| &i.nodes)
                    .any(|n| n.zone == name)
                    || desired.backups.iter().any(|b| b.chaton == name);
                known(exists, "chaton with nodes or backups named")?;
                Ok(Scope::Chaton(name.into()))
            }
            "node" => Ok(Scope::Node(name.into())),
            _ => Err(format!(
                "--only {text}: write island.NAME, chaton.NAME or node.NAME"
            )),
        }
    }

    /// The address is this island's, chaton's or node's, or under it.
    fn holds(&self, address: &Address) -> bool {
        let (part, name) = match self {
            Scope::Island(name) => (address.island(), name),
            Scope::Chaton(name) => (address.chaton(), name),
            Scope::Node(name) => (address.node(), name),
        };
        part == Some(name.as_str())
    }

    fn covers(&self, change: &Change, desired: &Desired) -> bool {
        let address = &change.address;
        match self {
            Scope::Island(_) => self.holds(address),
            Scope::Chaton(name) => {
                if self.holds(address) {
                    return true;
                }
                match &change.target {
                    Target::Node { island, node, .. } => desired
                        .islands
                        .iter()
                        .filter(|i| &i.name == island)
                        .flat_map(|i| &i.nodes)
                        .any(|n| &n.name == node && &n.zone == name),
                    Target::Key { key, .. } => key.strip_prefix(KEY_PREFIX) == Some(name.as_str()),
                    Target::Bucket { bucket, .. } => {
                        bucket.strip_prefix(BACKUP_BUCKET_PREFIX) == Some(name.as_str())
                    }
                    _ => false,
                }
            }
            Scope::Node(name) => match &change.target {
                Target::Node { node, .. } | Target::NodeRemoval { node, .. } => node == name,
                _ => false,
            },
        }
    }
}

/// Every `--only` value, parsed; the first bad one is the error.
pub fn parse_all(texts: &[String], desired: &Desired) -> Result<Vec<Scope>, String> {
    texts.iter().map(|t| Scope::parse(t, desired)).collect()
}

/// The plan restricted to `scopes` and what their changes depend on, in
/// the same order.
pub fn restrict(plan: Plan, scopes: &[Scope], desired: &Desired) -> Plan {
    if scopes.is_empty() {
        return plan;
    }
    let mut kept: BTreeSet<Address> = plan
        .changes
        .iter()
        .filter(|c| scopes.iter().any(|s| s.covers(c, desired)))
        .map(|c| c.address.clone())
        .collect();
    // What they require, transitively: dependencies come first in the
    // order, so one pass from the end reaches them all.
    for change in plan.changes.iter().rev() {
        if kept.contains(&change.address) {
            kept.extend(change.depends_on.iter().cloned());
        }
    }
    let in_scope =
        |address: &Address| kept.contains(address) || scopes.iter().any(|s| s.holds(address));
    Plan {
        changes: plan
            .changes
            .into_iter()
            .filter(|c| kept.contains(&c.address))
            .collect(),
        unmanaged: plan
            .unmanaged
            .into_iter()
            .filter(|u| in_scope(&u.address))
            .collect(),
        incomplete: plan
            .incomplete
            .into_iter()
            .filter(|i| i.not_planned.iter().any(&in_scope))
            .collect(),
        errors: plan
            .errors
            .into_iter()
            .filter(|e| in_scope(&e.address))
            .collect(),
        warnings: plan.warnings,
        capacity: plan
            .capacity
            .into_iter()
            .filter(|c| {
                in_scope(&Address::Island {
                    island: c.island.clone(),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_its_own_addresses_not_a_longer_name_s() {
        let at = |text: &str| text.parse::<Address>().unwrap();
        let island = Scope::Island("est".into());
        assert!(island.holds(&at("island.est")));
        assert!(island.holds(&at("island.est.bucket.shared")));
        assert!(!island.holds(&at("island.est-2.bucket.shared")));
        let chaton = Scope::Chaton("pica".into());
        assert!(chaton.holds(&at("chaton.pica.backup.mail.backup.timer")));
        assert!(!chaton.holds(&at("chaton.picasoft.backup.mail")));
        let node = Scope::Node("a-1".into());
        assert!(node.holds(&at("island.est.node.a-1")));
        assert!(node.holds(&at("island.est.node.a-1.config")));
        assert!(!node.holds(&at("island.est.node.a-10.config")));
    }
}
