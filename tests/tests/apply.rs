//! `archipel apply` against real machines: from bare nodes to two healthy
//! islands, S3 working with the keys it made, idempotence, a capacity
//! change, a rolling restart under reads, and a tampered binary refused.

use archipel_tests::s3::S3;
use archipel_tests::{
    Failed, Lab, archipel, archipel_binary, ensure, garage_api as api, garage_build, output_text,
    record, run_archipel_lab_tests,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn main() {
    run_archipel_lab_tests(
        7,
        &[
            (
                "a_tampered_binary_is_refused_before_anything",
                tampered_binary,
            ),
            ("bare_nodes_become_two_healthy_islands", bare_to_healthy),
            ("applying_again_changes_nothing", idempotent),
            ("a_capacity_change_bumps_the_layout_once", capacity_change),
            (
                "a_config_change_restarts_nodes_one_at_a_time",
                rolling_restart,
            ),
            (
                "a_node_lost_mid_apply_fails_its_branch_only",
                node_lost_mid_apply,
            ),
            ("a_new_node_joins_its_island", node_joins),
            (
                "ctrl_c_lets_running_changes_finish_and_starts_no_other",
                ctrl_c,
            ),
            ("a_removed_node_is_drained_then_stopped", node_leaves),
        ],
    )
}

/// Two islands of three chatons (one node each), two shared buckets.
/// `edit` changes the text before it is written.
fn archipelago(
    dir: &Path,
    binary: &str,
    sha256: &str,
    edit: impl Fn(String) -> String,
) -> Result<PathBuf, Failed> {
    let mut text = String::new();
    for island in ["lab-a", "lab-b"] {
        text.push_str(&format!(
            "island \"{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{binary}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
    }
    for i in 1..=6 {
        let island = if i <= 3 { "lab-a" } else { "lab-b" };
        text.push_str(&format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"admin@chaton-{i}.lab\"\n\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n}}\n\n"
        ));
    }
    text.push_str(
        "bucket \"shared-a\" {\n  island  = \"lab-a\"\n  quota   = \"1G\"\n  readers = [\"chaton-4\"]\n  writers = [\"chaton-1\"]\n}\n\n\
         bucket \"shared-b\" {\n  island  = \"lab-b\"\n  quota   = \"2G\"\n  writers = [\"chaton-5\"]\n}\n",
    );
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, edit(text))?;
    Ok(path)
}

fn tampered_binary(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let tampered = dir.path().join("garage");
    let mut bytes = std::fs::read(&binary)?;
    bytes.push(0);
    std::fs::write(&tampered, bytes)?;
    let file = archipelago(dir.path(), tampered.to_str().ok_or("path")?, &sha256, |t| t)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    ensure(
        output_text(&output).contains("refusing to install it (nothing was changed)"),
        output_text(&output),
    )?;
    for i in 1..=6 {
        let left = lab.ssh_ok(
            &format!("node{i}"),
            "ls /usr/local/bin; id garage 2>&1 || true; ls /etc/garage 2>&1 || true",
        )?;
        ensure(
            !left.contains("garage\n") && left.contains("no such user"),
            format!("node{i} was touched: {left}"),
        )?;
    }
    Ok(())
}

fn bare_to_healthy(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| t)?;
    // Without --auto-approve and without a terminal, apply refuses.
    let output = archipel(lab, &file, &["apply"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("--auto-approve"),
        output_text(&output),
    )?;

    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("The archipelago matches the file."),
        output_text(&output),
    )?;

    for (island, first, nodes) in [("lab-a", "node1", 1..=3), ("lab-b", "node4", 4..=6)] {
        let health = api(lab, first, "GetClusterHealth")?;
        ensure(health["status"] == "healthy", format!("{island}: {health}"))?;
        let layout = api(lab, first, "GetClusterLayout")?;
        ensure(layout["version"] == 1, format!("{island}: {layout}"))?;
        let roles = layout["roles"].as_array().ok_or("roles")?;
        ensure(roles.len() == 3, format!("{island}: {roles:?}"))?;
        for i in nodes {
            let role = roles
                .iter()
                .find(|r| r["tags"][1] == format!("node{i}"))
                .ok_or(format!("no role for node{i}"))?;
            ensure(
                role["zone"] == format!("chaton-{i}") && role["capacity"] == 10_000_000_000u64,
                format!("{role}"),
            )?;
        }
    }
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"shared-a\"}'",
    )?;
    ensure(
        bucket["quotas"]["maxSize"] == 1_000_000_000u64,
        format!("{bucket}"),
    )?;
    let keys = bucket["keys"].as_array().ok_or("keys")?;
    let permissions = |name: &str| {
        keys.iter()
            .find(|k| k["name"] == name)
            .map(|k| k["permissions"].clone())
    };
    ensure(
        permissions("archipel-chaton-1")
            == Some(serde_json::json!({"owner": false, "read": true, "write": true})),
        format!("{keys:?}"),
    )?;
    ensure(
        permissions("archipel-chaton-4")
            == Some(serde_json::json!({"owner": false, "read": true, "write": false})),
        format!("{keys:?}"),
    )?;

    // S3 with the keys archipel made, as any S3 client uses them:
    // read+write works, read-only cannot write, no permission means no
    // access.
    let writer = S3Key::of(lab, "node1", "archipel-chaton-1")?;
    let reader = S3Key::of(lab, "node1", "archipel-chaton-4")?;
    let body = b"archipel was here\n".to_vec();
    writer
        .on(lab, "node1")?
        .put("shared-a", "probe", body.clone())?;
    ensure(
        writer.on(lab, "node2")?.get("shared-a", "probe")? == body,
        "get from another node",
    )?;
    ensure(
        reader.on(lab, "node2")?.get("shared-a", "probe")? == body,
        "reader reads",
    )?;
    let refused = reader
        .on(lab, "node1")?
        .put("shared-a", "nope", body.clone());
    ensure(
        refused.as_ref().is_err_and(|e| e.status == Some(403)),
        format!("a reader cannot write: {refused:?}"),
    )?;
    // A bucket the writer's key has no permission on.
    lab.ssh_ok(
        "node1",
        "garage -c /etc/garage/garage.toml bucket create unshared >/dev/null",
    )?;
    let denied = writer.on(lab, "node1")?;
    let put = denied.put("unshared", "nope", body.clone());
    let get = denied.get("unshared", "nope");
    ensure(
        put.as_ref().is_err_and(|e| e.status == Some(403))
            && get.as_ref().is_err_and(|e| e.status == Some(403)),
        format!("no permission, no access: {put:?} {get:?}"),
    )?;
    lab.ssh_ok(
        "node1",
        "garage -c /etc/garage/garage.toml bucket delete --yes unshared >/dev/null",
    )?;
    writer.on(lab, "node1")?.delete("shared-a", "probe")?;
    ensure(
        writer
            .on(lab, "node2")?
            .get("shared-a", "probe")
            .is_err_and(|e| e.status == Some(404)),
        "deleted",
    )
}

