//! Backups against real machines: two islands, two chatons backing up to
//! each other's island with restic under systemd, retention, drills, the
//! password escrow and the recovery of a lost host, and no secret in
//! archipel's output.

use archipel_tests::s3::S3;
use archipel_tests::{
    Failed, Lab, archipel, ensure, garage_api as api, garage_build, output_text,
    run_archipel_lab_tests,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    run_archipel_lab_tests(
        9,
        &[
            (
                "a_backup_lands_in_the_other_island_and_restores",
                backs_up_to_the_other_island,
            ),
            ("applying_again_changes_nothing", idempotent),
            (
                "a_backup_goes_through_another_node_when_its_first_does_not_answer",
                first_node_down,
            ),
            ("drift_reports_hand_made_changes", drift),
            ("a_saved_plan_applies_as_saved_or_not_at_all", saved_plans),
            ("an_island_lock_stops_a_second_apply", island_locks),
            ("only_touches_its_targets", only),
            ("status_tells_fresh_from_stale", status_report),
            ("retention_keeps_what_keep_allows", retention),
            ("a_drill_passes_then_fails_once_packs_are_lost", drill),
            (
                "a_lost_host_is_recovered_from_the_escrow_to_a_fresh_one",
                lost_host,
            ),
            ("debians_restic_package_is_installed_with_apt", package),
            (
                "a_removed_job_leaves_its_host_and_its_repository_stays",
                removed_job,
            ),
            ("a_job_over_its_quota_fails_and_status_says_why", quota),
            (
                "a_removed_block_reaches_a_host_that_left_the_file",
                removed_block,
            ),
        ],
    )
}

/// The chatons' admin keys: chaton-1's an age identity, chaton-4's an SSH
/// key. Made once per lab (the file must not change between tests).
struct EscrowKeys {
    age_identity: PathBuf,
    age_public: String,
    ssh_key: PathBuf,
    ssh_public: String,
}

