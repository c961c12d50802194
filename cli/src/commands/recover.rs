//! `archipel recover CHATON/JOB --identity KEY --to HOST`: after losing a
//! backup host, read the job's escrowed password from its bucket, open it
//! with one of the chaton's admin keys, and set a fresh host up to read the
//! repository: restic, the runner, the password, the S3 key and the
//! settings. No timer is started: the file still names the old host, and
//! what runs where stays the file's decision.
//!
//! With `--from-vault`, the backups themselves are taken as lost (deleted
//! or tampered with by whoever held the host's key): the escrow and the
//! repository are read from the job's vault on the same island, with a
//! read-only key made for this recovery and deleted when it ends, and the
//! chosen snapshot is restored into `--target`.

use crate::args::{self, JobArgs};
use crate::files::{self, LoadError};
use crate::remote;
use archipel_planner::desired::{DesiredBackup, DesiredEscrow, DesiredIsland, desired};
use archipel_planner::escrow as planner_escrow;
use archipel_planner::model::{Archipelago, ResticSource, SshTarget};
use archipel_planner::observed::Permissions;
use archipel_planner::vault;
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

    /// Read the escrow and the repository from the job's vault on its
    /// island, not from its backup bucket, and restore a snapshot into
    /// --target. A read-only key is made for it and deleted afterwards.
    #[arg(long, requires = "target")]
    from_vault: bool,

    /// With --from-vault: the directory to restore into on the machine.
    #[arg(long, value_name = "DIR", requires = "from_vault")]
    target: Option<String>,

    /// With --from-vault: the snapshot to restore, by restic's ID (the
    /// vault keeps those the host's prune or an attacker forgot) [default:
    /// latest].
    #[arg(long, value_name = "ID", requires = "from_vault")]
    snapshot: Option<String>,
}

/// What `--from-vault` restores, and where.
struct VaultRestore {
    target: String,
    snapshot: String,
}

impl Args {
    /// The vault restore asked for, checked before anything is touched.
    fn vault_restore(
        &self,
        island: &DesiredIsland,
        job: &DesiredBackup,
    ) -> Result<Option<VaultRestore>, LoadError> {
        if !self.from_vault {
            return Ok(None);
        }
        let vaulted = island
            .vaults
            .as_ref()
            .is_some_and(|v| v.chatons.contains(&job.chaton));
        if !vaulted {
            return Err(LoadError::new(format!(
                "chaton {} has no vault on island {} (`vault = false`): there is nothing to recover {} from but its backup bucket",
                job.chaton, island.name, self.job
            )));
        }
        let target = self.target.clone().expect("clap requires --target");
        if !target.starts_with('/') {
            return Err(LoadError::new(format!(
                "--target {target}: give an absolute path on the machine"
            )));
        }
        let snapshot = self.snapshot.clone().unwrap_or_else(|| "latest".into());
        let restic_id =
            (8..=64).contains(&snapshot.len()) && snapshot.bytes().all(|b| b.is_ascii_hexdigit());
        if snapshot != "latest" && !restic_id {
            return Err(LoadError::new(format!(
                "--snapshot {snapshot}: give restic's snapshot ID (8 to 64 hexadecimal digits) or `latest`"
            )));
        }
        Ok(Some(VaultRestore { target, snapshot }))
    }
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
    let vault_restore = args.vault_restore(island, job)?;
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
        vault_restore,
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
    /// With `--from-vault`.
    vault_restore: Option<VaultRestore>,
}

