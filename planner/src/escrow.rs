//! Password escrow: each backup job's repository password, encrypted with
//! age to its chaton's admins, kept as an object beside the repository in
//! the chaton's bucket. The island's operators hold the bucket but not the
//! keys that open the object; the chaton's admins can recover the password
//! after losing the backup host (`archipel recover`).
//!
//! An escrow object's name never changes content: each write is a new
//! object, `JOB.escrow/STAMP.age` (STAMP the UTC time of writing,
//! `YYYYMMDDTHHMMSSZ`, so the newest name sorts last and is the current
//! escrow). Once the new one is read back, the older ones and the legacy
//! `JOB.escrow.age` (the single name of earlier versions) are deleted:
//! the live bucket keeps one, a copy that never overwrites keeps them all.
//!
//! The backup host keeps a record of what was escrowed (where, and to
//! whom): the plan compares it with the file, so a new or removed
//! recipient re-encrypts the password, and a record naming the legacy
//! object moves the escrow to a versioned name.

use crate::backup::JOBS_DIR;

/// A recipient as age reads it: an age public key (`age1…`) or an SSH
/// public key (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…`, comment allowed).
pub fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send>, String> {
    if let Ok(recipient) = text.parse::<age::x25519::Recipient>() {
        return Ok(Box::new(recipient));
    }
    match text.parse::<age::ssh::Recipient>() {
        Ok(recipient) => Ok(Box::new(recipient)),
        Err(_) => Err(format!("{text:?} is not an age or SSH public key")),
    }
}

/// Where a job's escrow objects are, beside its repository prefix:
/// `JOB.escrow/`.
pub fn prefix(job: &str) -> String {
    format!("{job}.escrow/")
}

/// The single escrow object of earlier versions, rewritten in place:
/// read by `recover` when no versioned one exists, deleted once one does.
pub fn legacy_object(job: &str) -> String {
    format!("{job}.escrow.age")
}

/// The length of a stamp, `YYYYMMDDTHHMMSSZ`.
const STAMP_LEN: usize = 16;

/// The UTC time `unix_seconds` after the epoch as `YYYYMMDDTHHMMSSZ`.
pub fn stamp(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The versioned object written at `stamp`: `JOB.escrow/STAMP.age`.
pub fn object(job: &str, stamp: &str) -> String {
    format!("{}{stamp}.age", prefix(job))
}

/// The stamp of a versioned escrow object of `job`, `None` for any other
/// name (archipel only reads and deletes names it writes).
pub fn stamp_of<'a>(job: &str, name: &'a str) -> Option<&'a str> {
    let stamp = name
        .strip_prefix(prefix(job).as_str())?
        .strip_suffix(".age")?;
    let bytes = stamp.as_bytes();
    let shaped = bytes.len() == STAMP_LEN
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
    shaped.then_some(stamp)
}

/// The current escrow among the names listed under the job's prefix: the
/// versioned one with the latest stamp.
pub fn current<'a>(job: &str, names: &'a [String]) -> Option<&'a str> {
    versions(job, names).into_iter().next()
}

/// The versioned escrows among the names, the newest first (stamps sort
/// as text).
pub fn versions<'a>(job: &str, names: &'a [String]) -> Vec<&'a str> {
    let mut versions: Vec<&str> = names
        .iter()
        .filter(|name| stamp_of(job, name).is_some())
        .map(String::as_str)
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions
}

/// The name a write at `unix_seconds` takes, given the names listed under
/// the job's prefix; `Err` with the newest existing name when that one is
/// not older (the same second, or a clock behind): a name is never
/// written twice.
pub fn next_object(job: &str, unix_seconds: u64, names: &[String]) -> Result<String, String> {
    let next = object(job, &stamp(unix_seconds));
    match current(job, names) {
        Some(newest) if newest >= next.as_str() => Err(newest.to_string()),
        _ => Ok(next),
    }
}

/// What a write of `written` leaves to delete: the versioned names older
/// than it (a newer one, from another write, is left alone). The legacy
/// object is deleted too, by name.
pub fn older_than<'a>(job: &str, names: &'a [String], written: &str) -> Vec<&'a str> {
    names
        .iter()
        .filter(|name| stamp_of(job, name).is_some() && name.as_str() < written)
        .map(String::as_str)
        .collect()
}

/// The record of the escrow on the backup host.
pub fn record_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.escrow")
}

/// The record's content: where the escrow is (the job's prefix, whose
/// newest object is the current one, so the record does not change with
/// each write) and whom it opens for. Public keys only; a change here
/// means the password must be encrypted again.
pub fn record(island: &str, bucket: &str, prefix: &str, recipients: &[String]) -> String {
    let mut text = format!(
        "# Written by archipel once the repository password was escrowed.\n# It is encrypted with age in s3://{bucket}/{prefix}, the newest TIME.age there, on island {island}, for:\n"
    );
    for recipient in recipients {
        text.push_str(recipient);
        text.push('\n');
    }
    text
}

