//! Backups against real machines: two islands, two chatons backing up to
//! each other's island with restic under systemd, retention, drills, the
//! password escrow (a new name per write, the legacy name moved) and the
//! recovery of a lost host, and no secret in archipel's output.

use archipel_tests::run_archipel_lab_tests;

mod fixture;

mod around_apply;
mod checks;
mod escrow;
mod recovery;
mod removals;
mod restic;
mod runs;

fn main() {
    run_archipel_lab_tests(
        9,
        &[
            (
                "a_backup_lands_in_the_other_island_and_restores",
                runs::backs_up_to_the_other_island,
            ),
            ("applying_again_changes_nothing", runs::idempotent),
            (
                "a_repository_the_jobs_run_opened_is_not_opened_again_by_a_plan",
                runs::opened_repositories_are_not_opened_again,
            ),
            (
                "a_backup_goes_through_another_node_when_its_first_does_not_answer",
                runs::first_node_down,
            ),
            ("drift_reports_hand_made_changes", around_apply::drift),
            (
                "a_saved_plan_applies_as_saved_or_not_at_all",
                around_apply::saved_plans,
            ),
            (
                "an_island_lock_stops_a_second_apply",
                around_apply::island_locks,
            ),
            ("only_touches_its_targets", around_apply::only),
            ("status_tells_fresh_from_stale", checks::status_report),
            ("retention_keeps_what_keep_allows", checks::retention),
            (
                "a_drill_passes_then_fails_once_packs_are_lost",
                checks::drill,
            ),
            (
                "a_lost_host_is_recovered_from_the_escrow_to_a_fresh_one",
                recovery::lost_host,
            ),
            (
                "a_re_escrow_leaves_one_versioned_object_that_recover_opens",
                escrow::re_escrowed,
            ),
            (
                "a_legacy_escrow_is_recovered_from_then_moved_by_apply",
                escrow::legacy_moved,
            ),
            (
                "debians_restic_package_is_installed_with_apt",
                restic::package,
            ),
            (
                "a_removed_job_leaves_its_host_and_its_repository_stays",
                removals::removed_job,
            ),
            (
                "a_job_over_its_quota_fails_and_status_says_why",
                checks::quota,
            ),
            (
                "a_removed_block_reaches_a_host_that_left_the_file",
                removals::removed_block,
            ),
        ],
    )
}
