//! Applies that do not run to the end: a node lost mid-apply fails its
//! branch only; Ctrl-C lets running changes finish and starts no other.

use crate::fixture::{current, last};
use archipel_tests::{Failed, Lab, archipel, archipel_binary, ensure, output_text, record};
use std::process::{Command, Stdio};

pub fn node_lost_mid_apply(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    // node6 loses Garage; lab-a's shared bucket gets a bigger quota.
    let file = current(dir.path())?;
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)?.replacen("quota   = \"1G\"", "quota   = \"3G\"", 1),
    )?;
    lab.ssh_ok(
        "node6",
        "systemctl disable --now garage 2>/dev/null && rm /usr/local/bin/garage",
    )?;

    // Apply on a terminal (through `script`): it shows the plan and waits
    // for "yes"; node6 dies in between.
    let mut child = Command::new("script")
        .arg("-qefc")
        .arg(format!(
            "NO_COLOR=1 {} -f {} apply -v --ssh-config {}",
            archipel_binary()?.display(),
            file.display(),
            lab.ssh_config().display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains("Only 'yes' will be accepted") {
        use std::io::Read;
        let n = stdout.read(&mut buffer)?;
        ensure(n > 0, format!("apply ended before asking: {seen}"))?;
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    ensure(
        seen.contains("island.lab-b.node.node6.binary")
            && seen.contains("island.lab-a.bucket.shared-a"),
        seen.clone(),
    )?;
    lab.stop("node6")?;
    {
        use std::io::{Read, Write};
        child.stdin.take().ok_or("stdin")?.write_all(b"yes\n")?;
        stdout.read_to_string(&mut seen)?;
    }
    let status = child.wait()?;
    record(&seen);
    lab.start_node("node6")?;
    ensure(
        status.code() == Some(1),
        format!("exit {:?}: {seen}", status.code()),
    )?;
    ensure(
        seen.contains("island.lab-b.node.node6.binary: FAILED") && seen.contains("node6 ("),
        seen.clone(),
    )?;
    ensure(
        seen.contains("island.lab-b.node.node6.service: skipped: island.lab-b.node.node6.binary did not succeed"),
        seen.clone(),
    )?;
    ensure(
        seen.contains("island.lab-a.bucket.shared-a: done"),
        seen.clone(),
    )?;
    ensure(seen.contains("Not converged yet"), seen.clone())?;

    // node6 is back: apply converges.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("The archipelago matches the file."),
        output_text(&output),
    )
}

pub fn ctrl_c(lab: &Lab) -> Result<(), Failed> {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir()?;
    // lab-b's nodes restart one at a time (consistency_mode changes).
    let file = last(dir.path(), true)?;
    let mut child = Command::new(archipel_binary()?)
        .arg("-f")
        .arg(&file)
        .args(["apply", "-v", "--ssh-config"])
        .arg(lab.ssh_config())
        .arg("--auto-approve")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("stderr")?);
    let mut log = String::new();
    // Interrupt as soon as the first restart starts.
    loop {
        let mut line = String::new();
        ensure(
            stderr.read_line(&mut line)? > 0,
            format!("apply ended first: {log}"),
        )?;
        log.push_str(&line);
        if line.contains(".service: applying") {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    ensure(killed.success(), "kill -INT")?;
    stderr.read_to_string(&mut log)?;
    let output = child.wait_with_output()?;
    let all = format!("{log}{}", String::from_utf8_lossy(&output.stdout));
    record(&all);
    ensure(
        output.status.code() == Some(130),
        format!("exit {:?}: {all}", output.status.code()),
    )?;
    ensure(
        all.matches(".service: done").count() == 1,
        format!("the running restart finishes, no other starts: {all}"),
    )?;
    ensure(
        all.matches("skipped: interrupted before it started")
            .count()
            == 2,
        all.clone(),
    )?;
    let left = lab.ssh_masters();
    ensure(left.is_empty(), format!("ssh left behind: {left:?}"))?;
    // Applying again finishes the job.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).matches(".service: done").count() == 2,
        output_text(&output),
    )
}
