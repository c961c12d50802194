//! The SSH provider against real machines: sessions, commands, uploads,
//! host facts, host keys, failures.

use archipel_planner::model::{Machine, SshTarget};
use archipel_planner::observed::FileFacts;
use archipel_providers::host::{self, FactsQuery, FileQuery, Read};
use archipel_providers::ssh::{HostKeyPolicy, Remote, Ssh, SshError, SshSettings, close_all};
use archipel_tests::{Failed, Lab, ensure, run_lab_tests};
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    run_lab_tests(
        3,
        &[
            ("commands_run_on_all_nodes_in_parallel", parallel_commands),
            ("many_commands_share_one_connection", many_commands),
            ("upload_is_atomic_with_owner_and_mode", upload_and_read_back),
            ("facts_of_all_nodes_in_one_call", facts_of_all_nodes),
            (
                "errors_name_the_host_command_and_stderr",
                errors_are_precise,
            ),
            ("stopped_node_fails_fast_others_carry_on", stopped_node),
            (
                "unknown_host_key_is_refused_unless_accepted",
                unknown_host_key,
            ),
            ("pinned_host_key_is_enforced", pinned_host_key),
            ("non_root_users_go_through_sudo", sudo_users),
            ("no_master_process_outlives_the_run", no_orphans),
            (
                "a_recorded_hash_stands_until_the_file_changes",
                hash_records,
            ),
        ],
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn settings(lab: &Lab) -> SshSettings {
    SshSettings {
        config_file: Some(lab.ssh_config()),
        connect_timeout: Duration::from_secs(3),
        ..SshSettings::default()
    }
}

fn machine(name: &str, target: &str) -> Machine {
    Machine {
        name: name.to_string(),
        ssh: SshTarget::parse(target).expect("target"),
        host_key: None,
        node: Some(name.to_string()),
        backups: Vec::new(),
    }
}

fn lab_machines(lab: &Lab) -> Vec<Machine> {
    lab.nodes()
        .iter()
        .map(|n| machine(&n.name, &n.name))
        .collect()
}

async fn connect_all(ssh: &Ssh, machines: &[Machine]) -> Result<Vec<Remote>, Failed> {
    ssh.connect_all(machines)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failed::from(e.to_string()))
}

fn parallel_commands(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remotes = connect_all(&ssh, &lab_machines(lab)).await?;
        // Each node sleeps 2 s: run in parallel, all finish in about 2 s.
        let started = Instant::now();
        let outputs = futures_util::future::join_all(
            remotes
                .iter()
                .map(|r| r.run_checked("sleep 2; hostname", &[], None)),
        )
        .await;
        let elapsed = started.elapsed();
        for (remote, output) in remotes.iter().zip(outputs) {
            let name = output?.stdout_text();
            ensure(
                remote.host().starts_with(name.trim()),
                format!("{} answered {name:?}", remote.host()),
            )?;
        }
        ensure(
            elapsed < Duration::from_secs(5),
            format!("3 × sleep 2 took {elapsed:?}: not parallel"),
        )?;
        close_all(remotes).await;
        Ok(())
    })
}

fn many_commands(lab: &Lab) -> Result<(), Failed> {
    let node1 = lab.node("node1").ok_or("no node1")?.address.to_string();
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let control_dir = ssh.control_dir().display().to_string();
        let remote = ssh
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        // More commands at once than sshd's MaxSessions (10): the provider
        // queues them instead of failing.
        let commands = futures_util::future::join_all((0..30).map(|i| {
            let remote = remote.clone();
            async move {
                remote
                    .run_checked("sleep 0.3; echo \"$1\"", &[&i.to_string()], None)
                    .await
            }
        }));
        // While they run: the TCP connections to node1's sshd held by this
        // run's ssh processes. One, shared by every command.
        let count = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            connections_of(&control_dir, &node1)
        };
        let (outputs, connections) = tokio::join!(commands, count);
        for (i, output) in outputs.into_iter().enumerate() {
            ensure(
                output?.stdout_text().trim() == i.to_string(),
                "wrong output",
            )?;
        }
        let connections = connections?;
        ensure(
            connections == 1,
            format!("{connections} SSH connections to node1 for 30 commands"),
        )?;
        remote.close().await?;
        Ok(())
    })
}

