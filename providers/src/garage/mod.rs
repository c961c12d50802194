//! An island's Garage cluster, read through one member node with
//! `garage json-api` over SSH: no admin token, nothing exposed on the
//! network, and two round trips whatever the number of keys and buckets.
//!
//! Where things live:
//! - `admin_api.rs`: calling the admin API on a node (`garage json-api`,
//!   many calls in one round trip, each bounded) and through an island's
//!   running members in turn or at once ([`Asking`]);
//! - `cluster.rs`: reading a whole cluster ([`observe_cluster`]);
//! - `daemon.rs`: Garage on one node: its binary, user and directories,
//!   config, secrets and unit, starting and stopping it, its node ID, and
//!   the waits for it to answer, for the island to be healthy and for a
//!   departing node to drain;
//! - `layout.rs`: joining the nodes into one cluster and staging and
//!   applying its layout;
//! - `buckets_and_keys.rs`: buckets, access keys and the grants between
//!   them;
//! - `upgrade.rs`: Garage's preparation for a new release (a table repair,
//!   waited for, and a metadata snapshot kept on every node);
//! - `repair.rs`: a node's lost data directory, made Garage's again and
//!   refilled by a block repair; a layout version waiting on a dead node,
//!   unblocked.

mod admin_api;
mod buckets_and_keys;
mod cluster;
mod daemon;
mod layout;
mod repair;
mod upgrade;

pub use admin_api::{API_CALL_WITHIN, Asking, api};
pub use buckets_and_keys::{
    KeySecret, delete_bucket, delete_key, ensure_bucket, ensure_key, grant, key_secret,
};
pub use cluster::observe_cluster;
pub use daemon::{
    Secrets, install_binary, members, node_id, others_up, prepare_directories, start, stop,
    wait_drained, wait_for, wait_healthy, wait_rejoined, write_config, write_metrics_service,
    write_metrics_timer, write_secrets, write_unit,
};
pub use layout::{apply_layout, connect};
pub use repair::{
    clear_resync_queue, forget_data_layout, holds_no_block, repair_blocks, skip_dead_nodes,
};
pub use upgrade::{repair_tables, snapshot_metadata};
