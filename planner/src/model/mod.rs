//! The archipelago as the file describes it: plain typed data, built by
//! [`crate::language`] and checked by [`crate::validate`].
//!
//! Every value is what the user wrote or its documented default. Where each
//! block and attribute was written is kept beside the data (`origin`), so
//! later checks can point at the exact attribute. A backup job and what
//! it runs are in `backup.rs`.

mod backup;

pub use backup::{
    Backup, Dump, Hooks, HostCommand, Keep, LocalCopy, Notify, PingKind, PingUrl, ResticSource,
};

use crate::duration::Duration;
use crate::size::Size;
use crate::source::Span;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Archipelago {
    pub islands: Vec<Island>,
    pub chatons: Vec<Chaton>,
    pub buckets: Vec<Bucket>,
}

impl Archipelago {
    pub fn island(&self, name: &str) -> Option<&Island> {
        self.islands.iter().find(|i| i.name == name)
    }

    pub fn chaton(&self, name: &str) -> Option<&Chaton> {
        self.chatons.iter().find(|c| c.name == name)
    }

    /// The chatons whose nodes serve an island (its Garage zones).
    pub fn members<'a>(&'a self, island: &'a str) -> impl Iterator<Item = &'a Chaton> + 'a {
        self.chatons.iter().filter(move |c| c.island == island)
    }

    /// Every backup job that stores its data on an island, with its chaton.
    pub fn backups_to<'a>(
        &'a self,
        island: &'a str,
    ) -> impl Iterator<Item = (&'a Chaton, &'a Backup)> + 'a {
        self.chatons
            .iter()
            .flat_map(|c| c.backups.iter().map(move |b| (c, b)))
            .filter(move |(_, b)| b.to == island)
    }
}

/// What concerns one island: its members (its zones), the backups that go
/// to it and its buckets, gathered in one pass over the archipelago so
/// that rules about every island stay linear in the file.
#[derive(Debug, Default)]
pub struct IslandParts<'a> {
    pub members: Vec<&'a Chaton>,
    pub backups: Vec<(&'a Chaton, &'a Backup)>,
    pub buckets: Vec<&'a Bucket>,
}

/// [`IslandParts`] of every island, by name.
#[derive(Debug, Default)]
pub struct IslandIndex<'a>(std::collections::HashMap<&'a str, IslandParts<'a>>);

static NO_PARTS: IslandParts<'static> = IslandParts {
    members: Vec::new(),
    backups: Vec::new(),
    buckets: Vec::new(),
};

impl<'a> IslandIndex<'a> {
    /// An island's parts (none for a name nothing refers to).
    pub fn of(&self, island: &str) -> &IslandParts<'a> {
        self.0.get(island).unwrap_or(&NO_PARTS)
    }
}

impl Archipelago {
    pub fn by_island(&self) -> IslandIndex<'_> {
        let mut index: std::collections::HashMap<&str, IslandParts<'_>> =
            std::collections::HashMap::new();
        for chaton in &self.chatons {
            index
                .entry(&chaton.island)
                .or_default()
                .members
                .push(chaton);
            for backup in &chaton.backups {
                index
                    .entry(&backup.to)
                    .or_default()
                    .backups
                    .push((chaton, backup));
            }
        }
        for bucket in &self.buckets {
            index
                .entry(&bucket.island)
                .or_default()
                .buckets
                .push(bucket);
        }
        IslandIndex(index)
    }
}

impl Archipelago {
    /// Every machine archipel reaches over SSH, once each: the nodes, then
    /// the backup hosts that are not also nodes.
    /// One machine of [`Archipelago::machines`], by name.
    pub fn machine(&self, name: &str) -> Option<Machine> {
        self.machines().into_iter().find(|m| m.name == name)
    }

