//! Host keys: an unknown one refused unless accepted, a pinned one
//! enforced.

use crate::fixture::{runtime, settings};
use archipel_planner::model::SshTarget;
use archipel_providers::ssh::{HostKeyPolicy, Ssh, SshError, SshSettings};
use archipel_tests::{Failed, Lab, ensure};
use std::path::Path;

/// An ssh_config like the lab's, with a known_hosts file of our choosing.
fn config_with_known_hosts(
    lab: &Lab,
    dir: &Path,
    known_hosts: &Path,
) -> Result<std::path::PathBuf, Failed> {
    let original = std::fs::read_to_string(lab.ssh_config())?;
    let config: String = original
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("UserKnownHostsFile") {
                format!("  UserKnownHostsFile {}", known_hosts.display())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("ssh_config");
    std::fs::write(&path, config + "\n")?;
    Ok(path)
}

pub fn unknown_host_key(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, "")?;
    let config = config_with_known_hosts(lab, dir.path(), &known_hosts)?;
    runtime().block_on(async {
        let strict = Ssh::new(SshSettings {
            config_file: Some(config.clone()),
            ..settings(lab)
        })?;
        let error = strict
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await
            .expect_err("an unknown host must be refused");
        ensure(
            matches!(error, SshError::HostKey { .. }),
            format!("{error}"),
        )?;
        ensure(
            error.to_string().contains("--accept-new-host-keys"),
            format!("{error}"),
        )?;

        let accepting = Ssh::new(SshSettings {
            config_file: Some(config.clone()),
            host_keys: HostKeyPolicy::AcceptNew,
            ..settings(lab)
        })?;
        let remote = accepting
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        let learnt = std::fs::read_to_string(&known_hosts)?;
        ensure(
            learnt.contains("ssh-ed25519"),
            format!("known_hosts after accept-new: {learnt:?}"),
        )?;

        // Now known: strict accepts it.
        let remote = strict
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        remote.close().await?;
        Ok(())
    })
}

pub fn pinned_host_key(lab: &Lab) -> Result<(), Failed> {
    let key_of = |node: &str| lab.ssh_ok(node, "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub");
    let node1_key = key_of("node1")?;
    let node2_key = key_of("node2")?;
    // Even a host in known_hosts is refused when its pinned key differs.
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let error = ssh
            .connect("node1", &SshTarget::parse("node1")?, Some(node2_key.trim()))
            .await
            .expect_err("a wrong pin must be refused");
        ensure(
            matches!(error, SshError::HostKey { .. }),
            format!("{error}"),
        )?;
        ensure(error.to_string().contains("pinned"), format!("{error}"))?;

        // The right pin is enough, with an empty known_hosts.
        let dir = tempfile::tempdir()?;
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, "")?;
        let config = config_with_known_hosts(lab, dir.path(), &known_hosts)?;
        let pinned = Ssh::new(SshSettings {
            config_file: Some(config),
            ..settings(lab)
        })?;
        let remote = pinned
            .connect("node1", &SshTarget::parse("node1")?, Some(node1_key.trim()))
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        ensure(
            std::fs::read_to_string(&known_hosts)?.is_empty(),
            "a pin is not written to known_hosts",
        )?;
        Ok(())
    })
}
