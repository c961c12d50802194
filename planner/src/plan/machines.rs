//! The machines of the file: their observed facts, and that no two of them
//! are one machine.

use super::files::file_content;
use super::{Builder, PlanError};
use crate::address::Address;
use crate::observed::{HostFacts, MachineObservation, Observed, Unreachable};
use std::collections::BTreeMap;

pub(super) fn machine_facts<'o>(
    observed: &'o Observed,
    name: &str,
) -> Result<&'o HostFacts, Option<&'o Unreachable>> {
    match observed.machines.get(name) {
        Some(MachineObservation::Reached { facts }) => Ok(facts),
        Some(MachineObservation::Unreachable { problem }) => Err(Some(problem)),
        None => Err(None),
    }
}

/// Two machines of the file that present one SSH host key are one machine
/// reached under two names (a NAT address and a direct one, two aliases of
/// the SSH config), or clones of one image, whose keys let each pose as the
/// other: either way the plan would treat them as two, and is refused.
///
/// Two machines that SSH resolves to one address (host name and port after
/// the SSH config's aliases, and the same jump) are one machine as well.
pub(super) fn machines_are_distinct(observed: &Observed, b: &mut Builder) {
    let mut by_key: BTreeMap<String, &str> = BTreeMap::new();
    let mut by_landing: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, machine) in &observed.machines {
        let MachineObservation::Reached { facts } = machine else {
            continue;
        };
        if let Some(lands_at) = facts.lands_at.as_deref() {
            if let Some(first) = by_landing.get(lands_at) {
                b.plan.errors.push(PlanError {
                    address: Address::Machine {
                        machine: name.clone(),
                    },
                    message: format!(
                        "machines {first} and {name} are one machine: SSH reaches both at {lands_at} (see `ssh -G`); name it once"
                    ),
                });
                continue;
            }
            by_landing.insert(lands_at, name);
        }
        let Some(key) = facts
            .files
            .get(crate::desired::HOST_KEY)
            .and_then(file_content)
        else {
            continue;
        };
        // `ssh-ed25519 AAAA… root@host`: the comment is not the key.
        let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        if let Some(first) = by_key.get(&key) {
            b.plan.errors.push(PlanError {
                address: Address::Machine {
                        machine: name.clone(),
                    },
                message: format!(
                    "machines {first} and {name} present the same SSH host key: one machine under two names, or clones of one image (then give each its own keys: rm /etc/ssh/ssh_host_* && dpkg-reconfigure openssh-server)"
                ),
            });
        } else {
            by_key.insert(key, name);
        }
    }
}
