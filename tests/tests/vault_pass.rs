//! The vault pass (`planner/templates/vault-pass.sh`) against one real Garage
//! daemon on loopback: restic repositories written by a "host" key, copied
//! into a vault by the island's vault key, and everything a compromised host
//! could do to them (change, delete, empty, a lifecycle rule, junk) seen as
//! an incident that freezes the vault's deletions.
//!
//! Each case has its own chaton (its own buckets, configuration and state
//! directory); the daemon is shared. Needs Garage (tests/lab/build-garage),
//! restic, rclone and curl; no lab machines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread::sleep;
use std::time::Duration;

use archipel_tests::local_garage::{LocalGarage as Island, noise};
use archipel_tests::{Failed, ensure, output_text};
use serde_json::Value;

/// The daemon's ports: RPC 39100, S3 39101, admin 39103.
const BASE_PORT: u16 = 39100;
const RESTIC_PASSWORD: &str = "vault-pass-test-repository";

fn text(output: &Output) -> String {
    output_text(output)
}

/// Everything the script printed or wrote, for the secret sweep.
static OUTPUTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn keep_output(text: &str) {
    OUTPUTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(text.to_string());
}

/// One chaton's vault: its configuration and state directories.
struct Case<'a> {
    island: &'a Island,
    chaton: String,
    dir: PathBuf,
    conf: PathBuf,
    state: PathBuf,
    source: String,
    vault: String,
}

/// What a run of the script gave.
struct Run {
    code: i32,
    output: String,
}

