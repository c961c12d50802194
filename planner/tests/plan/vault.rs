//! An island's vault passes: kept on the node that runs them, moved only
//! when that node leaves the file, never on a guess; taken off when no
//! chaton has a vault any more; the vault itself never deleted while it
//! holds anything.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts, outline, reached};
use archipel_planner::observed::*;
use archipel_planner::plan::plan;
use archipel_planner::vault;

/// The island's vault files moved, in the observation, from one node to
/// another.
fn move_passes(observed: &mut Observed, from: &str, to: &str) {
    let from_facts = facts(observed, from);
    let mut moved = Vec::new();
    from_facts.files.retain(|path, file| {
        let vault_file = path.contains("vault") || path.contains("archipel-vault");
        if vault_file {
            moved.push((path.clone(), file.clone()));
        }
        !vault_file
    });
    let timer = from_facts.units.remove(vault::TIMER);
    let rclone = from_facts.probes.remove(vault::RCLONE_PROBE.0);
    let to_facts = facts(observed, to);
    to_facts.files.extend(moved);
    to_facts
        .units
        .extend(timer.map(|t| (vault::TIMER.to_string(), t)));
    to_facts
        .probes
        .extend(rclone.map(|p| (vault::RCLONE_PROBE.0.to_string(), p)));
}

fn vault_changes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(".vault"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_passes_stay_on_the_node_that_runs_them() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    // b-1, not the first node of ouest, runs them (a-1 was down once).
    move_passes(&mut observed, "a-1", "b-1");
    let plan = plan(&desired, &observed);
    assert!(!plan.has_changes(), "{}", outline(&plan));
}

#[test]
fn a_second_copy_of_the_passes_is_taken_off() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let timer = format!("{}/{}", vault::UNITS_DIR, vault::TIMER);
    let stale = facts(&mut observed, "a-1").files[&timer].clone();
    facts(&mut observed, "c-1").files.insert(timer, stale);
    let text = outline(&plan(&desired, &observed));
    assert_eq!(
        vault_changes(&text),
        [
            "- island.ouest.node.c-1.vault  (the island's vault passes run on a-1: this node's timer, pass and vault key are taken off; the vaults stay)"
        ],
        "{text}"
    );
}

#[test]
fn nothing_moves_while_a_node_that_may_run_them_is_unseen() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    observed.machines.insert(
        "a-1".into(),
        MachineObservation::Unreachable {
            problem: Unreachable {
                kind: UnreachableKind::Timeout,
                message: "a-1: cannot connect".into(),
            },
        },
    );
    let text = outline(&plan(&desired, &observed));
    assert_eq!(vault_changes(&text), Vec::<String>::new(), "{text}");
    assert!(text.contains("! incomplete: a-1"), "{text}");
}

#[test]
fn the_passes_move_when_their_node_leaves_the_file() {
    // Chaton a's node moves to another machine: a-2 replaces a-1.
    let text = BASE.replace(
        "node \"a-1\" {\n    ssh      = \"root@a1\"",
        "node \"a-2\" {\n    ssh      = \"root@a2\"",
    );
    let before = desired_from(BASE);
    let mut observed = converged(&before);
    let after = desired_from(&text);
    // a-2 is a new machine.
    observed.machines.insert(
        "a-2".into(),
        MachineObservation::Reached {
            facts: crate::fixture::bare(),
        },
    );
    let outline = outline(&plan(&after, &observed));
    let changes = vault_changes(&outline);
    // No node of the file runs them now: the first of the file, a-2, gets
    // them.
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("+ island.ouest.node.a-2.vault.timer")),
        "{outline}"
    );
    // a-1 leaves the layout; its removal takes its passes off with Garage.
    assert!(outline.contains("- island.ouest.node.a-1  ("), "{outline}");
}

#[test]
fn without_vaults_the_passes_and_key_go_and_a_full_vault_stays() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    for bucket in &mut reached(&mut observed, "ouest").buckets {
        if bucket.global_aliases == ["vault-d"] {
            bucket.objects = 120;
            bucket.bytes = 3_000_000;
        }
    }
    let opted_out = BASE.replace(
        "chaton \"d\" {\n  island  = \"est\"\n",
        "chaton \"d\" {\n  island  = \"est\"\n  vault   = false\n",
    );
    let text = outline(&plan(&desired_from(&opted_out), &observed));
    assert!(
        text.contains("- island.ouest.node.a-1.vault  (no chaton backing up to the island has a vault any more"),
        "{text}"
    );
    assert!(
        text.contains("- island.ouest.key.archipel-vault  (")
            && text.contains("after: island.ouest.node.a-1.vault"),
        "the key goes after the passes that use it: {text}"
    );
    assert!(
        text.contains("? island.ouest.bucket.vault-d  (a backup bucket no backup of the file goes to any more; it holds 120 objects"),
        "{text}"
    );
    assert!(!text.contains("- island.ouest.bucket.vault-d"), "{text}");
}

#[test]
fn a_vault_key_made_anew_is_written_to_the_node_again() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    reached(&mut observed, "ouest")
        .keys
        .retain(|k| k.name != vault::KEY);
    let text = outline(&plan(&desired, &observed));
    assert!(
        text.contains("~ island.ouest.node.a-1.vault.credentials  (the key archipel-vault is made anew: its secret is written again)"),
        "{text}"
    );
    assert!(
        text.contains("after: island.ouest.key.archipel-vault"),
        "{text}"
    );
}

#[test]
fn a_recovery_key_left_behind_is_deleted_without_a_word_about_hosts() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let key = vault::recovery_key("d", "data");
    reached(&mut observed, "ouest").keys.push(KeyInfo {
        access_key_id: "GKrecover".into(),
        name: key.clone(),
        expired: false,
        buckets: vec![],
    });
    let plan = plan(&desired, &observed);
    let text = outline(&plan);
    assert!(
        text.contains(&format!(
            "- island.ouest.key.{key}  (a read-only key on a vault that an interrupted `archipel recover --from-vault` left: it is deleted)"
        )),
        "{text}"
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // No chaton's key can be taken for one.
    assert!(!vault::is_recovery_key("archipel-recover"));
}

#[test]
fn a_jobs_repository_in_the_vault_is_the_same_path_in_the_vault_bucket() {
    let desired = desired_from(BASE);
    let job = desired.backups.first().expect("BASE backs up");
    let repository = vault::repository(job);
    assert_eq!(
        repository,
        job.repository.replace(
            &format!("/{}/", job.bucket),
            &format!("/{}/", vault::bucket(&job.chaton))
        )
    );
    assert!(repository.ends_with(&format!("/vault-{}/{}", job.chaton, job.job)));
}
