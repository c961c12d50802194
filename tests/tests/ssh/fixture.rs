//! The lab's machines as the SSH provider sees them, its settings, and a
//! runtime to drive it.

use archipel_planner::model::{Machine, SshTarget};
use archipel_providers::ssh::{Remote, Ssh, SshSettings};
use archipel_tests::{Failed, Lab};
use std::time::Duration;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn settings(lab: &Lab) -> SshSettings {
    SshSettings {
        config_file: Some(lab.ssh_config()),
        connect_timeout: Duration::from_secs(3),
        ..SshSettings::default()
    }
}

pub fn machine(name: &str, target: &str) -> Machine {
    Machine {
        name: name.to_string(),
        ssh: SshTarget::parse(target).expect("target"),
        host_key: None,
        node: Some(name.to_string()),
        backups: Vec::new(),
    }
}

pub fn lab_machines(lab: &Lab) -> Vec<Machine> {
    lab.nodes()
        .iter()
        .map(|n| machine(&n.name, &n.name))
        .collect()
}

pub async fn connect_all(ssh: &Ssh, machines: &[Machine]) -> Result<Vec<Remote>, Failed> {
    ssh.connect_all(machines)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failed::from(e.to_string()))
}

pub fn sha256_of(bytes: &[u8]) -> Result<String, Failed> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), bytes)?;
    let output = std::process::Command::new("sha256sum")
        .arg(file.path())
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}