fn escrow_keys(lab: &Lab) -> Result<EscrowKeys, Failed> {
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
fn archipelago(lab: &Lab, dir: &Path) -> Result<PathBuf, Failed> {
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

fn sha256_of(path: &str) -> Result<String, Failed> {
    let output = Command::new("sha256sum").arg(path).output()?;
    ensure(output.status.success(), output_text(&output))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .ok_or("sha256sum")?
        .to_string())
}

/// restic on a backup host, with the job's own files.
fn restic(lab: &Lab, node: &str, job: &str, args: &str) -> Result<String, Failed> {
    Ok(lab.ssh_ok(
        node,
        &format!(
            "set -a; . /etc/archipel/restic/{job}.env; . /etc/archipel/restic/{job}.s3; set +a; \"$ARCHIPEL_RESTIC\" {args}"
        ),
    )?)
}

/// S3 with a job's own key (read from its host), through an island node.
fn job_s3(lab: &Lab, host: &str, job: &str, island_node: &str) -> Result<S3, Failed> {
    let key = |name: &str| -> Result<String, Failed> {
        Ok(lab
            .ssh_ok(
                host,
                &format!("sed -n 's/^{name}=//p' /etc/archipel/restic/{job}.s3"),
            )?
            .trim()
            .to_string())
    };
    let address = lab.node(island_node).ok_or("no such node")?.address;
    Ok(S3::new(
        &format!("http://{address}:3900"),
        "garage",
        &key("AWS_ACCESS_KEY_ID")?,
        &key("AWS_SECRET_ACCESS_KEY")?,
    ))
}

/// The job's last run, as its status file records it.
fn status(lab: &Lab, node: &str, job: &str, task: &str) -> Result<serde_json::Value, Failed> {
    Ok(serde_json::from_str(&lab.ssh_ok(
        node,
        &format!("cat /var/lib/archipel/backups/{job}.{task}.json"),
    )?)?)
}

fn backs_up_to_the_other_island(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    for node in ["node7", "node8"] {
        lab.ssh_ok(
            node,
            "mkdir -p /srv/data/sub && head -c 300000 /dev/urandom > /srv/data/blob && echo hello > /srv/data/sub/note && echo skip > /srv/data/x.tmp",
        )?;
    }
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("The archipelago matches the file."),
        log.clone(),
    )?;
    for address in [
        "host.node7.restic: done",
        "host.node7.runner: done",
        "chaton.chaton-1.backup.data.password: done",
        "chaton.chaton-1.backup.data.credentials: done",
        "chaton.chaton-1.backup.data.repository: done",
        "chaton.chaton-1.backup.data.escrow: done",
        "chaton.chaton-1.backup.data.backup.timer: done",
        "chaton.chaton-1.backup.data.prune.timer: done",
        "chaton.chaton-1.backup.data.check.timer: done",
    ] {
        ensure(log.contains(address), format!("{address} missing: {log}"))?;
    }

    // No secret in what archipel printed.
    for (node, job) in [("node7", "chaton-1-data"), ("node8", "chaton-4-data")] {
        let files = lab.ssh_ok(
            node,
            &format!(
                "stat -c '%U:%G %a %n' /etc/archipel/restic/{job}.s3 /etc/archipel/restic/{job}.password"
            ),
        )?;
        ensure(
            files.lines().all(|l| l.starts_with("root:root 600 ")),
            format!("secrets are root-only: {files}"),
        )?;
        let password = lab.ssh_ok(node, &format!("cat /etc/archipel/restic/{job}.password"))?;
        let secret = lab.ssh_ok(
            node,
            &format!("sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/{job}.s3"),
        )?;
        for value in [password.trim(), secret.trim()] {
            ensure(value.len() >= 32, "a real secret")?;
            ensure(
                !log.contains(value),
                format!("a secret of {job} was printed"),
            )?;
        }
    }

    // The password is escrowed beside the repository, readable with
    // chaton-1's admin key only.
    let password = lab.ssh_ok("node7", "cat /etc/archipel/restic/chaton-1-data.password")?;
    let sealed = job_s3(lab, "node7", "chaton-1-data", "node4")?
        .get("backup-chaton-1", "data.escrow.age")?;
    ensure(
        sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
            && !String::from_utf8_lossy(&sealed).contains(password.trim()),
        "the escrow is an age file that does not show the password",
    )?;
    let identity: age::x25519::Identity = std::fs::read_to_string(escrow_keys(lab)?.age_identity)?
        .trim()
        .parse()
        .map_err(|e: &str| e.to_string())?;
    let opened = age::decrypt(&identity, &sealed).map_err(|e| format!("{e}"))?;
    ensure(
        opened == password.as_bytes(),
        "the escrow opens to the host's password",
    )?;

    // A run by hand: a snapshot in the other island's bucket.
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-backup-chaton-1-data.service",
    )?;
    let run = status(lab, "node7", "chaton-1-data", "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))?;
    ensure(run["command"] == "backup", format!("{run}"))?;
    ensure(run["restic_version"] == "0.14.0", format!("{run}"))?;
    let snapshot = run["summary"]["snapshot_id"]
        .as_str()
        .ok_or("no snapshot id")?;
    ensure(
        run["summary"]["files_new"] == 2,
        format!("two files, the excluded one left out: {run}"),
    )?;
    let bucket = api(
        lab,
        "node4",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-1\"}'",
    )?;
    ensure(
        bucket["objects"].as_u64().unwrap_or(0) > 0,
        format!("the repository is on lab-b: {bucket}"),
    )?;
    let buckets = api(lab, "node1", "ListBuckets")?;
    ensure(
        !buckets.to_string().contains("backup-chaton-1"),
        format!("and not on lab-a: {buckets}"),
    )?;

    // What was backed up restores byte for byte.
    restic(
        lab,
        "node7",
        "chaton-1-data",
        &format!("restore {snapshot} --target /tmp/restored >/dev/null"),
    )?;
    lab.ssh_ok(
        "node7",
        "cmp /srv/data/blob /tmp/restored/srv/data/blob && cmp /srv/data/sub/note /tmp/restored/srv/data/sub/note && test ! -e /tmp/restored/srv/data/x.tmp",
    )?;
    let timers = lab.ssh_ok(
        "node7",
        "systemctl is-enabled archipel-backup-chaton-1-data.timer archipel-prune-chaton-1-data.timer archipel-check-chaton-1-data.timer; systemctl is-active archipel-backup-chaton-1-data.timer",
    )?;
    ensure(timers == "enabled\nenabled\nenabled\nactive\n", timers)
}

/// The job's repository names its island's first node; when the backup
/// host cannot reach it (the host alone resolves that node's name to an
/// address where nothing listens, so the island itself stays healthy), the
/// runner uses the next node, and the backup succeeds.
fn first_node_down(lab: &Lab) -> Result<(), Failed> {
    let job = "chaton-1-data";
    let settings = lab.ssh_ok("node7", &format!("cat /etc/archipel/restic/{job}.env"))?;
    let first = settings
        .lines()
        .find_map(|l| l.strip_prefix("RESTIC_REPOSITORY='s3:http://"))
        .and_then(|rest| rest.split(':').next())
        .ok_or_else(|| format!("no repository in {settings}"))?
        .to_string();
    ensure(
        settings.contains("ARCHIPEL_S3_ENDPOINTS='http://"),
        format!("the settings list the island's nodes: {settings}"),
    )?;
    let before = restic(lab, "node7", job, "snapshots --json")?;
    // Containers may not change their routes: the name moves instead.
    lab.ssh_ok(
        "node7",
        &format!(
            "cp /etc/hosts /etc/hosts.before-test && sed -i 's/^[^ ]* {first}$/127.0.0.2 {first}/' /etc/hosts && grep -q '^127.0.0.2 {first}$' /etc/hosts"
        ),
    )?;
    let run = lab.ssh(
        "node7",
        &format!("systemctl start archipel-backup-{job}.service"),
    );
    let journal = lab.ssh_ok(
        "node7",
        &format!("journalctl -u archipel-backup-{job}.service -n 200 --no-pager"),
    )?;
    lab.ssh_ok("node7", "mv -f /etc/hosts.before-test /etc/hosts")?;
    ensure(
        run.status.success(),
        format!("the backup failed: {journal}"),
    )?;
    ensure(
        journal.contains(&format!(
            "http://{first}:3900 does not answer, using http://"
        )),
        journal.clone(),
    )?;
    let record = status(lab, "node7", job, "backup")?;
    ensure(record["exit_code"] == 0, record.to_string())?;
    let after = restic(lab, "node7", job, "snapshots --json")?;
    let count = |text: &str| serde_json::from_str::<Vec<serde_json::Value>>(text).map(|v| v.len());
    ensure(
        count(&after)? == count(&before)? + 1,
        format!("one more snapshot: {before} then {after}"),
    )
}

