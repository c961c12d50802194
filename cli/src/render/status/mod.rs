//! Rendering `archipel status`: a table per chaton and island for people
//! (`human`), a report for an issue (`markdown`), metrics for Prometheus
//! (`prometheus.rs`) and a page for the web (`html.rs`).

pub mod html;
pub mod prometheus;

use archipel_planner::size::Size;
use archipel_planner::status::{self, JobStatus, Status};

/// A job's condition in a word.
fn verdict(job: &JobStatus) -> &'static str {
    if job.problem.is_some() {
        "UNKNOWN"
    } else if job.failing {
        "FAILING"
    } else if job.stale {
        "STALE"
    } else {
        "ok"
    }
}

/// "3h12m", "2d4h": ages at a glance.
fn age(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h{minutes:02}m"),
        (_, 0) => format!("{days}d"),
        _ => format!("{days}d{hours}h"),
    }
}

/// Bytes at a glance, in the file's SI units: "336K", "692.6G".
fn bytes(n: u64) -> String {
    Size(n).rounded()
}

struct Row {
    cells: [String; 9],
}

const HEADERS: [&str; 9] = [
    "job",
    "host",
    "to",
    "state",
    "last success",
    "snapshot",
    "bucket",
    "last check",
    "last drill",
];

/// A check's or drill's last run in a few words.
fn last(run: Option<&status::Run>) -> String {
    match run {
        Some(run) if run.exit_code == 0 => format!("ok {}", run.start),
        Some(run) => format!("FAILED (exit {}) {}", run.exit_code, run.start),
        None => "never".into(),
    }
}

fn rows(report: &Status) -> Vec<Row> {
    report
        .jobs
        .iter()
        .map(|job| {
            let success = match (&job.success_age_seconds, job.period_seconds) {
                (Some(a), Some(p)) => format!("{} ago (every {})", age(*a), age(p)),
                (Some(a), None) => format!("{} ago", age(*a)),
                (None, _) if job.problem.is_some() => "?".into(),
                (None, _) => "never".into(),
            };
            let snapshot = job
                .last_success
                .as_ref()
                .and_then(|r| r.summary.as_ref())
                .and_then(|s| s.snapshot_id.clone())
                .unwrap_or_else(|| "-".into());
            let bucket = match (job.bucket_bytes, job.bucket_quota) {
                (Some(b), Some(q)) => format!("{} / {}", bytes(b), Size(q)),
                (Some(b), None) => bytes(b),
                _ => "-".into(),
            };
            let state = match (&job.problem, &job.last_run) {
                (Some(problem), _) => format!("{}: {problem}", verdict(job)),
                (None, Some(run)) if run.exit_code != 0 => {
                    format!("{} (last run exit {})", verdict(job), run.exit_code)
                }
                _ => verdict(job).to_string(),
            };
            Row {
                cells: [
                    format!("{}/{}", job.chaton, job.job),
                    job.host.clone(),
                    job.island.clone(),
                    state,
                    success,
                    snapshot,
                    bucket,
                    last(job.last_check.as_ref()),
                    last(job.last_drill.as_ref()),
                ],
            }
        })
        .collect()
}

fn island_line(island: &status::IslandStatus) -> String {
    if island.total_bytes == 0 && island.partitions == 0 {
        return format!("{}: {}", island.name, island.health);
    }
    let mut line = format!(
        "{}: {}, {}/{} storage nodes up, {}/{} partitions with quorum, {} used of {}, {} stored",
        island.name,
        island.health,
        island.storage_nodes_up,
        island.storage_nodes,
        island.partitions_quorum,
        island.partitions,
        bytes(island.used_bytes),
        bytes(island.total_bytes),
        bytes(island.stored_bytes)
    );
    if let Some(per_gb) = island.memory_bytes_per_stored_gb {
        line.push_str(&format!(", Garage memory {} per stored GB", bytes(per_gb)));
    }
    line
}