    pub fn machines(&self) -> Vec<Machine> {
        let mut machines: Vec<Machine> = Vec::new();
        // Where each machine is in `machines`, by where SSH lands.
        let mut index: std::collections::HashMap<(String, u16), usize> =
            std::collections::HashMap::new();
        for node in self.chatons.iter().flat_map(|c| &c.nodes) {
            index
                .entry(node.ssh.machine_key())
                .or_insert(machines.len());
            machines.push(Machine {
                name: node.name.clone(),
                ssh: node.ssh.clone(),
                host_key: node.host_key.clone(),
                node: Some(node.name.clone()),
                backups: Vec::new(),
            });
        }
        let mut host = |ssh: &SshTarget, job: Option<String>| {
            let at = *index.entry(ssh.machine_key()).or_insert_with(|| {
                machines.push(Machine {
                    name: ssh.machine_name(),
                    ssh: ssh.clone(),
                    host_key: None,
                    node: None,
                    backups: Vec::new(),
                });
                machines.len() - 1
            });
            machines[at].backups.extend(job);
        };
        for chaton in &self.chatons {
            for backup in &chaton.backups {
                host(
                    &backup.host,
                    Some(format!("{}/{}", chaton.name, backup.name)),
                );
            }
        }
        // Hosts of removed jobs are reached too, to take the jobs off.
        for removed in self.chatons.iter().flat_map(|c| &c.removed) {
            host(&removed.host, None);
        }
        machines
    }
}

/// A machine archipel connects to, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// The node's name, or the host name of a backup host.
    pub name: String,
    pub ssh: SshTarget,
    pub host_key: Option<String>,
    /// The Garage node this machine is, if any.
    pub node: Option<String>,
    /// The backup jobs (`chaton/job`) that run on it.
    pub backups: Vec<String>,
}

/// Where a block and its attributes are written.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The block's header: its type and labels.
    pub block: Span,
    pub attributes: BTreeMap<&'static str, Span>,
}

