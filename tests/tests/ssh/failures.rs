//! Failures: errors name the host, the command and its stderr; a stopped
//! node fails fast while the others carry on.

use crate::fixture::{lab_machines, runtime, settings};
use archipel_planner::model::SshTarget;
use archipel_providers::ssh::{Ssh, SshError, close_all};
use archipel_tests::{Failed, Lab, ensure};
use std::time::{Duration, Instant};

pub fn errors_are_precise(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node3", &SshTarget::parse("node3")?, None)
            .await?;
        let error = remote
            .run_checked("echo 'disk on fire' >&2; exit 3", &[], None)
            .await
            .expect_err("exit 3 is an error");
        let text = error.to_string();
        for part in [
            "node3",
            "echo 'disk on fire' >&2; exit 3",
            "status 3",
            "disk on fire",
        ] {
            ensure(text.contains(part), format!("{text:?} lacks {part:?}"))?;
        }
        // `run` itself returns the status for callers that expect failures.
        ensure(
            remote.run("exit 7", &[], None).await?.status == 7,
            "status 7",
        )?;
        // stdin reaches the command.
        let echoed = remote.run_checked("cat", &[], Some(b"via stdin")).await?;
        ensure(echoed.stdout == b"via stdin", "stdin")?;
        remote.close().await?;
        Ok(())
    })
}

pub fn stopped_node(lab: &Lab) -> Result<(), Failed> {
    lab.stop("node2")?;
    let result = runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let started = Instant::now();
        let results = ssh.connect_all(&lab_machines(lab)).await;
        let elapsed = started.elapsed();
        ensure(
            elapsed < Duration::from_secs(6),
            format!("connecting took {elapsed:?} with a 3 s timeout"),
        )?;
        let mut remotes = Vec::new();
        for (node, result) in lab.nodes().iter().zip(results) {
            match (node.name.as_str(), result) {
                ("node2", Err(error)) => {
                    ensure(
                        error.host().is_some_and(|h| h.starts_with("node2")),
                        format!("{error}"),
                    )?;
                    ensure(
                        matches!(error, SshError::Connect { .. }),
                        format!("{error}"),
                    )?;
                }
                ("node2", Ok(_)) => return Err("node2 is stopped but answered".into()),
                (_, Ok(remote)) => {
                    remote.run_checked("true", &[], None).await?;
                    remotes.push(remote);
                }
                (name, Err(error)) => return Err(format!("{name} should work: {error}").into()),
            }
        }
        close_all(remotes).await;
        Ok::<(), Failed>(())
    });
    lab.start_node("node2")?;
    result?;
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node2", &SshTarget::parse("node2")?, None)
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        Ok(())
    })
}