/// A node in a line: what is wrong first, then Garage's signals and what
/// the node costs.
fn node_line(node: &status::NodeHealth) -> String {
    let mut words: Vec<String> = Vec::new();
    if node.data_lost {
        words.push("DATA DIRECTORY LOST (its blocks are gone; `archipel apply` repairs it)".into());
    }
    match node.up {
        Some(true) => words.push("up".into()),
        Some(false) => words.push("DOWN".into()),
        None => {}
    }
    if let Some(version) = &node.version {
        words.push(version.clone());
    }
    if let (Some(used), Some(total)) = (node.disk_used_bytes, node.disk_total_bytes) {
        let capacity = node
            .capacity
            .map(|c| format!(", capacity {}", Size(c)))
            .unwrap_or_default();
        words.push(format!(
            "disk {} of {}{capacity}",
            bytes(used),
            bytes(total)
        ));
    }
    if let Some(blocks) = node.blocks {
        words.push(format!("{blocks} blocks"));
    }
    match node.resync_queue {
        Some(0) | None => {}
        Some(queue) => words.push(format!("resyncing: {queue} blocks queued")),
    }
    match node.resync_errors {
        Some(0) | None => {}
        Some(errors) => words.push(format!(
            "{errors} BLOCKS FAILED TO RESYNC (`garage block list-errors`)"
        )),
    }
    match (&node.scrub_last_completed, node.scrub_age_seconds) {
        (_, Some(a)) => words.push(format!("scrubbed {} ago", age(a))),
        (Some(never), None) => words.push(format!("scrubbed {never}")),
        _ => {}
    }
    match node.scrub_corruptions {
        Some(0) | None => {}
        Some(found) => words.push(format!("{found} CORRUPTIONS FOUND BY SCRUBS")),
    }
    if let Some(memory) = &node.memory {
        let peak = memory
            .peak_with_cache_bytes
            .map(|p| format!(", peak {} with cache", bytes(p)))
            .unwrap_or_default();
        words.push(format!(
            "memory {} (+{} page cache{peak}; by {})",
            bytes(memory.used_bytes),
            bytes(memory.page_cache_bytes),
            memory.measured
        ));
    }
    for problem in &node.problems {
        words.push(format!("not read: {problem}"));
    }
    format!("{}: {}", node.name, words.join(", "))
}

pub fn human(report: &Status) -> String {
    let rows = rows(report);
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(&row.cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = String::from("Backups\n");
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(&row.cells));
        out.push('\n');
    }
    for failure in failures(report) {
        out.push_str(&format!("\n{failure}"));
    }
    section(
        &mut out,
        "Local repositories, copied to the island",
        local_lines(report),
    );
    section(&mut out, "Commands of the last runs", command_lines(report));
    section(&mut out, "Vaults", vault_lines(report));
    out.push_str("\nIslands\n");
    for island in &report.islands {
        out.push_str(&island_line(island));
        out.push('\n');
        for node in &island.nodes {
            out.push_str(&format!("  {}\n", node_line(node)));
        }
    }
    let vaults_bad = report.vaults.iter().filter(|v| !v.is_good()).count();
    if vaults_bad > 0 {
        out.push_str(&format!(
            "\n{vaults_bad} of {} vaults need attention: an open incident freezes its deletions until a person who looked into it clears it with `archipel clear`; a pass that stopped or failed copies nothing new.\n",
            report.vaults.len()
        ));
    }
    let islands_bad = report.islands.iter().filter(|i| !i.is_good()).count();
    if islands_bad > 0 {
        out.push_str(&format!(
            "\n{islands_bad} of {} islands need attention: not healthy, a node down or not read, a data directory lost, blocks that failed to resync, or corruptions found.\n",
            report.islands.len()
        ));
    }
    let bad = report.jobs.iter().filter(|j| verdict(j) != "ok").count();
    let unknown = report
        .jobs
        .iter()
        .filter(|j| verdict(j) == "UNKNOWN")
        .count();
    out.push_str(&if bad > 0 && unknown == bad {
        format!(
            "\n{unknown} of {} backup jobs could not be read from their host: their state is unknown.\n",
            report.jobs.len()
        )
    } else if bad == 0 {
        format!("\nAll {} backup jobs are fresh and passing.\n", report.jobs.len())
    } else {
        format!(
            "\n{bad} of {} backup jobs need attention (stale: no success for two schedule periods; failing: the last run or check failed).\n",
            report.jobs.len()
        )
    });
    out
}

