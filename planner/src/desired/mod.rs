//! The desired state: what the archipelago file means on the machines and
//! in each island's Garage cluster, derived from the model alone.
//!
//! Per island: every member node runs Garage with its config and unit, and
//! holds a layout role (zone = its chaton, capacity as declared); per chaton
//! backing up to the island, one bucket `backup-CHATON` whose quota is the sum
//! of its jobs' quotas and one key `archipel-CHATON` with read and write on it
//! only; per declared bucket, the bucket and its readers' and writers' keys.
//! A backup job on its host, and what its host is asked of it, are in
//! `job.rs`.

mod job;

use crate::backup;
use crate::endpoints::{s3_endpoints, s3_risks};
use crate::garage;
use crate::model::{Archipelago, Backup, Chaton, Island, IslandParts, Node, ResticSource};
use crate::observed::{FactsQuery, FileQuery, Permissions, Read};
use crate::vault;
pub use job::{DesiredBackup, DesiredEscrow, DesiredPing, DesiredPingSource, DesiredUnit};
use job::{desired_backup, job_query};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Desired {
    pub islands: Vec<DesiredIsland>,
    pub backups: Vec<DesiredBackup>,
    /// What `prevent_destroy = true` guards.
    pub guarded: Guarded,
    /// Jobs the file declares removed, still to be taken off their hosts.
    pub removed: Vec<RemovedJob>,
    /// Nodes the operator declared dead (`--dead-node`): out of the file,
    /// their machine gone for good. Not the file's to say: a command's
    /// flag sets it, and the plan names it.
    pub dead_nodes: std::collections::BTreeSet<String>,
}

/// A `removed` block: the job, and the machine it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedJob {
    pub chaton: String,
    pub job: String,
    pub machine: String,
}

/// Chatons, nodes and buckets no plan may destroy.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Guarded {
    pub chatons: std::collections::BTreeSet<String>,
    pub nodes: std::collections::BTreeSet<String>,
    pub buckets: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesiredIsland {
    pub name: String,
    pub replication_factor: u8,
    pub version: String,
    pub binary_sha256: String,
    /// Where its nodes serve S3 (on every node) and the region it signs.
    pub s3_port: u16,
    pub s3_region: String,
    pub nodes: Vec<DesiredNode>,
    pub buckets: Vec<DesiredBucket>,
    /// Key names, sorted.
    pub keys: Vec<String>,
    /// What Garage's layout will let it hold, and what the file promises.
    pub capacity: crate::capacity::Capacity,
    /// How backups to it may be exposed ([`s3_risks`]); empty when none
    /// go to it.
    pub s3_risks: Vec<String>,
    /// The vaults of the chatons backing up to it, when any has one.
    pub vaults: Option<DesiredVaults>,
}

/// What runs an island's vault passes, on the one node the plan picks.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredVaults {
    /// Chatons with a vault on the island, sorted.
    pub chatons: Vec<String>,
    /// `vault::CONFIG_FILE`'s content.
    pub config: String,
    pub service: String,
    pub timer: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesiredNode {
    pub name: String,
    /// Its chaton: the Garage zone.
    pub zone: String,
    pub capacity: u64,
    pub tags: Vec<String>,
    pub meta_dir: String,
    pub data_dir: String,
    pub config: String,
    pub unit: String,
    pub rpc_public_addr: String,
    /// The scraper writing Garage's metrics into a textfile, when the
    /// island has `metrics_textfile`: its service and timer.
    pub metrics: Option<DesiredScraper>,
}

/// The node's own scraper of Garage's `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredScraper {
    pub service: String,
    pub timer: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesiredBucket {
    /// The bucket's global alias.
    pub name: String,
    pub quota: Option<u64>,
    /// Permissions per key name.
    pub grants: BTreeMap<String, Permissions>,
    /// A backup bucket or a vault: it never keeps a lifecycle
    /// configuration, which would let Garage delete backups by itself.
    pub holds_backups: bool,
}

/// Every Debian machine's ed25519 host key (public: sshd hands it to
/// anyone who connects).
pub const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// Backup buckets' names start with this (the language reserves it).
pub const BACKUP_BUCKET_PREFIX: &str = "backup-";

