//! An island's vault passes: on one node of the island, Debian's rclone,
//! the pass, what it copies, the island's vault key and the hourly timer;
//! taken off every other node.
//!
//! The node: the first of the file's nodes, reachable, that already runs
//! the passes; otherwise the first reachable one. So the passes stay where
//! they are until that node leaves the file, and then move
//! (docs/vault-design.md). A node that cannot be reached may be running
//! them: while one cannot and none that can runs them, nothing is planned. The vault buckets and the key are planned
//! with the island's others (`island.rs`, from `desired`).

use super::files::{managed_file, timer_started};
use super::machines::machine_facts;
use super::{Action, Builder, SENSITIVE, Target, VaultStep};
use crate::desired::DesiredIsland;
use crate::observed::{FileFacts, HostFacts, Observed};
use crate::ownership::Ownership;
use crate::vault;

pub(super) fn plan_vaults(island: &DesiredIsland, observed: &Observed, b: &mut Builder) {
    let reachable: Vec<(&str, &HostFacts)> = island
        .nodes
        .iter()
        .filter_map(|node| {
            machine_facts(observed, &node.name)
                .ok()
                .map(|facts| (node.name.as_str(), facts))
        })
        .collect();
    let running = reachable.iter().find(|(_, facts)| runs_passes(facts));
    // A node not seen may be the one running them: nothing moves on a
    // guess (its own entry in the plan's incomplete parts says so).
    if running.is_none() && reachable.len() < island.nodes.len() {
        return;
    }
    let runner = island
        .vaults
        .as_ref()
        .and_then(|_| running.or_else(|| reachable.first()))
        .map(|(name, _)| *name);
    for (node, facts) in &reachable {
        if Some(*node) == runner {
            plan_runner(island, node, facts, b);
        } else if runs_passes(facts) {
            let reason = match runner {
                Some(runner) => format!("the island's vault passes run on {runner}"),
                None => "no chaton backing up to the island has a vault any more".to_string(),
            };
            b.add(
                Target::VaultRemoval {
                    island: island.name.clone(),
                    node: node.to_string(),
                },
                Action::Delete,
                format!(
                    "{reason}: this node's timer, pass and vault key are taken off; the vaults stay"
                ),
            );
        }
    }
}

/// Whether a node has the vault timer archipel installs.
fn runs_passes(facts: &HostFacts) -> bool {
    matches!(facts.files.get(&timer_path()), Some(FileFacts::File { .. }))
}

fn timer_path() -> String {
    format!("{}/{}", vault::UNITS_DIR, vault::TIMER)
}

fn plan_runner(island: &DesiredIsland, node: &str, facts: &HostFacts, b: &mut Builder) {
    let Some(vaults) = &island.vaults else {
        return;
    };
    let step = |step| Target::Vault {
        island: island.name.clone(),
        node: node.to_string(),
        step,
    };
    plan_tools(&step, facts, b);
    managed_file(
        b,
        step(VaultStep::Config),
        facts,
        vault::CONFIG_FILE,
        &vaults.config,
        vault::CONFIG_OWNER,
    );
    plan_credentials(island, node, facts, b);
    managed_file(
        b,
        step(VaultStep::Service),
        facts,
        &format!("{}/{}", vault::UNITS_DIR, vault::SERVICE),
        &vaults.service,
        Ownership::ROOT_READABLE,
    );
    let timer_changed = managed_file(
        b,
        step(VaultStep::Timer),
        facts,
        &timer_path(),
        &vaults.timer,
        Ownership::ROOT_READABLE,
    )
    .changed();
    timer_started(
        b,
        step(VaultStep::Timer),
        facts,
        vault::TIMER,
        timer_changed,
    );
}

/// Debian's rclone, and the pass with its state directory.
fn plan_tools(step: &impl Fn(VaultStep) -> Target, facts: &HostFacts, b: &mut Builder) {
    let rclone = facts
        .probes
        .get(vault::RCLONE_PROBE.0)
        .is_some_and(|p| p.status == 0 && p.output.trim() == "yes");
    if !rclone {
        b.add(
            step(VaultStep::Rclone),
            Action::Create,
            format!(
                "{} is not installed: Debian's rclone package is",
                vault::RCLONE
            ),
        );
    }
    let pass_changed = managed_file(
        b,
        step(VaultStep::Pass),
        facts,
        vault::SCRIPT_PATH,
        vault::SCRIPT,
        Ownership::ROOT_EXECUTABLE,
    )
    .changed();
    let state_dir = matches!(
        facts.files.get(vault::STATE_DIR),
        Some(FileFacts::Directory { .. })
    );
    if !pass_changed && !state_dir {
        b.add(
            step(VaultStep::Pass),
            Action::Create,
            format!(
                "the pass's state directory {} does not exist",
                vault::STATE_DIR
            ),
        );
    }
}

/// The island's vault key on the node: written when it is not there, and
/// again when the plan makes the key (a key made anew has a new secret).
fn plan_credentials(island: &DesiredIsland, node: &str, facts: &HostFacts, b: &mut Builder) {
    let present = matches!(
        facts.files.get(vault::CREDENTIALS_FILE),
        Some(FileFacts::File { .. })
    );
    let key_is_new = b.changes.iter().any(|c| {
        c.action == Action::Create
            && matches!(&c.target, Target::Key { island: i, key } if *i == island.name && key == vault::KEY)
    });
    let reason = match (present, key_is_new) {
        (false, _) => format!("{} is not on the node", vault::CREDENTIALS_FILE),
        (true, true) => format!(
            "the key {} is made anew: its secret is written again",
            vault::KEY
        ),
        (true, false) => return,
    };
    b.add(
        Target::Vault {
            island: island.name.clone(),
            node: node.to_string(),
            step: VaultStep::Credentials,
        },
        if present {
            Action::Update
        } else {
            Action::Create
        },
        reason,
    )
    .attribute(
        "key",
        None,
        Some(format!("{} on island {}", vault::KEY, island.name)),
    )
    .attribute("secret", None, Some(SENSITIVE.into()));
}
