//! Vaults against real machines: a backup host whose key an attacker holds
//! cannot erase its off-site history. chaton-3 backs up node4 to island
//! lab-a; lab-a's vault pass (on node1) copies it into `vault-chaton-3`.
//! The cases run in order, each from where the last left the lab: passes
//! during a backup, the job's own prune freed after the grace period, an
//! attack with the host's key (forget, prune, delete everything, a
//! lifecycle rule) raising incidents while the vault keeps every snapshot,
//! a recovery from the vault onto a fresh machine, and the incidents
//! cleared.

use archipel_tests::run_archipel_lab_tests;

mod attack;
mod fixture;
mod passes;

fn main() {
    run_archipel_lab_tests(
        5,
        &[
            (
                "a_pass_during_a_backup_copies_only_whole_objects",
                passes::during_a_backup,
            ),
            (
                "the_jobs_own_prune_is_freed_in_the_vault_only_after_the_grace_period",
                passes::pruned_then_freed,
            ),
            (
                "an_attack_with_the_hosts_key_is_flagged_and_the_vault_keeps_everything",
                attack::attacked,
            ),
            (
                "recover_from_the_vault_restores_every_snapshot_on_a_fresh_machine",
                attack::recovered,
            ),
            (
                "apply_removes_the_lifecycle_rule_and_clear_reopens_the_grace_period",
                attack::cleared,
            ),
            (
                "the_leaked_key_deleted_is_made_anew_and_reaches_the_host",
                attack::key_made_anew,
            ),
        ],
    )
}
