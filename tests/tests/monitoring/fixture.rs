//! The monitoring lab's archipelago, and a small HTTP receiver that
//! records the pings the backup hosts send.

use archipel_tests::jobs::sha256_of;
use archipel_tests::{Failed, Lab, garage_build};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Islands lab-a (node1, node2) and lab-b (node3). node4 is a backup host:
/// chaton-3 (lab-b) backs up `good`, `stale` (every minute) and `kuma` to
/// lab-a: `good` pings the URL apply reads from `$CHATON3_PING`
/// (healthchecks, the chaton's), `stale` an ntfy topic and `kuma` an Uptime
/// Kuma push monitor, each in a file of node4's; chaton-2 (lab-a) backs up
/// `full` to lab-b under a 2 MB quota, pinging healthchecks' way the URL
/// in `/etc/archipel-full-ping`.
pub fn archipelago(dir: &Path) -> Result<PathBuf, Failed> {
    let (garage, sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let pinned = format!("{{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}");
    let mut text = String::new();
    // Garage's metrics: lab-a's in a textfile on each node, lab-b's
    // admin API open on every address.
    let metrics = [
        "    metrics_textfile   = \"/var/lib/prometheus/node-exporter\"\n",
        "    metrics_bind       = \"0.0.0.0:3903\"\n",
    ];
    for ((island, factor), metrics) in [("lab-a", 2), ("lab-b", 1)].into_iter().zip(metrics) {
        text.push_str(&format!(
            "island \"{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = {factor}\n{metrics}  }}\n}}\n\n"
        ));
    }
    let job = |name: &str, to: &str, schedule: &str, quota: &str, extra: &str| {
        format!(
            "  backup \"{name}\" {{\n    host     = \"root@node4\"\n    to       = \"{to}\"\n    paths    = [\"/srv/{name}\"]\n    schedule = \"{schedule}\"\n    keep     = {{ daily = 7 }}\n    quota    = \"{quota}\"\n    restic   = {pinned}\n{extra}  }}\n"
        )
    };
    for i in 1..=3 {
        let island = if i == 3 { "lab-b" } else { "lab-a" };
        let jobs = match i {
            2 => job(
                "full",
                "lab-b",
                "*-*-* 03:00",
                "2M",
                "    notify {\n      url_file = \"/etc/archipel-full-ping\"\n    }\n",
            ),
            3 => format!(
                "  notify {{\n    url_env = \"CHATON3_PING\"\n  }}\n{}{}{}",
                job("good", "lab-a", "*-*-* 03:00", "1G", ""),
                job(
                    "stale",
                    "lab-a",
                    "minutely",
                    "1G",
                    "    notify {\n      type     = \"ntfy\"\n      url_file = \"/etc/archipel-stale-ping\"\n    }\n"
                ),
                job(
                    "kuma",
                    "lab-a",
                    "*-*-* 03:00",
                    "1G",
                    "    notify {\n      type     = \"uptime-kuma\"\n      url_file = \"/etc/archipel-kuma-ping\"\n    }\n"
                )
            ),
            _ => String::new(),
        };
        text.push_str(&format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"admin@chaton-{i}.lab\"\n  escrow  = []\n  vault   = false\n\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n{jobs}}}\n\n"
        ));
    }
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// An HTTP request the receiver got: `POST /c3/start`, its body.
#[derive(Debug, Clone)]
pub struct Ping {
    pub method: String,
    pub target: String,
    pub headers: Vec<String>,
    pub body: String,
}

/// Records every request made to it, answering 200, on the lab's bridge
/// address (the nodes reach the host there), until dropped.
pub struct Receiver {
    pub base: String,
    pings: Arc<Mutex<Vec<Ping>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    address: std::net::SocketAddr,
}

impl Receiver {
    pub fn start(lab: &Lab) -> Result<Receiver, Failed> {
        let node = lab.nodes().first().ok_or("a lab node")?.address.octets();
        let host = Ipv4Addr::new(node[0], node[1], node[2], 1);
        let listener = TcpListener::bind((host, 0))?;
        let address = listener.local_addr()?;
        let pings = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (recorded, stopping) = (Arc::clone(&pings), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                if let Some(ping) = read_request(&mut stream) {
                    recorded.lock().expect("pings").push(ping);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            }
        });
        Ok(Receiver {
            base: format!("http://{address}"),
            pings,
            stop,
            address,
        })
    }

    pub fn pings(&self) -> Vec<Ping> {
        self.pings.lock().expect("pings").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accepting thread, which then stops.
        let _ = std::net::TcpStream::connect(self.address);
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Ping> {
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end().to_string();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        headers.push(header);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Ping {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
