//! `archipel recover CHATON/JOB --identity KEY --to HOST`: after losing a
//! backup host, read the job's escrowed password from its bucket, open it
//! with one of the chaton's admin keys, and set a fresh host up to read the
//! repository: restic, the runner, the password, the S3 key and the
//! settings. No timer is started: the file still names the old host, and
//! what runs where stays the file's decision.

use crate::args::{self, JobArgs};
use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::{DesiredBackup, DesiredEscrow, DesiredIsland, desired};
use archipel_planner::escrow as planner_escrow;
use archipel_planner::model::{Archipelago, ResticSource, SshTarget};
use archipel_providers::backup;
use archipel_providers::escrow;
use archipel_providers::garage;
use archipel_providers::s3::Objects;
use archipel_providers::ssh::{LocalError, Remote, Ssh, SshError, SshSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(mut_arg("job", args::help("The job whose host was lost, as CHATON/JOB")))]
pub struct Args {
    #[command(flatten)]
    job: JobArgs,

    /// One of the chaton's escrow keys: an age identity file, or an
    /// OpenSSH private key without passphrase.
    #[arg(long, value_name = "KEYFILE")]
    identity: PathBuf,

    /// The machine to set up: a machine of the file, or an SSH target
    /// (`user@host:port`, or a Host of your ssh_config).
    #[arg(long, value_name = "HOST")]
    to: String,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let desired = desired(&model);
    let job = args.job.of(&desired)?;
    if job.escrow.is_none() {
        return Err(LoadError::new(format!(
            "chaton {} has no escrow recipients: {}'s password was never escrowed, and only its host had it",
            job.chaton, args.job
        )));
    }
    let island = desired
        .islands
        .iter()
        .find(|i| i.name == job.island)
        .ok_or_else(|| LoadError::new(format!("no island {}", job.island)))?;
    let (to, host_key) = target(&model, &args.to)?;
    // The pinned restic is read and checked before any machine is touched.
    let restic = match &job.restic {
        ResticSource::Package => None,
        ResticSource::Binary { binary, sha256 } => Some(
            crate::binaries::checked(binary, sha256, &mut BTreeMap::new())
                .map_err(|e| LoadError::new(format!("restic {e}")))?,
        ),
    };