impl<'a> Case<'a> {
    fn new(
        island: &'a Island,
        chaton: &str,
        jobs: &[(&str, &str, &str)],
    ) -> Result<Case<'a>, Failed> {
        Self::with_limits(island, chaton, 2, 0, jobs)
    }

    fn with_limits(
        island: &'a Island,
        chaton: &str,
        keep_deleted: u64,
        growth_alarm: u64,
        jobs: &[(&str, &str, &str)],
    ) -> Result<Case<'a>, Failed> {
        island.buckets(chaton)?;
        let dir = island.root().join(format!("case-{chaton}"));
        let conf = dir.join("conf");
        let state = dir.join("state");
        fs::create_dir_all(&conf)?;
        fs::create_dir_all(&state)?;
        let source = format!("backup-{chaton}");
        let vault = format!("vault-{chaton}");
        let growth = if growth_alarm == 0 {
            "-".to_string()
        } else {
            growth_alarm.to_string()
        };
        let mut vaults = format!(
            "# chaton source vault keep_deleted growth_alarm\nvault\t{chaton}\t{source}\t{vault}\t{keep_deleted}\t{growth}\n\n"
        );
        for (job, keep, prune) in jobs {
            vaults.push_str(&format!("job\t{chaton}\t{job}\t{keep}\t{prune}\n"));
        }
        fs::write(conf.join("vaults.conf"), vaults)?;
        fs::write(
            conf.join("rclone.conf"),
            island.rclone_conf(&island.vault_key),
        )?;
        fs::write(
            dir.join("host-rclone.conf"),
            island.rclone_conf(&island.host_key),
        )?;
        Ok(Case {
            island,
            chaton: chaton.to_string(),
            dir,
            conf,
            state,
            source,
            vault,
        })
    }

    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../planner/templates/vault-pass.sh")
    }

    fn run(&self, args: &[&str]) -> Result<Run, Failed> {
        let out = Command::new("sh")
            .arg(Self::script())
            .args(args)
            .env("ARCHIPEL_VAULT_CONF_DIR", &self.conf)
            .env("ARCHIPEL_VAULT_STATE_DIR", &self.state)
            .env("ARCHIPEL_RCLONE", "/usr/bin/rclone")
            .env("ARCHIPEL_GARAGE", self.island.garage_binary())
            .env("ARCHIPEL_GARAGE_CONFIG", self.island.config())
            .stdin(Stdio::null())
            .output()?;
        let output = text(&out);
        keep_output(&output);
        if let Ok(status) = fs::read_to_string(self.status_path()) {
            keep_output(&status);
        }
        Ok(Run {
            code: out.status.code().unwrap_or(-1),
            output,
        })
    }

    /// A pass of this chaton that must exit with `code`.
    fn pass(&self, code: i32) -> Result<Value, Failed> {
        let run = self.run(&["pass", &self.chaton])?;
        ensure(
            run.code == code,
            format!("the pass exited {} (not {code}):\n{}", run.code, run.output),
        )?;
        self.status()
    }

    fn clear(&self, id: &str, code: i32) -> Result<Value, Failed> {
        let run = self.run(&["clear", &self.chaton, id])?;
        ensure(
            run.code == code,
            format!(
                "clear {id} exited {} (not {code}):\n{}",
                run.code, run.output
            ),
        )?;
        self.status()
    }

    fn status_path(&self) -> PathBuf {
        self.state.join(format!("{}.json", self.chaton))
    }

    fn status(&self) -> Result<Value, Failed> {
        let raw = fs::read_to_string(self.status_path())?;
        let status: Value =
            serde_json::from_str(&raw).map_err(|e| format!("status is not JSON ({e}): {raw}"))?;
        check_status_shape(&status, &self.chaton)?;
        Ok(status)
    }

    /// Every object of a bucket (through rclone with the host key for the
    /// source, the vault key for the vault), without the vault's state.
    fn listing(&self, bucket: &str) -> Result<Vec<(String, u64)>, Failed> {
        let conf = if bucket == self.vault {
            self.conf.join("rclone.conf")
        } else {
            self.dir.join("host-rclone.conf")
        };
        let out = Command::new("rclone")
            .env_remove("AWS_CA_BUNDLE")
            .arg("--config")
            .arg(conf)
            .args(["lsf", "-R", "--files-only", "--fast-list", "--format", "ps"])
            .arg(format!("garage:{bucket}"))
            .output()?;
        ensure(
            out.status.success(),
            format!("rclone lsf {bucket}: {}", text(&out)),
        )?;
        let mut objects: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with(".archipel/"))
            .filter_map(|l| {
                let (path, size) = l.rsplit_once(';')?;
                Some((path.to_string(), size.parse().ok()?))
            })
            .collect();
        objects.sort();
        Ok(objects)
    }

    fn source_objects(&self) -> Result<Vec<(String, u64)>, Failed> {
        self.listing(&self.source)
    }

    fn vault_objects(&self) -> Result<Vec<(String, u64)>, Failed> {
        self.listing(&self.vault)
    }

    /// The source without its locks: what the vault must hold.
    fn source_without_locks(&self) -> Result<Vec<(String, u64)>, Failed> {
        Ok(self
            .source_objects()?
            .into_iter()
            .filter(|(p, _)| p.split('/').nth(1) != Some("locks"))
            .collect())
    }

    /// restic on job `job` of the source (host key) or of the vault (vault key).
    fn restic(&self, job: &str, in_vault: bool, args: &[&str]) -> Result<String, Failed> {
        let (bucket, key) = if in_vault {
            (&self.vault, &self.island.vault_key)
        } else {
            (&self.source, &self.island.host_key)
        };
        let out = Command::new("restic")
            .arg("-r")
            .arg(format!("s3:{}/{bucket}/{job}", self.island.endpoint()))
            .args(["--no-cache", "-o", "s3.region=garage"])
            .args(args)
            .env("RESTIC_PASSWORD", RESTIC_PASSWORD)
            .env("AWS_ACCESS_KEY_ID", &key.0)
            .env("AWS_SECRET_ACCESS_KEY", &key.1)
            .stdin(Stdio::null())
            .output()?;
        ensure(
            out.status.success(),
            format!("restic {args:?}: {}", text(&out)),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A backup of a directory of fresh files (`files` of `size` bytes, from
    /// `seed`); returns the directory.
    fn backup(&self, job: &str, seed: u64, files: usize, size: usize) -> Result<PathBuf, Failed> {
        let data = self.dir.join(format!("files-{job}-{seed}"));
        fs::create_dir_all(&data)?;
        for i in 0..files {
            fs::write(
                data.join(format!("f{i}")),
                noise(seed * 1000 + i as u64, size),
            )?;
        }
        if !self
            .source_objects()?
            .iter()
            .any(|(p, _)| p == &format!("{job}/config"))
        {
            self.restic(job, false, &["init"])?;
        }
        self.restic(
            job,
            false,
            &["backup", "--host", "h", data.to_str().unwrap_or_default()],
        )?;
        Ok(data)
    }

    /// The snapshot IDs of a job, oldest first.
    fn snapshots(&self, job: &str, in_vault: bool) -> Result<Vec<String>, Failed> {
        let json: Value = serde_json::from_str(&self.restic(
            job,
            in_vault,
            &["snapshots", "--json", "--no-lock"],
        )?)?;
        let mut snaps: Vec<(String, String)> = json
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                (
                    s["time"].as_str().unwrap_or_default().to_string(),
                    s["id"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        snaps.sort();
        Ok(snaps.into_iter().map(|(_, id)| id).collect())
    }
}

/// The status file's fields, with their types.
fn check_status_shape(status: &Value, chaton: &str) -> Result<(), Failed> {
    ensure(status["chaton"] == chaton, format!("chaton in {status}"))?;
    for field in ["source", "vault", "started", "finished", "result"] {
        ensure(
            status[field].is_string(),
            format!("{field} is not a string in {status}"),
        )?;
    }
    for field in ["started", "finished"] {
        let t = status[field].as_str().unwrap_or_default();
        ensure(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            format!("{field} is not RFC 3339 UTC: {t}"),
        )?;
    }
    ensure(
        status["result"] == "ok" && status["error"].is_null()
            || status["result"] == "failed" && status["error"].is_string(),
        format!("result and error disagree in {status}"),
    )?;
    for field in [
        "copied_objects",
        "copied_bytes",
        "source_objects",
        "source_bytes",
        "vault_objects",
        "vault_bytes",
        "pending_deletions",
        "deleted_objects",
    ] {
        ensure(
            status[field].is_u64(),
            format!("{field} is not a count in {status}"),
        )?;
    }
    ensure(status["frozen"].is_boolean(), format!("frozen in {status}"))?;
    let incidents = status["incidents"]
        .as_array()
        .ok_or_else(|| format!("incidents is not a list in {status}"))?;
    for incident in incidents {
        for field in ["id", "kind", "since", "what"] {
            ensure(
                incident[field].is_string(),
                format!("{field} of an incident in {status}"),
            )?;
        }
        ensure(
            incident["job"].is_null() || incident["job"].is_string(),
            format!("job of an incident in {status}"),
        )?;
    }
    Ok(())
}

fn incidents(status: &Value) -> Vec<Value> {
    status["incidents"].as_array().cloned().unwrap_or_default()
}

fn kinds(status: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = incidents(status)
        .iter()
        .map(|i| i["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    kinds.sort();
    kinds
}

fn count(status: &Value, field: &str) -> u64 {
    status[field].as_u64().unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// The cases.

fn copies_restic_repositories(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "copy", &[("data1", "-", "-")])?;
    let first = case.backup("data1", 1, 20, 300_000)?;
    let second = case.backup("data1", 2, 5, 2_000_000)?;
    let status = case.pass(0)?;
    let source = case.source_without_locks()?;
    let vault = case.vault_objects()?;
    ensure(
        vault == source,
        format!("vault {vault:?}\nis not the source {source:?}"),
    )?;
    ensure(
        count(&status, "copied_objects") == source.len() as u64,
        format!(
            "copied {} of {} objects: {status}",
            status["copied_objects"],
            source.len()
        ),
    )?;
    let bytes: u64 = source.iter().map(|(_, s)| s).sum();
    ensure(
        count(&status, "copied_bytes") == bytes && count(&status, "vault_bytes") == bytes,
        format!("{bytes} bytes in the source: {status}"),
    )?;
    ensure(
        status["result"] == "ok" && incidents(&status).is_empty() && status["frozen"] == false,
        format!("a clean pass: {status}"),
    )?;
    let again = case.pass(0)?;
    ensure(
        count(&again, "copied_objects") == 0
            && count(&again, "source_objects") == source.len() as u64,
        format!("the second pass copied something: {again}"),
    )?;
    // The vault is a valid repository on its own, with both snapshots.
    case.restic("data1", true, &["check", "--read-data", "--no-lock"])?;
    let snaps = case.snapshots("data1", true)?;
    ensure(
        snaps.len() == 2,
        format!("the vault has snapshots {snaps:?}"),
    )?;
    for (snap, dir) in snaps.iter().zip([&first, &second]) {
        let target = case.dir.join(format!("restore-{snap}"));
        case.restic(
            "data1",
            true,
            &[
                "restore",
                snap,
                "--no-lock",
                "--target",
                target.to_str().unwrap_or_default(),
            ],
        )?;
        let restored = target.join(dir.strip_prefix("/").unwrap_or(dir));
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let copy = fs::read(restored.join(entry.file_name()))?;
            ensure(
                copy == fs::read(entry.path())?,
                format!(
                    "{:?} of snapshot {snap} restores different",
                    entry.file_name()
                ),
            )?;
        }
    }
    Ok(())
}

fn changed_object_is_refused(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "changed", &[("data1", "-", "-")])?;
    let s3 = island.host_s3();
    let name = "data1/data/ab/ab01";
    s3.put(&case.source, name, b"first version of the pack".to_vec())?;
    s3.put(&case.source, "data1/config", b"config".to_vec())?;
    case.pass(0)?;
    // Same name, same size, other content.
    s3.put(&case.source, name, b"FIRST VERSION OF THE PACK".to_vec())?;
    let status = case.pass(1)?;
    let found = incidents(&status);
    ensure(
        found.len() == 1 && found[0]["kind"] == "changed-file" && found[0]["job"] == "data1",
        format!("one changed-file incident of data1: {status}"),
    )?;
    let what = found[0]["what"].as_str().unwrap_or_default();
    ensure(
        what.contains(name),
        format!("the incident names {name}: {what}"),
    )?;
    ensure(
        found[0]["id"]
            .as_str()
            .unwrap_or_default()
            .ends_with("-changed-file-data1"),
        format!("the incident's id: {}", found[0]["id"]),
    )?;
    ensure(status["frozen"] == true, format!("frozen: {status}"))?;
    ensure(
        island.vault_s3().get(&case.vault, name)? == b"first version of the pack",
        "the vault's copy was overwritten",
    )?;
    // Reported once: the next pass raises nothing new.
    sleep(Duration::from_secs(1));
    let again = case.pass(1)?;
    ensure(
        incidents(&again).len() == 1 && count(&again, "copied_objects") == 0,
        format!("the changed file was reported again: {again}"),
    )?;
    ensure(
        island.vault_s3().get(&case.vault, name)? == b"first version of the pack",
        "the vault's copy was overwritten by the second pass",
    )?;
    Ok(())
}

fn planted_lock_is_ignored(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "lock", &[("data1", "-", "-")])?;
    case.backup("data1", 3, 3, 10_000)?;
    let s3 = island.host_s3();
    let lock = "data1/locks/00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff";
    s3.put(&case.source, lock, b"{\"exclusive\":true}".to_vec())?;
    let status = case.pass(0)?;
    let vault = case.vault_objects()?;
    ensure(
        !vault.iter().any(|(p, _)| p.contains("/locks/")),
        format!("a lock reached the vault: {vault:?}"),
    )?;
    ensure(
        vault == case.source_without_locks()?
            && count(&status, "source_objects") == vault.len() as u64,
        format!("the lock stopped the copy: {status}"),
    )?;
    // A lock that disappears is no deletion either.
    s3.delete(&case.source, lock)?;
    let status = case.pass(0)?;
    ensure(
        count(&status, "pending_deletions") == 0,
        format!("{status}"),
    )?;
    Ok(())
}

fn unexplained_prune_freezes_until_cleared(island: &Island) -> Result<(), Failed> {
    // A grace of 5 s: the pass after `clear` must start well within it.
    let case = Case::with_limits(island, "noprune", 5, 0, &[("data1", "-", "-")])?;
    case.backup("data1", 4, 4, 200_000)?;
    case.backup("data1", 5, 4, 200_000)?;
    case.pass(0)?;
    case.restic(
        "data1",
        false,
        &[
            "forget",
            "--group-by",
            "host",
            "--keep-last",
            "1",
            "--prune",
        ],
    )?;
    let gone: Vec<_> = case
        .vault_objects()?
        .into_iter()
        .filter(|o| !case.source_objects().unwrap_or_default().contains(o))
        .collect();
    ensure(!gone.is_empty(), "the prune deleted nothing")?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["unexplained-deletion"] && incidents(&status)[0]["job"] == "data1",
        format!("one unexplained deletion of data1: {status}"),
    )?;
    let what = incidents(&status)[0]["what"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure(
        what.contains("1 snapshot") && what.contains("S3 times"),
        format!("the incident says what went: {what}"),
    )?;
    ensure(
        status["frozen"] == true && count(&status, "pending_deletions") == gone.len() as u64,
        format!("{} pending: {status}", gone.len()),
    )?;
    sleep(Duration::from_secs(6));
    let status = case.pass(1)?;
    ensure(
        count(&status, "deleted_objects") == 0 && status["frozen"] == true,
        format!("deleted while frozen: {status}"),
    )?;
    ensure(
        gone.iter()
            .all(|o| case.vault_objects().unwrap_or_default().contains(o)),
        "the vault lost objects while frozen",
    )?;
    // Cleared: the grace period starts again.
    let status = case.clear("all", 0)?;
    ensure(
        incidents(&status).is_empty()
            && status["frozen"] == false
            && count(&status, "deleted_objects") == 0
            && count(&status, "pending_deletions") == gone.len() as u64,
        format!("after clear, nothing deleted yet: {status}"),
    )?;
    sleep(Duration::from_secs(6));
    let status = case.pass(0)?;
    ensure(
        count(&status, "deleted_objects") == gone.len() as u64
            && count(&status, "pending_deletions") == 0,
        format!("after the grace, {} deleted: {status}", gone.len()),
    )?;
    ensure(
        case.vault_objects()? == case.source_without_locks()?,
        "the vault is not the source after the deletions",
    )?;
    Ok(())
}

fn scheduled_prune_is_explained(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "sched", &[("data1", "yearly=1", "minutely")])?;
    case.backup("data1", 6, 4, 200_000)?;
    case.backup("data1", 7, 4, 200_000)?;
    case.pass(0)?;
    // What the job's own timer does: keep one a year.
    case.restic(
        "data1",
        false,
        &[
            "forget",
            "--group-by",
            "host",
            "--keep-yearly",
            "1",
            "--prune",
        ],
    )?;
    let status = case.pass(0)?;
    let pending = count(&status, "pending_deletions");
    ensure(
        incidents(&status).is_empty() && pending > 0,
        format!("the job's prune raised something, or deleted nothing: {status}"),
    )?;
    sleep(Duration::from_secs(3));
    let status = case.pass(0)?;
    ensure(
        count(&status, "deleted_objects") == pending && count(&status, "pending_deletions") == 0,
        format!("{pending} objects deleted after the grace: {status}"),
    )?;
    // Now a deletion the keep rule forbids: the newest snapshot.
    case.backup("data1", 8, 2, 100_000)?;
    case.pass(0)?;
    let newest = case.snapshots("data1", false)?.pop().unwrap_or_default();
    case.restic("data1", false, &["forget", &newest, "--prune"])?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["unexplained-deletion"],
        format!("the deletion of a kept snapshot is flagged: {status}"),
    )?;
    let what = incidents(&status)[0]["what"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure(what.contains("yearly=1"), format!("it says why: {what}"))?;
    sleep(Duration::from_secs(3));
    let status = case.pass(1)?;
    ensure(
        count(&status, "deleted_objects") == 0,
        format!("deleted while frozen: {status}"),
    )?;
    Ok(())
}

fn prune_out_of_schedule_is_flagged(island: &Island) -> Result<(), Failed> {
    // A calendar whose next run is months away.
    let month = Command::new("date").args(["-u", "+%m"]).output()?;
    let month: u32 = String::from_utf8_lossy(&month.stdout).trim().parse()?;
    let calendar = format!("*-{:02}-15 03:00:00", (month + 5) % 12 + 1);
    let case = Case::new(island, "offsched", &[("data1", "-", &calendar)])?;
    case.backup("data1", 9, 4, 200_000)?;
    case.backup("data1", 10, 4, 200_000)?;
    case.pass(0)?;
    case.restic(
        "data1",
        false,
        &[
            "forget",
            "--group-by",
            "host",
            "--keep-last",
            "1",
            "--prune",
        ],
    )?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["unexplained-deletion"],
        format!("a prune out of its schedule is flagged: {status}"),
    )?;
    let what = incidents(&status)[0]["what"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure(what.contains("no prune"), format!("it says why: {what}"))?;
    Ok(())
}

fn emptied_bucket_is_flagged(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "emptied", &[("data1", "daily=7", "minutely")])?;
    case.backup("data1", 11, 3, 50_000)?;
    let before = case.pass(0)?;
    let out = Command::new("rclone")
        .env_remove("AWS_CA_BUNDLE")
        .arg("--config")
        .arg(case.dir.join("host-rclone.conf"))
        .args(["delete", "--s3-no-check-bucket"])
        .arg(format!("garage:{}", case.source))
        .output()?;
    ensure(
        out.status.success(),
        format!("rclone delete: {}", text(&out)),
    )?;
    ensure(case.source_objects()?.is_empty(), "the source is not empty")?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["bucket-emptied"] && status["frozen"] == true,
        format!("one bucket-emptied incident: {status}"),
    )?;
    sleep(Duration::from_secs(3));
    let status = case.pass(1)?;
    ensure(
        count(&status, "deleted_objects") == 0
            && count(&status, "vault_objects") == count(&before, "vault_objects")
            && case.vault_objects()?.len() as u64 == count(&before, "vault_objects"),
        format!("the vault lost objects: {status}"),
    )?;
    Ok(())
}

