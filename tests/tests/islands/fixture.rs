//! The islands lab's archipelago: island lab-a of three chatons (node1 to
//! node3, three copies of everything) on the Garage release a case pins,
//! and lab-b (node4, chaton-4), whose job `data` backs up node4's
//! `/srv/data` to lab-a; and a reader that reads one object from lab-a
//! over and over, the way a backup host reaches the island.

use archipel_tests::jobs::{job_s3, sha256_of};
use archipel_tests::{Failed, Lab, garage_api, garage_build};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const HOST: &str = "node4";
pub const JOB: &str = "chaton-4-data";
pub const BUCKET: &str = "backup-chaton-4";
pub const LAB_A: [&str; 3] = ["node1", "node2", "node3"];

/// Where the cases keep the archipelago they edit.
pub fn workdir(lab: &Lab) -> Result<PathBuf, Failed> {
    let dir = lab.state_dir().join("islands");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The archipelago with lab-a on `version` from `binary`; lab-b on the
/// lab's own build.
pub fn archipelago(dir: &Path, version: &str, build: &(String, String)) -> Result<PathBuf, Failed> {
    archipelago_of(dir, version, build, &LAB_A)
}

/// The archipelago with lab-a's chatons 1 to 3 on `nodes`, one each.
pub fn archipelago_of(
    dir: &Path,
    version: &str,
    (binary, sha256): &(String, String),
    nodes: &[&str],
) -> Result<PathBuf, Failed> {
    let (current, current_sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let mut text = format!(
        "island \"lab-a\" {{\n  garage {{\n    version            = \"{version}\"\n    binary             = \"{binary}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 3\n  }}\n}}\n\n\
island \"lab-b\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{current}\"\n    sha256             = \"{current_sha256}\"\n    replication_factor = 1\n  }}\n}}\n\n"
    );
    for (i, node) in nodes.iter().enumerate() {
        let n = i + 1;
        text.push_str(&format!(
            "chaton \"chaton-{n}\" {{\n  island  = \"lab-a\"\n  contact = \"admin@chaton-{n}.lab\"\n\n  node \"{node}\" {{\n    ssh      = \"root@{node}\"\n    capacity = \"10G\"\n  }}\n}}\n\n"
        ));
    }
    text.push_str(&format!(
        "chaton \"chaton-4\" {{\n  island  = \"lab-b\"\n  contact = \"admin@chaton-4.lab\"\n  escrow  = []\n  vault   = false\n\n  node \"node4\" {{\n    ssh      = \"root@node4\"\n    capacity = \"10G\"\n  }}\n\n\
  backup \"data\" {{\n    host     = \"root@{HOST}\"\n    to       = \"lab-a\"\n    paths    = [\"/srv/data\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n  }}\n}}\n"
    ));
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The release each node of lab-a runs, as each answers for itself when
/// asked through `from` (`GetNodeInfo` on every node), by node ID; a node
/// that did not answer, with its error.
pub fn versions(lab: &Lab, from: &str) -> Result<Vec<(String, String)>, Failed> {
    let info = garage_api(lab, from, "GetNodeInfo '{\"node\":\"*\",\"body\":null}'")?;
    let mut versions: Vec<(String, String)> = info["success"]
        .as_object()
        .ok_or("success")?
        .iter()
        .map(|(id, n)| {
            (
                id.clone(),
                n["garageVersion"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    for (id, error) in info["error"].as_object().into_iter().flatten() {
        versions.push((id.clone(), format!("no answer: {error}")));
    }
    versions.sort();
    Ok(versions)
}

/// Block files in a node's data directory.
pub fn blocks_on(lab: &Lab, node: &str) -> Result<u64, Failed> {
    Ok(lab
        .ssh_ok(
            node,
            "find /var/lib/garage/data -type f ! -name garage-marker | wc -l",
        )?
        .trim()
        .parse()?)
}

/// When Garage last started on `node`, in microseconds since boot.
pub fn started_at(lab: &Lab, node: &str) -> Result<u64, Failed> {
    Ok(lab
        .ssh_ok(
            node,
            "systemctl show garage -p ActiveEnterTimestampMonotonic --value",
        )?
        .trim()
        .parse()?)
}

/// What a reader saw.
#[derive(Debug, Default)]
pub struct Reads {
    /// Reads the island served, whole.
    pub served: u64,
    /// Reads no node of the island served, or served wrong.
    pub failed: Vec<String>,
    /// Nodes that did not serve a read another node then served.
    pub passed_over: Vec<String>,
}

/// Reads one object from lab-a every 100 ms, with the job's key, through
/// node1, node2 and node3 in turn, going to the next node when one does
/// not serve it, as the backup host's runner goes through the island's
/// endpoints. A read fails when no node serves it whole.
pub struct Reader {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Reads>,
}

impl Reader {
    pub fn start(lab: &Lab, key: &str, expected: Vec<u8>) -> Result<Reader, Failed> {
        let clients = LAB_A
            .iter()
            .map(|node| Ok((node.to_string(), job_s3(lab, HOST, JOB, node)?)))
            .collect::<Result<Vec<_>, Failed>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let key = key.to_string();
        let handle = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let mut reads = Reads::default();
                let mut first = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut served = false;
                    for attempt in 0..clients.len() {
                        let (node, s3) = &clients[(first + attempt) % clients.len()];
                        match s3.get(BUCKET, &key) {
                            Ok(body) if body == expected => {
                                served = true;
                                break;
                            }
                            Ok(body) => {
                                reads
                                    .failed
                                    .push(format!("{node} served {} wrong bytes", body.len()));
                                served = true;
                                break;
                            }
                            Err(e) => reads.passed_over.push(format!("{node}: {e}")),
                        }
                    }
                    if served {
                        reads.served += 1;
                    } else {
                        reads
                            .failed
                            .push("no node of lab-a served the object".into());
                    }
                    first += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                reads
            }
        });
        Ok(Reader { stop, handle })
    }

    pub fn stop(self) -> Result<Reads, Failed> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().map_err(|_| "the reader panicked".into())
    }
}
