//! Faults on a busy machine: a node whose link is cut (packets dropped,
//! not refused) before or during `archipel plan` costs the plan that node
//! alone, within the connect timeout; a node cut during a rolling restart
//! fails its island's health gate, which stops that island's roll while
//! the other island's changes go on.
//!
//! Every run here happens under CPU load (two busy loops on this 2-core
//! machine), where the faults were first seen.

use archipel_tests::run_archipel_lab_tests;

mod fixture;

mod apply;
mod plan;

fn main() {
    run_archipel_lab_tests(
        8,
        &[
            ("the_lab_archipelago_converges", apply::converge),
            (
                "a_node_cut_before_plan_costs_only_itself",
                plan::cut_before_plan,
            ),
            (
                "a_node_cut_during_plan_costs_only_itself",
                plan::cut_during_plan,
            ),
            (
                "a_node_cut_before_apply_stops_it_unchanged",
                apply::cut_before_apply,
            ),
            (
                "a_failed_health_gate_stops_its_islands_rolling_restart_only",
                apply::failed_health_gate,
            ),
        ],
    )
}