/// Established TCP connections to `address`:22 owned by ssh processes whose
/// command line mentions `control_dir` (this run's masters).
fn connections_of(control_dir: &str, address: &str) -> Result<usize, Failed> {
    let output = std::process::Command::new("ss")
        .args([
            "-Htnp",
            "state",
            "established",
            "dst",
            address,
            "dport",
            "=",
            "22",
        ])
        .output()?;
    let mut count = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        for pid in line
            .split("pid=")
            .skip(1)
            .filter_map(|p| p.split(',').next())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(control_dir) {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn sha256_of(bytes: &[u8]) -> Result<String, Failed> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), bytes)?;
    let output = std::process::Command::new("sha256sum")
        .arg(file.path())
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}

fn upload_and_read_back(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh.connect("node1", &SshTarget::parse("node1")?, None).await?;
        remote
            .run_checked("id archtest >/dev/null 2>&1 || useradd --system --no-create-home archtest; mkdir -p /etc/archtest", &[], None)
            .await?;
        let secret = b"not a real secret\n\x00\xff binary too";
        remote.upload("/etc/archtest/secret", secret, "archtest", "archtest", 0o600).await?;

        let read = remote.read_file("/etc/archtest/secret").await?;
        ensure(read.as_deref() == Some(&secret[..]), "read back differs")?;
        ensure(remote.read_file("/etc/archtest/nothing").await?.is_none(), "a missing file reads as None")?;

        let query = FactsQuery {
            files: vec![
                FileQuery::hashed("/etc/archtest/secret"),
                FileQuery::metadata_only("/etc/archtest/secret-metadata"),
                FileQuery::hashed("/etc/archtest"),
            ],
            ..FactsQuery::default()
        };
        remote.upload("/etc/archtest/secret-metadata", b"x", "root", "archtest", 0o640).await?;
        let facts = host::gather(&remote, &query).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        let modified = match &facts.files["/etc/archtest/secret"] {
            FileFacts::File { modified: Some(m), .. } => *m,
            other => return Err(format!("no modification time: {other:?}").into()),
        };
        // The nodes share this machine's clock.
        ensure(now.abs_diff(modified) < 60, format!("modified {modified}, now {now}"))?;
        let expected = FileFacts::File {
            sha256: Some(sha256_of(secret)?),
            owner: "archtest".into(),
            group: "archtest".into(),
            mode: "600".into(),
            size: secret.len() as u64,
            content: None,
            modified: Some(modified),
        };
        ensure(facts.files["/etc/archtest/secret"] == expected, format!("{:?}", facts.files["/etc/archtest/secret"]))?;
        ensure(
            matches!(&facts.files["/etc/archtest/secret-metadata"], FileFacts::File { sha256: None, mode, group, .. } if mode == "640" && group == "archtest"),
            format!("{:?}", facts.files["/etc/archtest/secret-metadata"]),
        )?;
        ensure(matches!(facts.files["/etc/archtest"], FileFacts::Directory { .. }), "a directory")?;

        // Overwriting leaves no temporary file behind.
        remote.upload("/etc/archtest/secret", b"v2", "archtest", "archtest", 0o600).await?;
        let listing = remote.run_checked("ls -A /etc/archtest", &[], None).await?.stdout_text();
        ensure(listing.split_whitespace().collect::<Vec<_>>() == ["secret", "secret-metadata"], format!("left behind: {listing}"))?;
        // A failed upload (unknown owner) leaves the old file and no temporary.
        let err = remote.upload("/etc/archtest/secret", b"v3", "nobody-here", "root", 0o600).await;
        ensure(err.is_err(), "upload with an unknown owner must fail")?;
        ensure(remote.read_file("/etc/archtest/secret").await?.as_deref() == Some(&b"v2"[..]), "old content kept")?;
        let listing = remote.run_checked("ls -A /etc/archtest", &[], None).await?.stdout_text();
        ensure(listing.split_whitespace().count() == 2, format!("left behind: {listing}"))?;
        remote.run_checked("rm -rf /etc/archtest", &[], None).await?;
        remote.close().await?;
        Ok(())
    })
}

