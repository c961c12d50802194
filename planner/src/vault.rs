//! Vaults as archipel installs them: per chaton and destination island, a
//! bucket `vault-CHATON` that no backup host's key has any permission on,
//! filled from `backup-CHATON` by an hourly pass on one node of the island
//! (docs/vault-design.md).
//!
//! On that node: the pass (`/usr/local/lib/archipel/vault-pass`, a shell
//! script around Debian's rclone), what it copies
//! (`/etc/archipel/vault/vaults.conf`), the island's vault key
//! (`/etc/archipel/vault/rclone.conf`, root-only, never read back), its
//! state (`/var/lib/archipel/vault/CHATON.json`) and the units
//! `archipel-vault.service` and `.timer`.

use crate::desired::{DesiredBackup, DesiredIsland};
use crate::model::{Backup, Chaton};
use crate::ownership::Ownership;
use crate::templates::render;
use minijinja::context;

/// The island's own key: read on every backup bucket, write on every vault.
pub const KEY: &str = "archipel-vault";
/// Vault buckets' names start with this (the language reserves it).
pub const BUCKET_PREFIX: &str = "vault-";
pub const SCRIPT_PATH: &str = "/usr/local/lib/archipel/vault-pass";
pub const SCRIPT: &str = include_str!("../templates/vault-pass.sh");
pub const CONF_DIR: &str = "/etc/archipel/vault";
pub const CONFIG_FILE: &str = "/etc/archipel/vault/vaults.conf";
/// rclone's settings with the vault key: root-only, written from Garage's
/// answer on the node, never read back.
pub const CREDENTIALS_FILE: &str = "/etc/archipel/vault/rclone.conf";
pub const STATE_DIR: &str = "/var/lib/archipel/vault";
pub const SERVICE: &str = "archipel-vault.service";
pub const TIMER: &str = "archipel-vault.timer";
/// Where its units are: the backup jobs' directory, systemd's own.
pub use crate::backup::UNITS_DIR;
/// Debian's rclone, which the pass runs.
pub const RCLONE: &str = "/usr/bin/rclone";
/// Whether Debian's rclone is installed: `rclone` on another path does not
/// count, the pass runs this one.
pub const RCLONE_PROBE: (&str, &str) = ("vault_rclone", "test -x /usr/bin/rclone && echo yes");

/// Passes run hourly: three hours without a finished one is an incident.
pub const STALE_AFTER_SECONDS: u64 = 3 * 3_600;

pub const CONFIG_OWNER: Ownership = Ownership::ROOT_PRIVATE;
pub const DIRECTORY_OWNER: Ownership = Ownership::new("root", "root", 0o700);

/// The vault of a chaton's backups on an island.
pub fn bucket(chaton: &str) -> String {
    format!("{BUCKET_PREFIX}{chaton}")
}

/// The read-only key `archipel recover --from-vault` makes for one job and
/// deletes when it is done. The `/` keeps it apart from every chaton's key
/// (`archipel-CHATON`: chaton names have none); one left by an interrupted
/// recovery is deleted by the next apply.
pub fn recovery_key(chaton: &str, job: &str) -> String {
    format!("{RECOVERY_KEY_PREFIX}{chaton}/{job}")
}

pub const RECOVERY_KEY_PREFIX: &str = "archipel-recover/";

pub fn is_recovery_key(name: &str) -> bool {
    name.starts_with(RECOVERY_KEY_PREFIX)
}

/// The job's repository as the vault holds it: the same S3 address and
/// path, in the vault's bucket.
pub fn repository(job: &DesiredBackup) -> String {
    let in_bucket = format!("/{}/{}", job.bucket, job.job);
    let endpoint = job
        .repository
        .strip_suffix(&in_bucket)
        .expect("a job's repository is s3:ENDPOINT/BUCKET/JOB");
    format!("{endpoint}/{}/{}", bucket(&job.chaton), job.job)
}

/// A vault's bucket quota: the backups it copies, and as much again for
/// what deleted objects take while they wait out the grace period.
/// Validation counts a vault at its backups' quota (`capacity::quotas`):
/// what waits is about what the prunes free in the backup bucket.
pub fn quota(backup_quota: u64) -> u64 {
    backup_quota.saturating_mul(2)
}

