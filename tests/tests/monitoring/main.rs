//! Seeing that backups work, against real machines: a good, a failing
//! (over its quota) and a stale job ping a real HTTP receiver and write
//! node_exporter textfiles that promtool accepts; `archipel status
//! --output prometheus` exports the archipelago; the example alert rules
//! fire on the failing and the stale job, in a promtool rules test fed
//! with the lab's own metrics; the status page shows each state in a real
//! browser; no ping URL in any output.

use archipel_tests::run_archipel_lab_tests;

mod fixture;
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
                "status_exports_the_archipelago_and_the_alerts_fire",
                metrics::status_and_alerts,
            ),
            (
                "the_status_page_shows_each_state_in_a_real_browser",
                page::status_page,
            ),
        ],
    )
}
