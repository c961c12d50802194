//! Addresses: how a plan names each thing in the archipelago, the way the
//! file reads — `island.ouest.node.pica-1.config`,
//! `island.est.bucket.backup-picasoft.grant.archipel-picasoft`,
//! `chaton.picasoft.backup.nextcloud.backup.timer`, `host.bk.example.org.restic`.
//!
//! Every address is built and read here, nowhere else: plan, scope,
//! renderers, saved plans and apply hold an [`Address`], and its text is
//! what people and scripts see (`Display`, `FromStr`, and serde as that
//! text). Names of islands, chatons, nodes, jobs, buckets and keys never
//! hold a dot (see `language::check_name`); a machine's name may (`host.`
//! and `machine.` addresses put it where it can be told apart).

use crate::backup::Task;
use crate::plan::{BackupStep, HostStep, NodeStep, VaultStep};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `island.I`
    Island { island: String },
    /// `island.I.connect`: the nodes meeting.
    Connect { island: String },
    /// `island.I.upgrade`: Garage's preparation for a new release.
    Upgrade { island: String },
    /// `island.I.layout`
    Layout { island: String },
    /// `island.I.layout.role.ID`: a role in the live layout, by the first
    /// 16 hex digits of its node ID.
    LayoutRole { island: String, id: String },
    /// `island.I.node.N`: a node of the file, or a live one by short ID.
    Node { island: String, node: String },
    /// `island.I.node.N.config`…
    NodeStep {
        island: String,
        node: String,
        step: NodeStep,
    },
    /// `island.I.node.N.vault`: the island's vault passes on a node.
    Vault { island: String, node: String },
    /// `island.I.node.N.vault.timer`…
    VaultStep {
        island: String,
        node: String,
        step: VaultStep,
    },
    /// `island.I.bucket.*`: every bucket of an island.
    Buckets { island: String },
    /// `island.I.bucket.B`
    Bucket { island: String, bucket: String },
    /// `island.I.bucket.B.grant.K`: a key's permission on a bucket.
    Grant {
        island: String,
        bucket: String,
        key: String,
    },
    /// `island.I.key.*`: every key of an island.
    Keys { island: String },
    /// `island.I.key.K`
    Key { island: String, key: String },
    /// `chaton.C`
    Chaton { chaton: String },
    /// `chaton.C.backup.J`: a job (removed, or not planned).
    Job { chaton: String, job: String },
    /// `chaton.C.backup.J.previous-host`: a moved job, on the host it left.
    JobPreviousHost { chaton: String, job: String },
    /// `chaton.C.backup.J.settings`, `….backup.timer`…
    JobStep {
        chaton: String,
        job: String,
        step: BackupStep,
    },
    /// `host.M.restic`, `host.M.runner`: what a backup host needs once.
    Host { machine: String, step: HostStep },
    /// `machine.M`: a machine as a whole (where SSH lands, its identity).
    Machine { machine: String },
}

impl Address {
    /// The island it is on or is, if any.
    pub fn island(&self) -> Option<&str> {
        match self {
            Address::Island { island }
            | Address::Connect { island }
            | Address::Upgrade { island }
            | Address::Layout { island }
            | Address::LayoutRole { island, .. }
            | Address::Node { island, .. }
            | Address::NodeStep { island, .. }
            | Address::Vault { island, .. }
            | Address::VaultStep { island, .. }
            | Address::Buckets { island }
            | Address::Bucket { island, .. }
            | Address::Grant { island, .. }
            | Address::Keys { island }
            | Address::Key { island, .. } => Some(island),
            _ => None,
        }
    }

    /// The chaton whose jobs it is under, if any.
    pub fn chaton(&self) -> Option<&str> {
        match self {
            Address::Chaton { chaton }
            | Address::Job { chaton, .. }
            | Address::JobPreviousHost { chaton, .. }
            | Address::JobStep { chaton, .. } => Some(chaton),
            _ => None,
        }
    }

