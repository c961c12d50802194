//! Seeing that backups work, against real machines: a good, a failing
//! (over its quota) and a stale job ping a real HTTP receiver and write
//! node_exporter textfiles that promtool accepts; `archipel status
//! --output prometheus` exports the archipelago; the example alert rules
//! fire on the failing and the stale job, in a promtool rules test fed
//! with the lab's own metrics; the status page shows each state in a real
//! browser; Garage's own metrics in a textfile on each node and on the
//! network behind the island's metrics token; two applies by different users leave two journal entries on
//! every member, read back with a node stopped; no ping URL in any output.

use archipel_tests::run_archipel_lab_tests;

mod fixture;
mod garage;
mod journal;
mod metrics;
mod page;
mod runs;

fn main() {
    run_archipel_lab_tests(
        4,
        &[
            (
                "a_good_a_failing_and_a_stale_job_ping_and_write_their_metrics",
                runs::good_failing_and_stale,
            ),
            (
                "garages_own_metrics_reach_prometheus_both_ways",
                garage::garage_metrics,
            ),
            (
                "status_exports_the_archipelago_and_the_alerts_fire",
                metrics::status_and_alerts,
            ),
            (
                "the_status_page_shows_each_state_in_a_real_browser",
                page::status_page,
            ),
            (
                "two_applies_leave_two_journal_entries_on_every_member",
                journal::two_applies_two_entries,
            ),
        ],
    )
}
