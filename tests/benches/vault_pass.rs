//! Benchmark: the vault pass over a large repository on one local Garage.
//!
//!   cargo bench -p archipel-tests --bench vault_pass      (needs Garage, rclone)
//!
//! Reports the wall time of a pass that copies 10,000 objects, of passes
//! that find nothing new in them (the hourly cost: two listings and the
//! vault's state), and of a pass that copies 1 GB of new packs. The aim: a
//! pass with nothing new costs its listings only, and new data is copied
//! server-side, without going through the node running the pass.

use archipel_tests::local_garage::{LocalGarage, noise};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OBJECTS: usize = 10_000;
const OBJECT_SIZE: usize = 2_048;
const BIG_OBJECTS: usize = 64;
const BIG_SIZE: usize = 16 << 20;
const IDLE_ROUNDS: usize = 3;

/// One pass; its wall time and status file.
fn pass(garage: &LocalGarage, conf: &Path, state: &Path) -> (Duration, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../planner/templates/vault-pass.sh");
    let started = Instant::now();
    let out = Command::new("sh")
        .arg(script)
        .env("ARCHIPEL_VAULT_CONF_DIR", conf)
        .env("ARCHIPEL_VAULT_STATE_DIR", state)
        .env("ARCHIPEL_GARAGE", garage.garage_binary())
        .env("ARCHIPEL_GARAGE_CONFIG", garage.config())
        .stdin(Stdio::null())
        .output()
        .expect("the vault pass runs");
    let elapsed = started.elapsed();
    assert!(
        out.status.code() == Some(0),
        "the pass exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = fs::read_to_string(state.join("bench.json")).expect("a status file");
    (
        elapsed,
        serde_json::from_str(&status).expect("status is JSON"),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let garage = LocalGarage::start(39120).map_err(|e| format!("{e:?}"))?;
    garage.buckets("bench").map_err(|e| format!("{e:?}"))?;
    let root: PathBuf = garage.root().join("bench");
    let (conf, state) = (root.join("conf"), root.join("state"));
    fs::create_dir_all(&conf)?;
    fs::create_dir_all(&state)?;
    fs::write(
        conf.join("vaults.conf"),
        "vault\tbench\tbackup-bench\tvault-bench\t2592000\t-\njob\tbench\tdata1\tdaily=7\t-\n",
    )?;
    fs::write(
        conf.join("rclone.conf"),
        garage.rclone_conf(&garage.vault_key),
    )?;
    let host_conf = root.join("host-rclone.conf");
    fs::write(&host_conf, garage.rclone_conf(&garage.host_key))?;

    // A repository of 10,000 small objects, packs spread over 256 prefixes.
    let small = root.join("small");
    for i in 0..OBJECTS {
        let name = format!("{:064x}", i as u128 * 0x9E37_79B9_7F4A_7C15_u128 + 1);
        let dir = small.join("data1/data").join(&name[..2]);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(&name), noise(i as u64, OBJECT_SIZE))?;
    }
    fs::create_dir_all(small.join("data1/snapshots"))?;
    fs::write(small.join("data1/config"), b"config")?;
    garage.upload(&host_conf, &small, "backup-bench");

    let (first, status) = pass(&garage, &conf, &state);
    println!(
        "first pass, {} objects copied ({} bytes): {:.2?}",
        status["copied_objects"], status["copied_bytes"], first
    );
    let mut idle = Vec::new();
    for _ in 0..IDLE_ROUNDS {
        let (took, status) = pass(&garage, &conf, &state);
        assert_eq!(status["copied_objects"], 0, "an idle pass copied: {status}");
        idle.push(took);
    }
    idle.sort();
    println!(
        "pass with nothing new over {} objects: median {:.2?} (of {idle:.2?})",
        OBJECTS + 1,
        idle[IDLE_ROUNDS / 2]
    );

    // 1 GB of new packs (16 MiB each, as restic writes them).
    let big = root.join("big");
    for i in 0..BIG_OBJECTS {
        let name = format!("{:064x}", (i as u128 + 1) * 0xABCD_EF01_2345_6789_u128);
        let dir = big.join("data1/data").join(&name[..2]);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(&name), noise(1_000_000 + i as u64, BIG_SIZE))?;
    }
    garage.upload(&host_conf, &big, "backup-bench");
    fs::remove_dir_all(&big)?;
    let (took, status) = pass(&garage, &conf, &state);
    println!(
        "pass copying {} new objects, {} bytes: {:.2?} ({:.0} MB/s)",
        status["copied_objects"],
        status["copied_bytes"],
        took,
        status["copied_bytes"].as_f64().unwrap_or(0.0) / 1e6 / took.as_secs_f64()
    );
    let (took, status) = pass(&garage, &conf, &state);
    assert_eq!(status["copied_objects"], 0);
    println!(
        "pass with nothing new over {} objects: {:.2?}",
        status["source_objects"], took
    );
    Ok(())
}
