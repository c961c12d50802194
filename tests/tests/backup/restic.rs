//! restic from Debian's package.

use crate::fixture::{archipelago, status};
use archipel_tests::{Failed, Lab, archipel, ensure, output_text};
use std::path::Path;
use std::process::Command;

/// Copies a local file to a lab machine.
fn copy(lab: &Lab, node: &str, from: &Path, to: &str) -> Result<(), Failed> {
    let output = Command::new("ssh")
        .arg("-F")
        .arg(lab.ssh_config())
        .arg(node)
        .arg(format!("cat > '{to}'"))
        .stdin(std::fs::File::open(from)?)
        .output()?;
    ensure(output.status.success(), output_text(&output))
}

/// `restic = "package"`: apt installs Debian's restic (from a local
/// repository of Debian's own package: lab nodes have no route to the
/// mirrors) and the job runs it; a `removed` block then takes the job off.
pub fn package(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    apt_repository_on_node9(lab, dir.path())?;

    let original = archipelago(lab, dir.path())?;
    let text = std::fs::read_to_string(&original)?;
    let data = "  backup \"data\" {\n    host     = \"root@node7\"";
    ensure(text.contains(data), "chaton-1's job")?;
    let job = "  backup \"pkg\" {\n    host     = \"root@node9\"\n    to       = \"lab-b\"\n    paths    = [\"/etc/hostname\"]\n    schedule = \"*-*-* 02:00\"\n    keep     = { daily = 1 }\n    quota    = \"100M\"\n    restic   = \"package\"\n  }\n\n";
    let with_package = dir.path().join("package.hcl");
    std::fs::write(
        &with_package,
        text.replacen(data, &format!("{job}{data}"), 1),
    )?;
    let output = archipel(lab, &with_package, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(log.contains("host.node9.restic: done"), log)?;
    lab.ssh_ok(
        "node9",
        "dpkg -s restic | grep -q '^Status: install ok installed' && grep -qx \"ARCHIPEL_RESTIC='/usr/bin/restic'\" /etc/archipel/restic/chaton-1-pkg.env",
    )?;
    lab.ssh_ok(
        "node9",
        "systemctl start archipel-backup-chaton-1-pkg.service",
    )?;
    let run = status(lab, "node9", "chaton-1-pkg", "backup")?;
    ensure(
        run["exit_code"] == 0 && run["restic_version"] == "0.14.0",
        format!("{run}"),
    )?;
    let output = archipel(lab, &with_package, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;

    // Gone from the file, node9 with it: a `removed` block takes it off.
    let removed = dir.path().join("removed.hcl");
    std::fs::write(
        &removed,
        text.replacen(
            data,
            &format!("  removed \"pkg\" {{\n    host = \"root@node9\"\n  }}\n\n{data}"),
            1,
        ),
    )?;
    let output = archipel(
        lab,
        &removed,
        &["apply", "--auto-approve", "--allow-destroy"],
    )?;
    let log = output_text(&output);
    ensure(
        output.status.success() && log.contains("chaton.chaton-1.backup.pkg: done"),
        log,
    )?;
    let left = lab.ssh_ok(
        "node9",
        "ls /etc/archipel/restic/ | grep chaton-1-pkg || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let output = archipel(lab, &removed, &["plan", "--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(0) && output_text(&output).contains("can go"),
        output_text(&output),
    )
}

/// node9, the spare, as a fresh host whose apt knows a local repository of
/// Debian's own restic package.
fn apt_repository_on_node9(lab: &Lab, dir: &Path) -> Result<(), Failed> {
    let repo = dir.join("apt");
    std::fs::create_dir(&repo)?;
    let got = Command::new("apt-get")
        .args(["download", "-q", "restic"])
        .current_dir(&repo)
        .output()?;
    ensure(got.status.success(), output_text(&got))?;
    let deb = std::fs::read_dir(&repo)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let index = Command::new("dpkg-scanpackages")
        .args([".", "/dev/null"])
        .current_dir(&repo)
        .output()?;
    ensure(index.status.success(), output_text(&index))?;
    std::fs::write(repo.join("Packages"), &index.stdout)?;
    // node9, the spare, as a fresh host whose apt knows that repository.
    lab.ssh_ok(
        "node9",
        "systemctl disable --now --quiet $(systemctl list-unit-files --plain --no-legend 'archipel-*' | cut -d' ' -f1) 2>/dev/null; rm -f /etc/systemd/system/archipel-*; systemctl daemon-reload; rm -rf /etc/archipel /var/lib/archipel /var/cache/archipel /usr/local/lib/archipel /usr/local/bin/restic /srv/apt; mkdir -p /srv/apt && echo 'deb [trusted=yes] file:/srv/apt ./' > /etc/apt/sources.list.d/lab.list && ! test -e /usr/bin/restic",
    )?;
    let name = deb.file_name().and_then(|n| n.to_str()).ok_or("deb name")?;
    copy(lab, "node9", &deb, &format!("/srv/apt/{name}"))?;
    copy(lab, "node9", &repo.join("Packages"), "/srv/apt/Packages")?;
    Ok(())
}
