//! Islands over the years, against real machines: island lab-a (three
//! nodes, three copies) runs Garage 2.4.1 and holds chaton-4's backups;
//! pinning 2.5.0 upgrades it one node at a time after Garage's
//! preparation, while a reader reads from it all along; pinning an older
//! release, or another major version, is refused before anything changes;
//! a node's emptied data directory is reported, then refilled; node3,
//! killed for good, is replaced by node5 (which idles until then).

use archipel_tests::run_archipel_lab_tests;

mod fixture;
mod repairs;
mod replacement;
mod upgrades;

fn main() {
    run_archipel_lab_tests(
        5,
        &[
            (
                "an_island_converges_on_the_older_release_and_holds_a_backup",
                upgrades::converge_on_the_older_release,
            ),
            (
                "a_minor_upgrade_rolls_one_node_at_a_time_and_no_read_fails",
                upgrades::minor_upgrade,
            ),
            (
                "a_downgrade_and_another_major_version_are_refused_before_anything_changes",
                upgrades::refused,
            ),
            (
                "a_lost_data_directory_is_reported_then_refilled_by_a_block_repair",
                repairs::lost_data_directory,
            ),
            (
                "a_dead_node_is_replaced_in_one_layout_version_and_the_island_heals",
                replacement::dead_node_replaced,
            ),
        ],
    )
}