/// archipel's keys' names start with this: a live key so named is
/// archipel's, and deleted (when allowed) once the file no longer needs it.
pub const KEY_PREFIX: &str = "archipel-";

/// The bucket holding a chaton's backups on an island.
pub fn backup_bucket(chaton: &str) -> String {
    format!("{BACKUP_BUCKET_PREFIX}{chaton}")
}

/// The key a chaton uses on an island, owned by archipel.
pub fn chaton_key(chaton: &str) -> String {
    format!("{KEY_PREFIX}{chaton}")
}

const READ_WRITE: Permissions = Permissions {
    read: true,
    write: true,
    owner: false,
};
const READ_ONLY: Permissions = Permissions {
    read: true,
    write: false,
    owner: false,
};

pub fn desired(model: &Archipelago) -> Desired {
    let by_island = model.by_island();
    let islands: Vec<DesiredIsland> = model
        .islands
        .iter()
        .map(|island| desired_island(island, by_island.of(&island.name)))
        .collect();
    let machines = model.machines();
    // Each machine's name, by where SSH lands.
    let machine_names: std::collections::HashMap<(String, u16), &str> = machines
        .iter()
        .rev()
        .map(|m| (m.ssh.machine_key(), m.name.as_str()))
        .collect();
    let island_of: std::collections::HashMap<&str, &Island> = model
        .islands
        .iter()
        .rev()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let endpoints: std::collections::HashMap<&str, Vec<String>> = model
        .islands
        .iter()
        .map(|i| (i.name.as_str(), s3_endpoints(i, by_island.of(&i.name))))
        .collect();
    let backups = model
        .chatons
        .iter()
        .flat_map(|chaton| chaton.backups.iter().map(move |backup| (chaton, backup)))
        .filter_map(|(chaton, backup)| {
            let island = island_of.get(backup.to.as_str())?;
            let machine = machine_names
                .get(&backup.host.machine_key())
                .map_or_else(|| backup.host.machine_name(), |m| m.to_string());
            Some(desired_backup(
                island,
                chaton,
                backup,
                machine,
                &endpoints[backup.to.as_str()],
            ))
        })
        .collect();
    let mut guarded = Guarded::default();
    for chaton in &model.chatons {
        if chaton.prevent_destroy {
            guarded.chatons.insert(chaton.name.clone());
        }
        for node in chaton.nodes.iter().filter(|n| n.prevent_destroy) {
            guarded.nodes.insert(node.name.clone());
        }
    }
    for bucket in model.buckets.iter().filter(|b| b.prevent_destroy) {
        guarded.buckets.insert(bucket.name.clone());
    }
    let removed = model
        .chatons
        .iter()
        .flat_map(|c| c.removed.iter().map(move |r| (c, r)))
        .filter_map(|(chaton, removed)| {
            let machine = machine_names.get(&removed.host.machine_key())?;
            Some(RemovedJob {
                chaton: chaton.name.clone(),
                job: removed.name.clone(),
                machine: machine.to_string(),
            })
        })
        .collect();
    Desired {
        islands,
        backups,
        guarded,
        removed,
        dead_nodes: Default::default(),
    }
}