fn facts_of_all_nodes(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remotes = connect_all(&ssh, &lab_machines(lab)).await?;
        let query = FactsQuery {
            files: vec![
                FileQuery::hashed("/etc/hostname"),
                FileQuery::hashed("/nonexistent"),
                FileQuery::new("/usr/lib/os-release", Read::Content),
                FileQuery::new("/etc/machine-id", Read::Hex),
            ],
            units: vec!["ssh.service".into(), "garage.service".into()],
            probes: vec![
                ("kernel".into(), "uname -s".into()),
                ("failing".into(), "echo oops >&2; exit 4".into()),
            ],
        };
        let all = host::gather_all(&remotes, &query).await;
        for (node, facts) in lab.nodes().iter().zip(all) {
            let facts = facts?;
            ensure(facts.os_id == "debian" && facts.os_version == "12", format!("{}: {:?}", node.name, facts))?;
            ensure(facts.architecture == std::env::consts::ARCH, format!("arch {}", facts.architecture))?;
            ensure(facts.systemd, "systemd runs")?;
            ensure(facts.files["/nonexistent"] == FileFacts::Missing, "missing file")?;
            let hostname_hash = sha256_of(format!("{}\n", node.name).as_bytes())?;
            ensure(
                matches!(&facts.files["/etc/hostname"], FileFacts::File { sha256: Some(h), .. } if *h == hostname_hash),
                format!("{:?}", facts.files["/etc/hostname"]),
            )?;
            let sshd = &facts.units["ssh.service"];
            ensure(sshd.installed && sshd.is_enabled() && sshd.is_active(), format!("{sshd:?}"))?;
            ensure(sshd.active_since.is_some_and(|t| t > 1_700_000_000), format!("sshd active since: {sshd:?}"))?;
            ensure(!facts.units["garage.service"].installed, "garage is not installed yet")?;
            ensure(
                matches!(&facts.files["/usr/lib/os-release"], FileFacts::File { content: Some(c), .. } if c.contains("ID=debian")),
                "os-release content",
            )?;
            let machine_id = lab.ssh_ok(&node.name, "cat /etc/machine-id")?;
            let machine_id_hex: String = format!("{}\n", machine_id.trim()).bytes().map(|b| format!("{b:02x}")).collect();
            ensure(
                matches!(&facts.files["/etc/machine-id"], FileFacts::File { content: Some(c), .. } if *c == machine_id_hex),
                format!("machine-id in hex: {:?}", facts.files["/etc/machine-id"]),
            )?;
            ensure(facts.probes["kernel"].status == 0 && facts.probes["kernel"].output == "Linux", format!("{:?}", facts.probes))?;
            ensure(facts.probes["failing"].status == 4 && facts.probes["failing"].output == "oops", format!("{:?}", facts.probes))?;
        }
        close_all(remotes).await;
        Ok(())
    })
}

fn errors_are_precise(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node3", &SshTarget::parse("node3")?, None)
            .await?;
        let error = remote
            .run_checked("echo 'disk on fire' >&2; exit 3", &[], None)
            .await
            .expect_err("exit 3 is an error");
        let text = error.to_string();
        for part in [
            "node3",
            "echo 'disk on fire' >&2; exit 3",
            "status 3",
            "disk on fire",
        ] {
            ensure(text.contains(part), format!("{text:?} lacks {part:?}"))?;
        }
        // `run` itself returns the status for callers that expect failures.
        ensure(
            remote.run("exit 7", &[], None).await?.status == 7,
            "status 7",
        )?;
        // stdin reaches the command.
        let echoed = remote.run_checked("cat", &[], Some(b"via stdin")).await?;
        ensure(echoed.stdout == b"via stdin", "stdin")?;
        remote.close().await?;
        Ok(())
    })
}

