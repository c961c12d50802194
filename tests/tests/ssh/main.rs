//! The SSH provider against real machines: sessions, commands, uploads,
//! host facts, host keys, key exchanges, failures.

use archipel_tests::run_lab_tests;

mod fixture;

mod failures;
mod files;
mod host_keys;
mod key_exchange;
mod sessions;

fn main() {
    run_lab_tests(
        3,
        &[
            (
                "commands_run_on_all_nodes_in_parallel",
                sessions::parallel_commands,
            ),
            (
                "many_commands_share_one_connection",
                sessions::many_commands,
            ),
            (
                "upload_is_atomic_with_owner_and_mode",
                files::upload_and_read_back,
            ),
            ("facts_of_all_nodes_in_one_call", files::facts_of_all_nodes),
            (
                "errors_name_the_host_command_and_stderr",
                failures::errors_are_precise,
            ),
            (
                "stopped_node_fails_fast_others_carry_on",
                failures::stopped_node,
            ),
            (
                "unknown_host_key_is_refused_unless_accepted",
                host_keys::unknown_host_key,
            ),
            ("pinned_host_key_is_enforced", host_keys::pinned_host_key),
            ("non_root_users_go_through_sudo", sessions::sudo_users),
            ("no_master_process_outlives_the_run", sessions::no_orphans),
            (
                "a_recorded_hash_stands_until_the_file_changes",
                files::hash_records,
            ),
            (
                "read_only_commands_offer_the_quick_key_exchange_where_none_was_chosen",
                key_exchange::quick_key_exchange,
            ),
        ],
    )
}
