//! Files and facts: an atomic upload with its owner and mode, every node's
//! facts in one call, a recorded hash until the file changes.

use crate::fixture::{connect_all, lab_machines, runtime, settings, sha256_of};
use archipel_planner::model::SshTarget;
use archipel_planner::observed::FileFacts;
use archipel_planner::ownership::Ownership;
use archipel_providers::host::{self, FactsQuery, FileQuery, Read};
use archipel_providers::pinned;
use archipel_providers::ssh::{Ssh, close_all};
use archipel_tests::{Failed, Lab, ensure};

pub fn upload_and_read_back(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh.connect("node1", &SshTarget::parse("node1")?, None).await?;
        remote
            .run_checked("id archtest >/dev/null 2>&1 || useradd --system --no-create-home archtest; mkdir -p /etc/archtest", &[], None)
            .await?;
        let secret = b"not a real secret\n\x00\xff binary too";
        remote.upload("/etc/archtest/secret", secret, Ownership::new("archtest", "archtest", 0o600)).await?;

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
        remote.upload("/etc/archtest/secret-metadata", b"x", Ownership::new("root", "archtest", 0o640)).await?;
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
        remote.upload("/etc/archtest/secret", b"v2", Ownership::new("archtest", "archtest", 0o600)).await?;
        let listing = remote.run_checked("ls -A /etc/archtest", &[], None).await?.stdout_text();
        ensure(listing.split_whitespace().collect::<Vec<_>>() == ["secret", "secret-metadata"], format!("left behind: {listing}"))?;
        // A failed upload (unknown owner) leaves the old file and no temporary.
        let err = remote.upload("/etc/archtest/secret", b"v3", Ownership::new("nobody-here", "root", 0o600)).await;
        ensure(err.is_err(), "upload with an unknown owner must fail")?;
        ensure(remote.read_file("/etc/archtest/secret").await?.as_deref() == Some(&b"v2"[..]), "old content kept")?;
        let listing = remote.run_checked("ls -A /etc/archtest", &[], None).await?.stdout_text();
        ensure(listing.split_whitespace().count() == 2, format!("left behind: {listing}"))?;
        remote.run_checked("rm -rf /etc/archtest", &[], None).await?;
        remote.close().await?;
        Ok(())
    })
}

pub fn facts_of_all_nodes(lab: &Lab) -> Result<(), Failed> {
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

pub fn hash_records(lab: &Lab) -> Result<(), Failed> {
    runtime().block_on(async {
        let ssh = Ssh::new(settings(lab))?;
        let remote = ssh
            .connect("node2", &SshTarget::parse("node2")?, None)
            .await?;
        remote
            .upload(
                "/opt/big",
                b"version one",
                Ownership::new("root", "root", 0o755),
            )
            .await?;
        let recorded = pinned::record_hash(&remote, "/opt/big").await?;
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
