//! Garage's own metrics, both ways the file offers: lab-a's nodes write
//! them into node_exporter's textfile directory every minute (the token
//! read on the node), lab-b's admin API answers `/metrics` on the network
//! to the island's metrics token only.

use crate::metrics::promtool_parses;
use archipel_tests::{Failed, Lab, ensure, output_text};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn garage_metrics(lab: &Lab) -> Result<(), Failed> {
    for node in ["node1", "node2"] {
        lab.ssh_ok(
            node,
            "systemctl is-active --quiet archipel-garage-metrics.timer",
        )?;
        let config = lab.ssh_ok(node, "stat -c '%U:%G %a' /etc/garage/metrics-scrape.curl")?;
        ensure(
            config.trim() == "root:root 600",
            format!("{node}: {config}"),
        )?;
        // Its first run, without waiting for the minute.
        lab.ssh_ok(node, "systemctl start archipel-garage-metrics.service")?;
        let text = lab.ssh_ok(node, "cat /var/lib/prometheus/node-exporter/garage.prom")?;
        ensure(
            text.contains("\ncluster_healthy 1") && text.contains("garage_build_info"),
            format!("{node}: {text}"),
        )?;
        promtool_parses(&text)?;
    }
    // lab-b: anyone on the network reaches the admin port; /metrics wants
    // the metrics token.
    let address = lab.node("node3").ok_or("node3")?.address;
    let url = format!("http://{address}:3903/metrics");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = curl_status(&url, None)?;
        if status != "000" || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    ensure(
        status == "401" || status == "403",
        format!("/metrics without the token: HTTP {status}"),
    )?;
    let token = lab.ssh_ok("node3", "cat /etc/garage/metrics_token")?;
    let admin = lab.ssh_ok("node3", "cat /etc/garage/admin_token")?;
    ensure(
        token.trim().len() >= 32 && token != admin,
        "a token of its own",
    )?;
    ensure(
        matches!(
            curl_status(&url, Some(admin.trim()))?.as_str(),
            "401" | "403"
        ),
        "the admin token is not the metrics token",
    )?;
    let output = Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "10", "--config", "-"])
        .arg(&url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(
                format!("header = \"Authorization: Bearer {}\"\n", token.trim()).as_bytes(),
            )?;
            child.wait_with_output()
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure(
        output.status.success() && text.contains("\ncluster_healthy 1"),
        format!("/metrics with the token: {}", output_text(&output)),
    )
}

/// The HTTP status of a GET, with a bearer token (on curl's standard
/// input, as a config) or none.
fn curl_status(url: &str, token: Option<&str>) -> Result<String, Failed> {
    use std::io::Write as _;
    let mut child = Command::new("curl")
        .args(["--silent", "--max-time", "10", "--output", "/dev/null"])
        .args(["--write-out", "%{http_code}", "--config", "-"])
        .arg(url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let config = token.map_or(String::new(), |t| {
        format!("header = \"Authorization: Bearer {t}\"\n")
    });
    child
        .stdin
        .take()
        .ok_or("curl's stdin")?
        .write_all(config.as_bytes())?;
    let output = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
