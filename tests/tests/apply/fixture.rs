//! The lab's archipelago of two islands, as each test finds it, and S3
//! with the keys archipel made.

use archipel_tests::s3::S3;
use archipel_tests::{Failed, Lab, garage_api as api, garage_build};
use std::path::{Path, PathBuf};

/// Two islands of three chatons (one node each), two shared buckets.
/// `edit` changes the text before it is written.
pub fn archipelago(
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

/// An S3 key, read from Garage by the test itself (archipel never shows it).
pub struct S3Key {
    id: String,
    secret: String,
}

impl S3Key {
    pub fn of(lab: &Lab, node: &str, name: &str) -> Result<S3Key, Failed> {
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
    pub fn on(&self, lab: &Lab, node: &str) -> Result<S3, Failed> {
        let address = lab.node(node).ok_or(node.to_string())?.address;
        Ok(S3::new(
            &format!("http://{address}:3900"),
            "garage",
            &self.id,
            &self.secret,
        ))
    }
}

/// The archipelago as the earlier tests left it (node2 at 20G, lab-a in
/// degraded consistency mode).
pub fn current(dir: &Path) -> Result<PathBuf, Failed> {
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
pub fn last(dir: &Path, node7: bool) -> Result<PathBuf, Failed> {
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
