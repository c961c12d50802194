//! `archipel status --output prometheus`: the archipelago's view in
//! Prometheus's text exposition format, for node_exporter's textfile
//! collector (`archipel status --output prometheus > DIR/archipel.prom.$$
//! && mv …`) or a CI job's artifact.
//!
//! Only what archipel saw is exported: a value it could not read (a host
//! down, an island not running) is left out, and `archipel_job_observed`
//! or `archipel_node_observed` says 0, so an alert on a missing series or
//! on that gauge tells "unknown" from "fine". Names follow Prometheus's
//! conventions: base units (seconds, bytes), `_timestamp_seconds` for
//! times since the epoch, 0/1 gauges for states.

use archipel_planner::status::{IslandStatus, JobStatus, NodeHealth, Run, Status};
use std::fmt::Write as _;

/// One metric: its name, help, and samples (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The families, in the order they are printed.
#[derive(Default)]
struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    fn sample(&mut self, name: &'static str, help: &'static str, labels: &str, value: f64) {
        let family = match self.families.iter().position(|f| f.name == name) {
            Some(i) => &mut self.families[i],
            None => {
                self.families.push(Family {
                    name,
                    help,
                    samples: Vec::new(),
                });
                self.families.last_mut().expect("just pushed")
            }
        };
        family.samples.push((labels.to_string(), value));
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for family in &self.families {
            writeln!(out, "# HELP {} {}", family.name, family.help).expect("writing to a string");
            writeln!(out, "# TYPE {} gauge", family.name).expect("writing to a string");
            for (labels, value) in &family.samples {
                match labels.is_empty() {
                    true => writeln!(out, "{} {value}", family.name),
                    false => writeln!(out, "{}{{{labels}}} {value}", family.name),
                }
                .expect("writing to a string");
            }
        }
        out
    }
}

/// `name="value",…` with Prometheus's escapes.
fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{value}\"")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

/// When a run ended, in seconds since the epoch.
fn ended(run: &Run) -> f64 {
    (run.start_unix + run.duration_seconds) as f64
}

pub fn prometheus(report: &Status) -> String {
    let mut out = Exposition::default();
    out.sample(
        "archipel_status_good",
        "1 when every job is fresh and passing, every vault quiet and every island healthy: what `archipel status` exits 0 for.",
        "",
        flag(report.is_good()),
    );
    for job in &report.jobs {
        job_samples(&mut out, job);
    }
    bucket_samples(&mut out, report);
    vault_samples(&mut out, report);
    for island in &report.islands {
        island_samples(&mut out, island);
    }
    out.text()
}

/// Each chaton's backup bucket on each island, once.
fn bucket_samples(out: &mut Exposition, report: &Status) {
    let mut buckets: Vec<(&str, &str)> = Vec::new();
    for job in &report.jobs {
        if buckets.contains(&(job.chaton.as_str(), job.island.as_str())) {
            continue;
        }
        buckets.push((&job.chaton, &job.island));
        let l = labels(&[("chaton", &job.chaton), ("island", &job.island)]);
        if let Some(bytes) = job.bucket_bytes {
            out.sample(
                "archipel_backup_bucket_bytes",
                "What the chaton's backup bucket holds on the island, in bytes.",
                &l,
                bytes as f64,
            );
        }
        if let Some(quota) = job.bucket_quota {
            out.sample(
                "archipel_backup_bucket_quota_bytes",
                "The quota of the chaton's backup bucket on the island, in bytes.",
                &l,
                quota as f64,
            );
        }
    }
}

fn vault_samples(out: &mut Exposition, report: &Status) {
    for vault in &report.vaults {
        let l = labels(&[("chaton", &vault.chaton), ("island", &vault.island)]);
        out.sample(
            "archipel_vault_stale",
            "1 when no vault pass finished for three hours (or ever).",
            &l,
            flag(vault.stale),
        );
        out.sample(
            "archipel_vault_failing",
            "1 when the vault's last pass could not run to its end.",
            &l,
            flag(vault.failing),
        );
        out.sample(
            "archipel_vault_incidents",
            "Incidents the vault's passes opened and no one cleared yet.",
            &l,
            vault.incidents().len() as f64,
        );
        if let Some(pass) = &vault.last_pass {
            out.sample(
                "archipel_vault_last_pass_timestamp_seconds",
                "When the vault's last pass finished, in seconds since the epoch.",
                &l,
                pass.finished_unix as f64,
            );
            out.sample(
                "archipel_vault_bytes",
                "What the vault holds, in bytes.",
                &l,
                pass.vault_bytes as f64,
            );
        }
    }
}

fn island_samples(out: &mut Exposition, island: &IslandStatus) {
    let l = labels(&[("island", &island.name)]);
    out.sample(
        "archipel_island_healthy",
        "1 when Garage says the island is healthy and every node is well.",
        &l,
        flag(island.is_good()),
    );
    for (name, help, value) in [
        (
            "archipel_island_storage_nodes",
            "Nodes with a storage role in the island's layout.",
            island.storage_nodes,
        ),
        (
            "archipel_island_storage_nodes_up",
            "Of them, the nodes the island sees up.",
            island.storage_nodes_up,
        ),
        (
            "archipel_island_partitions",
            "The island's partitions.",
            island.partitions,
        ),
        (
            "archipel_island_partitions_quorum",
            "Partitions with a quorum of their nodes up.",
            island.partitions_quorum,
        ),
        (
            "archipel_island_used_bytes",
            "Used on the nodes' data disks, in bytes.",
            island.used_bytes,
        ),
        (
            "archipel_island_total_bytes",
            "The nodes' data disks, in bytes.",
            island.total_bytes,
        ),
        (
            "archipel_island_stored_bytes",
            "What the island's buckets hold (one copy), in bytes.",
            island.stored_bytes,
        ),
    ] {
        out.sample(name, help, &l, value as f64);
    }
    if let Some(bytes) = island.memory_bytes_per_stored_gb {
        out.sample(
            "archipel_island_memory_bytes_per_stored_gigabyte",
            "Garage's memory over the island's nodes (page cache left out), per GB stored.",
            &l,
            bytes as f64,
        );
    }
    for node in &island.nodes {
        node_samples(out, &island.name, node);
    }
}