fn stopped_node(lab: &Lab) -> Result<(), Failed> {
    lab.stop("node2")?;
    let result = runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let started = Instant::now();
        let results = ssh.connect_all(&lab_machines(lab)).await;
        let elapsed = started.elapsed();
        ensure(
            elapsed < Duration::from_secs(6),
            format!("connecting took {elapsed:?} with a 3 s timeout"),
        )?;
        let mut remotes = Vec::new();
        for (node, result) in lab.nodes().iter().zip(results) {
            match (node.name.as_str(), result) {
                ("node2", Err(error)) => {
                    ensure(
                        error.host().is_some_and(|h| h.starts_with("node2")),
                        format!("{error}"),
                    )?;
                    ensure(
                        matches!(error, SshError::Connect { .. }),
                        format!("{error}"),
                    )?;
                }
                ("node2", Ok(_)) => return Err("node2 is stopped but answered".into()),
                (_, Ok(remote)) => {
                    remote.run_checked("true", &[], None).await?;
                    remotes.push(remote);
                }
                (name, Err(error)) => return Err(format!("{name} should work: {error}").into()),
            }
        }
        close_all(remotes).await;
        Ok::<(), Failed>(())
    });
    lab.start_node("node2")?;
    result?;
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node2", &SshTarget::parse("node2")?, None)
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        Ok(())
    })
}

/// An ssh_config like the lab's, with a known_hosts file of our choosing.
fn config_with_known_hosts(
    lab: &Lab,
    dir: &Path,
    known_hosts: &Path,
) -> Result<std::path::PathBuf, Failed> {
    let original = std::fs::read_to_string(lab.ssh_config())?;
    let config: String = original
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("UserKnownHostsFile") {
                format!("  UserKnownHostsFile {}", known_hosts.display())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("ssh_config");
    std::fs::write(&path, config + "\n")?;
    Ok(path)
}

fn unknown_host_key(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, "")?;
    let config = config_with_known_hosts(lab, dir.path(), &known_hosts)?;
    runtime().block_on(async {
        let strict = Ssh::new(SshSettings {
            config_file: Some(config.clone()),
            ..settings(lab)
        })?;
        let error = strict
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await
            .expect_err("an unknown host must be refused");
        ensure(
            matches!(error, SshError::HostKey { .. }),
            format!("{error}"),
        )?;
        ensure(
            error.to_string().contains("--accept-new-host-keys"),
            format!("{error}"),
        )?;

        let accepting = Ssh::new(SshSettings {
            config_file: Some(config.clone()),
            host_keys: HostKeyPolicy::AcceptNew,
            ..settings(lab)
        })?;
        let remote = accepting
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        let learnt = std::fs::read_to_string(&known_hosts)?;
        ensure(
            learnt.contains("ssh-ed25519"),
            format!("known_hosts after accept-new: {learnt:?}"),
        )?;

        // Now known: strict accepts it.
        let remote = strict
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        remote.close().await?;
        Ok(())
    })
}

fn pinned_host_key(lab: &Lab) -> Result<(), Failed> {
    let key_of = |node: &str| lab.ssh_ok(node, "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub");
    let node1_key = key_of("node1")?;
    let node2_key = key_of("node2")?;
    // Even a host in known_hosts is refused when its pinned key differs.
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let error = ssh
            .connect("node1", &SshTarget::parse("node1")?, Some(node2_key.trim()))
            .await
            .expect_err("a wrong pin must be refused");
        ensure(
            matches!(error, SshError::HostKey { .. }),
            format!("{error}"),
        )?;
        ensure(error.to_string().contains("pinned"), format!("{error}"))?;

        // The right pin is enough, with an empty known_hosts.
        let dir = tempfile::tempdir()?;
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, "")?;
        let config = config_with_known_hosts(lab, dir.path(), &known_hosts)?;
        let pinned = Ssh::new(SshSettings {
            config_file: Some(config),
            ..settings(lab)
        })?;
        let remote = pinned
            .connect("node1", &SshTarget::parse("node1")?, Some(node1_key.trim()))
            .await?;
        remote.run_checked("true", &[], None).await?;
        remote.close().await?;
        ensure(
            std::fs::read_to_string(&known_hosts)?.is_empty(),
            "a pin is not written to known_hosts",
        )?;
        Ok(())
    })
}