fn idempotent(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// Hand-made changes, each reported as what it is; apply then puts the
/// archipelago back, and what archipel does not manage stays listed.
fn drift(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["drift"])?;
    ensure(
        output.status.code() == Some(0) && output_text(&output).contains("No drift"),
        output_text(&output),
    )?;

    const GARAGE: &str = "garage -c /etc/garage/garage.toml";
    lab.ssh_ok(
        "node2",
        "echo '# edited by hand' >> /etc/garage/garage.toml",
    )?;
    let layout = api(lab, "node1", "GetClusterLayout")?;
    let version = layout["version"].as_u64().ok_or("layout version")?;
    let node3 = layout["roles"]
        .as_array()
        .ok_or("roles")?
        .iter()
        .find(|r| r["zone"] == "chaton-3")
        .and_then(|r| r["id"].as_str())
        .ok_or("node3's role")?
        .to_string();
    lab.ssh_ok(
        "node1",
        &format!(
            "{GARAGE} layout assign -c 5G {node3} >/dev/null && {GARAGE} layout apply --version {} >/dev/null",
            version + 1
        ),
    )?;
    lab.ssh_ok(
        "node7",
        "systemctl disable --now --quiet archipel-check-chaton-1-data.timer",
    )?;
    lab.ssh_ok(
        "node1",
        &format!(
            "{GARAGE} bucket allow --owner backup-chaton-4 --key archipel-chaton-4 >/dev/null && {GARAGE} key create hand-made >/dev/null && {GARAGE} bucket create hand-made >/dev/null"
        ),
    )?;

    let output = archipel(lab, &file, &["drift", "--output", "json"])?;
    ensure(output.status.code() == Some(2), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let listed = |kind: &str| -> Vec<String> {
        report[kind]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["address"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (changed, unmanaged) = (listed("changed"), listed("unmanaged"));
    for expected in [
        "island.lab-a.node.node2.config",
        "island.lab-a.layout",
        "chaton.chaton-1.backup.data.check.timer",
        "island.lab-a.bucket.backup-chaton-4.grant.archipel-chaton-4",
    ] {
        ensure(
            changed.iter().any(|a| a == expected),
            format!("{expected} is changed: {report}"),
        )?;
    }
    // The hand-made key is addressed by its id, and named in the detail.
    let hand_made = report["unmanaged"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i.to_string().contains("hand-made"))
                .count()
        })
        .unwrap_or(0);
    ensure(
        hand_made == 2 && unmanaged.len() == 2,
        format!("the key and the bucket hand-made are unmanaged: {report}"),
    )?;
    ensure(listed("missing").is_empty(), format!("{report}"))?;
    let output = archipel(lab, &file, &["drift", "--output", "markdown"])?;
    let text = output_text(&output);
    ensure(
        text.starts_with("### archipel drift")
            && text.contains("| changed | `island.lab-a.layout` |"),
        text,
    )?;

    // apply puts back what archipel manages; the rest stays listed.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["drift"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(2) && text.contains("0 changed, 0 missing, 2 unmanaged"),
        text,
    )?;
    lab.ssh_ok(
        "node1",
        &format!("{GARAGE} bucket delete --yes hand-made >/dev/null && {GARAGE} key delete --yes hand-made >/dev/null"),
    )?;
    let output = archipel(lab, &file, &["drift"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// `plan -out` then `apply FILE`: applied after an unrelated no-op apply;
/// refused, changing nothing, once the live state or the file changed.
fn saved_plans(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let text = std::fs::read_to_string(&original)?;
    let at = |hour: &str| -> Result<PathBuf, Failed> {
        let path = dir.path().join(format!("at-{hour}.hcl"));
        std::fs::write(
            &path,
            text.replacen("*-*-* 03:00", &format!("*-*-* {hour}:00"), 1),
        )?;
        Ok(path)
    };
    let timer = || {
        lab.ssh_ok(
            "node7",
            "grep OnCalendar /etc/systemd/system/archipel-backup-chaton-1-data.timer",
        )
    };
    let four = at("04")?;
    let saved = dir.path().join("four.plan");
    let output = archipel(lab, &four, &["plan", "-out", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    let plan_text = std::fs::read_to_string(&saved)?;
    for (node, job) in [("node7", "chaton-1-data"), ("node8", "chaton-4-data")] {
        for secret in [
            lab.ssh_ok(node, &format!("cat /etc/archipel/restic/{job}.password"))?,
            lab.ssh_ok(
                node,
                &format!("sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' /etc/archipel/restic/{job}.s3"),
            )?,
        ] {
            ensure(
                !plan_text.contains(secret.trim()),
                "a secret in the saved plan",
            )?;
        }
    }
    let output = archipel(
        lab,
        &four,
        &["show", saved.to_str().ok_or("path")?, "--output", "json"],
    )?;
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    ensure(
        shown["changes"].as_array().is_some_and(|c| c.len() == 1)
            && shown["changes"][0]["address"] == "chaton.chaton-1.backup.data.backup.timer",
        format!("{shown}"),
    )?;

    // An unrelated apply that changes nothing does not make it stale.
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &four, &["apply", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("04:00"), timer()?)?;

    // A live change after the plan: refused, nothing changed.
    let five = at("05")?;
    let output = archipel(lab, &five, &["plan", "-out", saved.to_str().ok_or("path")?])?;
    ensure(output.status.success(), output_text(&output))?;
    lab.ssh_ok(
        "node7",
        "systemctl disable --now --quiet archipel-prune-chaton-1-data.timer",
    )?;
    let output = archipel(lab, &five, &["apply", saved.to_str().ok_or("path")?])?;
    let log = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && log.contains("saved plan is stale: machine.node7 changed since"),
        log,
    )?;
    ensure(timer()?.contains("04:00"), "nothing was changed")?;
    // And with another file than the one it was made from.
    let output = archipel(lab, &original, &["apply", saved.to_str().ok_or("path")?])?;
    ensure(
        output.status.code() == Some(1)
            && output_text(&output).contains("the archipelago file changed since"),
        output_text(&output),
    )?;

    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("03:00"), timer()?)
}

/// An apply that crashed left lab-b's lock: the next apply stops before
/// any change and names the holder; `unlock` needs the right id; then apply
/// runs, and leaves no lock behind.
fn island_locks(lab: &Lab) -> Result<(), Failed> {
    const LOCK: &str = "/var/lib/archipel/island.lock";
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let changed = dir.path().join("changed.hcl");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&original)?.replacen("*-*-* 03:00", "*-*-* 06:00", 1),
    )?;
    let timer = || {
        lab.ssh_ok(
            "node7",
            "grep OnCalendar /etc/systemd/system/archipel-backup-chaton-1-data.timer",
        )
    };
    let unlocked = |node: &str| lab.ssh(node, &format!("test -e {LOCK}")).status.code() == Some(1);
    ensure(unlocked("node1") && unlocked("node4"), "no lock at rest")?;
    lab.ssh_ok(
        "node4",
        &format!(
            r#"mkdir -p /var/lib/archipel && printf '%s' '{{"id":"deadbeef00000000","island":"lab-b","owner":"alice","host":"laptop","pid":4242,"started":"2026-11-18T10:00:00Z","started_unix":1795000000}}' > {LOCK}"#
        ),
    )?;
    // A lock never refreshed since 2026-11-18: its holder is gone.
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("island lab-b is locked by a stale lock: lock deadbeef00000000 held by alice@laptop (pid 4242) since 2026-11-18T10:00:00Z (")
            && text.contains("its holder is gone (not refreshed for")
            && text.contains("archipel unlock lab-b deadbeef00000000")
            && text.contains("Nothing was changed."),
        text,
    )?;
    // Refreshed a moment ago, by the node's clock: another apply runs.
    lab.ssh_ok(
        "node4",
        &format!(r#"sed -i "s/}}$/,\"refreshed_unix\":$(date +%s)}}/" {LOCK}"#),
    )?;
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("island lab-b is locked: lock deadbeef00000000 held by alice@laptop")
            && text.contains("Another apply is running")
            && text.contains("Nothing was changed."),
        text,
    )?;
    ensure(timer()?.contains("03:00"), "nothing changed")?;
    ensure(
        unlocked("node1"),
        "lab-a's lock, taken first, was given back",
    )?;

    let output = archipel(lab, &original, &["unlock", "lab-b", "0123456789abcdef"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("holds another lock"),
        output_text(&output),
    )?;
    let output = archipel(lab, &original, &["unlock", "lab-b", "deadbeef00000000"])?;
    ensure(
        output.status.success() && output_text(&output).contains("Unlocked island lab-b"),
        output_text(&output),
    )?;
    let output = archipel(lab, &changed, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(timer()?.contains("06:00"), timer()?)?;
    ensure(
        unlocked("node1") && unlocked("node4"),
        "apply gave its locks back",
    )?;
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))
}

