//! Backups of a live application against real machines: a PostgreSQL on
//! backup host node3, written to all along, dumped with `pg_dump` as the
//! `postgres` user (its password in a `.pgpass` on the host, a canary the
//! secret sweep looks for everywhere), around `before` and `after` hooks,
//! to island lab-a. The cases run in order, each from where the last left
//! the lab: a consistent dump restored into a fresh PostgreSQL; a dump
//! that fails halfway; a `before` that fails. Then a job that backs up to
//! a local repository on its host, copied to lab-a: both restore the same
//! files, and losing the local one loses nothing lab-a has. A MariaDB
//! database dumped with `mysqldump --single-transaction` while written
//! to restores complete, and its drill checks the dump. Last, a drill
//! that checks the dump with `pg_restore --list`, and `status` all good;
//! and the `local` block removed, its copy taken off.

use archipel_tests::run_archipel_lab_tests;

mod fixture;
mod local;
mod mariadb;
mod postgres;

fn main() {
    run_archipel_lab_tests(
        3,
        &[
            (
                "a_dump_taken_during_writes_restores_into_a_fresh_postgresql",
                postgres::consistent_dump,
            ),
            (
                "a_dump_that_fails_halfway_fails_the_run_and_saves_no_snapshot",
                postgres::failing_dump,
            ),
            (
                "a_failing_before_aborts_the_backup_and_after_sees_it",
                postgres::failing_before,
            ),
            (
                "a_local_repository_fills_the_island_and_both_restore_the_same",
                local::copied,
            ),
            (
                "losing_the_local_repository_loses_nothing_the_island_has",
                local::lost,
            ),
            (
                "a_mariadb_dump_taken_during_writes_restores_complete",
                mariadb::consistent_dump,
            ),
            (
                "a_drill_restores_the_dump_and_runs_its_check",
                postgres::drill,
            ),
            (
                "a_local_block_removed_takes_its_copy_off_and_backups_go_to_the_island",
                local::removed,
            ),
        ],
    )
}
