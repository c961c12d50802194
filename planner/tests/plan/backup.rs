//! A backup job and its host: the files it writes, its repository, the
//! password's escrow, its schedules.

use crate::converged::{bare_world, converged};
use crate::fixture::{BASE, answer, desired_from, facts, file, outline, texts};
use archipel_planner::observed::*;
use archipel_planner::plan::{Action, plan};

/// Job `mail`'s settings, then the units of the tasks `shown` picks (their
/// timers too, with `timers`), as the host gets them from `text`.
fn mail_files(text: &str, shown: impl Fn(&str) -> bool, timers: bool) -> String {
    let desired = desired_from(text);
    let job = desired
        .backups
        .iter()
        .find(|b| b.job == "mail")
        .expect("the mail job");
    let mut files = format!("# {}\n{}", job.env_file, job.env);
    for unit in job.units.iter().filter(|u| shown(u.task.name())) {
        files.push_str(&format!("\n# {}\n{}", unit.service_name, unit.service));
        if timers {
            files.push_str(&format!("\n# {}\n{}", unit.timer_name, unit.timer));
        }
    }
    files
}

#[test]
fn backup_job_files_as_written_on_the_host() {
    snapshot!(
        "backup_job_files_as_written_on_the_host",
        mail_files(BASE, |_| true, true)
    );
}

/// A job with hooks and dumps: the commands in its settings (quoted so
/// that systemd and a shell read them alike), its backup and drill units
/// without the read-only sandbox its commands could not work in.
#[test]
fn a_jobs_commands_as_written_on_the_host() {
    let text = BASE.replacen(
        "    quota    = \"2G\"\n  }",
        r#"    quota    = "2G"
    drill    = "Sat 05:00"
    before {
      command = "sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --on"
    }
    dump "nextcloud-db" {
      command = "pg_dump -Fc nextcloud"
      user    = "postgres"
      timeout = "2h"
      check   = "pg_restore --list"
    }
    dump "sieve" {
      command = "sqlite3 /var/lib/sieve/db .dump && echo 'it''s' \"$HOME\""
    }
    after {
      command = "sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --off"
      timeout = "1m"
    }
  }"#,
        1,
    );
    snapshot!(
        "a_jobs_commands_as_written_on_the_host",
        mail_files(&text, |_| true, false)
    );
}

/// A job with a local repository: backups go there, a copy task fills
/// the island's from it, and the plan makes it from the island's chunker
/// parameters once the island's repository is there.
#[test]
fn a_local_repository_as_written_and_planned() {
    let text = BASE.replacen(
        "    quota    = \"2G\"\n  }",
        "    quota    = \"2G\"\n    local {\n      path = \"/backup/restic/mail\"\n      copy = \"*-*-* 05:00\"\n      keep = { daily = 3 }\n    }\n  }",
        1,
    );
    snapshot!(
        "a_local_repository_as_written_on_the_host",
        mail_files(&text, |task| task == "backup" || task == "copy", true)
    );
    let desired = desired_from(&text);
    let job = desired
        .backups
        .iter()
        .find(|b| b.job == "mail")
        .expect("the mail job");

    // On a converged host without it: the local repository is made.
    let mut observed = converged(&desired);
    answer(
        &mut observed,
        &job.machine,
        Probe::LocalRepository(job.id.clone()),
        1,
        "Fatal: unable to open config file: stat /backup/restic/mail/config: no such file or directory\nIs there a repository at the following location?",
    );
    let planned = plan(&desired, &observed);
    let addresses: Vec<String> = planned
        .changes
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert!(
        addresses.contains(&format!(
            "chaton.{}.backup.mail.local_repository",
            job.chaton
        )),
        "{addresses:?}"
    );
    let change = planned
        .changes
        .iter()
        .find(|c| c.address.to_string().ends_with("local_repository"))
        .expect("the local repository");
    assert!(
        change.reason.contains("chunker parameters"),
        "{}",
        change.reason
    );

    // One that refuses the job's password is never made again.
    answer(
        &mut observed,
        &job.machine,
        Probe::LocalRepository(job.id.clone()),
        1,
        "Fatal: wrong password or no key found",
    );
    let refused = plan(&desired, &observed);
    assert!(
        refused
            .errors
            .iter()
            .any(|e| e.message.contains("never initialises it again")),
        "{:?}",
        refused.errors
    );
}