/// An S3 key, read from Garage by the test itself (archipel never shows it).
struct S3Key {
    id: String,
    secret: String,
}

impl S3Key {
    fn of(lab: &Lab, node: &str, name: &str) -> Result<S3Key, Failed> {
        let info = api(
            lab,
            node,
            &format!("GetKeyInfo '{{\"search\":\"{name}\",\"showSecretKey\":true}}'"),
        )?;
        Ok(S3Key {
            id: info["accessKeyId"].as_str().ok_or("id")?.to_string(),
            secret: info["secretAccessKey"]
                .as_str()
                .ok_or("secret")?
                .to_string(),
        })
    }

    /// A client through `node`'s S3 port, in the lab's region.
    fn on(&self, lab: &Lab, node: &str) -> Result<S3, Failed> {
        let address = lab.node(node).ok_or(node.to_string())?.address;
        Ok(S3::new(
            &format!("http://{address}:3900"),
            "garage",
            &self.id,
            &self.secret,
        ))
    }
}

fn idempotent(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| t)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("No changes. The archipelago matches the file."),
        output_text(&output),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

fn capacity_change(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &binary, &sha256, |t| {
        t.replacen(
            "ssh      = \"root@node2\"\n    capacity = \"10G\"",
            "ssh      = \"root@node2\"\n    capacity = \"20G\"",
            1,
        )
    })?;
    let before = api(lab, "node1", "GetClusterLayout")?["version"]
        .as_u64()
        .ok_or("version")?;
    let output = archipel(lab, &file, &["plan", "--output", "json"])?;
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .ok_or("changes")?
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    ensure(
        addresses == ["island.lab-a.layout"],
        format!("{addresses:?}"),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let after = api(lab, "node1", "GetClusterLayout")?;
    ensure(
        after["version"] == before + 1,
        format!("{before} -> {}", after["version"]),
    )?;
    let role = after["roles"]
        .as_array()
        .ok_or("roles")?
        .iter()
        .find(|r| r["tags"][1] == "node2")
        .cloned()
        .ok_or("role")?;
    ensure(role["capacity"] == 20_000_000_000u64, format!("{role}"))
}