/// Both jobs' schedules change in the file; `--only chaton.chaton-1`
/// plans and applies chaton-1's part only.
fn only(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let original = archipelago(lab, dir.path())?;
    let both = dir.path().join("both.hcl");
    std::fs::write(
        &both,
        std::fs::read_to_string(&original)?.replace("*-*-* 03:00", "*-*-* 07:00"),
    )?;
    let timer = |node: &str, job: &str| {
        lab.ssh_ok(
            node,
            &format!("grep OnCalendar /etc/systemd/system/archipel-backup-{job}.timer"),
        )
    };
    let output = archipel(
        lab,
        &both,
        &["plan", "--only", "chaton.chaton-1", "--output", "json"],
    )?;
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .ok_or("changes")?
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    ensure(
        addresses == ["chaton.chaton-1.backup.data.backup.timer"],
        format!("{addresses:?}"),
    )?;
    let output = archipel(
        lab,
        &both,
        &["apply", "--only", "chaton.chaton-1", "--auto-approve"],
    )?;
    ensure(output.status.success(), output_text(&output))?;
    ensure(
        timer("node7", "chaton-1-data")?.contains("07:00")
            && timer("node8", "chaton-4-data")?.contains("03:00"),
        "only chaton-1's timer changed",
    )?;
    let output = archipel(lab, &both, &["plan", "--only", "nowhere"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("--only nowhere"),
        output_text(&output),
    )?;
    let output = archipel(lab, &original, &["apply", "--auto-approve"])?;
    ensure(output.status.success(), output_text(&output))
}

fn retention(lab: &Lab) -> Result<(), Failed> {
    // Two more snapshots the same day: `keep = { daily = 7 }` keeps one.
    for _ in 0..2 {
        lab.ssh_ok(
            "node7",
            "date > /srv/data/sub/note && systemctl start archipel-backup-chaton-1-data.service",
        )?;
    }
    let latest = status(lab, "node7", "chaton-1-data", "backup")?["summary"]["snapshot_id"]
        .as_str()
        .ok_or("snapshot id")?
        .to_string();
    let count = |lab: &Lab| -> Result<Vec<String>, Failed> {
        let listed: serde_json::Value =
            serde_json::from_str(&restic(lab, "node7", "chaton-1-data", "snapshots --json")?)?;
        Ok(listed
            .as_array()
            .ok_or("snapshots")?
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect())
    };
    // Earlier cases made some too (the first node down, for one).
    let before = count(lab)?;
    ensure(
        before.len() >= 3,
        format!("at least three snapshots: {before:?}"),
    )?;
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-prune-chaton-1-data.service",
    )?;
    let prune = status(lab, "node7", "chaton-1-data", "prune")?;
    ensure(prune["exit_code"] == 0, format!("{prune}"))?;
    let left = count(lab)?;
    // restic 0.14's summary gives the short id.
    ensure(
        left.len() == 1 && left[0].starts_with(&latest),
        format!("only the latest ({latest}) is kept: {left:?}"),
    )?;
    // And the check reads a part of the data back.
    lab.ssh_ok(
        "node7",
        "systemctl start archipel-check-chaton-1-data.service",
    )?;
    let check = status(lab, "node7", "chaton-1-data", "check")?;
    ensure(check["exit_code"] == 0, format!("{check}"))
}