/// PutBucketLifecycleConfiguration with `key`: its HTTP status.
fn put_lifecycle(island: &Island, bucket: &str, key: &(String, String)) -> Result<String, Failed> {
    let body = "<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "md5=$(printf '%s' \"$BODY\" | openssl md5 -binary | base64); printf 'user = \"%s:%s\"\\n' \"$K\" \"$S\" | curl -sS -o /dev/null -w '%{{http_code}}' -K - --aws-sigv4 aws:amz:garage:s3 -X PUT -H \"Content-MD5: $md5\" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary \"$BODY\" '{}/{bucket}?lifecycle='",
            island.endpoint(),
        ))
        .env("BODY", body)
        .env("K", &key.0)
        .env("S", &key.1)
        .output()?;
    ensure(out.status.success(), format!("curl: {}", text(&out)))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn lifecycle_rule_is_flagged(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "lifecycle", &[("data1", "-", "-")])?;
    island
        .host_s3()
        .put(&case.source, "data1/config", b"c".to_vec())?;
    // No rule: the vault key may not read the lifecycle (Garage wants the
    // owner permission), the node's admin API says there is none.
    case.pass(0)?;
    // Garage refuses a rule to a key with read and write only...
    let refused = put_lifecycle(island, &case.source, &island.host_key)?;
    ensure(
        refused == "403",
        format!("a read+write key put a lifecycle rule: HTTP {refused}"),
    )?;
    // ...and takes it from one that owns the bucket.
    island.garage_ok(&[
        "bucket",
        "allow",
        "--owner",
        &case.source,
        "--key",
        &island.host_key.0,
    ])?;
    let put = put_lifecycle(island, &case.source, &island.host_key)?;
    ensure(
        put == "200",
        format!("the owner's lifecycle rule: HTTP {put}"),
    )?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["lifecycle-rule"] && incidents(&status)[0]["id"] == "lifecycle-rule",
        format!("a lifecycle-rule incident: {status}"),
    )?;
    // Cleared while the rule is still there: raised again at once, now seen
    // over S3 by a vault key that may read it.
    island.garage_ok(&[
        "bucket",
        "allow",
        "--owner",
        &case.source,
        "--key",
        &island.vault_key.0,
    ])?;
    let status = case.clear("lifecycle-rule", 1)?;
    ensure(
        kinds(&status) == ["lifecycle-rule"] && status["frozen"] == true,
        format!("the rule is still there: {status}"),
    )?;
    Ok(())
}

