//! `archipel status --output html`: one self-contained static page of the
//! archipelago, for a CI job to publish (GitLab, Forgejo or GitHub Pages):
//! what needs attention first, then each island with its nodes, then each
//! chaton's jobs. No script, no external asset (a stylesheet in the page),
//! readable on a phone (one column, tables that scroll sideways).
//!
//! Every state is a word as well as a colour, and each island, node and
//! job carries `data-state` (`ok`, `stale`, `failing`, `unknown`,
//! `attention`), so the page reads the same without colours and can be
//! checked by a machine.

use super::{age, bytes, failures, island_line, last, node_line, vault_lines, verdict};
use archipel_planner::size::Size;
use archipel_planner::status::{IslandStatus, JobStatus, NodeHealth, Status};

/// Text made safe for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --unknown: #6e7781; }
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid #8884; }
h3 { font-size: 1.05rem; margin: 1rem 0 .25rem; }
.generated { color: var(--unknown); margin: 0 0 1rem; }
.verdict { padding: .6rem .8rem; border-radius: .4rem; font-weight: 600; }
.verdict[data-state=ok] { background: #1a7f3722; }
.verdict[data-state=attention] { background: #cf222e22; }
.state { font-weight: 600; white-space: nowrap; }
[data-state=ok] > .state, .state[data-state=ok] { color: var(--ok); }
[data-state=failing] > .state, [data-state=attention] > .state, .state[data-state=attention] { color: var(--bad); }
[data-state=stale] > .state { color: var(--warn); }
[data-state=unknown] > .state { color: var(--unknown); }
ul.incidents li { margin: .25rem 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #8883; vertical-align: top; }
th { font-weight: 600; }
.bar { display: inline-block; width: 6rem; height: .6rem; background: #8883; border-radius: .3rem; vertical-align: middle; }
.bar > span { display: block; height: 100%; border-radius: .3rem; background: var(--ok); }
.bar.high > span { background: var(--bad); }
";

/// A bar of `part` over `whole` (none without a whole).
fn bar(part: u64, whole: u64) -> String {
    if whole == 0 {
        return String::new();
    }
    let percent = (part.saturating_mul(100) / whole).min(100);
    let high = if percent >= 90 { " high" } else { "" };
    format!(
        "<span class=\"bar{high}\" role=\"img\" aria-label=\"{percent}%\"><span style=\"width:{percent}%\"></span></span> "
    )
}

/// The page; `generated` is when it was made (RFC 3339, UTC).
pub fn html(report: &Status, generated: &str) -> String {
    let good = report.is_good();
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>archipel status</title>\n<style>",
    );
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>archipel status</h1>\n");
    out.push_str(&format!(
        "<p class=\"generated\">Generated <time datetime=\"{g}\">{g}</time></p>\n",
        g = escape(generated)
    ));
    out.push_str(&format!(
        "<p class=\"verdict\" data-state=\"{}\">{}</p>\n",
        if good { "ok" } else { "attention" },
        if good {
            "Every backup is fresh and passing, every island healthy."
        } else {
            "Something needs attention: see below."
        }
    ));
    incidents(&mut out, report);
    out.push_str("<h2>Islands</h2>\n");
    for island in &report.islands {
        island_section(&mut out, island);
    }
    out.push_str("<h2>Backups</h2>\n");
    let mut chatons: Vec<&str> = report.jobs.iter().map(|j| j.chaton.as_str()).collect();
    chatons.dedup();
    for chaton in chatons {
        chaton_section(&mut out, report, chaton);
    }
    if !report.vaults.is_empty() {
        out.push_str("<h2>Vaults</h2>\n<ul>\n");
        for line in vault_lines(report) {
            out.push_str(&format!("<li>{}</li>\n", escape(line.trim())));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// What needs attention, first: failed runs in restic's words, stale and
/// unknown jobs, vault incidents, islands and nodes not well.
fn incidents(out: &mut String, report: &Status) {
    let mut lines: Vec<String> = failures(report);
    for job in &report.jobs {
        if let Some(problem) = &job.problem {
            lines.push(format!(
                "{}/{}: unknown, {} could not be read: {problem}",
                job.chaton, job.job, job.host
            ));
        } else if job.stale {
            let since = match job.success_age_seconds {
                Some(a) => format!("its last success is {} old", age(a)),
                None => "it never succeeded".into(),
            };
            lines.push(format!(
                "{}/{}: stale, {since} (schedule {})",
                job.chaton, job.job, job.schedule
            ));
        }
    }
    for vault in &report.vaults {
        for incident in vault.incidents() {
            lines.push(format!(
                "vault of {} on {}: {} ({}, since {})",
                vault.chaton, vault.island, incident.what, incident.kind, incident.since
            ));
        }
        if vault.stale || vault.failing {
            lines.push(format!(
                "vault of {} on {}: its passes {}",
                vault.chaton,
                vault.island,
                if vault.failing { "fail" } else { "stopped" }
            ));
        }
    }
    for island in report.islands.iter().filter(|i| !i.is_good()) {
        lines.push(island_line(island));
        for node in island.nodes.iter().filter(|n| !n.is_good()) {
            lines.push(node_line(node));
        }
    }
    if lines.is_empty() {
        return;
    }
    out.push_str("<h2>Needs attention</h2>\n<ul class=\"incidents\">\n");
    for line in lines {
        out.push_str(&format!("<li>{}</li>\n", escape(&line)));
    }
    out.push_str("</ul>\n");
}

fn island_section(out: &mut String, island: &IslandStatus) {
    let state = if island.is_good() { "ok" } else { "attention" };
    out.push_str(&format!(
        "<section class=\"island\" data-island=\"{}\" data-state=\"{state}\">\n<h3>{} <span class=\"state\" data-state=\"{state}\">{}</span></h3>\n<p>{}{} used of {}, {} stored; {}/{} storage nodes up, {}/{} partitions with quorum</p>\n",
        escape(&island.name),
        escape(&island.name),
        escape(&island.health),
        bar(island.used_bytes, island.total_bytes),
        bytes(island.used_bytes),
        bytes(island.total_bytes),
        bytes(island.stored_bytes),
        island.storage_nodes_up,
        island.storage_nodes,
        island.partitions_quorum,
        island.partitions,
    ));
    out.push_str("<div class=\"scroll\"><table>\n<tr><th>node</th><th>state</th><th>release</th><th>disk</th><th>blocks</th><th>resync</th><th>last scrub</th></tr>\n");
    for node in &island.nodes {
        node_row(out, node);
    }
    out.push_str("</table></div>\n</section>\n");
}

fn node_row(out: &mut String, node: &NodeHealth) {
    let (state, word) = if node.data_lost {
        ("attention", "DATA LOST".to_string())
    } else if node.up == Some(false) {
        ("attention", "DOWN".to_string())
    } else if !node.problems.is_empty() {
        ("unknown", format!("not read: {}", node.problems.join("; ")))
    } else if !node.is_good() {
        ("attention", "attention".to_string())
    } else {
        ("ok", "up".to_string())
    };
    let disk = match (node.disk_used_bytes, node.disk_total_bytes) {
        (Some(used), Some(total)) => {
            format!("{}{} of {}", bar(used, total), bytes(used), bytes(total))
        }
        _ => "?".into(),
    };
    let count = |n: Option<u64>| n.map_or("?".into(), |n| n.to_string());
    let resync = match (node.resync_queue, node.resync_errors) {
        (Some(queue), Some(errors)) => format!("{queue} queued, {errors} errors"),
        _ => "?".into(),
    };
    let scrub = match (node.scrub_age_seconds, node.scrub_corruptions) {
        (Some(a), Some(c)) => format!("{} ago, {c} corruptions", age(a)),
        (None, Some(c)) => format!("never, {c} corruptions"),
        _ => "?".into(),
    };
    out.push_str(&format!(
        "<tr class=\"node\" data-node=\"{}\" data-state=\"{state}\"><td>{}</td><td class=\"state\">{}</td><td>{}</td><td>{disk}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        escape(&node.name),
        escape(&node.name),
        escape(&word),
        escape(node.version.as_deref().unwrap_or("?")),
        count(node.blocks),
        escape(&resync),
        escape(&scrub),
    ));
}

fn chaton_section(out: &mut String, report: &Status, chaton: &str) {
    out.push_str(&format!(
        "<section class=\"chaton\" data-chaton=\"{c}\">\n<h3>{c}</h3>\n<div class=\"scroll\"><table>\n<tr><th>job</th><th>state</th><th>last success</th><th>size / quota</th><th>last check</th><th>last drill</th></tr>\n",
        c = escape(chaton)
    ));
    for job in report.jobs.iter().filter(|j| j.chaton == chaton) {
        job_row(out, job);
    }
    out.push_str("</table></div>\n</section>\n");
}

fn job_row(out: &mut String, job: &JobStatus) {
    let word = verdict(job);
    let state = match word {
        "ok" => "ok",
        "UNKNOWN" => "unknown",
        "FAILING" => "failing",
        _ => "stale",
    };
    let success = match (job.success_age_seconds, job.period_seconds) {
        (Some(a), Some(p)) => format!("{} ago (every {})", age(a), age(p)),
        (Some(a), None) => format!("{} ago", age(a)),
        (None, _) if job.problem.is_some() => "?".into(),
        (None, _) => "never".into(),
    };
    let size = match (job.bucket_bytes, job.bucket_quota) {
        (Some(b), Some(q)) => format!("{}{} / {}", bar(b, q), bytes(b), Size(q)),
        (Some(b), None) => bytes(b),
        _ => "?".into(),
    };
    out.push_str(&format!(
        "<tr class=\"job\" data-job=\"{}/{}\" data-state=\"{state}\"><td>{} <small>{} → {}</small></td><td class=\"state\">{word}</td><td>{}</td><td>{size}</td><td>{}</td><td>{}</td></tr>\n",
        escape(&job.chaton),
        escape(&job.job),
        escape(&job.job),
        escape(&job.host),
        escape(&job.island),
        escape(&success),
        escape(&last(job.last_check.as_ref())),
        escape(&last(job.last_drill.as_ref())),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn an_empty_archipelago_is_a_whole_page() {
        let page = html(
            &Status {
                jobs: Vec::new(),
                vaults: Vec::new(),
                islands: Vec::new(),
            },
            "2026-12-05T12:00:00Z",
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        assert!(page.contains("data-state=\"ok\""));
        assert!(!page.contains("<script") && !page.contains("http"));
    }
}
