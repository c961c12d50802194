//! Garage on a node as archipel installs it: where its files live and what
//! they contain. The config and unit are rendered from templates embedded in
//! the binary (minijinja, strict: an unknown variable is an error, not an
//! empty string).

use crate::desired::DesiredNode;
use crate::model::{ConsistencyMode, DbEngine, Island, Node};
use crate::observed::{FileFacts, HostFacts};
use crate::ownership::Ownership;
use crate::templates::render;
use minijinja::context;

pub const BINARY: &str = "/usr/local/bin/garage";
/// The binary replaced by the last upgrade, kept to roll back by hand.
pub const PREVIOUS_BINARY: &str = "/usr/local/bin/garage.previous";
pub const CONFIG: &str = "/etc/garage/garage.toml";
pub const RPC_SECRET: &str = "/etc/garage/rpc_secret";
pub const ADMIN_TOKEN: &str = "/etc/garage/admin_token";
/// The bearer `/metrics` wants (Garage's admin token is not accepted
/// there): one per island, kept like the other secrets.
pub const METRICS_TOKEN: &str = "/etc/garage/metrics_token";
/// curl's config for the node's own scraper: the metrics token as a
/// header, root's alone, written on the node from the token file.
pub const METRICS_CURL_CONFIG: &str = "/etc/garage/metrics-scrape.curl";
pub const METRICS_SERVICE: &str = "archipel-garage-metrics.service";
pub const METRICS_TIMER: &str = "archipel-garage-metrics.timer";
/// The textfile the scraper writes in the island's `metrics_textfile`.
pub const METRICS_TEXTFILE: &str = "garage.prom";
pub const UNIT: &str = "/etc/systemd/system/garage.service";
pub const SERVICE: &str = "garage.service";
pub const USER: &str = "garage";

/// The tag archipel puts on the layout roles it manages, beside the node's
/// name: roles without it are someone else's, and left alone.
pub const ROLE_TAG: &str = "archipel";

/// Probes run on every node with the facts: the installed version, and
/// whether the garage user exists.
pub const VERSION_PROBE: (&str, &str) = ("garage_version", "/usr/local/bin/garage --version");
pub const USER_PROBE: (&str, &str) = ("garage_user", "id -u garage");