/// A task the file no longer gives a job (here the local repository's
/// copy) is taken off its host, and says what stops with it.
#[test]
fn a_task_the_job_no_longer_has_is_taken_off() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let job = desired
        .backups
        .iter()
        .find(|b| b.job == "mail")
        .expect("the mail job");
    facts(&mut observed, &job.machine).files.insert(
        format!("/etc/systemd/system/archipel-copy-{}.timer", job.id),
        file("root", "root", "644", None, None),
    );
    let planned = plan(&desired, &observed);
    let change = planned
        .changes
        .iter()
        .find(|c| c.address == "chaton.d.backup.mail.copy.timer")
        .expect("the copy's timer is taken off");
    assert_eq!(change.action, Action::Delete);
    assert!(
        change.reason.contains("nothing is copied to the island"),
        "{}",
        change.reason
    );
}

#[test]
fn a_repository_that_refuses_the_password_is_an_error_never_a_new_one() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let job = &desired.backups[0];
    answer(
        &mut observed,
        &job.machine,
        Probe::Repository(job.id.clone()),
        1,
        "Fatal: wrong password or no key found",
    );
    let refused = plan(&desired, &observed);
    assert!(refused.changes.is_empty(), "{:?}", refused.changes);
    assert_eq!(refused.errors.len(), 1);
    assert!(
        refused.errors[0]
            .message
            .contains("never initialises it again")
    );

    // A repository that does not exist yet is created.
    answer(
        &mut observed,
        &job.machine,
        Probe::Repository(job.id.clone()),
        1,
        "Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?",
    );
    let plan = plan(&desired, &observed);
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| c.address.to_string())
            .collect::<Vec<_>>(),
        vec![format!(
            "chaton.{}.backup.{}.repository",
            job.chaton, job.job
        )]
    );
}

#[test]
fn the_password_is_escrowed_once_it_opens_the_repository_and_again_for_new_recipients() {
    let desired = desired_from(BASE);
    let bare = plan(&desired, &bare_world(&desired));
    let escrow = bare
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files.escrow")
        .expect("an escrow change");
    assert!(
        texts(&escrow.depends_on).contains(&"chaton.a.backup.files.repository".to_string())
            && texts(&escrow.depends_on).contains(&"chaton.a.backup.files.password".to_string()),
        "{:?}",
        escrow.depends_on
    );
    // chaton "d" names no recipient: nothing to escrow.
    assert!(
        !bare
            .changes
            .iter()
            .any(|c| c.address.to_string().starts_with("chaton.d.")
                && c.address.to_string().ends_with(".escrow"))
    );

    // Another admin's key: the password is encrypted again, the diff says
    // for whom.
    let admin =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN bob@a";
    let more = desired_from(&BASE.replacen(
        "escrow  = [\"age1",
        &format!("escrow  = [\"{admin}\", \"age1"),
        1,
    ));
    let replan = plan(&more, &converged(&desired));
    assert_eq!(
        outline(&replan),
        "~ chaton.a.backup.files.escrow  (the escrow's recipients or place changed: the password is encrypted again)\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
    );
    let file = replan.changes[0].file.as_ref().expect("the record's diff");
    assert!(file.after.contains(admin) && !file.before.as_deref().unwrap_or("").contains(admin));
}

#[test]
fn a_record_naming_the_legacy_escrow_object_moves_it_to_a_versioned_name() {
    let desired = desired_from(BASE);
    let job = desired
        .backups
        .iter()
        .find(|b| b.job == "files")
        .expect("the files job");
    let escrow = job.escrow.as_ref().expect("escrowed");
    assert_eq!(escrow.prefix, "files.escrow/");
    assert_eq!(escrow.legacy_object, "files.escrow.age");
    assert!(
        escrow
            .record
            .contains("s3://backup-a/files.escrow/, the newest TIME.age there, on island est"),
        "{}",
        escrow.record
    );
    // The record an earlier version wrote, for the same recipients.
    let legacy = escrow.record.replace(
        "files.escrow/, the newest TIME.age there,",
        "files.escrow.age",
    );
    let mut observed = converged(&desired);
    facts(&mut observed, &job.machine).files.insert(
        escrow.record_file.clone(),
        file("root", "root", "600", None, Some(&legacy)),
    );
    let moved = plan(&desired, &observed);
    assert_eq!(
        outline(&moved),
        "~ chaton.a.backup.files.escrow  (the escrow moves from its one rewritten name to a new name per write (JOB.escrow/TIME.age): the password is encrypted again and the old object deleted)\nPlan: 0 to add, 1 to change, 0 to destroy.\n"
    );
    let change = moved.changes[0].file.as_ref().expect("the record's diff");
    assert_eq!(change.before.as_deref(), Some(legacy.as_str()));
    assert_eq!(change.after, escrow.record);

    // Converged, the record names the prefix: no change from one write
    // (a new object name) to the next.
    assert!(plan(&desired, &converged(&desired)).changes.is_empty());
}

