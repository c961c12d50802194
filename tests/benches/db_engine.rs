//! Benchmark: Garage's two metadata engines, `lmdb` and `sqlite`, on the
//! same data set.
//!
//!   cargo bench -p archipel-tests --bench db_engine      (needs Garage, rclone)
//!
//! For each engine, one local Garage (a single node) gets the same
//! restic-like repository: many small objects (index files, snapshots,
//! small packs) and some 16 MiB packs. Reported per engine: what Garage
//! itself holds in memory once started, the upload's wall time, a full
//! listing's, what Garage itself holds in memory after both (`Pss_Anon`, its proportional share of anonymous memory: what the
//! node pays), the page cache it maps (`Pss_File`: LMDB's memory-mapped
//! database among it, reclaimable), its peak RSS (the two together), and
//! the metadata directory's size on disk. The figures are in
//! docs/language.md, beside `db_engine`.

use archipel_tests::local_garage::{LocalGarage, noise};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SMALL_OBJECTS: usize = 20_000;
const SMALL_SIZE: usize = 2_048;
const PACKS: usize = 16;
const PACK_SIZE: usize = 16 << 20;

/// The data set, written once to a local directory.
fn data_set(root: &Path) -> std::io::Result<()> {
    for i in 0..SMALL_OBJECTS {
        let name = format!("{:064x}", i as u128 * 0x9E37_79B9_7F4A_7C15_u128 + 1);
        let dir = root.join("repo/data").join(&name[..2]);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(&name), noise(i as u64, SMALL_SIZE))?;
    }
    for i in 0..PACKS {
        let name = format!("{:064x}", (i as u128 + 1) * 0xABCD_EF01_2345_6789_u128);
        let dir = root.join("repo/data").join(&name[..2]);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(&name), noise(1_000_000 + i as u64, PACK_SIZE))?;
    }
    Ok(())
}

/// A `/proc/PID/…` field in kB, as bytes.
fn proc_field(pid: u32, file: &str, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .unwrap_or(0)
        * 1024
}

/// A directory's size on disk, as `du` counts it.
fn disk_usage(dir: &Path) -> u64 {
    let out = Command::new("du")
        .arg("-sb")
        .arg(dir)
        .output()
        .expect("du runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

struct Figures {
    idle_memory: u64,
    upload: Duration,
    listing: Duration,
    listed: usize,
    own_memory: u64,
    mapped: u64,
    peak_rss: u64,
    metadata: u64,
}

fn measure(engine: &str, port: u16, data: &Path) -> Result<Figures, Box<dyn std::error::Error>> {
    let garage = LocalGarage::start_with(port, engine).map_err(|e| format!("{e:?}"))?;
    garage.buckets("bench").map_err(|e| format!("{e:?}"))?;
    let conf = garage.root().join("host-rclone.conf");
    fs::write(&conf, garage.rclone_conf(&garage.host_key))?;
    let idle_memory = proc_field(garage.pid(), "smaps_rollup", "Pss_Anon");
    let started = Instant::now();
    garage.upload(&conf, data, "backup-bench");
    let upload = started.elapsed();
    // The whole bucket listed, as a vault pass or `restic check` does.
    let started = Instant::now();
    let out = Command::new("rclone")
        .env_remove("AWS_CA_BUNDLE")
        .arg("--config")
        .arg(&conf)
        .args(["lsf", "-R", "--files-only", "garage:backup-bench"])
        .output()?;
    let listing = started.elapsed();
    if !out.status.success() {
        return Err(format!("listing: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    let pid = garage.pid();
    Ok(Figures {
        idle_memory,
        upload,
        listing,
        listed,
        own_memory: proc_field(pid, "smaps_rollup", "Pss_Anon"),
        mapped: proc_field(pid, "smaps_rollup", "Pss_File"),
        peak_rss: proc_field(pid, "status", "VmHWM"),
        metadata: disk_usage(&garage.root().join("meta")),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    data_set(dir.path())?;
    let mb = |n: u64| n as f64 / 1e6;
    println!(
        "data set: {SMALL_OBJECTS} objects of {SMALL_SIZE} B and {PACKS} of {} MiB",
        PACK_SIZE >> 20
    );
    println!(
        "{:<7} {:>11} {:>9} {:>9} {:>8} {:>13} {:>12} {:>10} {:>10}",
        "engine",
        "idle memory",
        "upload",
        "listing",
        "objects",
        "own memory",
        "page cache",
        "peak RSS",
        "metadata"
    );
    for (engine, port) in [("lmdb", 39140), ("sqlite", 39150)] {
        let f = measure(engine, port, dir.path())?;
        println!(
            "{engine:<7} {:>8.1} MB {:>8.1}s {:>8.2}s {:>8} {:>10.1} MB {:>9.1} MB {:>7.1} MB {:>7.1} MB",
            mb(f.idle_memory),
            f.upload.as_secs_f64(),
            f.listing.as_secs_f64(),
            f.listed,
            mb(f.own_memory),
            mb(f.mapped),
            mb(f.peak_rss),
            mb(f.metadata)
        );
    }
    Ok(())
}