impl Origin {
    /// The attribute's value if it was written, else the block header (for
    /// defaults and missing attributes).
    pub fn attribute(&self, name: &str) -> Span {
        self.attributes.get(name).unwrap_or(&self.block).clone()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Island {
    pub name: String,
    pub garage: Garage,
    /// The S3 endpoint clients use, e.g. a load-balanced name. Default: a
    /// member node.
    pub s3_endpoint: Option<String>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize)]
pub struct Garage {
    pub version: String,
    pub binary: BinarySource,
    pub sha256: String,
    pub replication_factor: u8,
    pub db_engine: DbEngine,
    pub consistency_mode: ConsistencyMode,
    pub rpc_port: u16,
    pub s3_port: u16,
    pub admin_port: u16,
    pub s3_region: String,
    /// Where the admin API listens instead of the loopback, for
    /// Prometheus to scrape `/metrics` (with the island's metrics token).
    pub metrics_bind: Option<String>,
    /// node_exporter's textfile directory on each node, where a timer
    /// writes Garage's metrics every minute.
    pub metrics_textfile: Option<String>,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinarySource {
    /// Fetched once by archipel over https, verified, uploaded to nodes.
    Url(String),
    /// A file on the machine running archipel.
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbEngine {
    Lmdb,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyMode {
    Consistent,
    Degraded,
    Dangerous,
}

#[derive(Debug, Clone, Serialize)]
pub struct Chaton {
    pub name: String,
    /// The island its nodes serve; its Garage zone there is its name.
    pub island: String,
    pub contact: String,
    /// Who can read its repositories' passwords if a backup host is lost:
    /// age (`age1…`) or SSH (`ssh-ed25519 …`) public keys of its admins.
    /// `None` when the file does not say (a warning if it has backups);
    /// an empty list opts out on purpose.
    pub escrow: Option<Vec<String>>,
    /// No plan may destroy its nodes, key, backup bucket or backup jobs.
    pub prevent_destroy: bool,
    /// The island-side copy of its backups that its hosts cannot delete.
    pub vault: Vault,
    /// node_exporter's textfile directory on its backup hosts, where each
    /// job's runner writes its metrics after each run.
    pub metrics_dir: String,
    /// Pings of its jobs' runs (a job's own `notify` replaces it).
    pub notify: Option<Notify>,
    pub nodes: Vec<Node>,
    pub backups: Vec<Backup>,
    /// Backup jobs taken out of the file whose host is still to be cleaned.
    pub removed: Vec<Removed>,
    #[serde(skip)]
    pub origin: Origin,
}

/// `vault { keep_deleted = "30d" }` or `vault = false`: a copy of the
/// chaton's backup bucket on each destination island that no backup host
/// can delete from (see docs/vault-design.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vault {
    pub enabled: bool,
    /// How long an object deleted from the backup bucket stays in the vault.
    pub keep_deleted: Duration,
    /// Where the file said so: `vault = false`, or the `keep_deleted` value.
    #[serde(skip)]
    pub origin: Option<Span>,
}

impl Vault {
    pub const DEFAULT_KEEP_DELETED: Duration = Duration::from_seconds(30 * 86_400);
}

impl Default for Vault {
    fn default() -> Self {
        Vault {
            enabled: true,
            keep_deleted: Vault::DEFAULT_KEEP_DELETED,
            origin: None,
        }
    }
}

/// `removed "JOB" { host = … }`: a backup job the chaton no longer runs,
/// on a host that may have left the file: archipel still reaches it, to
/// take the job off (as Terraform's `removed` block).
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub name: String,
    pub host: SshTarget,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub ssh: SshTarget,
    /// A pinned host key (`ssh-ed25519 AAAA…`), enforced on connection.
    pub host_key: Option<String>,
    /// Storage this node offers to its island (a layout weight, SI bytes).
    /// No plan may take it out of its island.
    pub prevent_destroy: bool,
    pub capacity: Size,
    pub data_dir: String,
    pub meta_dir: String,
    /// `host:port` other nodes reach this node's RPC on. Default: the SSH
    /// host and the island's RPC port.
    pub rpc_public_addr: Option<String>,
    #[serde(skip)]
    pub origin: Origin,
}

/// A bucket that is not a backup: shared data an island keeps for chatons.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub name: String,
    pub island: String,
    pub quota: Option<Size>,
    /// Chatons whose key may read the bucket.
    pub readers: Vec<String>,
    /// Chatons whose key may read and write the bucket.
    pub writers: Vec<String>,
    /// No plan may delete it or take permissions on it away.
    pub prevent_destroy: bool,
    #[serde(skip)]
    pub origin: Origin,
}

/// `user@host:port`, as given to `ssh`. The user defaults to root; a missing
/// port is left to `~/.ssh/config` (then 22).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshTarget {
    pub fn parse(text: &str) -> Result<SshTarget, String> {
        let text = text.trim();
        let (user, rest) = match text.rsplit_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, text),
        };
        if let Some(user) = user
            && (user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return Err(format!("\"{user}\" is not a valid user name"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("\"{rest}\": missing \"]\" after an IPv6 address"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("\"{after}\" after \"]\" is not \":PORT\"")),
                },
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err("the host is missing; write user@host or user@host:port".into());
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
        {
            return Err(format!("\"{host}\" is not a host name or address"));
        }
        let port = port
            .map(|p| match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("\"{p}\" is not a port number (1-65535)")),
                Ok(port) => Ok(port),
            })
            .transpose()?;
        Ok(SshTarget {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        })
    }

    /// How a backup host is named in plans: where SSH lands, without the
    /// user (`root@h` and `backup@h` are one machine), with the port when
    /// one is given (two VMs behind one NAT address are two machines).
    pub fn machine_name(&self) -> String {
        match self.port {
            Some(port) if port != 22 => format!("{}:{port}", self.host.to_ascii_lowercase()),
            _ => self.host.to_ascii_lowercase(),
        }
    }

    /// The same machine, whatever user logs in.
    pub fn same_machine(&self, other: &SshTarget) -> bool {
        self.machine_key() == other.machine_key()
    }

    /// What [`SshTarget::same_machine`] compares, to index machines by.
    pub fn machine_key(&self) -> (String, u16) {
        (self.host.to_ascii_lowercase(), self.port.unwrap_or(22))
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_targets() {
        let t = SshTarget::parse("root@pica1.picasoft.net:2222").unwrap();
        assert_eq!(t.user.as_deref(), Some("root"));
        assert_eq!(t.host, "pica1.picasoft.net");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.to_string(), "root@pica1.picasoft.net:2222");

        let t = SshTarget::parse("ops@[fd00::1]:22").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("fd00::1", Some(22)));
        assert_eq!(t.to_string(), "ops@[fd00::1]:22");

        let t = SshTarget::parse("node3").unwrap();
        assert_eq!((t.user, t.port), (None, None));

        for bad in [
            "",
            "root@",
            "@host",
            "root@host:0",
            "root@host:99999",
            "root@ho st",
            "a@[::1",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_machine_ignores_the_user_and_defaults_the_port() {
        let a = SshTarget::parse("root@host").unwrap();
        let b = SshTarget::parse("ops@HOST:22").unwrap();
        let c = SshTarget::parse("root@host:2222").unwrap();
        assert!(a.same_machine(&b));
        assert!(!a.same_machine(&c));
        assert_eq!(a.machine_name(), b.machine_name());
        assert_ne!(a.machine_name(), c.machine_name());
        assert_eq!(c.machine_name(), "host:2222");
    }
}
