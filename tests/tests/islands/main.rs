//! Islands over the years, against real machines: island lab-a (three
//! nodes, three copies) runs Garage 2.4.1 and holds chaton-4's backups;
//! pinning 2.5.0 upgrades it one node at a time after Garage's
//! preparation, while a reader reads from it all along; pinning an older
//! release, or another major version, is refused before anything changes.

use archipel_tests::run_archipel_lab_tests;

mod fixture;
mod upgrades;

fn main() {
    run_archipel_lab_tests(
        4,
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
        ],
    )
}
