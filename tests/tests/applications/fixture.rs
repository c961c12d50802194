//! The applications lab's archipelago: chaton-2 (island lab-b, node2)
//! backs up its application host node3 to lab-a (node1): files of
//! `/srv/app` and a dump of the PostgreSQL database `app` (job `app`), and
//! `/srv/files` to a local repository copied to lab-a (job `files`), and
//! a MariaDB database `wiki` (job `wiki`).

use archipel_tests::jobs::sha256_of;
use archipel_tests::{Failed, Lab, ensure, garage_build};
use std::path::{Path, PathBuf};

pub const HOST: &str = "node3";
pub const JOB: &str = "chaton-2-app";
/// The job that backs up to a local repository, copied to lab-a.
pub const FILES_JOB: &str = "chaton-2-files";
pub const LOCAL: &str = "/srv/local-backup/files";
/// The MariaDB job, and where its dump is in each snapshot.
pub const WIKI_JOB: &str = "chaton-2-wiki";
pub const WIKI_DUMP: &str = "/var/lib/archipel/dumps/chaton-2-wiki/wiki-db";
/// Where the dump is in each snapshot.
pub const DUMP: &str = "/var/lib/archipel/dumps/chaton-2-app/app-db";

/// The dump and hooks a case runs with.
pub struct Commands<'a> {
    pub dump: &'a str,
    pub before: &'a str,
    /// Whether job `files` backs up to its local repository.
    pub local: bool,
}

/// The job as an operator writes it: the database dumped as `postgres`
/// over TCP (the password comes from its `.pgpass`), the application in
/// maintenance while it is, and a record of each run's outcome.
pub const GOOD: Commands<'static> = Commands {
    dump: "pg_dump -Fc -h 127.0.0.1 -U app app",
    before: "echo 'maintenance on' > /srv/app/MAINTENANCE && test -n \"$ARCHIPEL_JOB\"",
    local: true,
};

pub fn archipelago(dir: &Path, commands: &Commands<'_>) -> Result<PathBuf, Failed> {
    let (garage, sha256) = garage_build()?;
    let restic = "/usr/bin/restic";
    let restic_sha256 = sha256_of(restic)?;
    let hcl = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let island = |name: &str| {
        format!(
            "island \"{name}\" {{\n  garage {{\n    version            = \"2.5.0\"\n    binary             = \"{garage}\"\n    sha256             = \"{sha256}\"\n    replication_factor = 1\n  }}\n}}\n\n"
        )
    };
    let text = format!(
        "{}{}chaton \"chaton-1\" {{\n  island  = \"lab-a\"\n  contact = \"admin@chaton-1.lab\"\n\n  node \"node1\" {{\n    ssh      = \"root@node1\"\n    capacity = \"10G\"\n  }}\n}}\n\n\
chaton \"chaton-2\" {{\n  island  = \"lab-b\"\n  contact = \"admin@chaton-2.lab\"\n  escrow  = []\n  vault   = false\n\n  node \"node2\" {{\n    ssh      = \"root@node2\"\n    capacity = \"10G\"\n  }}\n\n\
  backup \"app\" {{\n    host     = \"root@{HOST}\"\n    to       = \"lab-a\"\n    paths    = [\"/srv/app\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n\n\
    before {{\n      command = \"{}\"\n      timeout = \"1m\"\n    }}\n\n\
    dump \"app-db\" {{\n      command = \"{}\"\n      user    = \"postgres\"\n      timeout = \"5m\"\n      check   = \"pg_restore --list\"\n    }}\n\n\
    after {{\n      command = \"rm -f /srv/app/MAINTENANCE; echo \\\"$ARCHIPEL_OUTCOME: $ARCHIPEL_ERROR\\\" >> /root/after.log\"\n    }}\n\n\
    on_failure {{\n      command = \"echo failed >> /root/on-failure.log\"\n    }}\n  }}\n\n\
{}  backup \"files\" {{\n    host     = \"root@{HOST}\"\n    to       = \"lab-a\"\n    paths    = [\"/srv/files\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n\n\
{}  }}\n}}\n",
        island("lab-a"),
        island("lab-b"),
        hcl(commands.before),
        hcl(commands.dump),
        wiki_job(restic, &restic_sha256),
        if commands.local {
            format!(
                "    local {{\n      path = \"{LOCAL}\"\n      copy = \"*-*-* 05:00\"\n      keep = {{ daily = 3 }}\n    }}\n"
            )
        } else {
            String::new()
        },
    );
    let path = dir.join("archipelago.hcl");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Job `wiki`: a MariaDB database dumped with `mysqldump
/// --single-transaction`, its credentials in `/root/.my.cnf`.
fn wiki_job(restic: &str, restic_sha256: &str) -> String {
    format!(
        "  backup \"wiki\" {{\n    host     = \"root@{HOST}\"\n    to       = \"lab-a\"\n    paths    = [\"/srv/wiki\"]\n    schedule = \"*-*-* 03:00\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n    restic   = {{ binary = \"{restic}\", sha256 = \"{restic_sha256}\" }}\n\n    dump \"wiki-db\" {{\n      command = \"mysqldump --defaults-file=/root/.my.cnf --single-transaction --routines --events --databases wiki\"\n      check   = \"grep -q '^-- Dump completed'\"\n    }}\n  }}\n\n"
    )
}

/// The canary: the database password, in the host's `.pgpass` only.
pub fn canary(lab: &Lab) -> Result<String, Failed> {
    let path = lab.state_dir().join("canary-pg-password");
    if !path.exists() {
        use std::io::Read as _;
        let mut bytes = [0u8; 12];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, format!("canary{hex}"))?;
    }
    Ok(std::fs::read_to_string(&path)?)
}

/// How many ids a writer has committed, by its log on the host.
pub fn committed(lab: &Lab, log: &str) -> Result<u64, Failed> {
    Ok(lab
        .ssh_ok(HOST, &format!("wc -l < {log} 2>/dev/null || echo 0"))?
        .trim()
        .parse()?)
}

/// Waits until the writer logging to `log` has committed a few ids.
pub fn writer_is_writing(lab: &Lab, log: &str) -> Result<(), Failed> {
    for _ in 0..100 {
        if committed(lab, log)? >= 20 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("the writer committed only {} ids", committed(lab, log)?).into())
}

/// A restored table's `count|min|max` of ids holds exactly the ids
/// committed at one instant of the run: every id from 1 to its last, and
/// that last one committed between `before` and `after` the run.
pub fn committed_at_one_instant(restored: &str, before: u64, after: u64) -> Result<(), Failed> {
    let numbers: Vec<u64> = restored
        .trim()
        .split('|')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [count, min, max] = numbers[..] else {
        return Err(format!("count, min, max: {restored}").into());
    };
    ensure(
        min == 1 && count == max,
        format!("every id up to the last restored is there ({count} rows, ids {min}..{max})"),
    )?;
    ensure(
        (before..=after).contains(&max),
        format!("the dump's last id {max} was committed during the run ({before}..{after})"),
    )
}