fn growth_is_flagged(island: &Island) -> Result<(), Failed> {
    let case = Case::with_limits(island, "growth", 2, 10_000, &[("data1", "-", "-")])?;
    // A vault key that may read the lifecycle: Garage's answer when there is
    // none (404 NoSuchLifecycleConfiguration) is no incident.
    island.garage_ok(&[
        "bucket",
        "allow",
        "--owner",
        &case.source,
        "--key",
        &island.vault_key.0,
    ])?;
    let s3 = island.host_s3();
    s3.put(&case.source, "data1/data/00/0001", noise(1, 6_000))?;
    case.pass(0)?;
    s3.put(&case.source, "data1/data/00/0002", noise(2, 6_000))?;
    let status = case.pass(1)?;
    ensure(
        kinds(&status) == ["growth"] && count(&status, "vault_bytes") == 12_000,
        format!("a growth incident at 12000 bytes: {status}"),
    )?;
    Ok(())
}

fn unreachable_garage_fails_the_pass(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "down", &[("data1", "-", "-")])?;
    fs::write(
        case.conf.join("rclone.conf"),
        island
            .rclone_conf(&island.vault_key)
            .replace(&island.s3_port().to_string(), "39109"),
    )?;
    let run = case.run(&[])?;
    ensure(
        run.code == 2,
        format!("exit {} (not 2): {}", run.code, run.output),
    )?;
    let status = case.status()?;
    ensure(
        status["result"] == "failed"
            && status["error"]
                .as_str()
                .is_some_and(|e| e.contains(&case.source)),
        format!("a failed pass says why: {status}"),
    )?;
    let run = case.run(&["bogus"])?;
    ensure(
        run.code == 2 && run.output.contains("usage"),
        format!("usage error: {}", run.output),
    )?;
    Ok(())
}

