//! An island's `garage` block: the binary it runs and how the cluster is
//! set up, with Garage's own defaults for what is left out.

use super::decoder::Decoder;
use super::schema::{
    DEFAULT_ADMIN_PORT, DEFAULT_RPC_PORT, DEFAULT_S3_PORT, DEFAULT_S3_REGION, GARAGE,
};
use crate::model::{ConsistencyMode, DbEngine, Garage};
use hcl_edit::structure::{Attribute, Block};

impl Decoder<'_> {
    pub(super) fn garage(&mut self, block: &Block, island: &str) -> Option<Garage> {
        let fields = self.fields(block, &GARAGE, format!("the garage block of {island}"));
        let version = self.required(&fields, "version", "\"2.5.0\"", Self::release);
        let binary = self.required(&fields, "binary", "\"https://…/garage\"", |d, attr| {
            d.binary_source(&attr.value, "Garage")
        });
        let sha256 = self.required(&fields, "sha256", "\"<64 hex digits>\"", |d, attr| {
            d.sha256(&attr.value)
        });
        let replication_factor = self.required(&fields, "replication_factor", "3", |d, attr| {
            d.integer(attr, 1, 7).map(|n| n as u8)
        });
        let db_engine = self.optional(&fields, "db_engine", |d, attr| {
            d.choice(
                attr,
                &[("lmdb", DbEngine::Lmdb), ("sqlite", DbEngine::Sqlite)],
            )
        });
        let consistency_mode = self.optional(&fields, "consistency_mode", |d, attr| {
            d.choice(
                attr,
                &[
                    ("consistent", ConsistencyMode::Consistent),
                    ("degraded", ConsistencyMode::Degraded),
                    ("dangerous", ConsistencyMode::Dangerous),
                ],
            )
        });
        let port = |d: &mut Self, attr: &Attribute| d.integer(attr, 1, 65535).map(|n| n as u16);
        let rpc_port = self.optional(&fields, "rpc_port", port);
        let s3_port = self.optional(&fields, "s3_port", port);
        let admin_port = self.optional(&fields, "admin_port", port);
        let s3_region = self.optional(&fields, "s3_region", Self::string);
        let metrics_bind = self.optional(&fields, "metrics_bind", Self::bind_address);
        let metrics_textfile = self.optional(&fields, "metrics_textfile", Self::absolute_path);
        Some(Garage {
            version: version?,
            binary: binary?,
            sha256: sha256?,
            replication_factor: replication_factor?,
            db_engine: db_engine?.unwrap_or(DbEngine::Lmdb),
            consistency_mode: consistency_mode?.unwrap_or(ConsistencyMode::Consistent),
            rpc_port: rpc_port?.unwrap_or(DEFAULT_RPC_PORT),
            s3_port: s3_port?.unwrap_or(DEFAULT_S3_PORT),
            admin_port: admin_port?.unwrap_or(DEFAULT_ADMIN_PORT),
            s3_region: s3_region?.unwrap_or_else(|| DEFAULT_S3_REGION.to_string()),
            metrics_bind: metrics_bind?,
            metrics_textfile: metrics_textfile?,
            origin: fields.origin,
        })
    }

    /// `HOST:PORT`, `[IPV6]:PORT`: where a daemon listens.
    fn bind_address(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
        });
        if !valid {
            let span = self.span(&attr.value);
            self.error(
                "invalid-value",
                span,
                format!("\"{text}\" is not an address to listen on"),
            )
            .help =
                Some("HOST:PORT, e.g. \"[::]:3903\", \"0.0.0.0:3903\" or \"10.0.0.5:3903\"".into());
            return None;
        }
        Some(text)
    }
}
