//! What each kind of block may hold, and what an attribute left out means.

use crate::duration::Duration;

/// Default Garage ports and paths, as in Garage's documentation.
pub const DEFAULT_RPC_PORT: u16 = 3901;
pub const DEFAULT_S3_PORT: u16 = 3900;
pub const DEFAULT_ADMIN_PORT: u16 = 3903;
pub const DEFAULT_S3_REGION: &str = "garage";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/garage/data";
/// `forget --prune` once a week: pruning rewrites packs, more often costs
/// more than it saves.
pub const DEFAULT_PRUNE: &str = "Sun 04:00";
/// `check` reads a tenth of the data each month: all of it within a year.
pub const DEFAULT_CHECK: &str = "*-*-01 05:00";
pub const DEFAULT_META_DIR: &str = "/var/lib/garage/meta";
/// Where Debian's prometheus-node-exporter reads textfiles from.
pub const DEFAULT_METRICS_DIR: &str = "/var/lib/prometheus/node-exporter";
/// A hook that takes longer is stuck; a dump of a large database is not.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_seconds(10 * 60);
pub const DEFAULT_DUMP_TIMEOUT: Duration = Duration::from_seconds(6 * 3600);
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_seconds(7 * 86_400);

/// What may appear in each kind of block. The single source for unknown-name
/// checks, "did you mean" suggestions and the language reference's tests.
#[derive(Debug)]
pub struct Schema {
    pub block: &'static str,
    pub attributes: &'static [&'static str],
    pub blocks: &'static [&'static str],
}

pub const TOP_LEVEL: Schema = Schema {
    block: "archipelago",
    attributes: &[],
    blocks: &["island", "chaton", "bucket"],
};
pub const ISLAND: Schema = Schema {
    block: "island",
    attributes: &["s3_endpoint"],
    blocks: &["garage"],
};
pub const GARAGE: Schema = Schema {
    block: "garage",
    attributes: &[
        "version",
        "binary",
        "sha256",
        "replication_factor",
        "db_engine",
        "consistency_mode",
        "rpc_port",
        "s3_port",
        "admin_port",
        "s3_region",
        "metrics_bind",
        "metrics_textfile",
    ],
    blocks: &[],
};
pub const CHATON: Schema = Schema {
    block: "chaton",
    attributes: &[
        "island",
        "contact",
        "escrow",
        "prevent_destroy",
        "vault",
        "metrics_dir",
    ],
    blocks: &["node", "backup", "removed", "vault", "notify"],
};
pub const VAULT: Schema = Schema {
    block: "vault",
    attributes: &["keep_deleted"],
    blocks: &[],
};
pub const REMOVED: Schema = Schema {
    block: "removed",
    attributes: &["host"],
    blocks: &[],
};
pub const NODE: Schema = Schema {
    block: "node",
    attributes: &[
        "ssh",
        "host_key",
        "capacity",
        "data_dir",
        "meta_dir",
        "rpc_public_addr",
        "prevent_destroy",
    ],
    blocks: &[],
};
pub const BACKUP: Schema = Schema {
    block: "backup",
    attributes: &[
        "host", "to", "paths", "exclude", "schedule", "keep", "quota", "restic", "prune", "check",
        "drill",
    ],
    blocks: &["dump", "before", "after", "on_failure", "local", "notify"],
};
pub const NOTIFY: Schema = Schema {
    block: "notify",
    attributes: &["type", "url_env", "url_version", "url_file"],
    blocks: &[],
};
pub const LOCAL: Schema = Schema {
    block: "local",
    attributes: &["path", "copy", "keep"],
    blocks: &[],
};
pub const DUMP: Schema = Schema {
    block: "dump",
    attributes: &["command", "user", "timeout", "check"],
    blocks: &[],
};
const HOOK_ATTRIBUTES: &[&str] = &["command", "user", "timeout"];
pub const BEFORE: Schema = Schema {
    block: "before",
    attributes: HOOK_ATTRIBUTES,
    blocks: &[],
};
pub const AFTER: Schema = Schema {
    block: "after",
    attributes: HOOK_ATTRIBUTES,
    blocks: &[],
};
pub const ON_FAILURE: Schema = Schema {
    block: "on_failure",
    attributes: HOOK_ATTRIBUTES,
    blocks: &[],
};
pub const BUCKET: Schema = Schema {
    block: "bucket",
    attributes: &["island", "quota", "readers", "writers", "prevent_destroy"],
    blocks: &[],
};

pub const SCHEMAS: &[&Schema] = &[
    &TOP_LEVEL,
    &ISLAND,
    &GARAGE,
    &CHATON,
    &NODE,
    &BACKUP,
    &DUMP,
    &BEFORE,
    &AFTER,
    &ON_FAILURE,
    &LOCAL,
    &NOTIFY,
    &REMOVED,
    &VAULT,
    &BUCKET,
];
