//! A MariaDB database backed up by `mysqldump --single-transaction`, its
//! password in `/root/.my.cnf`, while it is written to.

use crate::fixture::{
    GOOD, HOST, WIKI_DUMP, WIKI_JOB, archipelago, canary, committed, committed_at_one_instant,
    writer_is_writing,
};

/// Where the writer logs each id it committed.
const WRITER_LOG: &str = "/root/wiki-committed";
use archipel_tests::{Failed, Lab, archipel, ensure, jobs, output_text, record};

/// MariaDB from Debian's packages, a database `wiki` whose user's password
/// is the canary (in `/root/.my.cnf` only), and a writer inserting ids one
/// by one, logging each committed.
fn set_up(lab: &Lab) -> Result<(), Failed> {
    let canary = canary(lab)?;
    lab.ssh_ok(
        HOST,
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/tmp/apt-mariadb.log 2>&1 || { tail /tmp/apt-mariadb.log; exit 1; }",
    )?;
    lab.ssh_ok(
        HOST,
        &format!(
            "set -e
mysql -e \"create database wiki; create user 'wiki'@'localhost' identified by '{canary}'; grant all on wiki.* to 'wiki'@'localhost'\"
printf '[client]\\nuser=wiki\\npassword={canary}\\n' > /root/.my.cnf; chmod 600 /root/.my.cnf
mysql --defaults-file=/root/.my.cnf wiki -e 'create table pages (id int primary key, body text) engine=InnoDB'
mkdir -p /srv/wiki && echo 'wiki files' > /srv/wiki/LocalSettings.php
: > /root/wiki-committed
systemd-run -q --unit wiki-writer sh -c 'i=0; while :; do i=$((i+1)); until mysql --defaults-file=/root/.my.cnf wiki -e \"insert into pages values ($i, repeat(\\\"x\\\", 200))\" 2>/dev/null; do sleep 0.2; done; echo $i >> /root/wiki-committed; done'"
        ),
    )?;
    writer_is_writing(lab, WRITER_LOG)
}

pub fn consistent_dump(lab: &Lab) -> Result<(), Failed> {
    set_up(lab)?;
    let before = committed(lab, WRITER_LOG)?;
    let run = lab.ssh(
        HOST,
        &format!("systemctl start archipel-backup-{WIKI_JOB}.service"),
    );
    let record_text = lab.ssh_ok(
        HOST,
        &format!("cat /var/lib/archipel/backups/{WIKI_JOB}.backup.json"),
    )?;
    record(&record_text);
    ensure(
        run.status.success(),
        format!("the backup succeeds: {record_text}"),
    )?;
    let after = committed(lab, WRITER_LOG)?;
    ensure(after > before, "the writer committed during the backup")?;
    ensure(
        !record_text.contains(&canary(lab)?),
        "the password is not in the run's record",
    )?;

    // Restored from lab-a under another name, as root (`--no-defaults`:
    // not as the wiki's user of /root/.my.cnf): it loads, and holds
    // exactly the ids committed at one instant during the run.
    let restored = lab.ssh_ok(
        HOST,
        &format!(
            "set -e; rm -rf /var/tmp/wiki-restore
set -a; . /etc/archipel/restic/{WIKI_JOB}.env; . /etc/archipel/restic/{WIKI_JOB}.s3; set +a
\"$ARCHIPEL_RESTIC\" restore latest --target /var/tmp/wiki-restore --include {WIKI_DUMP} >/dev/null
tail -n 1 /var/tmp/wiki-restore{WIKI_DUMP} | grep -q '^-- Dump completed'
sed 's/`wiki`/`wiki_restored`/g' /var/tmp/wiki-restore{WIKI_DUMP} | mysql --no-defaults
mysql --no-defaults -NBe 'select count(*), min(id), max(id) from wiki_restored.pages' | tr '\\t' '|'
mysql --no-defaults -e 'drop database wiki_restored'"
        ),
    )?;
    committed_at_one_instant(&restored, before, after)?;
    lab.ssh_ok(HOST, "systemctl stop wiki-writer")?;

    let dir = tempfile::tempdir()?;
    let file = archipelago(dir.path(), &GOOD)?;
    let drill = archipel(lab, &file, &["drill", "chaton-2/wiki"])?;
    let text = output_text(&drill);
    ensure(
        drill.status.success() && text.contains("dump wiki-db restored and accepted by its check"),
        text,
    )?;
    record(&jobs::status(lab, HOST, WIKI_JOB, "drill")?.to_string());
    Ok(())
}