fn status_report(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    // chaton-1 has backed up, chaton-4 never has.
    let output = archipel(lab, &file, &["status", "--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let job = |report: &serde_json::Value, chaton: &str| -> Result<serde_json::Value, Failed> {
        Ok(report["jobs"]
            .as_array()
            .ok_or("jobs")?
            .iter()
            .find(|j| j["chaton"] == chaton)
            .ok_or(format!("no job of {chaton}"))?
            .clone())
    };
    let fresh = job(&report, "chaton-1")?;
    ensure(
        fresh["stale"] == false && fresh["failing"] == false,
        format!("{fresh}"),
    )?;
    ensure(fresh["island"] == "lab-b", format!("{fresh}"))?;
    // `*-*-* 03:00` runs daily.
    ensure(fresh["period_seconds"] == 86_400, format!("{fresh}"))?;
    ensure(
        fresh["last_success"]["summary"]["snapshot_id"].is_string()
            && fresh["bucket_bytes"].as_u64().unwrap_or(0) > 0
            && fresh["bucket_quota"] == 1_000_000_000u64,
        format!("{fresh}"),
    )?;
    let never = job(&report, "chaton-4")?;
    ensure(
        never["stale"] == true && never["last_success"].is_null(),
        format!("{never}"),
    )?;
    for island in report["islands"].as_array().ok_or("islands")? {
        ensure(island["health"] == "healthy", format!("{island}"))?;
    }

    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-data.service",
    )?;
    let output = archipel(lab, &file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("All 2 backup jobs are fresh and passing."),
        text.clone(),
    )?;
    ensure(text.contains("lab-a: healthy, 3/3 storage nodes up"), text)
}

fn drill(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let output = archipel(lab, &file, &["drill", "chaton-1/data"])?;
    ensure(
        output.status.success() && output_text(&output).contains("Drill of chaton-1/data passed"),
        output_text(&output),
    )?;

    // Lose the repository's data packs (as a broken disk would), with the
    // job's own key.
    let s3 = job_s3(lab, "node7", "chaton-1-data", "node4")?;
    let packs = s3.list("backup-chaton-1", "data/data/")?;
    ensure(!packs.is_empty(), "the repository has data packs")?;
    for pack in &packs {
        s3.delete("backup-chaton-1", pack)?;
    }
    let output = archipel(lab, &file, &["drill", "chaton-1/data"])?;
    ensure(
        output.status.code() == Some(1) && output_text(&output).contains("FAILED"),
        output_text(&output),
    )?;
    let output = archipel(lab, &file, &["status", "--output", "json"])?;
    ensure(output.status.code() == Some(1), output_text(&output))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let job = report["jobs"]
        .as_array()
        .ok_or("jobs")?
        .iter()
        .find(|j| j["chaton"] == "chaton-1")
        .ok_or("chaton-1")?
        .clone();
    ensure(
        job["failing"] == true && job["last_drill"]["exit_code"] != 0,
        format!("{job}"),
    )
}

