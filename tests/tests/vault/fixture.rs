//! The vault lab's archipelago: chaton-3 (island lab-b) backs up node4 to
//! lab-a, whose vault keeps it; node5 is a spare machine to recover onto.

use archipel_tests::jobs::sha256_of;
use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, ensure, garage_build, output_text};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const JOB: &str = "chaton-3-data";
pub const HOST: &str = "node4";
pub const BUCKET: &str = "backup-chaton-3";
pub const VAULT: &str = "vault-chaton-3";
pub const GARAGE: &str = "garage -c /etc/garage/garage.toml";
/// The grace period of the lab's vault: short enough to wait out.
pub const GRACE_SECONDS: u64 = 60;

/// chaton-3's escrow identity, made once per lab.
pub fn identity(lab: &Lab) -> Result<(PathBuf, String), Failed> {
    use age::secrecy::ExposeSecret as _;
    let path = lab.state_dir().join("escrow-chaton-3.age");
    if !path.exists() {
        let identity = age::x25519::Identity::generate();
        std::fs::write(&path, identity.to_string().expose_secret())?;
    }
    let public = std::fs::read_to_string(&path)?
        .trim()
        .parse::<age::x25519::Identity>()
        .map_err(|e| format!("the test identity: {e}"))?
        .to_public()
        .to_string();
    Ok((path, public))
}

pub fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
    let (_, recipient) = identity(lab)?;
    let (garage, sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let island = |name: &str, copies: u8| {
        format!(
            "island \"{name}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = {copies}\n  }}\n}}\n\n"
        )
    };
    let member = |i: u8, island: &str, extra: &str| {
        format!(
            "chaton \"chaton-{i}\" {{\n  island  = \"{island}\"\n  contact = \"admin@chaton-{i}.lab\"\n{extra}\n  node \"node{i}\" {{\n    ssh      = \"root@node{i}\"\n    capacity = \"10G\"\n  }}\n}}\n\n"
        )
    };
    let backup = format!(
        "  escrow  = [\"{recipient}\"]\n\n  vault {{\n    keep_deleted = \"{GRACE_SECONDS}s\"\n  }}\n\n  backup \"data\" {{\n    host     = \"root@{HOST}\"\n    to       = \"lab-a\"\n    paths    = [\"/srv/data\"]\n    schedule = \"*-*-* 03:00\"\n    prune    = \"*-*-* 03:30\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n  }}\n"
    );
    let text = [
        island("lab-a", 2),
        island("lab-b", 1),
        member(1, "lab-a", ""),
        member(2, "lab-a", ""),
        member(3, "lab-b", &backup),
    ]
    .concat();
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One vault pass on the node that runs them (node1, lab-a's first).
pub fn pass(lab: &Lab) -> Result<serde_json::Value, Failed> {
    lab.ssh_ok("node1", "systemctl start archipel-vault.service")?;
    vault_status(lab)
}

/// The last pass's report of chaton-3's vault.
pub fn vault_status(lab: &Lab) -> Result<serde_json::Value, Failed> {
    Ok(serde_json::from_str(&lab.ssh_ok(
        "node1",
        "cat /var/lib/archipel/vault/chaton-3.json",
    )?)?)
}

/// The kinds of the vault's open incidents.
pub fn incident_kinds(report: &serde_json::Value) -> Vec<String> {
    report["incidents"]
        .as_array()
        .map(|incidents| {
            incidents
                .iter()
                .filter_map(|i| i["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What restic keeps in a bucket under the job's prefix, sorted: every
/// object but `locks/` (which the vault never copies).
pub fn repository_objects(s3: &S3, bucket: &str) -> Result<Vec<String>, Failed> {
    let mut names: Vec<String> = s3
        .list(bucket, "data/")?
        .into_iter()
        .filter(|n| !n.starts_with("data/locks/"))
        .collect();
    names.sort();
    Ok(names)
}

/// The files of /srv/data on the host, as `sha256sum` prints them.
pub fn data_sums(lab: &Lab) -> Result<String, Failed> {
    Ok(lab.ssh_ok(
        HOST,
        "cd /srv && find data -type f | sort | xargs sha256sum",
    )?)
}

/// PutBucketLifecycleConfiguration on the backup bucket with a key: the
/// HTTP status Garage answers.
pub fn put_lifecycle(lab: &Lab, key_id: &str, secret: &str) -> Result<String, Failed> {
    let body = "<LifecycleConfiguration><Rule><ID>expire</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    let address = lab.node("node1").ok_or("node1")?.address;
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "md5=$(printf '%s' \"$BODY\" | openssl md5 -binary | base64); printf 'user = \"%s:%s\"\\n' \"$K\" \"$S\" | curl -sS -o /dev/null -w '%{{http_code}}' -K - --aws-sigv4 aws:amz:garage:s3 -X PUT -H \"Content-MD5: $md5\" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary \"$BODY\" 'http://{address}:3900/{BUCKET}?lifecycle='"
        ))
        .env("BODY", body)
        .env("K", key_id)
        .env("S", secret)
        .output()?;
    ensure(
        output.status.success(),
        format!("curl: {}", output_text(&output)),
    )?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A key made by hand on lab-a with `permissions` (`--read`, `--owner`…)
/// on `bucket`: its id and secret.
pub fn hand_made_key(
    lab: &Lab,
    name: &str,
    bucket: &str,
    permissions: &str,
) -> Result<(String, String), Failed> {
    let info = lab.ssh_ok(
        "node1",
        &format!(
            "{GARAGE} key create {name} >/dev/null && {GARAGE} bucket allow {permissions} {bucket} --key {name} >/dev/null && {GARAGE} json-api GetKeyInfo '{{\"search\":\"{name}\",\"showSecretKey\":true}}'"
        ),
    )?;
    let info: serde_json::Value = serde_json::from_str(&info)?;
    Ok((
        info["accessKeyId"].as_str().ok_or("key id")?.to_string(),
        info["secretAccessKey"]
            .as_str()
            .ok_or("secret")?
            .to_string(),
    ))
}