/// A Garage release, as the file pins it (`2.5.0`) and as Garage reports it
/// (`v2.5.0`, `cargo:2.5.0`, `garage cargo:2.5.0 [features: …]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Release {
    /// The file's form: three numbers, an optional leading `v`.
    pub fn parse(text: &str) -> Option<Release> {
        let mut numbers = text.strip_prefix('v').unwrap_or(text).split('.');
        let mut next = || numbers.next()?.parse::<u32>().ok();
        let release = Release {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        numbers.next().is_none().then_some(release)
    }

    /// The release in what Garage reports: its first word that reads as
    /// one after any `v` or `cargo:` prefix (pre-release suffixes dropped).
    pub fn reported(text: &str) -> Option<Release> {
        text.split_whitespace().find_map(|word| {
            let word = word.rsplit(':').next().unwrap_or(word);
            let core = word.split(['-', '+']).next().unwrap_or(word);
            Release::parse(core)
        })
    }

    /// Garage's major version: "we will always bump the first nonzero
    /// component" for a major upgrade (its upgrading guide), so 0.8 and 0.9
    /// are two majors, 2.1 and 2.5 one.
    pub fn major_line(self) -> (u32, u32) {
        if self.major == 0 {
            (0, self.minor)
        } else {
            (self.major, 0)
        }
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Where a node keeps the metadata snapshot taken before its last upgrade,
/// out of Garage's `snapshots` directory (whose cleanup keeps only the two
/// newest, so the next automatic snapshot would delete it).
pub fn upgrade_snapshots_dir(meta_dir: &str) -> String {
    format!("{}/{UPGRADE_SNAPSHOTS}", meta_dir.trim_end_matches('/'))
}

pub const UPGRADE_SNAPSHOTS: &str = "archipel-snapshots";

/// Garage's public node key: its hex is the node's ID.
pub fn node_key_path(meta_dir: &str) -> String {
    format!("{}/node_key.pub", meta_dir.trim_end_matches('/'))
}

/// Where Garage records its data directories and the marker it wrote in
/// each (`data_layout`, in the metadata directory): present once Garage
/// has run on the node.
pub fn data_layout_path(meta_dir: &str) -> String {
    format!("{}/data_layout", meta_dir.trim_end_matches('/'))
}

/// A node's Garage ID (its public key, hex), once its daemon has run, as
/// its facts show it.
pub fn observed_node_id(facts: &HostFacts, node: &DesiredNode) -> Option<String> {
    match facts.files.get(&node_key_path(&node.meta_dir)) {
        Some(FileFacts::File {
            content: Some(hex), ..
        }) if hex.len() == 64 => Some(hex.clone()),
        _ => None,
    }
}

/// The node's data directory lost its blocks while the node kept its
/// identity: Garage's marker is gone from it ([`data_marker_path`]) though
/// its data layout records one ([`data_layout_path`]).
pub fn data_directory_lost(facts: &HostFacts, node: &DesiredNode) -> bool {
    matches!(
        facts.files.get(&data_layout_path(&node.meta_dir)),
        Some(FileFacts::File { .. })
    ) && matches!(
        facts.files.get(&data_marker_path(&node.data_dir)),
        Some(FileFacts::Missing)
    )
}

/// The marker Garage writes in a data directory the first time it uses it
/// (`garage-marker`). Missing while [`data_layout_path`] records it, the
/// directory lost its blocks (a new disk, a wiped one) though the node
/// kept its identity and metadata: Garage refuses to start on it until
/// its data layout is made anew, then a block repair refills it from the
/// other nodes.
pub fn data_marker_path(data_dir: &str) -> String {
    format!("{}/garage-marker", data_dir.trim_end_matches('/'))
}

/// The config: root's, readable by Garage.
pub const CONFIG_OWNER: Ownership = Ownership::new("root", USER, 0o640);
/// The secrets: Garage's alone (it refuses to start otherwise).
pub const SECRET_OWNER: Ownership = Ownership::new(USER, USER, 0o600);
/// The metadata and data directories: Garage's alone.
pub const DIRECTORY_OWNER: Ownership = Ownership::new(USER, USER, 0o700);
/// The unit.
pub const UNIT_OWNER: Ownership = Ownership::ROOT_READABLE;

/// The address other nodes reach this node's RPC on.
pub fn rpc_public_addr(island: &Island, node: &Node) -> String {
    match &node.rpc_public_addr {
        Some(addr) if addr.contains(':') => addr.clone(),
        Some(host) => format!("{host}:{}", island.garage.rpc_port),
        None if node.ssh.host.contains(':') => {
            format!("[{}]:{}", node.ssh.host, island.garage.rpc_port)
        }
        None => format!("{}:{}", node.ssh.host, island.garage.rpc_port),
    }
}

/// /etc/garage/garage.toml for a node.
pub fn config(island: &Island, node: &Node) -> String {
    let garage = &island.garage;
    render(
        "garage.toml",
        context! {
            island => &island.name,
            node => &node.name,
            meta_dir => &node.meta_dir,
            data_dir => &node.data_dir,
            db_engine => match garage.db_engine { DbEngine::Lmdb => "lmdb", DbEngine::Sqlite => "sqlite" },
            replication_factor => garage.replication_factor,
            consistency_mode => match garage.consistency_mode {
                ConsistencyMode::Consistent => "consistent",
                ConsistencyMode::Degraded => "degraded",
                ConsistencyMode::Dangerous => "dangerous",
            },
            rpc_bind_addr => format!("[::]:{}", garage.rpc_port),
            rpc_public_addr => rpc_public_addr(island, node),
            rpc_secret_file => RPC_SECRET,
            s3_region => &garage.s3_region,
            s3_bind_addr => format!("[::]:{}", garage.s3_port),
            admin_bind_addr => garage.metrics_bind.clone()
                .unwrap_or_else(|| format!("127.0.0.1:{}", garage.admin_port)),
            admin_token_file => ADMIN_TOKEN,
            metrics_token_file => METRICS_TOKEN,
        },
    )
}

/// The systemd unit for a node.
pub fn unit(island: &Island, node: &Node) -> String {
    render(
        "garage.service",
        context! {
            island => &island.name,
            binary => BINARY,
            config => CONFIG,
            meta_dir => &node.meta_dir,
            data_dir => &node.data_dir,
        },
    )
}

/// Where the node's own scraper asks for `/metrics`: the admin API's
/// address, the loopback when it listens on every address.
fn metrics_url(island: &Island) -> String {
    let garage = &island.garage;
    let local = format!("127.0.0.1:{}", garage.admin_port);
    let address = match &garage.metrics_bind {
        None => local,
        Some(bind) => match bind.rsplit_once(':') {
            Some(("[::]" | "0.0.0.0" | "*", port)) => format!("127.0.0.1:{port}"),
            _ => bind.clone(),
        },
    };
    format!("http://{address}/metrics")
}

/// The scraper's service and timer on a node, when the island writes
/// Garage's metrics into a textfile directory.
pub fn metrics_units(island: &Island, node: &Node) -> Option<(String, String)> {
    let dir = island.garage.metrics_textfile.as_ref()?;
    let context = context! {
        island => &island.name,
        node => &node.name,
        dir => dir,
        curl_config => METRICS_CURL_CONFIG,
        url => metrics_url(island),
        partial => format!("{dir}/.{METRICS_TEXTFILE}.partial"),
        textfile => format!("{dir}/{METRICS_TEXTFILE}"),
    };
    Some((
        render("garage-metrics.service", context.clone()),
        render("garage-metrics.timer", context),
    ))
}

/// The `replication_factor` written in a node's live config, if any.
pub fn replication_factor_in(config: &str) -> Option<u8> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "replication_factor").then(|| value.trim().parse().ok())?
    })
}