/// A titled block of lines, when there are any.
fn section(out: &mut String, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    out.push_str(&format!("\n{title}\n"));
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
}

/// What failed, in restic's words: a line per failed task of a job.
fn failures(report: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for job in &report.jobs {
        let runs = [
            ("backup", job.last_run.as_ref()),
            (
                "copy to the island",
                job.local.as_ref().and_then(|l| l.last_copy.as_ref()),
            ),
            ("check", job.last_check.as_ref()),
            ("drill", job.last_drill.as_ref()),
        ];
        for (task, run) in runs {
            if let Some(run) = run.filter(|r| r.exit_code != 0) {
                lines.push(format!(
                    "{}/{}: the {task} of {} failed (exit {}): {}",
                    job.chaton,
                    job.job,
                    run.start,
                    run.exit_code,
                    run.error.as_deref().unwrap_or("see the host's journal")
                ));
            }
        }
    }
    lines
}

/// Each job with a local repository: its last backup there, and how old
/// the island's copy is.
fn local_lines(report: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for job in &report.jobs {
        let Some(local) = &job.local else {
            continue;
        };
        let backed_up = match job.success_age_seconds {
            Some(a) => format!("last backup {} ago", age(a)),
            None if job.problem.is_some() => "last backup ?".into(),
            None => "never backed up".into(),
        };
        let copied = match (local.copy_age_seconds, local.copy_period_seconds) {
            (Some(a), Some(p)) => {
                format!("copied to {} {} ago (every {})", job.island, age(a), age(p))
            }
            (Some(a), None) => format!("copied to {} {} ago", job.island, age(a)),
            (None, _) if job.problem.is_some() => format!("copied to {} ?", job.island),
            (None, _) => format!("never copied to {}", job.island),
        };
        let failed = match &local.last_copy {
            Some(run) if run.exit_code != 0 => {
                format!(", the last copy FAILED (exit {})", run.exit_code)
            }
            _ => String::new(),
        };
        lines.push(format!(
            "{}/{}: {} in {}; {copied}{failed}",
            job.chaton, job.job, backed_up, local.path
        ));
    }
    lines
}

/// The hooks, dumps and dump checks of each job's last backup and drill,
/// a line each: how they went, and a failed one's last line of output.
fn command_lines(report: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for job in &report.jobs {
        for (task, run) in [
            ("backup", job.last_run.as_ref()),
            ("drill", job.last_drill.as_ref()),
        ] {
            let Some(run) = run.filter(|r| !r.steps.is_empty()) else {
                continue;
            };
            let steps: Vec<String> = run.steps.iter().map(step_words).collect();
            lines.push(format!(
                "{}/{} {task} of {}: {}",
                job.chaton,
                job.job,
                run.start,
                steps.join(", ")
            ));
        }
    }
    lines
}

/// `dump db 1.2M in 5 s`, `before FAILED (exit 3): occ: …`.
fn step_words(step: &status::Step) -> String {
    let mut words = step.name();
    if let Some(size) = step.bytes.filter(|_| step.exit_code == 0) {
        words.push_str(&format!(" {}", bytes(size)));
    }
    if step.checked == Some(true) && step.exit_code == 0 {
        words.push_str(" checked");
    }
    match step.exit_code {
        0 => {
            if let Some(seconds) = step.duration_seconds {
                words.push_str(&format!(" ok in {seconds} s"));
            } else {
                words.push_str(" ok");
            }
        }
        124 => words.push_str(" TIMED OUT"),
        code => {
            words.push_str(&format!(" FAILED (exit {code})"));
            if let Some(line) = step.output.lines().rev().find(|l| !l.trim().is_empty()) {
                words.push_str(&format!(": {}", line.trim()));
            }
        }
    }
    words
}