impl Recovery<'_> {
    /// Reads the escrow, sets the host up, and proves the repository opens.
    async fn run(&self, ssh: &Ssh, opened: &mut Vec<Remote>) -> Result<String, SshError> {
        // 1. The escrow, from the destination island, through the first
        //    node that answers.
        let coordinator = connect_island(ssh, self.model, self.island, opened).await?;
        if let Some(restore) = &self.vault_restore {
            return self
                .recover_from_vault(ssh, &coordinator, restore, opened)
                .await;
        }
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
        let key = garage::key_secret(coordinator, &self.island.name, &self.job.key).await?;
        self.open_escrow_in(coordinator, &self.job.bucket, &key)
            .await
    }

    /// The escrow as `bucket` holds it (the backup bucket or the vault),
    /// read with `key` and opened with the admin's identity.
    async fn open_escrow_in(
        &self,
        coordinator: &Remote,
        bucket: &str,
        key: &garage::KeySecret,
    ) -> Result<Vec<u8>, SshError> {
        let (job, island) = (self.job, self.island);
        let escrow = job.escrow.as_ref().expect("checked by the caller");
        let objects = Objects::open(coordinator, island, bucket, key).await?;
        let opened = open_escrow(
            &objects,
            bucket,
            job,
            escrow,
            &island.name,
            &self.args.identity,
        )
        .await;
        objects.close().await?;
        opened
    }

    /// A recovery from the vault: a read-only key on it made first and
    /// deleted last, whatever happened in between.
    async fn recover_from_vault(
        &self,
        ssh: &Ssh,
        coordinator: &Remote,
        restore: &VaultRestore,
        opened: &mut Vec<Remote>,
    ) -> Result<String, SshError> {
        let job = self.job;
        let key_name = vault::recovery_key(&job.chaton, &job.job);
        let bucket = vault::bucket(&job.chaton);
        eprintln!("Making the key {key_name}, read-only on {bucket}…");
        garage::ensure_key(coordinator, &key_name).await?;
        let restored = self
            .restore_from_vault(ssh, coordinator, &key_name, &bucket, restore, opened)
            .await;
        eprintln!("Deleting the key {key_name}…");
        let deleted = garage::delete_key(coordinator, &key_name).await;
        match (restored, deleted) {
            (Ok(summary), Ok(())) => Ok(format!(
                "{summary}\n\nThe read-only key {key_name} made for this recovery was deleted."
            )),
            (Ok(summary), Err(error)) => Err(LocalError::RecoveryKeyLeft {
                restored: summary,
                key: key_name,
                island: self.island.name.clone(),
                reason: error.to_string(),
            }
            .into()),
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(left)) => {
                eprintln!(
                    "The read-only key {key_name} could not be deleted ({left}): the next `archipel apply` deletes it."
                );
                Err(error)
            }
        }
    }

    async fn restore_from_vault(
        &self,
        ssh: &Ssh,
        coordinator: &Remote,
        key_name: &str,
        bucket: &str,
        restore: &VaultRestore,
        opened: &mut Vec<Remote>,
    ) -> Result<String, SshError> {
        let (job, island) = (self.job, self.island);
        let read_only = Permissions {
            read: true,
            write: false,
            owner: false,
        };
        garage::grant(coordinator, bucket, key_name, read_only).await?;
        let key = garage::key_secret(coordinator, &island.name, key_name).await?;
        let password = self.open_escrow_in(coordinator, bucket, &key).await?;
        let remote = ssh
            .connect(&self.args.to, &self.to, self.host_key.as_deref())
            .await?;
        opened.push(remote.clone());
        self.set_up(&remote, coordinator, &password).await?;
        drop(password);
        let repository = vault::repository(job);
        eprintln!(
            "Restoring {} of {repository} into {} on {}…",
            restore.snapshot, restore.target, self.args.to
        );
        let listed = backup::restore_from_vault(
            &remote,
            job,
            &repository,
            &key,
            &restore.snapshot,
            &restore.target,
        )
        .await?;
        let snapshots = parse_snapshots(&listed)?;
        Ok(self.restored_summary(&repository, restore, &snapshots))
    }

    /// What a restore from the vault did, and the vault's snapshots to
    /// pick another from.
    fn restored_summary(
        &self,
        repository: &str,
        restore: &VaultRestore,
        snapshots: &[Snapshot],
    ) -> String {
        let mut newest_first: Vec<&Snapshot> = snapshots.iter().collect();
        newest_first.sort_by(|a, b| b.time.cmp(&a.time));
        let restored = if restore.snapshot == "latest" {
            newest_first.first().copied()
        } else {
            snapshots
                .iter()
                .find(|s| s.id.starts_with(&restore.snapshot))
        };
        let what = restored.map_or_else(
            || format!("snapshot {}", restore.snapshot),
            |s| format!("snapshot {}{}", s.short_id, s.taken()),
        );
        let mut text = format!(
            "Recovered {job} from its vault: {what} restored into {target} on {host}, from {repository}, with the escrowed password.\n\n\
             The vault holds {count} snapshot{s}, the newest first:",
            job = self.args.job,
            target = restore.target,
            host = self.args.to,
            count = snapshots.len(),
            s = if snapshots.len() == 1 { "" } else { "s" },
        );
        const SHOWN: usize = 20;
        for snapshot in newest_first.iter().take(SHOWN) {
            text.push_str(&format!("\n  {}{}", snapshot.short_id, snapshot.taken()));
        }
        if newest_first.len() > SHOWN {
            text.push_str(&format!("\n  … and {} older", newest_first.len() - SHOWN));
        }
        text.push_str("\n\nAnother one restores with --snapshot ID. No timer was started.");
        text
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
        let snapshots = parse_snapshots(&listed)?;
        let latest = snapshots
            .iter()
            .max_by(|a, b| a.time.cmp(&b.time))
            .map(|s| format!(", the latest {}{}", s.short_id, s.taken()))
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
    id: String,
    short_id: String,
    #[serde(default)]
    hostname: String,
}

impl Snapshot {
    /// ` taken 2026-12-03 18:02 on HOST`
    fn taken(&self) -> String {
        format!(
            " taken {} on {}",
            self.time.get(..16).unwrap_or(&self.time).replace('T', " "),
            self.hostname
        )
    }
}

/// `restic snapshots --json`'s answer.
fn parse_snapshots(listed: &str) -> Result<Vec<Snapshot>, SshError> {
    serde_json::from_str(listed.trim()).map_err(|e| {
        LocalError::UnreadableSnapshots {
            reason: e.to_string(),
        }
        .into()
    })
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

/// The escrow, opened: the newest `JOB.escrow/TIME.age` that the identity
/// opens, or the legacy `JOB.escrow.age` of a job not escrowed again since
/// archipel versioned its escrows. An older one is tried when a newer one
/// is not sealed to the identity: whoever held the host's key may have
/// written one (a vault keeps every version the bucket ever had).
async fn open_escrow(
    objects: &Objects,
    bucket: &str,
    job: &DesiredBackup,
    escrow: &DesiredEscrow,
    island: &str,
    identity: &Path,
) -> Result<Vec<u8>, SshError> {
    let listed = objects.list(&escrow.prefix).await?;
    let mut refused = None;
    let versions = planner_escrow::versions(&job.job, &listed);
    for object in versions.into_iter().chain([escrow.legacy_object.as_str()]) {
        eprintln!("Reading s3://{bucket}/{object} on island {island}…");
        let Some(sealed) = objects.get(object).await? else {
            continue;
        };
        match escrow::open(&sealed, identity) {
            Err(SshError::Local(error @ LocalError::NotARecipient { .. })) => {
                eprintln!("{error}: trying an older escrow");
                refused = Some(error);
            }
            opened => return opened,
        }
    }
    if let Some(error) = refused {
        return Err(error.into());
    }
    Err(LocalError::NeverEscrowed {
        bucket: bucket.to_string(),
        prefix: escrow.prefix.clone(),
        legacy: escrow.legacy_object.clone(),
        island: island.to_string(),
    }
    .into())
}
