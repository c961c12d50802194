//! A backup job as the lab tests reach it: restic with the job's own files
//! on its host, S3 with the job's key or an island's vault key, and the
//! runner's record of a task's last run.

use crate::s3::S3;
use crate::{Failed, Lab, ensure, output_text};
use std::process::Command;

/// restic on a backup host, with the job's own files.
pub fn restic(lab: &Lab, node: &str, job: &str, args: &str) -> Result<String, Failed> {
    Ok(lab.ssh_ok(
        node,
        &format!(
            "set -a; . /etc/archipel/restic/{job}.env; . /etc/archipel/restic/{job}.s3; set +a; \"$ARCHIPEL_RESTIC\" {args}"
        ),
    )?)
}

/// S3 with a job's own key (read from its host), through an island node.
pub fn job_s3(lab: &Lab, host: &str, job: &str, island_node: &str) -> Result<S3, Failed> {
    let key = |name: &str| -> Result<String, Failed> {
        Ok(lab
            .ssh_ok(
                host,
                &format!("sed -n 's/^{name}=//p' /etc/archipel/restic/{job}.s3"),
            )?
            .trim()
            .to_string())
    };
    let address = lab.node(island_node).ok_or("no such node")?.address;
    Ok(S3::new(
        &format!("http://{address}:3900"),
        "garage",
        &key("AWS_ACCESS_KEY_ID")?,
        &key("AWS_SECRET_ACCESS_KEY")?,
    ))
}

/// S3 with an island's vault key, read from the node that runs its vault
/// passes.
pub fn vault_s3(lab: &Lab, runner: &str) -> Result<S3, Failed> {
    let key = |name: &str| -> Result<String, Failed> {
        Ok(lab
            .ssh_ok(
                runner,
                &format!("sed -n 's/^{name} = //p' /etc/archipel/vault/rclone.conf"),
            )?
            .trim()
            .to_string())
    };
    let address = lab.node(runner).ok_or("no such node")?.address;
    Ok(S3::new(
        &format!("http://{address}:3900"),
        "garage",
        &key("access_key_id")?,
        &key("secret_access_key")?,
    ))
}

/// The job's last run, as its status file records it.
pub fn status(lab: &Lab, node: &str, job: &str, task: &str) -> Result<serde_json::Value, Failed> {
    Ok(serde_json::from_str(&lab.ssh_ok(
        node,
        &format!("cat /var/lib/archipel/backups/{job}.{task}.json"),
    )?)?)
}

/// A file's SHA-256 on this machine, as the file pins binaries.
pub fn sha256_of(path: &str) -> Result<String, Failed> {
    let output = Command::new("sha256sum").arg(path).output()?;
    ensure(output.status.success(), output_text(&output))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .ok_or("sha256sum")?
        .to_string())
}
