//! The status page, opened in a real browser (Debian's chromium,
//! headless): the DOM it renders shows the islands and each job's state;
//! a screenshot at a phone's width is kept in
//! `target/test-artifacts/monitoring/`.

use crate::fixture::archipelago;
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn status_page(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path())?;
    let output = archipel(lab, &file, &["status", "--output", "html"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let artifacts = artifacts()?;
    let page = artifacts.join("status.html");
    std::fs::write(&page, &output.stdout)?;
    let source = String::from_utf8(output.stdout)?;
    ensure(
        !source.contains("<script") && !source.contains("src=") && !source.contains("href="),
        "no script, no external asset",
    )?;

    let dom = chromium(dir.path(), &["--dump-dom"], &page)?;
    for (what, wanted) in [
        (
            "the verdict",
            "<p class=\"verdict\" data-state=\"attention\">",
        ),
        ("what needs attention", "<h2>Needs attention</h2>"),
        ("island lab-a", "data-island=\"lab-a\" data-state=\"ok\""),
        ("island lab-b", "data-island=\"lab-b\" data-state=\"ok\""),
        (
            "the good job",
            "data-job=\"chaton-3/good\" data-state=\"ok\"",
        ),
        (
            "the stale job",
            "data-job=\"chaton-3/stale\" data-state=\"stale\"",
        ),
        (
            "the failing job",
            "data-job=\"chaton-2/full\" data-state=\"failing\"",
        ),
        ("a node", "data-node=\"node1\" data-state=\"ok\""),
    ] {
        ensure(
            dom.contains(wanted),
            format!("{what}: {wanted} not in the DOM:\n{dom}"),
        )?;
    }
    // The failure in restic's words comes first, before the islands.
    let attention = dom.find("Needs attention").ok_or("attention")?;
    let quota = dom
        .to_lowercase()
        .find("quota")
        .ok_or("the quota's words")?;
    ensure(
        attention < quota && quota < dom.find("<h2>Islands</h2>").ok_or("islands")?,
        dom.clone(),
    )?;

    let screenshot = artifacts.join("status.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        dir.path(),
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=412,2000",
        ],
        &page,
    )?;
    let png = std::fs::read(&screenshot)?;
    ensure(
        png.len() > 10_000 && png.starts_with(b"\x89PNG"),
        format!("a screenshot: {} bytes", png.len()),
    )
}

/// Where the test keeps what a person may want to look at.
fn artifacts() -> Result<PathBuf, Failed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/monitoring");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Headless chromium on a local file, with a profile of its own and none
/// of its background connections (the machine may have no network).
fn chromium(scratch: &Path, args: &[&str], page: &Path) -> Result<String, Failed> {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("chromium").display()
        ))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| format!("chromium (Debian's chromium package): {e}"))?;
    ensure(output.status.success(), output_text(&output))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