    let recovery = Recovery {
        model: &model,
        island,
        job,
        args,
        to,
        host_key,
        restic,
    };
    let runtime = remote::runtime()?;
    let ssh = Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?;
    let outcome = runtime.block_on(async {
        let mut opened = Vec::new();
        let result = recovery.run(&ssh, &mut opened).await;
        remote::close(opened).await;
        result
    });
    match outcome {
        Ok(summary) => {
            outln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("Error: {error}");
            eprintln!(
                "Nothing was started on {}; what was written there can stay (run recover again).",
                args.to
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The machine to set up: the file's, or any SSH target.
fn target(model: &Archipelago, to: &str) -> Result<(SshTarget, Option<String>), LoadError> {
    if let Some(machine) = model.machine(to) {
        return Ok((machine.ssh, machine.host_key));
    }
    SshTarget::parse(to)
        .map(|ssh| (ssh, None))
        .map_err(|reason| LoadError::new(format!("--to {to}: {reason}")))
}

/// What a recovery reads: the job, where its escrow is, and the machine
/// to set up.
struct Recovery<'a> {
    model: &'a Archipelago,
    island: &'a DesiredIsland,
    job: &'a DesiredBackup,
    args: &'a Args,
    to: SshTarget,
    host_key: Option<String>,
    /// The pinned restic, read and checked; none for Debian's package.
    restic: Option<Arc<Vec<u8>>>,
}

impl Recovery<'_> {
    /// Reads the escrow, sets the host up, and proves the repository opens.
    async fn run(&self, ssh: &Ssh, opened: &mut Vec<Remote>) -> Result<String, SshError> {
        // 1. The escrow, from the destination island, through the first
        //    node that answers.
        let coordinator = connect_island(ssh, self.model, self.island, opened).await?;
        let password = self.open_escrow(&coordinator).await?;
        // 2. The new host, set up like apply would, without timers.
        let remote = ssh
            .connect(&self.args.to, &self.to, self.host_key.as_deref())
            .await?;
        opened.push(remote.clone());
        self.set_up(&remote, &coordinator, &password).await?;
        drop(password);
        // 3. Proof: the repository opens and lists its snapshots.
        self.prove(&remote).await
    }

    async fn open_escrow(&self, coordinator: &Remote) -> Result<Vec<u8>, SshError> {
        let (job, island) = (self.job, self.island);
        let escrow = job.escrow.as_ref().expect("checked by the caller");
        let key = garage::key_secret(coordinator, &island.name, &job.key).await?;
        let objects = Objects::open(coordinator, island, &job.bucket, &key).await?;
        let sealed = read_escrow(&objects, job, escrow, &island.name).await;
        objects.close().await?;
        escrow::open(&sealed?, &self.args.identity)
    }

    async fn set_up(
        &self,
        remote: &Remote,
        coordinator: &Remote,
        password: &[u8],
    ) -> Result<(), SshError> {
        let job = self.job;
        eprintln!("Setting up {} on {}…", self.args.job, self.args.to);
        match &self.restic {
            Some(binary) => {
                let ResticSource::Binary { sha256, .. } = &job.restic else {
                    unreachable!("a binary only for a pinned restic")
                };
                backup::install_binary(remote, binary, sha256).await?;
            }
            None => backup::install_package(remote).await?,
        }
        backup::install_runner(remote).await?;
        backup::restore_password(remote, job, password).await?;
        backup::write_credentials(remote, coordinator, job).await?;
        backup::write_settings(remote, job).await
    }

    async fn prove(&self, remote: &Remote) -> Result<String, SshError> {
        let (job, args) = (self.job, self.args);
        let listed = backup::snapshots(remote, job).await?;
        let snapshots: Vec<Snapshot> =
            serde_json::from_str(listed.trim()).map_err(|e| LocalError::UnreadableSnapshots {
                reason: e.to_string(),
            })?;
        let latest = snapshots
            .iter()
            .max_by(|a, b| a.time.cmp(&b.time))
            .map(|s| {
                format!(
                    ", the latest {} taken {} on {}",
                    s.short_id,
                    s.time.get(..16).unwrap_or(&s.time).replace('T', " "),
                    s.hostname
                )
            })
            .unwrap_or_default();
        Ok(format!(
            "Recovered {job_name} on {host}: the repository {repository} opens with the escrowed password ({count} snapshot{s}{latest}).\n\n\
             Restore from it there, e.g.:\n  \
             sh -c 'set -a; . {env}; . {s3}; exec \"$ARCHIPEL_RESTIC\" restore latest --target /srv/restore'\n\n\
             No timer was started. To run the job from this host from now on, set its `host` to \"{to_arg}\" in the file and run archipel apply: it keeps this password.",
            job_name = args.job,
            host = args.to,
            repository = job.repository,
            count = snapshots.len(),
            s = if snapshots.len() == 1 { "" } else { "s" },
            env = job.env_file,
            s3 = job.s3_file,
            to_arg = args.to,
        ))
    }
}

/// What recover shows of a snapshot.
#[derive(serde::Deserialize)]
struct Snapshot {
    time: String,
    short_id: String,
    #[serde(default)]
    hostname: String,
}

/// A session on one of the island's nodes: the first that connects.
async fn connect_island(
    ssh: &Ssh,
    model: &Archipelago,
    island: &DesiredIsland,
    opened: &mut Vec<Remote>,
) -> Result<Remote, SshError> {
    let machines = model.machines();
    let mut failures = Vec::new();
    for node in &island.nodes {
        let Some(machine) = machines.iter().find(|m| m.name == node.name) else {
            continue;
        };
        match ssh
            .connect(&machine.name, &machine.ssh, machine.host_key.as_deref())
            .await
        {
            Ok(remote) => {
                opened.push(remote.clone());
                return Ok(remote);
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    Err(LocalError::NoNodeReached {
        island: island.name.clone(),
        failures: failures.join("; "),
    }
    .into())
}

/// The current escrow: the newest `JOB.escrow/TIME.age`, or the legacy
/// `JOB.escrow.age` of a job not escrowed again since archipel versioned
/// its escrows.
async fn read_escrow(
    objects: &Objects,
    job: &DesiredBackup,
    escrow: &DesiredEscrow,
    island: &str,
) -> Result<Vec<u8>, SshError> {
    let listed = objects.list(&escrow.prefix).await?;
    let newest = planner_escrow::current(&job.job, &listed);
    for object in newest.into_iter().chain([escrow.legacy_object.as_str()]) {
        eprintln!("Reading s3://{}/{object} on island {island}…", job.bucket);
        if let Some(sealed) = objects.get(object).await? {
            return Ok(sealed);
        }
    }
    Err(LocalError::NeverEscrowed {
        bucket: job.bucket.clone(),
        prefix: escrow.prefix.clone(),
        legacy: escrow.legacy_object.clone(),
        island: island.to_string(),
    }
    .into())
}
