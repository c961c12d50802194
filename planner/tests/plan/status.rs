//! `archipel status`: fresh, stale and failing jobs.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts, file, ok};

#[test]
fn status_flags_stale_and_failing_jobs() {
    use archipel_planner::status::status;
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let (fresh, broken) = (&desired.backups[0], &desired.backups[1]);
    let now = 1_800_000_000u64;
    let record = |exit_code: i32, start_unix: u64| {
        format!(
            r#"{{"job":"x","command":"backup","exit_code":{exit_code},"start":"2027-01-15T08:00:00Z","start_unix":{start_unix},"duration_seconds":60,"restic_version":"0.14.0","summary":{{"message_type":"summary","snapshot_id":"abcd1234","files_new":3,"data_added":1000}}}}"#
        )
    };
    for (job, last, success) in [
        // Succeeded an hour ago.
        (fresh, record(0, now - 3600), Some(record(0, now - 3600))),
        // Failed just now; last success three days ago.
        (
            broken,
            record(1, now - 100),
            Some(record(0, now - 3 * 86_400)),
        ),
    ] {
        let host = facts(&mut observed, &job.machine);
        let path =
            |suffix: &str| format!("/var/lib/archipel/backups/{}.backup{suffix}.json", job.id);
        host.files
            .insert(path(""), file("root", "root", "644", None, Some(&last)));
        if let Some(success) = &success {
            host.files.insert(
                path(".success"),
                file("root", "root", "644", None, Some(success)),
            );
        }
        host.probes.insert("now".into(), ok(&now.to_string()));
        host.probes.insert(
            archipel_planner::observed::Probe::Period(job.id.clone()).to_string(),
            ok(&format!("{}\n{}\n", now + 1000, now + 1000 + 86_400)),
        );
    }
    let report = status(&desired, &observed);
    let first = &report.jobs[0];
    assert_eq!(first.period_seconds, Some(86_400));
    assert_eq!(first.success_age_seconds, Some(3600 - 60));
    assert!(!first.stale && !first.failing, "{first:?}");
    let second = &report.jobs[1];
    assert!(second.stale && second.failing, "{second:?}");
    assert!(!report.is_good());
    assert_eq!(
        first
            .last_success
            .as_ref()
            .and_then(|r| r.summary.as_ref())
            .and_then(|s| s.snapshot_id.as_deref()),
        Some("abcd1234")
    );
}