fn rolling_restart(lab: &Lab) -> Result<(), Failed> {
    let (binary, sha256) = garage_build()?;
    let dir = tempfile::tempdir()?;
    let base = archipelago(dir.path(), &binary, &sha256, |t| {
        t.replacen(
            "ssh      = \"root@node2\"\n    capacity = \"10G\"",
            "ssh      = \"root@node2\"\n    capacity = \"20G\"",
            1,
        )
    })?;
    let writer = S3Key::of(lab, "node1", "archipel-chaton-1")?;
    writer
        .on(lab, "node1")?
        .put("shared-a", "steady", b"still here\n".to_vec())?;
    // One client per node.
    let endpoints: Vec<S3> = (1..=3)
        .map(|i| writer.on(lab, &format!("node{i}")))
        .collect::<Result<_, _>>()?;

    // A reader that, like any client with several endpoints, moves to the
    // next node when one does not answer; a read fails only when none does.
    let done = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (done, reads, failures) = (done.clone(), reads.clone(), failures.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let ok = endpoints.iter().any(|node| {
                    node.get("shared-a", "steady")
                        .is_ok_and(|body| body == b"still here\n")
                });
                reads.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let file = dir.path().join("degraded.hcl");
    std::fs::write(
        &file,
        std::fs::read_to_string(&base)?.replacen("replication_factor = 2\n  }\n}\n\nisland \"lab-b\"", "replication_factor = 2\n    consistency_mode   = \"degraded\"\n  }\n}\n\nisland \"lab-b\"", 1),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"]);
    done.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let output = output?;
    ensure(output.status.success(), output_text(&output))?;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    // Restarts one after the other: each ends before the next starts.
    let events: Vec<&str> = log.lines().filter(|l| l.contains(".service: ")).collect();
    ensure(events.len() == 6, format!("{events:?}"))?;
    for pair in events.chunks(2) {
        ensure(
            pair[0].ends_with("applying…") && pair[1].contains(": done"),
            format!("restarts overlap: {events:?}"),
        )?;
    }
    ensure(reads.load(Ordering::Relaxed) > 5, "the reader ran")?;
    ensure(
        failures.load(Ordering::Relaxed) == 0,
        format!(
            "{} of {} reads failed during the roll",
            failures.load(Ordering::Relaxed),
            reads.load(Ordering::Relaxed)
        ),
    )?;
    let config = lab.ssh_ok("node3", "cat /etc/garage/garage.toml")?;
    ensure(config.contains("consistency_mode = \"degraded\""), config)
}

/// The archipelago as the earlier tests left it (node2 at 20G, lab-a in
/// degraded consistency mode).
fn current(dir: &Path) -> Result<PathBuf, Failed> {
    let (binary, sha256) = garage_build()?;
    archipelago(dir, &binary, &sha256, |t| {
        t.replacen("ssh      = \"root@node2\"\n    capacity = \"10G\"", "ssh      = \"root@node2\"\n    capacity = \"20G\"", 1)
            .replacen(
                "replication_factor = 2\n  }\n}\n\nisland \"lab-b\"",
                "replication_factor = 2\n    consistency_mode   = \"degraded\"\n  }\n}\n\nisland \"lab-b\"",
                1,
            )
    })
}

/// The archipelago as the last tests leave it: node7 joined lab-a with
/// chaton-7 (or, without `node7`, left it again), shared-a's quota at 3G,
/// lab-b in dangerous consistency mode.
fn last(dir: &Path, node7: bool) -> Result<PathBuf, Failed> {
    let file = current(dir)?;
    let chaton7 = if node7 {
        "chaton \"chaton-7\" {\n  island  = \"lab-a\"\n  contact = \"admin@chaton-7.lab\"\n\n  node \"node7\" {\n    ssh      = \"root@node7\"\n    capacity = \"15G\"\n  }\n}\n\n"
    } else {
        ""
    };
    let edited = std::fs::read_to_string(&file)?
        .replacen(
            "bucket \"shared-a\"",
            &format!("{chaton7}bucket \"shared-a\""),
            1,
        )
        .replacen("quota   = \"1G\"", "quota   = \"3G\"", 1);
    let marker = "replication_factor = 2\n  }\n}\n";
    let at = edited.rfind(marker).ok_or("lab-b's garage block")?;
    let edited = format!(
        "{}replication_factor = 2\n    consistency_mode   = \"dangerous\"\n  }}\n}}\n{}",
        &edited[..at],
        &edited[at + marker.len()..]
    );
    std::fs::write(&file, edited)?;
    Ok(file)
}

fn node_lost_mid_apply(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    // node6 loses Garage; lab-a's shared bucket gets a bigger quota.
    let file = current(dir.path())?;
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)?.replacen("quota   = \"1G\"", "quota   = \"3G\"", 1),
    )?;
    lab.ssh_ok(
        "node6",
        "systemctl disable --now garage 2>/dev/null && rm /usr/local/bin/garage",
    )?;

    // Apply on a terminal (through `script`): it shows the plan and waits
    // for "yes"; node6 dies in between.
    let mut child = Command::new("script")
        .arg("-qefc")
        .arg(format!(
            "NO_COLOR=1 {} -f {} apply -v --ssh-config {}",
            archipel_binary()?.display(),
            file.display(),
            lab.ssh_config().display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains("Only 'yes' will be accepted") {
        use std::io::Read;
        let n = stdout.read(&mut buffer)?;
        ensure(n > 0, format!("apply ended before asking: {seen}"))?;
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    ensure(
        seen.contains("island.lab-b.node.node6.binary")
            && seen.contains("island.lab-a.bucket.shared-a"),
        seen.clone(),
    )?;
    lab.stop("node6")?;
    {
        use std::io::{Read, Write};
        child.stdin.take().ok_or("stdin")?.write_all(b"yes\n")?;
        stdout.read_to_string(&mut seen)?;
    }
    let status = child.wait()?;
    record(&seen);
    lab.start_node("node6")?;
    ensure(
        status.code() == Some(1),
        format!("exit {:?}: {seen}", status.code()),
    )?;
    ensure(
        seen.contains("island.lab-b.node.node6.binary: FAILED") && seen.contains("node6 ("),
        seen.clone(),
    )?;
    ensure(
        seen.contains("island.lab-b.node.node6.service: skipped: island.lab-b.node.node6.binary did not succeed"),
        seen.clone(),
    )?;
    ensure(
        seen.contains("island.lab-a.bucket.shared-a: done"),
        seen.clone(),
    )?;
    ensure(seen.contains("Not converged yet"), seen.clone())?;

    // node6 is back: apply converges.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).contains("The archipelago matches the file."),
        output_text(&output),
    )
}

fn node_joins(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = current(dir.path())?;
    // A fourth chaton joins lab-a with node7 (the quota as the previous test left it).
    let edited = std::fs::read_to_string(&file)?
        .replacen(
            "bucket \"shared-a\"",
            "chaton \"chaton-7\" {\n  island  = \"lab-a\"\n  contact = \"admin@chaton-7.lab\"\n\n  node \"node7\" {\n    ssh      = \"root@node7\"\n    capacity = \"15G\"\n  }\n}\n\nbucket \"shared-a\"",
            1,
        )
        .replacen("quota   = \"1G\"", "quota   = \"3G\"", 1);
    // lab-a's binary now comes from a URL: apply downloads it once.
    let (binary, _) = garage_build()?;
    let (port, server) = serve_once(std::fs::read(&binary)?)?;
    let url = format!("http://127.0.0.1:{port}/garage");
    let edited = edited.replacen(
        &format!("binary             = \"{binary}\""),
        &format!("binary             = \"{url}\""),
        1,
    );
    std::fs::write(&file, edited)?;
    let before = api(lab, "node1", "GetClusterLayout")?["version"]
        .as_u64()
        .ok_or("version")?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let requests = server.join().map_err(|_| "the HTTP server panicked")??;
    ensure(output.status.success(), output_text(&output))?;
    let log = output_text(&output);
    ensure(
        log.matches(&format!("Downloading {url}")).count() == 1,
        format!("one download: {log}"),
    )?;
    ensure(requests == 1, format!("{requests} requests for the binary"))?;
    for address in [
        "island.lab-a.node.node7.binary: done",
        "island.lab-a.connect: done",
        "island.lab-a.layout: done",
    ] {
        ensure(log.contains(address), format!("{address} missing: {log}"))?;
    }
    let layout = api(lab, "node1", "GetClusterLayout")?;
    ensure(
        layout["version"] == before + 1,
        format!("{before} -> {}", layout["version"]),
    )?;
    let roles = layout["roles"].as_array().ok_or("roles")?;
    ensure(roles.len() == 4, format!("{roles:?}"))?;
    let role = roles
        .iter()
        .find(|r| r["tags"][1] == "node7")
        .ok_or("no role for node7")?;
    ensure(
        role["zone"] == "chaton-7" && role["capacity"] == 15_000_000_000u64,
        format!("{role}"),
    )?;
    ensure(
        api(lab, "node7", "GetClusterHealth")?["status"] == "healthy",
        "lab-a is healthy, seen from node7",
    )?;
    // The new node has the island's secret, not a new one.
    ensure(
        lab.ssh_ok("node7", "cat /etc/garage/rpc_secret")?
            == lab.ssh_ok("node1", "cat /etc/garage/rpc_secret")?,
        "node7 shares the island's rpc secret",
    )
}

/// Serves `body` over HTTP on a free local port, to whoever asks, until
/// nobody has asked for a while; the handle gives the number of requests.
fn serve_once(
    body: Vec<u8>,
) -> Result<(u16, std::thread::JoinHandle<Result<usize, String>>), Failed> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        let started = std::time::Instant::now();
        let mut last = None;
        // Up to 5 minutes for apply to ask, then 5 s more for a second ask.
        loop {
            let quiet = match last {
                Some(at) => std::time::Instant::now().duration_since(at) > Duration::from_secs(5),
                None => started.elapsed() > Duration::from_secs(300),
            };
            if quiet {
                return Ok(served);
            }
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
                    let mut line = String::new();
                    while reader.read_line(&mut line).map_err(|e| e.to_string())? > 2 {
                        line.clear();
                    }
                    let mut stream = stream;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    stream
                        .write_all(head.as_bytes())
                        .map_err(|e| e.to_string())?;
                    stream.write_all(&body).map_err(|e| e.to_string())?;
                    served += 1;
                    last = Some(std::time::Instant::now());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    Ok((port, handle))
}

fn ctrl_c(lab: &Lab) -> Result<(), Failed> {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir()?;
    // lab-b's nodes restart one at a time (consistency_mode changes).
    let file = last(dir.path(), true)?;
    let mut child = Command::new(archipel_binary()?)
        .arg("-f")
        .arg(&file)
        .args(["apply", "-v", "--ssh-config"])
        .arg(lab.ssh_config())
        .arg("--auto-approve")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("stderr")?);
    let mut log = String::new();
    // Interrupt as soon as the first restart starts.
    loop {
        let mut line = String::new();
        ensure(
            stderr.read_line(&mut line)? > 0,
            format!("apply ended first: {log}"),
        )?;
        log.push_str(&line);
        if line.contains(".service: applying") {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    ensure(killed.success(), "kill -INT")?;
    stderr.read_to_string(&mut log)?;
    let output = child.wait_with_output()?;
    let all = format!("{log}{}", String::from_utf8_lossy(&output.stdout));
    record(&all);
    ensure(
        output.status.code() == Some(130),
        format!("exit {:?}: {all}", output.status.code()),
    )?;
    ensure(
        all.matches(".service: done").count() == 1,
        format!("the running restart finishes, no other starts: {all}"),
    )?;
    ensure(
        all.matches("skipped: interrupted before it started")
            .count()
            == 2,
        all.clone(),
    )?;
    let left = lab.ssh_masters();
    ensure(left.is_empty(), format!("ssh left behind: {left:?}"))?;
    // Applying again finishes the job.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        output_text(&output).matches(".service: done").count() == 2,
        output_text(&output),
    )
}

/// node7 leaves lab-a holding blocks: the removal is refused without
/// --allow-destroy; with it, node7 leaves the layout, hands its blocks
/// over (Garage keeps them ten minutes first), then stops; every object
/// reads back whole and its data directory is still there.
fn node_leaves(lab: &Lab) -> Result<(), Failed> {
    use std::io::Read;
    let dir = tempfile::tempdir()?;
    let s3 = S3Key::of(lab, "node1", "archipel-chaton-1")?.on(lab, "node1")?;
    // Objects above Garage's inline threshold, distinct so that no block
    // is shared: with four zones and two copies, node7 holds some.
    let mut objects = Vec::new();
    for i in 0..8 {
        let mut random = vec![0u8; 800_000];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
        let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("leaving-{i}");
        s3.put("shared-a", &name, text.clone().into_bytes())?;
        objects.push((name, text));
    }
    let blocks = "find /var/lib/garage/data -type f ! -name garage-marker | wc -l";
    let held: usize = lab.ssh_ok("node7", blocks)?.trim().parse()?;
    ensure(held > 0, "node7 holds blocks before it leaves")?;

    // chaton-4 stops reading shared-a: its key on lab-a goes too.
    let file = last(dir.path(), false)?;
    let text = std::fs::read_to_string(&file)?;
    std::fs::write(&file, text.replacen("  readers = [\"chaton-4\"]\n", "", 1))?;
    let version = |lab: &Lab| -> Result<u64, Failed> {
        Ok(api(lab, "node1", "GetClusterLayout")?["version"]
            .as_u64()
            .ok_or("version")?)
    };
    let before = version(lab)?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.code() == Some(1), log.clone())?;
    ensure(
        log.contains("- island.lab-a.node.node7") && log.contains("will be DESTROYED"),
        format!("the plan says so loudly: {log}"),
    )?;
    ensure(log.contains("rerun with --allow-destroy"), log.clone())?;
    ensure(version(lab)? == before, "refused: the layout is untouched")?;

    let output = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(version(lab)? == before + 1, "one layout version")?;
    for line in [
        "island.lab-a.layout: done",
        "island.lab-a.node.node7: draining:",
        "island.lab-a.node.node7: done",
        "island.lab-a.key.archipel-chaton-4: done",
    ] {
        ensure(log.contains(line), format!("{line} missing: {log}"))?;
    }
    let layout = api(lab, "node1", "GetClusterLayout")?;
    ensure(
        !layout["roles"]
            .as_array()
            .ok_or("roles")?
            .iter()
            .any(|r| r["tags"][1] == "node7"),
        format!("node7 still has a role: {layout}"),
    )?;
    let state = lab.ssh_ok(
        "node7",
        "systemctl is-active garage; systemctl is-enabled garage; ls /var/lib/garage/data",
    )?;
    ensure(
        state.starts_with("inactive\ndisabled\n") && state.contains("garage-marker"),
        format!("node7 stopped, disabled, its data directory kept: {state}"),
    )?;
    let held: usize = lab.ssh_ok("node7", blocks)?.trim().parse()?;
    ensure(held == 0, format!("node7 still holds {held} blocks"))?;
    for (name, text) in &objects {
        ensure(
            s3.get("shared-a", name)? == text.as_bytes(),
            format!("{name} reads back whole"),
        )?;
    }
    ensure(
        api(lab, "node1", "GetClusterHealth")?["status"] == "healthy",
        "lab-a is healthy",
    )?;
    let keys = api(lab, "node1", "ListKeys")?;
    ensure(
        !keys.to_string().contains("archipel-chaton-4"),
        format!("the key is gone: {keys}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}