fn job_samples(out: &mut Exposition, job: &JobStatus) {
    let l = labels(&[
        ("chaton", &job.chaton),
        ("backup", &job.job),
        ("host", &job.host),
        ("island", &job.island),
    ]);
    out.sample(
        "archipel_job_observed",
        "1 when the job's host could be read; 0: the other job values are unknown.",
        &l,
        flag(job.problem.is_none()),
    );
    if job.problem.is_some() {
        return;
    }
    out.sample(
        "archipel_job_stale",
        "1 when the job's last success is older than two periods of its schedule (or it never succeeded).",
        &l,
        flag(job.stale),
    );
    out.sample(
        "archipel_job_failing",
        "1 when the job's last run failed.",
        &l,
        flag(job.failing),
    );
    if let Some(period) = job.period_seconds {
        out.sample(
            "archipel_job_period_seconds",
            "Seconds between two runs of the job's schedule.",
            &l,
            period as f64,
        );
    }
    if let Some(age) = job.success_age_seconds {
        out.sample(
            "archipel_job_success_age_seconds",
            "Seconds since the job's last success ended, by its host's clock.",
            &l,
            age as f64,
        );
    }
    let runs = [
        ("backup", job.last_run.as_ref(), job.last_success.as_ref()),
        ("check", job.last_check.as_ref(), None),
        ("drill", job.last_drill.as_ref(), None),
    ];
    for (task, last, success) in runs {
        let Some(run) = last else { continue };
        let l = labels(&[
            ("chaton", &job.chaton),
            ("backup", &job.job),
            ("host", &job.host),
            ("island", &job.island),
            ("task", task),
        ]);
        out.sample(
            "archipel_job_last_run_timestamp_seconds",
            "When the task's last run ended, in seconds since the epoch.",
            &l,
            ended(run),
        );
        out.sample(
            "archipel_job_last_exit_code",
            "The task's last exit code (0: success).",
            &l,
            run.exit_code as f64,
        );
        if let Some(success) = success {
            out.sample(
                "archipel_job_last_success_timestamp_seconds",
                "When the task's last success ended, in seconds since the epoch.",
                &l,
                ended(success),
            );
        }
    }
}

fn node_samples(out: &mut Exposition, island: &str, node: &NodeHealth) {
    let l = labels(&[("island", island), ("node", &node.name)]);
    out.sample(
        "archipel_node_observed",
        "1 when everything archipel asks of the node could be read.",
        &l,
        flag(node.problems.is_empty()),
    );
    if let Some(up) = node.up {
        out.sample(
            "archipel_node_up",
            "1 when the island sees the node up.",
            &l,
            flag(up),
        );
    }
    out.sample(
        "archipel_node_data_lost",
        "1 when the node's data directory lost its blocks (apply repairs it).",
        &l,
        flag(node.data_lost),
    );
    let values = [
        (
            "archipel_node_blocks",
            "Blocks the node keeps a reference count of.",
            node.blocks,
        ),
        (
            "archipel_node_resync_queue",
            "Blocks waiting to be fetched or checked (normal while the node fills).",
            node.resync_queue,
        ),
        (
            "archipel_node_resync_errors",
            "Blocks Garage failed to resync: persistent nonzero values mean data is likely lost.",
            node.resync_errors,
        ),
        (
            "archipel_node_scrub_corruptions",
            "Corrupted blocks the node's scrubs found.",
            node.scrub_corruptions,
        ),
        (
            "archipel_node_scrub_age_seconds",
            "Seconds since the node's last complete scrub.",
            node.scrub_age_seconds,
        ),
        (
            "archipel_node_disk_used_bytes",
            "Used on the node's data disk, in bytes.",
            node.disk_used_bytes,
        ),
        (
            "archipel_node_disk_total_bytes",
            "The node's data disk, in bytes.",
            node.disk_total_bytes,
        ),
        (
            "archipel_node_garage_memory_bytes",
            "Garage's own memory on the node, page cache left out.",
            node.memory.as_ref().map(|m| m.used_bytes),
        ),
    ];
    for (name, help, value) in values {
        if let Some(value) = value {
            out.sample(name, help, &l, value as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("a", "x\"y\\z\nw"), ("b", "ok")]),
            "a=\"x\\\"y\\\\z\\nw\",b=\"ok\""
        );
    }

    #[test]
    fn a_metric_is_one_family_whatever_the_order_of_its_samples() {
        let mut out = Exposition::default();
        out.sample("m_a", "A.", "x=\"1\"", 1.0);
        out.sample("m_b", "B.", "", 2.5);
        out.sample("m_a", "A.", "x=\"2\"", 0.0);
        assert_eq!(
            out.text(),
            "# HELP m_a A.\n# TYPE m_a gauge\nm_a{x=\"1\"} 1\nm_a{x=\"2\"} 0\n# HELP m_b B.\n# TYPE m_b gauge\nm_b 2.5\n"
        );
    }
}