fn concurrent_pass_is_skipped(island: &Island) -> Result<(), Failed> {
    let case = Case::new(island, "locked", &[("data1", "-", "-")])?;
    island
        .host_s3()
        .put(&case.source, "data1/config", b"c".to_vec())?;
    // -o: the lock is flock's own, released when it is killed.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(case.state.join("locked.lock"))
        .args(["sleep", "30"])
        .spawn()?;
    sleep(Duration::from_millis(500));
    let run = case.run(&["pass", "locked"]);
    let _ = holder.kill();
    let _ = holder.wait();
    let run = run?;
    ensure(
        run.code == 0 && run.output.contains("another pass is running"),
        format!("exit {}: {}", run.code, run.output),
    )?;
    ensure(
        !case.status_path().exists() && case.vault_objects()?.is_empty(),
        "the skipped pass did something",
    )?;
    case.pass(0)?;
    ensure(
        case.vault_objects()?.len() == 1,
        "the pass after the lock copied nothing",
    )?;
    Ok(())
}

/// No run printed or wrote either key's secret.
fn no_secret_in_any_output(island: &Island) -> Result<(), Failed> {
    let outputs = OUTPUTS.lock().unwrap_or_else(PoisonError::into_inner);
    ensure(outputs.len() > 10, "the script's outputs were recorded")?;
    for (i, output) in outputs.iter().enumerate() {
        ensure(
            !output.contains(&island.vault_key.1) && !output.contains(&island.host_key.1),
            format!("output #{i} contains a secret key"),
        )?;
    }
    Ok(())
}

