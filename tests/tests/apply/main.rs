//! `archipel apply` against real machines: from bare nodes to two healthy
//! islands, S3 working with the keys it made, idempotence, a capacity
//! change, a rolling restart under reads, and a tampered binary refused.

use archipel_tests::run_archipel_lab_tests;

mod fixture;

mod changes;
mod converge;
mod interrupted;
mod membership;

fn main() {
    run_archipel_lab_tests(
        7,
        &[
            (
                "a_tampered_binary_is_refused_before_anything",
                converge::tampered_binary,
            ),
            (
                "bare_nodes_become_two_healthy_islands",
                converge::bare_to_healthy,
            ),
            ("applying_again_changes_nothing", converge::idempotent),
            (
                "a_capacity_change_bumps_the_layout_once",
                changes::capacity_change,
            ),
            (
                "a_config_change_restarts_nodes_one_at_a_time",
                changes::rolling_restart,
            ),
            (
                "a_node_lost_mid_apply_fails_its_branch_only",
                interrupted::node_lost_mid_apply,
            ),
            ("a_new_node_joins_its_island", membership::node_joins),
            (
                "ctrl_c_lets_running_changes_finish_and_starts_no_other",
                interrupted::ctrl_c,
            ),
            (
                "a_removed_node_is_drained_then_stopped",
                membership::node_leaves,
            ),
        ],
    )
}