fn sudo_users(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let ops = ssh
            .connect("node1", &SshTarget::parse("ops@node1")?, None)
            .await?;
        let uid = ops.run_checked("id -u", &[], None).await?.stdout_text();
        ensure(uid.trim() == "0", format!("ops runs commands as uid {uid}"))?;
        ops.upload("/root/from-ops", b"x", "root", "root", 0o600)
            .await?;
        ops.close().await?;

        let nosudo = ssh
            .connect("node1", &SshTarget::parse("nosudo@node1")?, None)
            .await?;
        let started = Instant::now();
        let error = nosudo
            .run_checked("id -u", &[], None)
            .await
            .expect_err("nosudo has no sudo");
        ensure(
            started.elapsed() < Duration::from_secs(5),
            "sudo must not wait for a password",
        )?;
        ensure(error.to_string().contains("password"), format!("{error}"))?;
        nosudo.close().await?;
        Ok(())
    })
}

fn no_orphans(lab: &Lab) -> Result<(), Failed> {
    let control_dir = runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let control_dir = ssh.control_dir().to_path_buf();
        let remotes = connect_all(&ssh, &lab_machines(lab)).await?;
        ensure(
            masters(&control_dir)? == 3,
            "one master per host while connected",
        )?;
        let errors = close_all(remotes).await;
        ensure(errors.is_empty(), format!("{errors:?}"))?;
        ensure(masters(&control_dir)? == 0, "masters left after close")?;
        // A session dropped without close (an error path) still ends its master.
        let remote = ssh
            .connect("node1", &SshTarget::parse("node1")?, None)
            .await?;
        drop(remote);
        ensure(masters(&control_dir)? == 0, "master left after drop")?;
        Ok::<_, Failed>(control_dir)
    })?;
    ensure(!control_dir.exists(), "the control directory is removed")?;
    Ok(())
}

/// ssh master processes whose control socket is under `dir`.
fn masters(dir: &Path) -> Result<usize, Failed> {
    // Give a closing master a moment to exit.
    std::thread::sleep(Duration::from_millis(300));
    let output = std::process::Command::new("pgrep")
        .args(["-f", &dir.display().to_string()])
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).lines().count())
}

fn hash_records(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node2", &SshTarget::parse("node2")?, None)
            .await?;
        remote
            .upload("/opt/big", b"version one", "root", "root", 0o755)
            .await?;
        let recorded = host::record_hash(&remote, "/opt/big").await?;
        ensure(
            recorded == sha256_of(b"version one")?,
            "the recorded hash is the file's",
        )?;
        let query = FactsQuery {
            files: vec![FileQuery::hashed("/opt/big")],
            ..FactsQuery::default()
        };
        let hash = |facts: &archipel_planner::observed::HostFacts| match &facts.files["/opt/big"] {
            FileFacts::File { sha256, .. } => sha256.clone().unwrap_or_default(),
            _ => String::new(),
        };
        // The record is what observation reads while the file is unchanged:
        // make it say something else to see it used.
        remote
            .run_checked(
                "f=/var/lib/archipel/sha256/%opt%big; sed -i '2s/.*/recorded/' \"$f\"",
                &[],
                None,
            )
            .await?;
        ensure(
            hash(&host::gather(&remote, &query).await?) == "recorded",
            "the record is used",
        )?;
        // Any change to the file (here its content, same size) voids it.
        remote
            .run_checked("printf 'version two' > /opt/big", &[], None)
            .await?;
        ensure(
            hash(&host::gather(&remote, &query).await?) == sha256_of(b"version two")?,
            "a stale record is ignored",
        )?;
        remote
            .run_checked("rm -rf /opt/big /var/lib/archipel", &[], None)
            .await?;
        remote.close().await?;
        Ok(())
    })
}
