//! `archipel facts` end to end: the binary, an archipelago file naming lab
//! machines, real SSH — and Ctrl-C in the middle.

use archipel_tests::{
    Failed, Lab, archipel_binary, ensure, output_text, recorded, run_archipel_lab_tests,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    run_archipel_lab_tests(
        3,
        &[
            ("facts_of_every_machine", every_machine),
            (
                "an_unreachable_machine_is_named_and_fails_the_run",
                unreachable_machine,
            ),
            ("ctrl_c_closes_every_connection", ctrl_c),
            ("a_wrong_pinned_key_in_the_file_is_refused", wrong_pin),
            ("new_host_keys_need_the_flag", new_host_keys),
            ("agent_and_proxy_jump_work_as_for_ssh", agent_and_proxy_jump),
        ],
    )
}

/// One island of the three lab nodes; `pin` optionally sets node1's host_key.
fn archipelago(dir: &Path, pin: Option<&str>) -> Result<PathBuf, Failed> {
    let mut text = String::from(
        r#"island "lab" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}
"#,
    );
    for i in 1..=3 {
        let host_key = match (i, pin) {
            (1, Some(key)) => format!("    host_key = \"{key}\"\n"),
            _ => String::new(),
        };
        text.push_str(&format!(
            "\nchaton \"c{i}\" {{\n  island  = \"lab\"\n  contact = \"c{i}@lab\"\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n{host_key}    capacity = \"10G\"\n  }}\n}}\n"
        ));
    }
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `archipel -f FILE facts -v --ssh-config …`, for the caller to add options.
fn archipel(lab: &Lab, file: &Path, ssh_config: Option<&Path>) -> Result<Command, Failed> {
    let mut command = Command::new(archipel_binary()?);
    command
        .arg("-f")
        .arg(file)
        .args(["facts", "-v", "--ssh-config"])
        .arg(
            ssh_config
                .map(Path::to_path_buf)
                .unwrap_or_else(|| lab.ssh_config()),
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    Ok(command)
}

fn every_machine(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), None)?;
    let output = archipel(lab, &file, None)?
        .args(["--output", "json"])
        .output()
        .map(recorded)?;
    ensure(output.status.success(), output_text(&output))?;
    let report = String::from_utf8_lossy(&output.stdout);
    for i in 1..=3 {
        ensure(
            report.contains(&format!("\"name\": \"node{i}\"")),
            report.to_string(),
        )?;
    }
    ensure(
        report.matches("\"os_id\": \"debian\"").count() == 3,
        report.to_string(),
    )?;
    ensure(!report.contains("\"error\""), report.to_string())?;

    let output = archipel(lab, &file, None)?.output().map(recorded)?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        String::from_utf8_lossy(&output.stdout).lines().count() == 3,
        output_text(&output),
    )?;
    Ok(())
}

fn unreachable_machine(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), None)?;
    lab.stop("node2")?;
    let started = Instant::now();
    let output = archipel(lab, &file, None)?.output().map(recorded);
    lab.start_node("node2")?;
    let output = output?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    ensure(
        started.elapsed() < Duration::from_secs(15),
        "fails within the connect timeout",
    )?;
    let all = output_text(&output);
    ensure(
        all.contains("node2 (root@node2): cannot connect"),
        all.clone(),
    )?;
    ensure(
        all.contains("1 of 3 machines could not be observed"),
        all.clone(),
    )?;
    ensure(
        all.lines().filter(|l| l.contains("debian 12")).count() == 2,
        all,
    )?;
    Ok(())
}

fn ctrl_c(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), None)?;
    // node3 is cut off: its connection hangs while node1 and node2 are done.
    lab.cut("node3")?;
    // The run's control directories go to a temporary directory of its own,
    // where no other test's can be.
    let tmp = tempfile::tempdir()?;
    let result = (|| {
        let child = archipel(lab, &file, None)?
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(1500));
        ensure(
            !lab.ssh_masters().is_empty(),
            "connections are open before Ctrl-C",
        )?;
        let interrupted_at = Instant::now();
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()?;
        ensure(status.success(), "kill -INT")?;
        let output = child.wait_with_output()?;
        ensure(output.status.code() == Some(130), output_text(&output))?;
        ensure(
            interrupted_at.elapsed() < Duration::from_secs(15),
            "exits within the connect timeout",
        )?;
        ensure(
            output_text(&output).contains("Interrupted"),
            output_text(&output),
        )?;
        std::thread::sleep(Duration::from_millis(300));
        let left = lab.ssh_masters();
        ensure(
            left.is_empty(),
            format!("ssh processes left after Ctrl-C: {left:?}"),
        )?;
        let dirs: Vec<_> = std::fs::read_dir(tmp.path())?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("archipel-ssh-"))
            .collect();
        ensure(
            dirs.is_empty(),
            format!("control directories left: {dirs:?}"),
        )
    })();
    lab.restore("node3")?;
    result
}

