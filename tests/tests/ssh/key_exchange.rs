//! The quick key exchange of commands that only read: offered first where
//! nobody chose the host's key exchanges, and everything else the user's
//! configuration says kept.

use crate::fixture::{machine, runtime, settings};
use archipel_providers::ssh::{Ssh, SshSettings, close_all};
use archipel_tests::{Failed, Lab, ensure};
use std::process::Command;

/// `ssh -G -F CONFIG HOST`, as `(option, value)` lines.
fn resolved(config: &str, host: &str) -> Result<Vec<String>, Failed> {
    let output = Command::new("ssh")
        .args(["-G", "-F", config, host])
        .output()?;
    ensure(
        output.status.success(),
        String::from_utf8_lossy(&output.stderr),
    )?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

pub fn quick_key_exchange(lab: &Lab) -> Result<(), Failed> {
    // The lab's configuration, and node2's key exchanges chosen by the user.
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Include {}\n\nHost node2\n  KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256\n",
            lab.ssh_config().display()
        ),
    )?;
    runtime().block_on(async {
        let ssh = Ssh::new(SshSettings {
            config_file: Some(config.clone()),
            quick_key_exchange: true,
            ..settings(lab)
        })?;
        let machines = [machine("node1", "node1"), machine("node2", "node2")];
        let mut remotes = Vec::new();
        for m in &machines {
            let remote = ssh.connect(&m.name, &m.ssh, None).await?;
            let output = remote.run_checked("echo ok", &[], None).await?;
            ensure(output.stdout_text().trim() == "ok", output.stdout_text())?;
            remotes.push(remote);
        }
        // Each master's command line says which configuration it read.
        let control = ssh.control_dir().display().to_string();
        let masters = Command::new("pgrep").args(["-fa", &control]).output()?;
        let masters = String::from_utf8_lossy(&masters.stdout).into_owned();
        let master_of = |host: &str| {
            masters
                .lines()
                .find(|l| l.ends_with(&format!(" {host}")))
                .unwrap_or_default()
                .to_string()
        };
        let wrapper = ssh.control_dir().join("quick-kex.conf");
        ensure(
            master_of("node1").contains(&wrapper.display().to_string()),
            format!("node1's master does not read the wrapper:\n{masters}"),
        )?;
        ensure(
            master_of("node2").contains(&config.display().to_string())
                && !master_of("node2").contains("quick-kex.conf"),
            format!("node2's chosen key exchanges were overridden:\n{masters}"),
        )?;
        // Through the wrapper, node1 resolves exactly as through the
        // user's file but for the order of the key exchanges.
        let wrapper = wrapper.display().to_string();
        let config = config.display().to_string();
        let (quick, own) = (resolved(&wrapper, "node1")?, resolved(&config, "node1")?);
        ensure(quick.len() == own.len(), format!("{quick:?}\n{own:?}"))?;
        for (a, b) in quick.iter().zip(&own) {
            if a.starts_with("kexalgorithms ") {
                let mut a: Vec<&str> = a.split([' ', ',']).collect();
                let mut b: Vec<&str> = b.split([' ', ',']).collect();
                ensure(
                    a[1].starts_with("curve25519") || a[1].starts_with("mlkem"),
                    a.join(","),
                )?;
                a.sort_unstable();
                b.sort_unstable();
                ensure(a == b, "the wrapper changed the set of key exchanges")?;
            } else {
                ensure(a == b, format!("the wrapper changed {b:?} into {a:?}"))?;
            }
        }
        let errors = close_all(remotes).await;
        ensure(errors.is_empty(), format!("{errors:?}"))
    })
}
