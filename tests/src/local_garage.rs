//! One Garage daemon on loopback, no lab machines: a single-node island in a
//! temporary directory, for what runs on an island node itself (the vault
//! pass). Two keys: `archipel-vault` (the island's vault key) and `host` (a
//! backup host's key, which also plays the attacker).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::Value;

use crate::s3::S3;
use crate::{ensure, garage_build, output_text};

/// An access key: its ID and its secret.
pub type Key = (String, String);

#[derive(Debug)]
pub struct LocalGarage {
    _dir: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    garage: String,
    daemon: Child,
    s3_port: u16,
    pub vault_key: Key,
    pub host_key: Key,
}

impl Drop for LocalGarage {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

impl LocalGarage {
    /// Starts Garage (built by tests/lab/build-garage if missing) with its
    /// RPC, S3 and admin ports at `base_port`, +1 and +3, all on 127.0.0.1.
    pub fn start(base_port: u16) -> Result<LocalGarage, Failed> {
        LocalGarage::start_with(base_port, "lmdb")
    }

    /// The same, its metadata in `db_engine` (`lmdb` or `sqlite`).
    pub fn start_with(base_port: u16, db_engine: &str) -> Result<LocalGarage, Failed> {
        let (garage, _) = garage_build()?;
        let dir = tempfile::tempdir()?;
        let root = dir.path().to_path_buf();
        let config = root.join("garage.toml");
        let (rpc, s3, admin) = (base_port, base_port + 1, base_port + 3);
        fs::write(
            &config,
            format!(
                r#"metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "{db_engine}"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "4f6e1b1c0d5a9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"

[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "local-garage-admin-token"
"#,
                root = root.display()
            ),
        )?;
        let log = fs::File::create(root.join("garage.log"))?;
        let daemon = Command::new(&garage)
            .arg("-c")
            .arg(&config)
            .arg("server")
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut island = LocalGarage {
            _dir: dir,
            root,
            config,
            garage,
            daemon,
            s3_port: s3,
            vault_key: Key::default(),
            host_key: Key::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !island.garage(&["status"]).status.success() {
            if let Some(status) = island.daemon.try_wait()? {
                return Err(format!("garage exited ({status}): {}", island.log()).into());
            }
            if Instant::now() > deadline {
                return Err(format!("garage did not start: {}", island.log()).into());
            }
            sleep(Duration::from_millis(300));
        }
        let id = island.garage_ok(&["node", "id", "-q"])?;
        let id = id.trim().split('@').next().unwrap_or_default().to_string();
        island.garage_ok(&["layout", "assign", "-z", "dc1", "-c", "10G", &id])?;
        island.garage_ok(&["layout", "apply", "--version", "1"])?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = island.json_api("GetClusterHealth", "null")?;
            if health["status"] == "healthy" {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("garage is not healthy: {health}").into());
            }
            sleep(Duration::from_millis(300));
        }
        island.vault_key = island.create_key("archipel-vault")?;
        island.host_key = island.create_key("host")?;
        Ok(island)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.root.join("garage.log")).unwrap_or_default()
    }

    /// The daemon's process ID.
    pub fn pid(&self) -> u32 {
        self.daemon.id()
    }

    /// The temporary directory the daemon's data lives in (tests may add to it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The garage binary and its configuration, for what asks the daemon
    /// directly.
    pub fn garage_binary(&self) -> &str {
        &self.garage
    }

    pub fn config(&self) -> &Path {
        &self.config
    }

    pub fn s3_port(&self) -> u16 {
        self.s3_port
    }

    /// The garage CLI on this daemon.
    pub fn garage(&self, args: &[&str]) -> Output {
        Command::new(&self.garage)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.garage))
    }

    pub fn garage_ok(&self, args: &[&str]) -> Result<String, Failed> {
        let out = self.garage(args);
        ensure(
            out.status.success(),
            format!("garage {args:?}: {}", output_text(&out)),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn json_api(&self, call: &str, body: &str) -> Result<Value, Failed> {
        Ok(serde_json::from_str(
            &self.garage_ok(&["json-api", call, body])?,
        )?)
    }

    pub fn create_key(&self, name: &str) -> Result<Key, Failed> {
        let key = self.json_api("CreateKey", &format!("{{\"name\":\"{name}\"}}"))?;
        let id = key["accessKeyId"].as_str().unwrap_or_default().to_string();
        let secret = key["secretAccessKey"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ensure(
            !id.is_empty() && !secret.is_empty(),
            format!("CreateKey {name} answered without a key"),
        )?;
        Ok((id, secret))
    }

    /// A chaton's two buckets: `backup-CHATON` (read and write for the host
    /// key, read for the vault key) and `vault-CHATON` (read and write for
    /// the vault key only).
    pub fn buckets(&self, chaton: &str) -> Result<(), Failed> {
        let source = format!("backup-{chaton}");
        let vault = format!("vault-{chaton}");
        self.garage_ok(&["bucket", "create", &source])?;
        self.garage_ok(&["bucket", "create", &vault])?;
        let host = self.host_key.0.clone();
        let vault_key = self.vault_key.0.clone();
        self.garage_ok(&[
            "bucket", "allow", "--read", "--write", &source, "--key", &host,
        ])?;
        self.garage_ok(&["bucket", "allow", "--read", &source, "--key", &vault_key])?;
        self.garage_ok(&[
            "bucket", "allow", "--read", "--write", &vault, "--key", &vault_key,
        ])?;
        Ok(())
    }

    pub fn host_s3(&self) -> S3 {
        S3::new(
            &self.endpoint(),
            "garage",
            &self.host_key.0,
            &self.host_key.1,
        )
    }

    pub fn vault_s3(&self) -> S3 {
        S3::new(
            &self.endpoint(),
            "garage",
            &self.vault_key.0,
            &self.vault_key.1,
        )
    }

    /// An rclone.conf with one remote `[garage]` for `key`, as the vault
    /// pass gets it.
    pub fn rclone_conf(&self, key: &Key) -> String {
        format!(
            "[garage]\ntype = s3\nprovider = Other\naccess_key_id = {}\nsecret_access_key = {}\nendpoint = {}\nregion = garage\nforce_path_style = true\n",
            key.0,
            key.1,
            self.endpoint()
        )
    }
}

impl LocalGarage {
    /// Uploads a local tree to `bucket` with the key of the rclone config
    /// `conf` (see [`LocalGarage::rclone_conf`]), 32 transfers at once.
    pub fn upload(&self, conf: &Path, dir: &Path, bucket: &str) {
        let out = Command::new("rclone")
            .env_remove("AWS_CA_BUNDLE")
            .arg("--config")
            .arg(conf)
            .args([
                "copy",
                "--s3-no-check-bucket",
                "--transfers",
                "32",
                "--checkers",
                "32",
            ])
            .arg(dir)
            .arg(format!("garage:{bucket}"))
            .output()
            .expect("rclone runs");
        assert!(
            out.status.success(),
            "upload to {}: {}",
            self.endpoint(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Deterministic incompressible bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