/// Whether a record names the legacy object (written by an earlier
/// version): the escrow then moves to a versioned name.
pub fn names_legacy(recorded: &str, job: &str) -> bool {
    recorded.contains(&format!("/{} on island ", legacy_object(job)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_and_ssh_public_keys_are_recipients() {
        let age = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rose";
        assert!(parse_recipient(age).is_ok());
        assert!(parse_recipient(ssh).is_ok());
        assert!(parse_recipient("age1notakey").is_err());
        assert!(parse_recipient("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
        assert!(
            parse_recipient(
                "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33"
            )
            .is_err()
        );
    }

    #[test]
    fn stamps_are_utc_times_that_sort_as_they_happen() {
        assert_eq!(stamp(0), "19700101T000000Z");
        // 2000-02-29 (a leap day of a century year) at 23:59:59.
        assert_eq!(stamp(951_868_799), "20000229T235959Z");
        assert_eq!(stamp(951_868_800), "20000301T000000Z");
        assert_eq!(stamp(1_796_342_400), "20261204T000000Z");
        assert_eq!(stamp(4_107_542_400), "21000301T000000Z");
        let times = [
            0,
            59,
            3_599,
            86_399,
            951_868_799,
            1_796_342_400,
            4_107_542_400,
        ];
        let stamps: Vec<String> = times.iter().map(|t| stamp(*t)).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    }

    #[test]
    fn an_escrow_is_a_new_name_under_the_jobs_prefix_each_time() {
        assert_eq!(prefix("data"), "data.escrow/");
        assert_eq!(legacy_object("data"), "data.escrow.age");
        assert_eq!(
            object("data", &stamp(1_796_342_400)),
            "data.escrow/20261204T000000Z.age"
        );
        assert_eq!(
            stamp_of("data", "data.escrow/20261204T000000Z.age"),
            Some("20261204T000000Z")
        );
        for other in [
            "data.escrow.age",
            "data.escrow/notes.txt",
            "data.escrow/20261204T000000Z.age.tmp",
            "data.escrow/2026120400000000.age",
            "other.escrow/20261204T000000Z.age",
            "data/config",
        ] {
            assert_eq!(stamp_of("data", other), None, "{other}");
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn the_newest_versioned_name_is_the_current_escrow() {
        let listed = names(&[
            "data.escrow/20261203T120000Z.age",
            "data.escrow/20261204T000000Z.age",
            "data.escrow/zzz",
            "data.escrow/20251231T235959Z.age",
        ]);
        assert_eq!(
            current("data", &listed),
            Some("data.escrow/20261204T000000Z.age")
        );
        assert_eq!(current("data", &names(&["data.escrow/zzz"])), None);
        assert_eq!(current("data", &[]), None);
    }

    #[test]
    fn a_write_never_takes_an_existing_or_older_name() {
        let at = 1_796_342_400;
        assert_eq!(
            next_object("data", at, &[]),
            Ok("data.escrow/20261204T000000Z.age".to_string())
        );
        let listed = names(&["data.escrow/20261204T000000Z.age"]);
        // The same second: refused, naming what exists.
        assert_eq!(
            next_object("data", at, &listed),
            Err("data.escrow/20261204T000000Z.age".to_string())
        );
        // A clock behind the newest escrow: refused too.
        assert!(next_object("data", at - 60, &listed).is_err());
        assert_eq!(
            next_object("data", at + 1, &listed),
            Ok("data.escrow/20261204T000001Z.age".to_string())
        );
    }

    #[test]
    fn a_write_leaves_the_older_names_to_delete_and_no_other() {
        let listed = names(&[
            "data.escrow/20261203T120000Z.age",
            "data.escrow/20261204T000000Z.age",
            "data.escrow/20261205T000000Z.age",
            "data.escrow/notes.txt",
        ]);
        assert_eq!(
            older_than("data", &listed, "data.escrow/20261204T000000Z.age"),
            vec!["data.escrow/20261203T120000Z.age"]
        );
    }

    #[test]
    fn the_record_names_the_prefix_and_a_legacy_record_is_told_apart() {
        let recipients =
            vec!["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".to_string()];
        let text = record("est", "backup-a", &prefix("data"), &recipients);
        assert!(
            text.contains("s3://backup-a/data.escrow/, the newest TIME.age there, on island est"),
            "{text}"
        );
        assert!(text.ends_with(&format!("{}\n", recipients[0])), "{text}");
        assert!(!names_legacy(&text, "data"));
        let legacy = "# Written by archipel once the repository password was escrowed.\n# It is encrypted with age in s3://backup-a/data.escrow.age on island est, for:\nage1…\n";
        assert!(names_legacy(legacy, "data"));
        assert!(!names_legacy(legacy, "files"));
    }
}
