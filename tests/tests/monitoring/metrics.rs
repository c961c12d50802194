//! The archipelago's view for Prometheus, and the example alert rules fed
//! with the lab's own metrics.

use crate::fixture::archipelago;
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/monitoring/archipel-alerts.yml"
);

/// `promtool check metrics` on `text`: its exit code and what it said.
fn promtool_metrics(text: &str) -> Result<(Option<i32>, String), Failed> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("promtool (Debian's prometheus package): {e}"))?;
    child
        .stdin
        .take()
        .ok_or("promtool's stdin")?
        .write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    Ok((output.status.code(), output_text(&output)))
}

/// promtool accepts `text`, its naming conventions included.
pub fn promtool_check(text: &str) -> Result<(), Failed> {
    let (code, said) = promtool_metrics(text)?;
    ensure(
        code == Some(0),
        format!("promtool check metrics: {said}\n{text}"),
    )
}

/// promtool reads `text` (Garage's own metrics break some of promtool's
/// naming conventions: those lint findings, exit 3, are not parse errors).
pub fn promtool_parses(text: &str) -> Result<(), Failed> {
    let (code, said) = promtool_metrics(text)?;
    ensure(
        matches!(code, Some(0 | 3)),
        format!("promtool check metrics: {said}"),
    )
}

/// The value of `name{labels}` in an exposition.
pub fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