/// node8 (chaton-4's backup host) is lost: its archipel files are gone.
/// apply refuses to make a new password for the existing repository; the
/// escrow brings the old one to a fresh machine (node9), which restores
/// the data byte for byte; then node8 itself is recovered and apply
/// converges again.
fn lost_host(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = archipelago(lab, dir.path())?;
    let keys = escrow_keys(lab)?;
    let job = "chaton-4-data";
    let original = lab.ssh_ok("node8", "sha256sum /srv/data/blob /srv/data/sub/note")?;
    let password = lab.ssh_ok("node8", &format!("cat /etc/archipel/restic/{job}.password"))?;
    let s3 = job_s3(lab, "node8", job, "node1")?;
    let escrowed = s3.get("backup-chaton-4", "data.escrow.age")?;

    lab.ssh_ok(
        "node8",
        "systemctl disable --now --quiet $(systemctl list-unit-files --plain --no-legend 'archipel-*' | cut -d' ' -f1) && rm -f /etc/systemd/system/archipel-* && systemctl daemon-reload && rm -rf /etc/archipel /var/lib/archipel /var/cache/archipel /usr/local/lib/archipel /usr/local/bin/restic",
    )?;

    // A new password would lock the repository away: apply refuses it, and
    // the escrow is left as it was.
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(!output.status.success(), log.clone())?;
    ensure(
        log.contains("already exists, and this host has no password for it")
            && log.contains("archipel recover chaton-4/data"),
        log.clone(),
    )?;
    ensure(
        lab.ssh(
            "node8",
            &format!("test -e /etc/archipel/restic/{job}.password"),
        )
        .status
        .code()
            == Some(1),
        "no password was made",
    )?;
    ensure(
        s3.get("backup-chaton-4", "data.escrow.age")? == escrowed,
        "the escrow is untouched",
    )?;

    // Someone else's key does not open it.
    let output = archipel(
        lab,
        &file,
        &[
            "recover",
            "chaton-4/data",
            "--identity",
            keys.age_identity.to_str().ok_or("path")?,
            "--to",
            "root@node9",
        ],
    )?;
    ensure(
        output.status.code() == Some(1)
            && output_text(&output).contains("is not one of the escrow's recipients"),
        output_text(&output),
    )?;

    // The admin's key does, on a fresh machine.
    let ssh_key = keys.ssh_key.to_str().ok_or("path")?;
    let recover = |to: &str| {
        archipel(
            lab,
            &file,
            &[
                "recover",
                "chaton-4/data",
                "--identity",
                ssh_key,
                "--to",
                to,
            ],
        )
    };
    let output = recover("root@node9")?;
    let text = output_text(&output);
    ensure(output.status.success(), text.clone())?;
    ensure(
        text.contains("Recovered chaton-4/data on root@node9:")
            && text.contains("opens with the escrowed password (1 snapshot"),
        text.clone(),
    )?;
    ensure(!text.contains(password.trim()), "the password was printed")?;
    let recovered = lab.ssh_ok("node9", &format!("cat /etc/archipel/restic/{job}.password"))?;
    ensure(recovered == password, "node9 has the job's password")?;
    let timers = lab.ssh(
        "node9",
        "systemctl list-unit-files --plain --no-legend 'archipel-*' | grep -c .",
    );
    ensure(
        String::from_utf8_lossy(&timers.stdout).trim() == "0",
        "recover starts no timer",
    )?;
    restic(
        lab,
        "node9",
        job,
        "restore latest --target /tmp/restored >/dev/null",
    )?;
    let restored = lab.ssh_ok(
        "node9",
        "cd /tmp/restored && sha256sum srv/data/blob srv/data/sub/note | sed 's# srv/# /srv/#'",
    )?;
    ensure(
        restored == original,
        format!("byte for byte: {original} vs {restored}"),
    )?;

    // Back on node8 (a machine of the file), apply converges with the
    // recovered password.
    let output = recover("node8")?;
    ensure(output.status.success(), output_text(&output))?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(
        log.contains("chaton.chaton-4.backup.data.escrow: done"),
        log.clone(),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;
    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-data.service",
    )?;
    let run = status(lab, "node8", job, "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))
}

/// The archipelago with chaton-4's job on node8 named `other` (and a new
/// quota) in place of `data`.
fn renamed(lab: &Lab, dir: &Path, quota: &str) -> Result<PathBuf, Failed> {
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

/// chaton-4's job `data` leaves the file, another job of the chaton takes
/// its place on node8: `data` is refused without --allow-destroy, then
/// taken off node8 with it (timers, units, files, and its escrowed
/// password); its repository and escrow stay in the bucket.
fn removed_job(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "1G")?;
    let s3 = job_s3(lab, "node8", "chaton-4-data", "node1")?;
    let repository = s3.list("backup-chaton-4", "data/")?.len();
    ensure(repository > 0, "the repository has objects")?;

    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        text.contains("- chaton.chaton-4.backup.data")
            && text.contains("no longer in the file")
            && text.contains("removed from the host (it is escrowed)"),
        text.clone(),
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    ensure(
        !output.status.success() && output_text(&output).contains("--allow-destroy"),
        output_text(&output),
    )?;
    ensure(
        lab.ssh(
            "node8",
            "systemctl is-active --quiet archipel-backup-chaton-4-data.timer",
        )
        .status
        .success(),
        "refused before any change",
    )?;

    let output = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    let left = lab.ssh_ok(
        "node8",
        "ls /etc/archipel/restic/ /etc/systemd/system/ /var/lib/archipel/backups/ | grep chaton-4-data || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let units = lab.ssh(
        "node8",
        "systemctl list-units --all --plain --no-legend 'archipel-*-chaton-4-data.*' | grep -c .",
    );
    ensure(
        String::from_utf8_lossy(&units.stdout).trim() == "0",
        "no unit of the job is loaded",
    )?;
    ensure(
        s3.list("backup-chaton-4", "data/")?.len() == repository,
        "the repository is untouched",
    )?;
    ensure(
        !s3.get("backup-chaton-4", "data.escrow.age")?.is_empty(),
        "the escrow stays",
    )?;
    // The new job runs beside it, in the same bucket.
    lab.ssh_ok(
        "node8",
        "systemctl start archipel-backup-chaton-4-other.service",
    )?;
    let run = status(lab, "node8", "chaton-4-other", "backup")?;
    ensure(run["exit_code"] == 0, format!("{run}"))?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))
}