type IslandTest = (&'static str, fn(&Island) -> Result<(), Failed>);

fn main() {
    let tests: &[IslandTest] = &[
        (
            "a_pass_copies_restic_repositories_and_a_second_copies_nothing",
            copies_restic_repositories,
        ),
        (
            "a_changed_object_is_refused_and_reported_once",
            changed_object_is_refused,
        ),
        (
            "a_planted_lock_is_neither_copied_nor_in_the_way",
            planted_lock_is_ignored,
        ),
        (
            "an_unexplained_prune_freezes_deletions_until_cleared",
            unexplained_prune_freezes_until_cleared,
        ),
        (
            "a_scheduled_prune_is_explained_and_a_kept_snapshot_is_not",
            scheduled_prune_is_explained,
        ),
        (
            "a_prune_out_of_its_schedule_is_flagged",
            prune_out_of_schedule_is_flagged,
        ),
        ("an_emptied_bucket_is_flagged", emptied_bucket_is_flagged),
        (
            "a_lifecycle_rule_is_flagged_while_it_exists",
            lifecycle_rule_is_flagged,
        ),
        ("growth_past_the_alarm_is_flagged", growth_is_flagged),
        (
            "an_unreachable_garage_fails_the_pass",
            unreachable_garage_fails_the_pass,
        ),
        (
            "a_pass_while_another_runs_is_skipped",
            concurrent_pass_is_skipped,
        ),
        ("no_secret_in_any_output", no_secret_in_any_output),
    ];
    let mut args = libtest_mimic::Arguments::from_args();
    args.test_threads = Some(1);
    let island: &'static Mutex<Option<Result<Island, String>>> =
        Box::leak(Box::new(Mutex::new(None)));
    let trials = tests
        .iter()
        .map(|&(name, test)| {
            libtest_mimic::Trial::test(name, move || {
                let mut slot = island.lock().unwrap_or_else(PoisonError::into_inner);
                match slot
                    .get_or_insert_with(|| Island::start(BASE_PORT).map_err(|e| format!("{e:?}")))
                {
                    Ok(island) => test(island),
                    Err(e) => Err(format!("garage did not start: {e}").into()),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(island.lock().unwrap_or_else(PoisonError::into_inner).take());
    conclusion.exit()
}
