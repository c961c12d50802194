//! Nodes joining and leaving an island.

use crate::fixture::{S3Key, current, last};
use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, archipel, ensure, garage_api as api, garage_build, output_text};
use std::time::Duration;

pub fn node_joins(lab: &Lab) -> Result<(), Failed> {
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

/// node7 leaves lab-a holding blocks: the removal is refused without
/// --allow-destroy; with it, node7 leaves the layout, hands its blocks
/// over (Garage keeps them ten minutes first), then stops; every object
/// reads back whole and its data directory is still there.
pub fn node_leaves(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let s3 = S3Key::of(lab, "node1", "archipel-chaton-1")?.on(lab, "node1")?;
    let objects = objects_node7_holds_blocks_of(&s3)?;
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
    node7_is_out_and_its_blocks_are_elsewhere(lab, blocks, &s3, &objects)?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// Objects above Garage's inline threshold, distinct so that no block is
/// shared: with four zones and two copies, node7 holds some. Their names
/// and contents.
fn objects_node7_holds_blocks_of(s3: &S3) -> Result<Vec<(String, String)>, Failed> {
    use std::io::Read;
    let mut objects = Vec::new();
    for i in 0..8 {
        let mut random = vec![0u8; 800_000];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut random)?;
        let text: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("leaving-{i}");
        s3.put("shared-a", &name, text.clone().into_bytes())?;
        objects.push((name, text));
    }
    Ok(objects)
}

/// node7 has no role any more, is stopped and disabled with its data
/// directory kept, holds no block; every object reads back whole, lab-a is
/// healthy, chaton-4's key is gone.
fn node7_is_out_and_its_blocks_are_elsewhere(
    lab: &Lab,
    blocks: &str,
    s3: &S3,
    objects: &[(String, String)],
) -> Result<(), Failed> {
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
    for (name, text) in objects {
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
    Ok(())
}