/// chaton-4's bucket quota shrinks below what the next backup adds: Garage
/// refuses the upload, the run fails, and status says so in restic's words.
fn quota(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "2M")?;
    let output = archipel(lab, &file, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-4\"}'",
    )?;
    ensure(
        bucket["quotas"]["maxSize"] == 2_000_000u64,
        format!("the quota is applied: {bucket}"),
    )?;
    lab.ssh_ok("node8", "head -c 4000000 /dev/urandom > /srv/data/big")?;
    let run = lab.ssh(
        "node8",
        "systemctl start archipel-backup-chaton-4-other.service",
    );
    ensure(!run.status.success(), "the backup fails")?;
    lab.ssh_ok("node8", "rm /srv/data/big")?;
    let last = status(lab, "node8", "chaton-4-other", "backup")?;
    let error = last["error"].as_str().unwrap_or_default().to_lowercase();
    ensure(
        last["exit_code"] != 0 && error.contains("quota"),
        format!("the run records Garage's refusal: {last}"),
    )?;
    let output = archipel(lab, &file, &["status"])?;
    let text = output_text(&output);
    ensure(output.status.code() == Some(1), text.clone())?;
    ensure(
        text.contains("chaton-4/other")
            && text.contains("FAILING")
            && text.to_lowercase().contains("quota"),
        text,
    )
}

/// chaton-4's last job goes, and node8 leaves the file with it: a
/// `removed` block names node8 so apply still takes the job off. While
/// chaton-4 has `prevent_destroy`, the plan is an error.
fn removed_block(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = renamed(lab, dir.path(), "2M")?;
    let text = std::fs::read_to_string(&file)?;
    let start = text.find("  backup \"other\" {").ok_or("other")?;
    let end = start + text[start..].find("  }\n").ok_or("end")? + 4;
    let without = format!(
        "{}  removed \"other\" {{\n    host = \"root@node8\"\n  }}\n{}",
        &text[..start],
        &text[end..]
    );
    let guarded = without.replacen(
        "contact = \"admin@chaton-4.lab\"",
        "contact = \"admin@chaton-4.lab\"\n  prevent_destroy = true",
        1,
    );
    std::fs::write(&file, &guarded)?;
    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(1)
            && text.contains("chaton \"chaton-4\" has prevent_destroy = true"),
        text,
    )?;

    std::fs::write(&file, &without)?;
    let output = archipel(lab, &file, &["plan"])?;
    let text = output_text(&output);
    ensure(
        text.contains("- chaton.chaton-4.backup.other")
            && text.contains("- island.lab-a.key.archipel-chaton-4"),
        text,
    )?;
    let output = archipel(lab, &file, &["apply", "--auto-approve", "--allow-destroy"])?;
    ensure(output.status.success(), output_text(&output))?;
    let left = lab.ssh_ok(
        "node8",
        "ls /etc/archipel/restic/ /etc/systemd/system/ /var/lib/archipel/backups/ | grep chaton-4-other || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let keys = api(lab, "node1", "ListKeys")?;
    ensure(
        !keys.to_string().contains("archipel-chaton-4"),
        format!("chaton-4's key is gone: {keys}"),
    )?;
    let bucket = api(
        lab,
        "node1",
        "GetBucketInfo '{\"globalAlias\":\"backup-chaton-4\"}'",
    )?;
    ensure(
        bucket["objects"].as_u64().unwrap_or(0) > 0,
        format!("the backups stay: {bucket}"),
    )?;
    let output = archipel(lab, &file, &["plan", "--detailed-exitcode"])?;
    let text = output_text(&output);
    ensure(
        output.status.code() == Some(0) && text.contains("the `removed` block can go"),
        text,
    )
}