pub fn status_and_alerts(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    wait_until_stale(lab)?;
    let output = archipel(lab, &file, &["status", "--output", "prometheus"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let status = String::from_utf8(output.stdout.clone())?;
    promtool_check(&status)?;
    let job = |chaton: &str, backup: &str, island: &str| {
        format!("chaton=\"{chaton}\",backup=\"{backup}\",host=\"node4\",island=\"{island}\"")
    };
    let (good, stale, full) = (
        job("chaton-3", "good", "lab-a"),
        job("chaton-3", "stale", "lab-a"),
        job("chaton-2", "full", "lab-b"),
    );
    for (labels, is_stale, failing) in [(&good, 0.0, 0.0), (&stale, 1.0, 0.0), (&full, 1.0, 1.0)] {
        ensure(
            value(&status, "archipel_job_observed", labels) == Some(1.0)
                && value(&status, "archipel_job_stale", labels) == Some(is_stale)
                && value(&status, "archipel_job_failing", labels) == Some(failing),
            format!("{labels}: {status}"),
        )?;
    }
    ensure(
        value(&status, "archipel_status_good", "").is_none()
            && status.contains("\narchipel_status_good 0\n")
            && value(&status, "archipel_island_healthy", "island=\"lab-a\"") == Some(1.0)
            && value(
                &status,
                "archipel_node_up",
                "island=\"lab-a\",node=\"node2\"",
            ) == Some(1.0)
            && value(
                &status,
                "archipel_backup_bucket_quota_bytes",
                "chaton=\"chaton-2\",island=\"lab-b\"",
            ) == Some(2_000_000.0),
        status.clone(),
    )?;
    let textfiles = lab.ssh_ok("node4", "cat /var/lib/prometheus/node-exporter/*.prom")?;
    alerts_fire(&textfiles, &status, dir.path())
}

/// Until chaton-3's `stale` job's last success is more than two minutes
/// (two periods of `minutely`) old, by node4's clock.
fn wait_until_stale(lab: &Lab) -> Result<(), Failed> {
    let age = lab.ssh_ok(
        "node4",
        r#"f=/var/lib/archipel/backups/chaton-3-stale.backup.success.json; echo $(( $(date +%s) - $(sed -n 's/.*"start_unix":\([0-9]*\),"duration_seconds":\([0-9]*\).*/\1 + \2/p' $f) ))"#,
    )?;
    let age: u64 = age.trim().parse().map_err(|e| format!("{age}: {e}"))?;
    if age < 130 {
        std::thread::sleep(std::time::Duration::from_secs(130 - age));
    }
    Ok(())
}

/// The example rules, in `promtool test rules` with the lab's metrics as
/// their input: node4's textfiles (as node_exporter would serve them, with
/// its `instance`) and the status export, times moved to the test's clock
/// (which starts at 0: 10 minutes in, `time()` is 600).
fn alerts_fire(textfiles: &str, status: &str, dir: &Path) -> Result<(), Failed> {
    let series = input_series(textfiles, status)?;
    let rules = std::fs::read_to_string(RULES)?;
    let backup = |chaton: &str, backup: &str| {
        vec![
            ("instance", "node4".to_string()),
            ("chaton", chaton.to_string()),
            ("backup", backup.to_string()),
            ("task", "backup".to_string()),
        ]
    };
    let job = |chaton: &str, backup: &str, island: &str| {
        vec![
            ("chaton", chaton.to_string()),
            ("backup", backup.to_string()),
            ("host", "node4".to_string()),
            ("island", island.to_string()),
        ]
    };
    let mut tests = String::new();
    for (alert, firing) in [
        ("ArchipelBackupFailing", vec![backup("chaton-2", "full")]),
        (
            "ArchipelBackupStale",
            vec![backup("chaton-3", "stale"), backup("chaton-2", "full")],
        ),
        ("ArchipelJobFailing", vec![job("chaton-2", "full", "lab-b")]),
        (
            "ArchipelJobStale",
            vec![
                job("chaton-3", "stale", "lab-a"),
                job("chaton-2", "full", "lab-b"),
            ],
        ),
        ("ArchipelIslandUnhealthy", vec![]),
        ("ArchipelNodeDown", vec![]),
    ] {
        tests.push_str(&format!(
            "      - eval_time: 10m\n        alertname: {alert}\n        exp_alerts:{}\n",
            if firing.is_empty() { " []" } else { "" }
        ));
        for labels in firing {
            tests.push_str(&expected_alert(&rules, alert, &labels)?);
        }
    }
    let test_file = dir.join("alerts-test.yml");
    std::fs::write(
        &test_file,
        format!(
            "rule_files: ['{RULES}']\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n{tests}"
        ),
    )?;
    let output = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(&test_file)
        .output()?;
    ensure(
        output.status.success(),
        format!(
            "promtool test rules: {}\n{}",
            output_text(&output),
            std::fs::read_to_string(&test_file)?
        ),
    )
}

/// The metrics as promtool's input series, each constant over the test.
fn input_series(textfiles: &str, status: &str) -> Result<String, Failed> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let mut series = String::new();
    let host_lines = textfiles.lines().map(|l| (l, "instance=\"node4\","));
    let status_lines = status.lines().map(|l| (l, ""));
    for (line, extra) in host_lines.chain(status_lines) {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (metric, value) = line.rsplit_once(' ').ok_or(line.to_string())?;
        let mut value: f64 = value.parse()?;
        let (name, labels) = match metric.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (metric, ""),
        };
        // A 0 is the epoch too: a job that never succeeded.
        if name.ends_with("_timestamp_seconds") {
            value = value - now + 600.0;
        }
        series.push_str(&format!(
            "      - series: '{name}{{{extra}{labels}}}'\n        values: '{value}x15'\n"
        ));
    }
    Ok(series)
}

/// One alert as promtool expects it: the series' labels, the rule's, and
/// its annotations with the labels put in (the rules tested use no
/// `$value`).
fn expected_alert(rules: &str, alert: &str, labels: &[(&str, String)]) -> Result<String, Failed> {
    let start = rules
        .find(&format!("- alert: {alert}\n"))
        .ok_or(format!("no rule {alert}"))?;
    let rule = &rules[start + 1..];
    let rule = &rule[..rule.find("- alert:").unwrap_or(rule.len())];
    let field = |name: &str| {
        rule.lines().find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}: "))
                .map(|v| v.trim_matches('"').to_string())
        })
    };
    let severity = field("severity").ok_or("a severity")?;
    let mut out = String::from("          - exp_labels:\n");
    for (name, value) in labels {
        out.push_str(&format!("              {name}: '{value}'\n"));
    }
    out.push_str(&format!(
        "              severity: {severity}\n            exp_annotations:\n"
    ));
    for name in ["summary", "description"] {
        let Some(mut text) = field(name) else {
            continue;
        };
        for (label, value) in labels {
            text = text.replace(&format!("{{{{ $labels.{label} }}}}"), value);
        }
        out.push_str(&format!(
            "              {name}: {}\n",
            serde_json::to_string(&text)?
        ));
    }
    Ok(out)
}