/// The `db_engine` written in a node's config, if any.
pub fn db_engine_in(config: &str) -> Option<&str> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "db_engine").then(|| value.trim().trim_matches('"'))
    })
}

/// The metadata databases a node holds, an engine a line: Garage keeps
/// its database in its `metadata_dir` (as the live config names it) as
/// `db.lmdb` (a directory) or `db.sqlite` (a file). A probe rather than
/// the files' metadata, which change with every write and would make
/// every saved plan stale.
pub const DATABASES_PROBE: (&str, &str) = (
    "garage_databases",
    r#"meta=$(sed -n 's/^metadata_dir = "\(.*\)"$/\1/p' /etc/garage/garage.toml 2>/dev/null); [ -n "$meta" ] && for engine in lmdb sqlite; do [ -e "$meta/db.$engine" ] && echo "$engine"; done; true"#,
);

/// The layout tags of a node's role: archipel's mark, the node's name, and
/// how to reach it over SSH. The layout is the only record of a node once
/// its block leaves the file, and archipel must still reach it then, to
/// stop its Garage after it has drained.
pub fn role_tags(node: &Node) -> Vec<String> {
    vec![
        ROLE_TAG.to_string(),
        node.name.clone(),
        node.ssh.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_read_as_the_file_and_garage_write_them() {
        let r = |major, minor, patch| Release {
            major,
            minor,
            patch,
        };
        assert_eq!(Release::parse("2.5.0"), Some(r(2, 5, 0)));
        assert_eq!(Release::parse("v2.4.1"), Some(r(2, 4, 1)));
        assert_eq!(Release::parse("2.5"), None);
        assert_eq!(Release::parse("2.5.0.1"), None);
        assert_eq!(Release::parse("latest"), None);
        assert_eq!(
            Release::reported("garage cargo:2.5.0 [features: bundled-libs, lmdb]"),
            Some(r(2, 5, 0))
        );
        assert_eq!(Release::reported("v2.4.1"), Some(r(2, 4, 1)));
        assert_eq!(Release::reported("git:v2.6.0-rc1"), Some(r(2, 6, 0)));
        assert_eq!(Release::reported("garage"), None);
        assert!(r(2, 4, 1) < r(2, 5, 0) && r(2, 5, 0) < r(2, 10, 0));
        assert_eq!(r(2, 1, 0).major_line(), r(2, 5, 3).major_line());
        assert_ne!(r(1, 3, 0).major_line(), r(2, 0, 0).major_line());
        assert_ne!(r(0, 8, 4).major_line(), r(0, 9, 0).major_line());
    }

    #[test]
    fn replication_factor_is_read_back() {
        assert_eq!(
            replication_factor_in("db_engine = \"lmdb\"\nreplication_factor = 3\n"),
            Some(3)
        );
        assert_eq!(replication_factor_in("no = 1"), None);
        assert_eq!(db_engine_in("db_engine = \"sqlite\"\n"), Some("sqlite"));
        assert_eq!(db_engine_in("replication_factor = 3\n"), None);
    }
}