fn desired_island(island: &Island, parts: &IslandParts) -> DesiredIsland {
    let nodes = parts
        .members
        .iter()
        .flat_map(|chaton| {
            chaton
                .nodes
                .iter()
                .map(move |node| desired_node(island, chaton, node))
        })
        .collect();

    let vaulted = vaulted(parts);
    let buckets = desired_buckets(parts, &vaulted);
    let mut keys: Vec<String> = buckets
        .iter()
        .flat_map(|b| b.grants.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    let receives_backups = !parts.backups.is_empty();
    DesiredIsland {
        capacity: crate::capacity::island_capacity(island, parts),
        s3_risks: if receives_backups {
            s3_risks(island, parts)
        } else {
            Vec::new()
        },
        name: island.name.clone(),
        replication_factor: island.garage.replication_factor,
        version: island.garage.version.clone(),
        binary_sha256: island.garage.sha256.clone(),
        s3_port: island.garage.s3_port,
        s3_region: island.garage.s3_region.clone(),
        vaults: (!vaulted.is_empty()).then(|| DesiredVaults {
            chatons: vaulted.iter().map(|(c, _)| c.name.clone()).collect(),
            config: vault::config(&island.name, &vaulted),
            service: vault::service(&island.name),
            timer: vault::timer(&island.name),
        }),
        nodes,
        buckets,
        keys,
    }
}

/// An island's buckets, sorted: each chaton's backup bucket and vault, and
/// the file's own buckets.
fn desired_buckets(parts: &IslandParts, vaulted: &[(&Chaton, Vec<&Backup>)]) -> Vec<DesiredBucket> {
    let mut buckets: Vec<DesiredBucket> = Vec::new();
    let mut per_chaton: BTreeMap<&str, u64> = BTreeMap::new();
    for (chaton, backup) in &parts.backups {
        *per_chaton.entry(chaton.name.as_str()).or_default() += backup.quota.bytes();
    }
    for (chaton, quota) in &per_chaton {
        let has_vault = vaulted.iter().any(|(c, _)| c.name == *chaton);
        let mut grants = BTreeMap::from([(chaton_key(chaton), READ_WRITE)]);
        if has_vault {
            // The pass reads the backups; no backup host's key reaches the vault.
            grants.insert(vault::KEY.to_string(), READ_ONLY);
            buckets.push(DesiredBucket {
                name: vault::bucket(chaton),
                quota: Some(vault::quota(*quota)),
                grants: BTreeMap::from([(vault::KEY.to_string(), READ_WRITE)]),
                holds_backups: true,
            });
        }
        buckets.push(DesiredBucket {
            name: backup_bucket(chaton),
            quota: Some(*quota),
            grants,
            holds_backups: true,
        });
    }
    for bucket in &parts.buckets {
        let mut grants = BTreeMap::new();
        for reader in &bucket.readers {
            grants.insert(chaton_key(reader), READ_ONLY);
        }
        for writer in &bucket.writers {
            grants.insert(chaton_key(writer), READ_WRITE);
        }
        buckets.push(DesiredBucket {
            name: bucket.name.clone(),
            quota: bucket.quota.map(|q| q.bytes()),
            grants,
            holds_backups: false,
        });
    }
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    buckets
}

/// The chatons with a vault on an island, sorted, each with its jobs there.
fn vaulted<'a>(parts: &IslandParts<'a>) -> Vec<(&'a Chaton, Vec<&'a Backup>)> {
    let mut vaulted: Vec<(&Chaton, Vec<&Backup>)> = Vec::new();
    for (chaton, backup) in &parts.backups {
        if !chaton.vault.enabled {
            continue;
        }
        match vaulted.iter_mut().find(|(c, _)| c.name == chaton.name) {
            Some((_, jobs)) => jobs.push(backup),
            None => vaulted.push((chaton, vec![backup])),
        }
    }
    vaulted.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    vaulted
}

fn desired_node(island: &Island, chaton: &Chaton, node: &Node) -> DesiredNode {
    DesiredNode {
        name: node.name.clone(),
        zone: chaton.name.clone(),
        capacity: node.capacity.bytes(),
        tags: garage::role_tags(node),
        meta_dir: node.meta_dir.clone(),
        data_dir: node.data_dir.clone(),
        config: garage::config(island, node),
        unit: garage::unit(island, node),
        rpc_public_addr: garage::rpc_public_addr(island, node),
        metrics: garage::metrics_units(island, node)
            .map(|(service, timer)| DesiredScraper { service, timer }),
    }
}

impl Desired {
    /// A backup job named as users write it: `CHATON/JOB`.
    pub fn backup(&self, name: &str) -> Result<&DesiredBackup, String> {
        let (chaton, job) = name
            .split_once('/')
            .ok_or_else(|| format!("{name}: write the job as CHATON/JOB"))?;
        self.backups
            .iter()
            .find(|b| b.chaton == chaton && b.job == job)
            .ok_or_else(|| format!("the file has no backup job {name}"))
    }