/// Copies a local file to a lab machine.
fn copy(lab: &Lab, node: &str, from: &Path, to: &str) -> Result<(), Failed> {
    let output = Command::new("ssh")
        .arg("-F")
        .arg(lab.ssh_config())
        .arg(node)
        .arg(format!("cat > '{to}'"))
        .stdin(std::fs::File::open(from)?)
        .output()?;
    ensure(output.status.success(), output_text(&output))
}

/// `restic = "package"`: apt installs Debian's restic (from a local
/// repository of Debian's own package: lab nodes have no route to the
/// mirrors) and the job runs it; a `removed` block then takes the job off.
fn package(lab: &Lab) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("apt");
    std::fs::create_dir(&repo)?;
    let got = Command::new("apt-get")
        .args(["download", "-q", "restic"])
        .current_dir(&repo)
        .output()?;
    ensure(got.status.success(), output_text(&got))?;
    let deb = std::fs::read_dir(&repo)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let index = Command::new("dpkg-scanpackages")
        .args([".", "/dev/null"])
        .current_dir(&repo)
        .output()?;
    ensure(index.status.success(), output_text(&index))?;
    std::fs::write(repo.join("Packages"), &index.stdout)?;
    // node9, the spare, as a fresh host whose apt knows that repository.
    lab.ssh_ok(
        "node9",
        "systemctl disable --now --quiet $(systemctl list-unit-files --plain --no-legend 'archipel-*' | cut -d' ' -f1) 2>/dev/null; rm -f /etc/systemd/system/archipel-*; systemctl daemon-reload; rm -rf /etc/archipel /var/lib/archipel /var/cache/archipel /usr/local/lib/archipel /usr/local/bin/restic /srv/apt; mkdir -p /srv/apt && echo 'deb [trusted=yes] file:/srv/apt ./' > /etc/apt/sources.list.d/lab.list && ! test -e /usr/bin/restic",
    )?;
    let name = deb.file_name().and_then(|n| n.to_str()).ok_or("deb name")?;
    copy(lab, "node9", &deb, &format!("/srv/apt/{name}"))?;
    copy(lab, "node9", &repo.join("Packages"), "/srv/apt/Packages")?;

    let original = archipelago(lab, dir.path())?;
    let text = std::fs::read_to_string(&original)?;
    let data = "  backup \"data\" {\n    host     = \"root@node7\"";
    ensure(text.contains(data), "chaton-1's job")?;
    let job = "  backup \"pkg\" {\n    host     = \"root@node9\"\n    to       = \"lab-b\"\n    paths    = [\"/etc/hostname\"]\n    schedule = \"*-*-* 02:00\"\n    keep     = { daily = 1 }\n    quota    = \"100M\"\n    restic   = \"package\"\n  }\n\n";
    let with_package = dir.path().join("package.hcl");
    std::fs::write(
        &with_package,
        text.replacen(data, &format!("{job}{data}"), 1),
    )?;
    let output = archipel(lab, &with_package, &["apply", "--auto-approve"])?;
    let log = output_text(&output);
    ensure(output.status.success(), log.clone())?;
    ensure(log.contains("host.node9.restic: done"), log)?;
    lab.ssh_ok(
        "node9",
        "dpkg -s restic | grep -q '^Status: install ok installed' && grep -qx \"ARCHIPEL_RESTIC='/usr/bin/restic'\" /etc/archipel/restic/chaton-1-pkg.env",
    )?;
    lab.ssh_ok(
        "node9",
        "systemctl start archipel-backup-chaton-1-pkg.service",
    )?;
    let run = status(lab, "node9", "chaton-1-pkg", "backup")?;
    ensure(
        run["exit_code"] == 0 && run["restic_version"] == "0.14.0",
        format!("{run}"),
    )?;
    let output = archipel(lab, &with_package, &["plan", "--detailed-exitcode"])?;
    ensure(output.status.code() == Some(0), output_text(&output))?;

    // Gone from the file, node9 with it: a `removed` block takes it off.
    let removed = dir.path().join("removed.hcl");
    std::fs::write(
        &removed,
        text.replacen(
            data,
            &format!("  removed \"pkg\" {{\n    host = \"root@node9\"\n  }}\n\n{data}"),
            1,
        ),
    )?;
    let output = archipel(
        lab,
        &removed,
        &["apply", "--auto-approve", "--allow-destroy"],
    )?;
    let log = output_text(&output);
    ensure(
        output.status.success() && log.contains("chaton.chaton-1.backup.pkg: done"),
        log,
    )?;
    let left = lab.ssh_ok(
        "node9",
        "ls /etc/archipel/restic/ | grep chaton-1-pkg || true",
    )?;
    ensure(left.trim().is_empty(), format!("files left: {left}"))?;
    let output = archipel(lab, &removed, &["plan", "--detailed-exitcode"])?;
    ensure(
        output.status.code() == Some(0) && output_text(&output).contains("can go"),
        output_text(&output),
    )
}