/// The host's systemd has the last word on a schedule: one it says never
/// comes again (a date in the past), or refuses (a time zone it does not
/// know), is an error naming the timer, never a timer installed to sleep.
#[test]
fn a_schedule_the_host_never_reaches_is_an_error() {
    let desired = desired_from(BASE);
    let mut observed = converged(&desired);
    let job = &desired.backups[0];
    answer(
        &mut observed,
        &job.machine,
        Probe::Schedules(job.id.clone()),
        0,
        "backup\tnever\ncheck\tinvalid\tFailed to parse calendar specification: Invalid argument\nprune\tnext\n",
    );
    let plan = plan(&desired, &observed);
    let errors: Vec<(String, &str)> = plan
        .errors
        .iter()
        .map(|e| (e.address.to_string(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0.ends_with(".backup.timer"), "{errors:?}");
    assert!(errors[0].1.contains("is never reached again"), "{errors:?}");
    assert!(errors[1].0.ends_with(".check.timer"), "{errors:?}");
    assert!(errors[1].1.contains("Failed to parse"), "{errors:?}");
}

#[test]
fn a_job_file_with_the_wrong_mode_shows_its_owner_before_and_after() {
    let desired = desired_from(BASE);
    let job = &desired.backups[0];
    let mut observed = converged(&desired);
    let env_file = job.env_file.clone();
    if let Some(FileFacts::File { mode, .. }) =
        facts(&mut observed, &job.machine).files.get_mut(&env_file)
    {
        *mode = "644".into();
    }
    let planned = plan(&desired, &observed);
    let change = planned
        .changes
        .iter()
        .find(|c| c.address.to_string().ends_with(".settings"))
        .expect("the settings are planned");
    assert_eq!(
        change.reason,
        format!("{env_file} has the wrong owner or mode")
    );
    assert!(change.file.is_none());
    let owner = &change.attributes[0];
    assert_eq!(
        (
            owner.name.as_str(),
            owner.before.as_deref(),
            owner.after.as_deref()
        ),
        ("owner", Some("root:root 644"), Some("root:root 600"))
    );
    // Text and mode both wrong: the diff, and the owner beside it.
    if let Some(FileFacts::File { content, .. }) =
        facts(&mut observed, &job.machine).files.get_mut(&env_file)
    {
        *content = Some("RESTIC_REPOSITORY=elsewhere\n".into());
    }
    let planned = plan(&desired, &observed);
    let change = planned
        .changes
        .iter()
        .find(|c| c.address.to_string().ends_with(".settings"))
        .expect("the settings are planned");
    assert!(change.file.is_some());
    assert_eq!(change.attributes.len(), 1);
}

#[test]
fn a_chatons_key_made_anew_is_written_to_its_hosts_again() {
    let desired = desired_from(BASE);
    let job = desired
        .backups
        .iter()
        .find(|j| j.chaton == "a")
        .expect("chaton a backs up");
    let mut observed = converged(&desired);
    crate::fixture::reached(&mut observed, &job.island)
        .keys
        .retain(|k| k.name != job.key);
    let planned = plan(&desired, &observed);
    let text = outline(&planned);
    let credentials = format!(
        "~ chaton.a.backup.{}.credentials  (the key {} is made anew: its secret is written again)",
        job.job, job.key
    );
    assert!(text.contains(&credentials), "{text}");
    let change = planned
        .changes
        .iter()
        .find(|c| {
            c.address
                .to_string()
                .ends_with(&format!("{}.credentials", job.job))
        })
        .expect("the credentials change");
    assert!(
        texts(&change.depends_on).contains(&format!("island.{}.key.{}", job.island, job.key)),
        "{:?}",
        change.depends_on
    );
}