fn wrong_pin(lab: &Lab) -> Result<(), Failed> {
    let node2_key = lab.ssh_ok("node2", "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), Some(node2_key.trim()))?;
    let output = archipel(lab, &file, None)?.output().map(recorded)?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let all = output_text(&output);
    ensure(
        all.contains("node1 (root@node1): host key refused") && all.contains("pinned"),
        all,
    )?;

    let node1_key = lab.ssh_ok("node1", "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")?;
    let file = archipelago(dir.path(), Some(node1_key.trim()))?;
    let output = archipel(lab, &file, None)?.output().map(recorded)?;
    ensure(output.status.success(), output_text(&output))
}

fn new_host_keys(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), None)?;
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, "")?;
    let config: String = std::fs::read_to_string(lab.ssh_config())?
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("UserKnownHostsFile") {
                format!("  UserKnownHostsFile {}\n", known_hosts.display())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let ssh_config = dir.path().join("ssh_config");
    std::fs::write(&ssh_config, config)?;

    let output = archipel(lab, &file, Some(&ssh_config))?
        .output()
        .map(recorded)?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    ensure(
        output_text(&output).contains("--accept-new-host-keys"),
        output_text(&output),
    )?;

    let output = archipel(lab, &file, Some(&ssh_config))?
        .args(["--accept-new-host-keys"])
        .output()
        .map(recorded)?;
    ensure(output.status.success(), output_text(&output))?;
    let learnt = std::fs::read_to_string(&known_hosts)?;
    ensure(
        learnt.lines().count() >= 3,
        format!("known_hosts: {learnt}"),
    )
}

/// The lab's SSH config without any identity file (keys must come from an
/// agent), plus `jumped-node2`: node2 reached through node1 with ProxyJump.
fn agent_only_config_with_a_jump(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    let lab_config = std::fs::read_to_string(lab.ssh_config())?;
    let known_hosts = lab_config
        .lines()
        .find_map(|l| l.trim().strip_prefix("UserKnownHostsFile "))
        .ok_or("no UserKnownHostsFile in the lab's ssh_config")?
        .to_string();
    let node2 = lab.node("node2").ok_or("no node2")?.address;
    // No IdentityFile anywhere: the key must come from the agent.
    let mut config: String = lab_config
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("IdentityFile")
                && !l.trim_start().starts_with("IdentitiesOnly")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    config.push_str(&format!(
        "Host jumped-node2\n    HostName {node2}\n    ProxyJump node1\n    User root\n    UserKnownHostsFile {known_hosts}\n    StrictHostKeyChecking yes\n"
    ));
    let ssh_config = dir.join("ssh_config");
    std::fs::write(&ssh_config, config)?;
    Ok(ssh_config)
}

/// The user's SSH set-up is honoured: keys from the agent (the config names
/// none), a node reached through another with ProxyJump.
fn agent_and_proxy_jump(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let ssh_config = agent_only_config_with_a_jump(lab, dir.path())?;
    let file = archipelago(dir.path(), None)?;
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)?.replace("root@node2", "root@jumped-node2"),
    )?;

    let socket = dir.path().join("agent.sock");
    let agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn()?;
    let result = (|| {
        for _ in 0..50 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let added = Command::new("ssh-add")
            .arg(lab.identity())
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .map(recorded)?;
        ensure(added.status.success(), output_text(&added))?;

        // Without the agent there is no key: the run fails.
        let output = archipel(lab, &file, Some(&ssh_config))?
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .map(recorded)?;
        ensure(output.status.code() == Some(1), output_text(&output))?;
        ensure(
            output_text(&output).contains("Permission denied"),
            output_text(&output),
        )?;

        let output = archipel(lab, &file, Some(&ssh_config))?
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .map(recorded)?;
        ensure(output.status.success(), output_text(&output))?;
        ensure(
            output_text(&output)
                .lines()
                .filter(|l| l.contains("debian 12"))
                .count()
                == 3,
            output_text(&output),
        )?;
        // node2 saw the connection come from node1, the jump host.
        let node1 = lab.node("node1").ok_or("no node1")?.address;
        let log = lab.ssh_ok(
            "node2",
            "journalctl -u ssh --no-pager -o cat | grep Accepted || true",
        )?;
        ensure(
            log.contains(&format!("from {node1}")),
            format!("node2's sshd log: {log}"),
        )
    })();
    let mut agent = agent;
    let _ = agent.kill();
    let _ = agent.wait();
    result
}
