//! Sessions: commands on every node at once, many over one connection,
//! through sudo for other users; no master process outlives the run.

use crate::fixture::{connect_all, lab_machines, runtime, settings};
use archipel_planner::model::SshTarget;
use archipel_planner::ownership::Ownership;
use archipel_providers::ssh::{Ssh, close_all};
use archipel_tests::{Failed, Lab, ensure};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn parallel_commands(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remotes = connect_all(&ssh, &lab_machines(lab)).await?;
        // Each node sleeps 2 s: run in parallel, all finish in about 2 s.
        let started = Instant::now();
        let outputs = futures_util::future::join_all(
            remotes
                .iter()
                .map(|r| r.run_checked("sleep 2; hostname", &[], None)),
        )
        .await;
        let elapsed = started.elapsed();
        for (remote, output) in remotes.iter().zip(outputs) {
            let name = output?.stdout_text();
            ensure(
                remote.host().starts_with(name.trim()),
                format!("{} answered {name:?}", remote.host()),
            )?;
        }
        ensure(
            elapsed < Duration::from_secs(5),
            format!("3 × sleep 2 took {elapsed:?}: not parallel"),
        )?;
        close_all(remotes).await;
        Ok(())
    })
}

pub fn many_commands(lab: &Lab) -> Result<(), Failed> {
    let node1 = lab.node("node1").ok_or("no node1")?.address.to_string();
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let control_dir = ssh.control_dir().display().to_string();
        let remote = ssh
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        // More commands at once than sshd's MaxSessions (10): the provider
        // queues them instead of failing.
        let commands = futures_util::future::join_all((0..30).map(|i| {
            let remote = remote.clone();
            async move {
                remote
                    .run_checked("sleep 0.3; echo \"$1\"", &[&i.to_string()], None)
                    .await
            }
        }));
        // While they run: the TCP connections to node1's sshd held by this
        // run's ssh processes. One, shared by every command.
        let count = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            connections_of(&control_dir, &node1)
        };
        let (outputs, connections) = tokio::join!(commands, count);
        for (i, output) in outputs.into_iter().enumerate() {
            ensure(
                output?.stdout_text().trim() == i.to_string(),
                "wrong output",
            )?;
        }
        let connections = connections?;
        ensure(
            connections == 1,
            format!("{connections} SSH connections to node1 for 30 commands"),
        )?;
        remote.close().await?;
        Ok(())
    })
}

/// Established TCP connections to `address`:22 owned by ssh processes whose
/// command line mentions `control_dir` (this run's masters).
fn connections_of(control_dir: &str, address: &str) -> Result<usize, Failed> {
    let output = std::process::Command::new("ss")
        .args([
            "-Htnp",
            "state",
            "established",
            "dst",
            address,
            "dport",
            "=",
            "22",
        ])
        .output()?;
    let mut count = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        for pid in line
            .split("pid=")
            .skip(1)
            .filter_map(|p| p.split(',').next())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(control_dir) {
                count += 1;
            }
        }
    }
    Ok(count)
}

pub fn sudo_users(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let ops = ssh
            .connect("node1", &SshTarget::parse("ops@node1")?, None)
            .await?;
        let uid = ops.run_checked("id -u", &[], None).await?.stdout_text();
        ensure(uid.trim() == "0", format!("ops runs commands as uid {uid}"))?;
        ops.upload(
            "/root/from-ops",
            b"x",
            Ownership::new("root", "root", 0o600),
        )
        .await?;
        ops.close().await?;

        let nosudo = ssh
            .connect("node1", &SshTarget::parse("nosudo@node1")?, None)
            .await?;
        let started = Instant::now();
        let error = nosudo
            .run_checked("id -u", &[], None)
            .await
            .expect_err("nosudo has no sudo");
        ensure(
            started.elapsed() < Duration::from_secs(5),
            "sudo must not wait for a password",
        )?;
        ensure(error.to_string().contains("password"), format!("{error}"))?;
        nosudo.close().await?;
        Ok(())
    })
}

pub fn no_orphans(lab: &Lab) -> Result<(), Failed> {
    let control_dir = runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let control_dir = ssh.control_dir().to_path_buf();
        let remotes = connect_all(&ssh, &lab_machines(lab)).await?;
        ensure(
            masters(&control_dir)? == 3,
            "one master per host while connected",
        )?;
        let errors = close_all(remotes).await;
        ensure(errors.is_empty(), format!("{errors:?}"))?;
        ensure(masters(&control_dir)? == 0, "masters left after close")?;
        // A session dropped without close (an error path) still ends its master.
        let remote = ssh
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        drop(remote);
        ensure(masters(&control_dir)? == 0, "master left after drop")?;
        Ok::<_, Failed>(control_dir)
    })?;
    ensure(!control_dir.exists(), "the control directory is removed")?;
    Ok(())
}

/// ssh master processes whose control socket is under `dir`.
fn masters(dir: &Path) -> Result<usize, Failed> {
    // Give a closing master a moment to exit.
    std::thread::sleep(Duration::from_millis(300));
    let output = std::process::Command::new("pgrep")
        .args(["-f", &dir.display().to_string()])
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).lines().count())
}