/// Past this size the vault holds more than the chaton's backups explain:
/// junk written to fill it (an incident).
pub fn growth_alarm(backup_quota: u64) -> u64 {
    backup_quota.saturating_add(backup_quota / 2)
}

/// The pass's state of one chaton's vault on the node that runs it.
pub fn status_file(chaton: &str) -> String {
    format!("{STATE_DIR}/{chaton}.json")
}

/// What the pass copies: one `vault` line per chaton with its buckets,
/// grace period (seconds) and growth alarm (bytes), then one `job` line per
/// job with what explains its deletions: its `keep` and when it prunes.
/// Tab-separated; names are archipel names, without tabs or spaces.
pub fn config(island: &str, chatons: &[(&Chaton, Vec<&Backup>)]) -> String {
    let mut out = format!(
        "# Managed by archipel (island \"{island}\"): changes made here are reverted by `archipel apply`.\n\
         # vault CHATON SOURCE VAULT KEEP_DELETED_SECONDS GROWTH_ALARM_BYTES\n\
         # job CHATON JOB KEEP PRUNE_SCHEDULE\n"
    );
    for (chaton, backups) in chatons {
        let quota: u64 = backups.iter().map(|b| b.quota.bytes()).sum();
        out.push_str(&format!(
            "vault\t{c}\t{source}\t{vault}\t{grace}\t{alarm}\n",
            c = chaton.name,
            source = crate::desired::backup_bucket(&chaton.name),
            vault = bucket(&chaton.name),
            grace = chaton.vault.keep_deleted.seconds(),
            alarm = growth_alarm(quota),
        ));
        for backup in backups {
            let keep = keep_text(backup);
            let prune = if crate::backup::tasks(backup).contains(&crate::backup::Task::Prune) {
                backup.prune.as_str().to_string()
            } else {
                "-".to_string()
            };
            out.push_str(&format!(
                "job\t{}\t{}\t{keep}\t{prune}\n",
                chaton.name, backup.name
            ));
        }
    }
    out
}

/// `daily=7,weekly=4`, or `-` when the job forgets nothing.
fn keep_text(backup: &Backup) -> String {
    let keep = &backup.keep;
    let fields: Vec<String> = crate::model::Keep::FIELDS
        .iter()
        .zip([
            keep.hourly,
            keep.daily,
            keep.weekly,
            keep.monthly,
            keep.yearly,
        ])
        .filter_map(|(name, count)| count.map(|n| format!("{name}={n}")))
        .collect();
    if fields.is_empty() {
        "-".into()
    } else {
        fields.join(",")
    }
}

/// rclone's settings: one remote `garage`, the node's own S3 port on its
/// loopback, with the island's vault key. Rendered on the node, where the
/// secret is: this is the text around it.
pub fn credentials(island: &DesiredIsland, access_key_id: &str, secret_access_key: &str) -> String {
    format!(
        "# Managed by archipel (island \"{}\"): the island's vault key, root-only.\n\
         [garage]\n\
         type = s3\n\
         provider = Other\n\
         access_key_id = {access_key_id}\n\
         secret_access_key = {secret_access_key}\n\
         endpoint = http://127.0.0.1:{}\n\
         region = {}\n\
         force_path_style = true\n\
         no_check_bucket = true\n",
        island.name, island.s3_port, island.s3_region,
    )
}

pub fn service(island: &str) -> String {
    render(
        "vault.service",
        context! {
            island => island,
            script => SCRIPT_PATH,
            state_dir => STATE_DIR,
        },
    )
}

pub fn timer(island: &str) -> String {
    render("vault.timer", context! { island => island })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vault_costs_its_backups_twice_and_alarms_at_one_and_a_half() {
        assert_eq!(quota(10), 20);
        assert_eq!(growth_alarm(10), 15);
        assert_eq!(quota(u64::MAX), u64::MAX);
    }

    #[test]
    fn units_name_their_island_and_run_the_pass() {
        let service = service("ouest");
        assert!(service.contains("island \"ouest\""));
        assert!(service.contains(&format!("ExecStart={SCRIPT_PATH} pass")));
        assert!(service.contains(&format!("ReadWritePaths={STATE_DIR}")));
        assert!(timer("ouest").contains("OnCalendar=hourly"));
    }
}