    /// What a node says of the island's vault passes.
    fn vault_query(&self, machine: &str, query: &mut FactsQuery) {
        if let Some(island) = self.island_of_node(machine) {
            // Every node says whether it runs vault passes: the plan keeps
            // them where they run, and takes them off a node that no longer
            // should.
            let timer = format!("{}/{}", vault::UNITS_DIR, vault::TIMER);
            query.files.push(FileQuery::new(timer, Read::Content));
            query.units.push(vault::TIMER.into());
            if island.vaults.is_some() {
                query.files.extend([
                    FileQuery::new(vault::SCRIPT_PATH, Read::Content),
                    FileQuery::new(vault::CONFIG_FILE, Read::Content),
                    FileQuery::new(vault::CREDENTIALS_FILE, Read::Metadata),
                    FileQuery::new(vault::STATE_DIR, Read::Metadata),
                    FileQuery::new(
                        format!("{}/{}", vault::UNITS_DIR, vault::SERVICE),
                        Read::Content,
                    ),
                ]);
                let (name, snippet) = vault::RCLONE_PROBE;
                query.probes.push((name.into(), snippet.into()));
            }
        }
    }

    /// The island a machine is a node of.
    pub fn island_of_node(&self, machine: &str) -> Option<&DesiredIsland> {
        self.islands
            .iter()
            .find(|i| i.nodes.iter().any(|n| n.name == machine))
    }

    /// What to observe on a machine: Garage's files if it is a node, each
    /// job's files and units if it is a backup host. Secrets: metadata only.
    pub fn facts_query(&self, machine: &str) -> FactsQuery {
        let mut query = FactsQuery::default();
        // Its own public host key: two machines with one key are one
        // machine under two names, or clones of one image.
        query.files.push(FileQuery::new(HOST_KEY, Read::Content));
        // Jobs installed there, to find those the file no longer has.
        let (name, snippet) = backup::JOBS_PROBE;
        query.probes.push((name.into(), snippet.into()));
        for node in self
            .islands
            .iter()
            .flat_map(|i| &i.nodes)
            .filter(|n| n.name == machine)
        {
            query.files.extend([
                FileQuery::new(garage::BINARY, Read::Hash),
                FileQuery::new(garage::CONFIG, Read::Content),
                FileQuery::new(garage::UNIT, Read::Content),
                FileQuery::new(garage::RPC_SECRET, Read::Metadata),
                FileQuery::new(garage::ADMIN_TOKEN, Read::Metadata),
                FileQuery::new(garage::METRICS_TOKEN, Read::Metadata),
                FileQuery::new(garage::METRICS_CURL_CONFIG, Read::Metadata),
                FileQuery::new(
                    format!("{}/{}", backup::UNITS_DIR, garage::METRICS_SERVICE),
                    Read::Content,
                ),
                FileQuery::new(
                    format!("{}/{}", backup::UNITS_DIR, garage::METRICS_TIMER),
                    Read::Content,
                ),
                FileQuery::new(node.meta_dir.clone(), Read::Metadata),
                FileQuery::new(node.data_dir.clone(), Read::Metadata),
                FileQuery::new(garage::node_key_path(&node.meta_dir), Read::Hex),
                FileQuery::new(garage::data_layout_path(&node.meta_dir), Read::Metadata),
                FileQuery::new(garage::data_marker_path(&node.data_dir), Read::Metadata),
            ]);
            query.units.push(garage::SERVICE.into());
            query.units.push(garage::METRICS_TIMER.into());
            for (name, snippet) in [
                garage::VERSION_PROBE,
                garage::USER_PROBE,
                garage::DATABASES_PROBE,
            ] {
                query.probes.push((name.into(), snippet.into()));
            }
        }
        self.vault_query(machine, &mut query);
        let jobs: Vec<&DesiredBackup> = self
            .backups
            .iter()
            .filter(|b| b.machine == machine)
            .collect();
        if let Some(first) = jobs.first() {
            // Whether restic is there, without starting it (a Go binary
            // takes 0.1 s to say its version): Debian's package by its
            // file, a pinned binary by its hash.
            query.files.push(match first.restic {
                ResticSource::Package => FileQuery::new(backup::PACKAGED_RESTIC, Read::Metadata),
                ResticSource::Binary { .. } => FileQuery::new(backup::PINNED_RESTIC, Read::Hash),
            });
            query
                .files
                .push(FileQuery::new(backup::RUNNER, Read::Content));
            for dir in [backup::STATUS_DIR, backup::CACHE_DIR] {
                query.files.push(FileQuery::new(dir, Read::Metadata));
            }
        }
        for job in jobs {
            job_query(job, &mut query);
        }
        query
    }
}