    /// The Garage node it is or is a step of, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Address::Node { node, .. }
            | Address::NodeStep { node, .. }
            | Address::Vault { node, .. }
            | Address::VaultStep { node, .. } => Some(node),
            _ => None,
        }
    }

    /// What it is part of: `island.I` for `island.I.layout`, `island.I.node.N`
    /// for its steps, `chaton.C.backup.J` for a job's steps.
    pub fn parent(&self) -> Option<Address> {
        let island = |island: &String| Address::Island {
            island: island.clone(),
        };
        match self {
            Address::Island { .. } | Address::Chaton { .. } | Address::Machine { .. } => None,
            Address::Connect { island: i }
            | Address::Upgrade { island: i }
            | Address::Layout { island: i }
            | Address::Node { island: i, .. }
            | Address::Buckets { island: i }
            | Address::Bucket { island: i, .. }
            | Address::Keys { island: i }
            | Address::Key { island: i, .. } => Some(island(i)),
            Address::LayoutRole { island, .. } => Some(Address::Layout {
                island: island.clone(),
            }),
            Address::NodeStep { island, node, .. } | Address::Vault { island, node } => {
                Some(Address::Node {
                    island: island.clone(),
                    node: node.clone(),
                })
            }
            Address::VaultStep { island, node, .. } => Some(Address::Vault {
                island: island.clone(),
                node: node.clone(),
            }),
            Address::Grant { island, bucket, .. } => Some(Address::Bucket {
                island: island.clone(),
                bucket: bucket.clone(),
            }),
            Address::Job { chaton, .. } => Some(Address::Chaton {
                chaton: chaton.clone(),
            }),
            Address::JobPreviousHost { chaton, job } | Address::JobStep { chaton, job, .. } => {
                Some(Address::Job {
                    chaton: chaton.clone(),
                    job: job.clone(),
                })
            }
            Address::Host { machine, .. } => Some(Address::Machine {
                machine: machine.clone(),
            }),
        }
    }

    /// Whether `other` is this address or under it.
    pub fn contains(&self, other: &Address) -> bool {
        other == self || other.parent().is_some_and(|parent| self.contains(&parent))
    }
}

impl NodeStep {
    pub fn name(self) -> &'static str {
        match self {
            NodeStep::Binary => "binary",
            NodeStep::Directories => "directories",
            NodeStep::Config => "config",
            NodeStep::Secrets => "secrets",
            NodeStep::Unit => "unit",
            NodeStep::Service => "service",
            NodeStep::Data => "data",
            NodeStep::MetricsService => "metrics_service",
            NodeStep::MetricsTimer => "metrics_timer",
        }
    }

    const ALL: [NodeStep; 9] = [
        NodeStep::Binary,
        NodeStep::Directories,
        NodeStep::Config,
        NodeStep::Secrets,
        NodeStep::Unit,
        NodeStep::Service,
        NodeStep::Data,
        NodeStep::MetricsService,
        NodeStep::MetricsTimer,
    ];
}

impl VaultStep {
    pub fn name(self) -> &'static str {
        match self {
            VaultStep::Rclone => "rclone",
            VaultStep::Pass => "pass",
            VaultStep::Config => "config",
            VaultStep::Credentials => "credentials",
            VaultStep::Service => "service",
            VaultStep::Timer => "timer",
        }
    }

    const ALL: [VaultStep; 6] = [
        VaultStep::Rclone,
        VaultStep::Pass,
        VaultStep::Config,
        VaultStep::Credentials,
        VaultStep::Service,
        VaultStep::Timer,
    ];
}

impl HostStep {
    pub fn name(self) -> &'static str {
        match self {
            HostStep::Restic => "restic",
            HostStep::Runner => "runner",
        }
    }
}

