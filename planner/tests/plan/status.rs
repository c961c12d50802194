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

#[test]
fn status_reads_each_vault_from_the_node_that_passed_last() {
    use archipel_planner::status::status;
    use archipel_planner::vault;
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let now = 1_800_000_000u64;
    let report = |finished: u64, incidents: &str| {
        format!(
            r#"{{"chaton":"d","source":"backup-d","vault":"vault-d","started":"2027-01-15T08:00:00Z","finished":"2027-01-15T08:01:00Z","finished_unix":{finished},"result":"ok","error":null,"copied_objects":3,"copied_bytes":300,"source_objects":40,"source_bytes":4000,"vault_objects":40,"vault_bytes":4000,"pending_deletions":0,"deleted_objects":0,"frozen":{},"incidents":[{incidents}]}}"#,
            !incidents.is_empty()
        )
    };
    let incident = r#"{"id":"20270115T080100Z-unexplained-deletion-mail","kind":"unexplained-deletion","job":"mail","since":"2027-01-15T08:01:00Z","what":"3 snapshots deleted outside the prune schedule"}"#;
    // The passes moved from a-1 to b-1: a-1's report is older, and clean.
    for (node, finished, incidents) in [("a-1", now - 7200, ""), ("b-1", now - 600, incident)] {
        let host = facts(&mut observed, node);
        host.files.insert(
            vault::status_file("d"),
            file(
                "root",
                "root",
                "600",
                None,
                Some(&report(finished, incidents)),
            ),
        );
        host.probes.insert("now".into(), ok(&now.to_string()));
    }
    let found = status(&desired, &observed);
    let d = found
        .vaults
        .iter()
        .find(|v| v.chaton == "d")
        .expect("d's vault");
    assert_eq!(d.node.as_deref(), Some("b-1"));
    assert_eq!(d.pass_age_seconds, Some(600));
    assert!(!d.stale && !d.failing, "{d:?}");
    assert_eq!(d.incidents().len(), 1);
    assert_eq!(d.incidents()[0].job.as_deref(), Some("mail"));
    assert!(!d.is_good() && !found.is_good());
    // a's vault on est has never passed: stale, said so.
    let a = found
        .vaults
        .iter()
        .find(|v| v.chaton == "a")
        .expect("a's vault");
    assert!(a.stale && a.last_pass.is_none(), "{a:?}");
}

/// Each node's Garage signals and memory, read from what its own Garage
/// and cgroup answered; a lost data directory, errored blocks and an
/// unread node make the island need attention.
#[test]
fn status_reads_each_nodes_health_and_memory() {
    use archipel_planner::garage;
    use archipel_planner::observed::FileFacts;
    use archipel_planner::status::status;
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let now = 1_796_502_667u64;
    let ouest = &desired.islands[0];
    for (i, node) in ouest.nodes.iter().enumerate() {
        let f = facts(&mut observed, &node.name);
        f.probes.insert("now".into(), ok(&now.to_string()));
        f.probes.insert(
            "garage_statistics".into(),
            ok(&format!(
                r#"{{"success":{{"{i:064}":{{"freeform":"…","blockManagerStats":{{"rcEntries":120,"resyncQueueLen":{},"resyncErrors":{}}}}}}},"error":{{}}}}"#,
                if i == 1 { 37 } else { 0 },
                if i == 2 { 4 } else { 0 }
            )),
        );
        f.probes.insert(
            "garage_workers".into(),
            ok(r#"{"success":{"x":{"scrub-last-completed":"2026-12-04T20:31:07.000Z","scrub-corruptions_detected":"0","resync-tranquility":"2"}},"error":{}}"#),
        );
        f.probes.insert(
            "garage_memory".into(),
            ok("measured cgroup\nanon 50000000\nfile 400000000\nkernel 2000000\npeak 480000000\n"),
        );
    }
    for bucket in &mut crate::fixture::reached(&mut observed, "ouest").buckets {
        bucket.bytes = 1_000_000_000;
    }
    let report = status(&desired, &observed);
    let island = &report.islands[0];
    assert_eq!(island.name, "ouest");
    let first = &island.nodes[0];
    assert_eq!(first.blocks, Some(120));
    assert_eq!(first.scrub_age_seconds, Some(86_400));
    assert_eq!(first.scrub_corruptions, Some(0));
    let memory = first.memory.clone().expect("memory read");
    assert_eq!(
        (memory.used_bytes, memory.page_cache_bytes),
        (52_000_000, 400_000_000)
    );
    assert!(first.is_good(), "{first:?}");
    // Resyncing is normal; blocks that failed to resync are not.
    assert_eq!(island.nodes[1].resync_queue, Some(37));
    assert!(island.nodes[1].is_good());
    assert!(!island.nodes[2].is_good());
    assert!(!island.is_good());
    // Memory per stored GB: the nodes' own memory, not their page cache.
    let stored = island.stored_bytes;
    assert!(stored > 0);
    assert_eq!(
        island.memory_bytes_per_stored_gb,
        Some((52_000_000u128 * ouest.nodes.len() as u128 * 1_000_000_000 / stored as u128) as u64)
    );

    // A lost data directory.
    let a1 = &ouest.nodes[0];
    facts(&mut observed, "a-1")
        .files
        .insert(garage::data_marker_path(&a1.data_dir), FileFacts::Missing);
    let report = status(&desired, &observed);
    assert!(report.islands[0].nodes[0].data_lost);
    assert!(!report.islands[0].nodes[0].is_good());
}
