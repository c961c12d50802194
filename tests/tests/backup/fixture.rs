//! The lab's backing-up archipelago, the chatons' escrow keys, and how a
//! test reads a job's restic, S3 and last run.

use archipel_tests::jobs::sha256_of;
pub use archipel_tests::jobs::{job_s3, restic, status, vault_s3};
use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, ensure, garage_build, output_text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The chatons' admin keys: chaton-1's an age identity, chaton-4's an SSH
/// key. Made once per lab (the file must not change between tests).
pub struct EscrowKeys {
    pub age_identity: PathBuf,
    pub age_public: String,
    pub ssh_key: PathBuf,
    pub ssh_public: String,
}

pub fn escrow_keys(lab: &Lab) -> Result<EscrowKeys, Failed> {
    use age::secrecy::ExposeSecret as _;
    let age_identity = lab.state_dir().join("escrow-chaton-1.age");
    if !age_identity.exists() {
        let identity = age::x25519::Identity::generate();
        std::fs::write(&age_identity, identity.to_string().expose_secret())?;
    }
    let text = std::fs::read_to_string(&age_identity)?;
    let age_public = text
        .trim()
        .parse::<age::x25519::Identity>()
        .map_err(|e| format!("the test identity: {e}"))?
        .to_public()
        .to_string();
    let ssh_key = lab.state_dir().join("escrow-chaton-4");
    if !ssh_key.exists() {
        let made = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "admin@chaton-4.lab",
                "-f",
            ])
            .arg(&ssh_key)
            .output()?;
        ensure(made.status.success(), output_text(&made))?;
    }
    let ssh_public = std::fs::read_to_string(ssh_key.with_extension("pub"))?
        .trim()
        .to_string();
    Ok(EscrowKeys {
        age_identity,
        age_public,
        ssh_key,
        ssh_public,
    })
}

/// Two islands of three chatons; chaton-1 (lab-a) backs up node7 to
/// lab-b, chaton-4 (lab-b) backs up node8 to lab-a, with the host's restic
/// pinned (lab nodes have no network for apt). node9 is a spare machine.
pub fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    let keys = escrow_keys(lab)?;
    let (garage, sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let mut text = String::new();
    for island in ["lab-a", "lab-b"] {
        text.push_str(&format!(
            "island \"{island}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 2\n  }}\n}}\n\n"
        ));
    }
    for i in 1..=6 {
        let (island, other) = if i <= 3 {
            ("lab-a", "lab-b")
        } else {
            ("lab-b", "lab-a")
        };
        let escrow = match i {
            1 => format!("  escrow  = [\"{}\"]\n", keys.age_public),
            4 => format!("  escrow  = [\"{}\"]\n", keys.ssh_public),
            _ => String::new(),
        };
        let backup = match i {
            1 => Some(7),
            4 => Some(8),
            _ => None,
        }
        .map(|host| {
            format!(
                "\n  backup \"data\" {{\n    host     = \"root@node{host}\"\n    to       = \"{other}\"\n    paths    = [\"/srv/data\"]\n    exclude  = [\"*.tmp\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n  }}\n"
            )
        })
        .unwrap_or_default();
        text.push_str(&format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"admin@chaton-{i}.lab\"\n{escrow}\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n{backup}}}\n\n"
        ));
    }
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The archipelago with chaton-4's job on node8 named `other` (and a new
/// quota) in place of `data`.
pub fn renamed(lab: &Lab, dir: &Path, quota: &str) -> Result<PathBuf, Failed> {
    let file = archipelago(lab, dir)?;
    let text = std::fs::read_to_string(&file)?;
    let from = "backup \"data\" {\n    host     = \"root@node8\"";
    ensure(text.contains(from), "chaton-4's job")?;
    let mut text = text.replacen(from, "backup \"other\" {\n    host     = \"root@node8\"", 1);
    let other = text.find("backup \"other\"").ok_or("other")?;
    let at = other + text[other..].find("quota    = \"1G\"").ok_or("quota")?;
    text.replace_range(
        at..at + "quota    = \"1G\"".len(),
        &format!("quota    = \"{quota}\""),
    );
    std::fs::write(&file, text)?;
    Ok(file)
}

/// Job `data`'s escrow in `bucket`, the one object live under
/// `data.escrow` (so the legacy `data.escrow.age` is gone too): its name,
/// checked to be `data.escrow/YYYYMMDDTHHMMSSZ.age`, and its content.
pub fn live_escrow(s3: &S3, bucket: &str) -> Result<(String, Vec<u8>), Failed> {
    let listed = s3.list(bucket, "data.escrow")?;
    let [name] = listed.as_slice() else {
        return Err(format!("one escrow object live in {bucket}, not {listed:?}").into());
    };
    let stamp = name
        .strip_prefix("data.escrow/")
        .and_then(|rest| rest.strip_suffix(".age"))
        .unwrap_or_default()
        .as_bytes();
    let shaped = stamp.len() == 16
        && stamp.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
    ensure(shaped, format!("a versioned escrow name: {name}"))?;
    Ok((name.clone(), s3.get(bucket, name)?))
}