/// A vault's condition, then a line per open incident.
fn vault_lines(report: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    for vault in &report.vaults {
        let name = format!("{} on {}", vault.chaton, vault.island);
        let pass = match (&vault.last_pass, vault.pass_age_seconds) {
            (Some(pass), Some(age_s)) => format!(
                "last pass {} ago on {}{}, {} objects ({}){}",
                age(age_s),
                vault.node.as_deref().unwrap_or("?"),
                if pass.result == "ok" {
                    String::new()
                } else {
                    format!(
                        " FAILED: {}",
                        pass.error.as_deref().unwrap_or("see the node's journal")
                    )
                },
                pass.vault_objects,
                bytes(pass.vault_bytes),
                if pass.frozen {
                    format!(", deletions frozen ({} waiting)", pass.pending_deletions)
                } else {
                    String::new()
                }
            ),
            (Some(_), None) => "last pass at an unknown age".into(),
            (None, _) => "no pass has run yet".into(),
        };
        let state = if vault.incidents().is_empty() {
            if vault.stale {
                "STALE"
            } else if vault.failing {
                "FAILING"
            } else {
                "ok"
            }
        } else {
            "INCIDENT"
        };
        let mut line = format!("{name}: {state}, {pass}");
        if !vault.unread_nodes.is_empty() {
            line.push_str(&format!(
                " (not read: {}, whose report may be newer)",
                vault.unread_nodes.join(", ")
            ));
        }
        lines.push(line);
        for incident in vault.incidents() {
            lines.push(format!(
                "  incident {} ({}{}, since {}): {}",
                incident.id,
                incident.kind,
                incident
                    .job
                    .as_ref()
                    .map(|job| format!(", job {}/{job}", vault.chaton))
                    .unwrap_or_default(),
                incident.since,
                incident.what
            ));
        }
        if !vault.incidents().is_empty() {
            lines.push(format!(
                "  once looked into: archipel clear {} all --island {}",
                vault.chaton, vault.island
            ));
        }
    }
    lines
}

pub fn markdown(report: &Status) -> String {
    let escape = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("### archipel status\n\n| ");
    out.push_str(&HEADERS.join(" | "));
    out.push_str(" |\n|");
    out.push_str(&"---|".repeat(HEADERS.len()));
    out.push('\n');
    for row in rows(report) {
        out.push_str("| ");
        out.push_str(
            &row.cells
                .iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        out.push_str(" |\n");
    }
    let failed = failures(report);
    if !failed.is_empty() {
        out.push('\n');
        for failure in failed {
            out.push_str(&format!("- {}\n", escape(&failure)));
        }
    }
    let locals = local_lines(report);
    if !locals.is_empty() {
        out.push_str("\n**Local repositories, copied to the island**\n\n");
        for line in locals {
            out.push_str(&format!("- {}\n", escape(&line)));
        }
    }
    let commands = command_lines(report);
    if !commands.is_empty() {
        out.push_str("\n**Commands of the last runs**\n\n");
        for line in commands {
            out.push_str(&format!("- {}\n", escape(&line)));
        }
    }
    if !report.vaults.is_empty() {
        out.push_str("\n**Vaults**\n\n");
        for line in vault_lines(report) {
            match line.strip_prefix("  ") {
                Some(incident) => out.push_str(&format!("  - {}\n", escape(incident))),
                None => out.push_str(&format!("- {}\n", escape(&line))),
            }
        }
    }
    out.push_str("\n**Islands**\n\n");
    for island in &report.islands {
        out.push_str(&format!("- {}\n", escape(&island_line(island))));
        for node in &island.nodes {
            out.push_str(&format!("  - {}\n", escape(&node_line(node))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{age, bytes};

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(59), "0m");
        assert_eq!(age(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(age(2 * 86_400 + 4 * 3600 + 5), "2d4h");
        assert_eq!(age(86_400), "1d");
    }

    #[test]
    fn sizes_read_at_a_glance() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(335_912), "336K");
        assert_eq!(bytes(692_600_000_000), "693G");
        assert_eq!(bytes(1_500_000_000), "1.5G");
    }
}