impl fmt::Display for BackupStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupStep::Password => f.write_str("password"),
            BackupStep::Credentials => f.write_str("credentials"),
            BackupStep::Escrow => f.write_str("escrow"),
            BackupStep::Settings => f.write_str("settings"),
            BackupStep::Ping => f.write_str("ping"),
            BackupStep::Repository => f.write_str("repository"),
            BackupStep::LocalRepository => f.write_str("local_repository"),
            BackupStep::Service(task) => write!(f, "{}.service", task.name()),
            BackupStep::Timer(task) => write!(f, "{}.timer", task.name()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Island { island } => write!(f, "island.{island}"),
            Address::Connect { island } => write!(f, "island.{island}.connect"),
            Address::Upgrade { island } => write!(f, "island.{island}.upgrade"),
            Address::Layout { island } => write!(f, "island.{island}.layout"),
            Address::LayoutRole { island, id } => write!(f, "island.{island}.layout.role.{id}"),
            Address::Node { island, node } => write!(f, "island.{island}.node.{node}"),
            Address::NodeStep { island, node, step } => {
                write!(f, "island.{island}.node.{node}.{}", step.name())
            }
            Address::Vault { island, node } => write!(f, "island.{island}.node.{node}.vault"),
            Address::VaultStep { island, node, step } => {
                write!(f, "island.{island}.node.{node}.vault.{}", step.name())
            }
            Address::Buckets { island } => write!(f, "island.{island}.bucket.*"),
            Address::Bucket { island, bucket } => write!(f, "island.{island}.bucket.{bucket}"),
            Address::Grant {
                island,
                bucket,
                key,
            } => write!(f, "island.{island}.bucket.{bucket}.grant.{key}"),
            Address::Keys { island } => write!(f, "island.{island}.key.*"),
            Address::Key { island, key } => write!(f, "island.{island}.key.{key}"),
            Address::Chaton { chaton } => write!(f, "chaton.{chaton}"),
            Address::Job { chaton, job } => write!(f, "chaton.{chaton}.backup.{job}"),
            Address::JobPreviousHost { chaton, job } => {
                write!(f, "chaton.{chaton}.backup.{job}.previous-host")
            }
            Address::JobStep { chaton, job, step } => {
                write!(f, "chaton.{chaton}.backup.{job}.{step}")
            }
            Address::Host { machine, step } => write!(f, "host.{machine}.{}", step.name()),
            Address::Machine { machine } => write!(f, "machine.{machine}"),
        }
    }
}

/// A text that is no address archipel makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnAddress(pub String);

impl fmt::Display for NotAnAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an archipel address", self.0)
    }
}

impl std::error::Error for NotAnAddress {}

impl FromStr for Address {
    type Err = NotAnAddress;

    fn from_str(text: &str) -> Result<Address, NotAnAddress> {
        let bad = || NotAnAddress(text.to_string());
        // A machine's name may hold dots: it is all between the kind and
        // the step.
        if let Some(machine) = text.strip_prefix("machine.") {
            return Ok(Address::Machine {
                machine: machine.into(),
            });
        }
        if let Some(rest) = text.strip_prefix("host.") {
            let (machine, step) = rest.rsplit_once('.').ok_or_else(bad)?;
            let step = match step {
                "restic" => HostStep::Restic,
                "runner" => HostStep::Runner,
                _ => return Err(bad()),
            };
            return Ok(Address::Host {
                machine: machine.into(),
                step,
            });
        }
        let parts: Vec<&str> = text.split('.').collect();
        let s = |part: &str| part.to_string();
        let address = match parts.as_slice() {
            ["island", i] => Address::Island { island: s(i) },
            ["island", i, "connect"] => Address::Connect { island: s(i) },
            ["island", i, "upgrade"] => Address::Upgrade { island: s(i) },
            ["island", i, "layout"] => Address::Layout { island: s(i) },
            ["island", i, "layout", "role", id] => Address::LayoutRole {
                island: s(i),
                id: s(id),
            },
            ["island", i, "node", n, rest @ ..] => node_part(i, n, rest).ok_or_else(bad)?,
            ["island", i, "bucket", "*"] => Address::Buckets { island: s(i) },
            ["island", i, "bucket", b] => Address::Bucket {
                island: s(i),
                bucket: s(b),
            },
            ["island", i, "bucket", b, "grant", k] => Address::Grant {
                island: s(i),
                bucket: s(b),
                key: s(k),
            },
            ["island", i, "key", "*"] => Address::Keys { island: s(i) },
            ["island", i, "key", k] => Address::Key {
                island: s(i),
                key: s(k),
            },
            ["chaton", c] => Address::Chaton { chaton: s(c) },
            ["chaton", c, "backup", j] => Address::Job {
                chaton: s(c),
                job: s(j),
            },
            ["chaton", c, "backup", j, "previous-host"] => Address::JobPreviousHost {
                chaton: s(c),
                job: s(j),
            },
            ["chaton", c, "backup", j, step @ ..] => Address::JobStep {
                chaton: s(c),
                job: s(j),
                step: backup_step(step).ok_or_else(bad)?,
            },
            _ => return Err(bad()),
        };
        if parts.iter().any(|part| part.is_empty()) {
            return Err(bad());
        }
        Ok(address)
    }
}

/// `island.I.node.N…`: the node, one of its steps, its vault passes or
/// one of theirs.
fn node_part(island: &str, node: &str, rest: &[&str]) -> Option<Address> {
    let (island, node) = (island.to_string(), node.to_string());
    Some(match rest {
        [] => Address::Node { island, node },
        ["vault"] => Address::Vault { island, node },
        ["vault", step] => Address::VaultStep {
            island,
            node,
            step: *VaultStep::ALL.iter().find(|known| known.name() == *step)?,
        },
        [step] => Address::NodeStep {
            island,
            node,
            step: *NodeStep::ALL.iter().find(|known| known.name() == *step)?,
        },
        _ => return None,
    })
}

fn backup_step(parts: &[&str]) -> Option<BackupStep> {
    let task = |name: &str| Task::ALL.into_iter().find(|t| t.name() == name);
    Some(match parts {
        ["password"] => BackupStep::Password,
        ["credentials"] => BackupStep::Credentials,
        ["escrow"] => BackupStep::Escrow,
        ["settings"] => BackupStep::Settings,
        ["ping"] => BackupStep::Ping,
        ["repository"] => BackupStep::Repository,
        ["local_repository"] => BackupStep::LocalRepository,
        [name, "service"] => BackupStep::Service(task(name)?),
        [name, "timer"] => BackupStep::Timer(task(name)?),
        _ => return None,
    })
}

/// An address is equal to its text (`change.address == "island.a.layout"`).
impl PartialEq<str> for Address {
    fn eq(&self, text: &str) -> bool {
        text.parse::<Address>()
            .is_ok_and(|address| address == *self)
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, text: &&str) -> bool {
        self == *text
    }
}

/// In the order of their text: the order plans are listed in.
impl Ord for Address {
    fn cmp(&self, other: &Address) -> Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Address) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_reads_back_as_itself() {
        for text in [
            "island.ouest",
            "island.ouest.connect",
            "island.ouest.layout",
            "island.ouest.layout.role.abababababababab",
            "island.ouest.node.pica-1",
            "island.ouest.node.pica-1.binary",
            "island.ouest.node.pica-1.service",
            "island.ouest.node.pica-1.vault",
            "island.ouest.node.pica-1.vault.rclone",
            "island.ouest.node.pica-1.vault.timer",
            "island.ouest.bucket.*",
            "island.ouest.bucket.backup-a",
            "island.ouest.bucket.backup-a.grant.archipel-a",
            "island.ouest.key.*",
            "island.ouest.key.archipel-a",
            "chaton.a",
            "chaton.a.backup.data",
            "chaton.a.backup.data.previous-host",
            "chaton.a.backup.data.password",
            "chaton.a.backup.data.escrow",
            "chaton.a.backup.data.backup.service",
            "chaton.a.backup.data.drill.timer",
            "host.bk.example.org.restic",
            "host.203.0.113.5:2201.runner",
            "machine.bk.example.org",
        ] {
            let address: Address = text.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(address.to_string(), text);
            let json = serde_json::to_string(&address).unwrap();
            assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), address);
        }
    }

    #[test]
    fn a_text_archipel_never_makes_is_refused() {
        for text in [
            "",
            "island",
            "island.",
            "island.a.node.n.firmware",
            "island.a.node.n.vault.copy",
            "island.a.bucket.b.grant",
            "chaton.a.backup.j.fetch.timer",
            "host.bk",
            "host.bk.apt",
            "node.n",
        ] {
            assert!(text.parse::<Address>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn an_address_contains_what_is_under_it() {
        let at = |text: &str| text.parse::<Address>().unwrap();
        assert!(at("island.a").contains(&at("island.a.bucket.b.grant.k")));
        assert!(at("island.a.node.n").contains(&at("island.a.node.n.config")));
        assert!(at("island.a.node.n").contains(&at("island.a.node.n.vault.timer")));
        assert!(at("chaton.c").contains(&at("chaton.c.backup.j.backup.timer")));
        assert!(at("machine.bk.example.org").contains(&at("host.bk.example.org.restic")));
        assert!(!at("island.a").contains(&at("island.ab.layout")));
        assert!(!at("island.a.node.n").contains(&at("island.a.node.m.config")));
        assert!(!at("chaton.c").contains(&at("island.a.key.archipel-c")));
    }

    #[test]
    fn addresses_sort_as_their_text() {
        let mut addresses: Vec<Address> = ["island.b.layout", "chaton.z.backup.j", "island.a"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        addresses.sort();
        let texts: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["chaton.z.backup.j", "island.a", "island.b.layout"]);
    }
}
