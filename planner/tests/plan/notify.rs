//! A job's pings: the URL written from apply's environment (never seen by
//! the plan: a record of its variable and version says what was written),
//! or a file of the host's admins, checked to be there.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts};
use archipel_planner::observed::FileFacts;
use archipel_planner::plan::{Action, SENSITIVE, plan};

/// Chaton d pings from `$D_PING` for every job; `mail` sets `job_notify`.
fn with_notify(chaton_notify: &str, job_notify: &str) -> String {
    BASE.replacen(
        "  contact = \"d@example.org\"\n",
        &format!("  contact = \"d@example.org\"\n{chaton_notify}"),
        1,
    )
    .replacen(
        "    quota    = \"2G\"\n  }",
        &format!("    quota    = \"2G\"\n{job_notify}  }}"),
        1,
    )
}

const FROM_ENV: &str = "  notify {\n    url_env = \"D_PING\"\n  }\n";

fn ping_changes(
    text: &str,
    world: impl FnOnce(&mut archipel_planner::observed::Observed),
) -> Vec<(String, Action, String)> {
    let desired = desired_from(text);
    let mut observed = converged(&desired);
    world(&mut observed);
    plan(&desired, &observed)
        .changes
        .into_iter()
        .filter(|c| c.address.to_string().ends_with(".ping"))
        .map(|c| (c.address.to_string(), c.action, c.reason))
        .collect()
}

#[test]
fn a_url_from_the_environment_is_written_once_never_shown() {
    let text = with_notify(FROM_ENV, "");
    let desired = desired_from(&text);
    let job = desired.backups.iter().find(|b| b.job == "mail").unwrap();
    assert!(
        job.env.contains("ARCHIPEL_PING_TYPE='healthchecks'"),
        "{}",
        job.env
    );
    assert!(
        job.env
            .contains("ARCHIPEL_PING_FILE='/etc/archipel/restic/d-mail.ping'"),
        "{}",
        job.env
    );
    // Missing on the host: written, the URL shown as sensitive only.
    let mut observed = converged(&desired);
    facts(&mut observed, "d-1").files.insert(
        "/etc/archipel/restic/d-mail.ping".into(),
        FileFacts::Missing,
    );
    let planned = plan(&desired, &observed);
    let change = planned
        .changes
        .iter()
        .find(|c| c.address == "chaton.d.backup.mail.ping")
        .expect("the ping URL is written");
    assert_eq!(change.action, Action::Create);
    assert!(change.reason.contains("$D_PING"), "{}", change.reason);
    assert_eq!(change.attributes[0].after.as_deref(), Some(SENSITIVE));
    let record = change.file.as_ref().expect("the record's diff");
    assert_eq!(record.path, "/etc/archipel/restic/d-mail.ping-source");
    assert!(record.after.contains("variable=D_PING\nversion=1\n"));
    // Converged: nothing to do.
    assert!(ping_changes(&text, |_| {}).is_empty());
}

#[test]
fn a_new_url_version_writes_it_again() {
    let desired_v1 = desired_from(&with_notify(FROM_ENV, ""));
    let converged_v1 = converged(&desired_v1);
    let text = with_notify(
        "  notify {\n    url_env     = \"D_PING\"\n    url_version = 2\n  }\n",
        "",
    );
    let desired = desired_from(&text);
    let planned = plan(&desired, &converged_v1);
    let changes: Vec<_> = planned
        .changes
        .iter()
        .filter(|c| c.address.to_string().ends_with(".ping"))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].action, Action::Update);
    assert!(
        changes[0].reason.contains("url_version 2"),
        "{}",
        changes[0].reason
    );
}

#[test]
fn a_url_no_longer_taken_from_the_environment_is_removed() {
    let desired_v1 = desired_from(&with_notify(FROM_ENV, ""));
    let observed = converged(&desired_v1);
    // The job's own notify, from a file of the host's, replaces the
    // chaton's: the written URL goes.
    let text = with_notify(
        FROM_ENV,
        "    notify {\n      type     = \"ntfy\"\n      url_file = \"/etc/ntfy-topic\"\n    }\n",
    );
    let desired = desired_from(&text);
    let job = desired.backups.iter().find(|b| b.job == "mail").unwrap();
    assert!(job.env.contains("ARCHIPEL_PING_TYPE='ntfy'"), "{}", job.env);
    assert!(
        job.env.contains("ARCHIPEL_PING_FILE='/etc/ntfy-topic'"),
        "{}",
        job.env
    );
    let planned = plan(&desired, &observed);
    let ping: Vec<_> = planned
        .changes
        .iter()
        .filter(|c| c.address.to_string().ends_with(".ping"))
        .collect();
    assert_eq!(ping.len(), 1);
    assert_eq!(ping[0].action, Action::Delete);
    // The host's file is not there: said, not a change.
    assert!(
        planned
            .warnings
            .iter()
            .any(|w| w.contains("/etc/ntfy-topic is not on d-1")),
        "{:?}",
        planned.warnings
    );
    // And without any notify: the written URL goes too.
    let planned = plan(&desired_from(BASE), &observed);
    assert!(
        planned
            .changes
            .iter()
            .any(|c| c.address == "chaton.d.backup.mail.ping" && c.action == Action::Delete)
    );
}

#[test]
fn a_file_of_the_hosts_admins_is_only_checked_to_be_there() {
    let text = with_notify(
        "  notify {\n    type     = \"uptime-kuma\"\n    url_file = \"/root/kuma-push\"\n  }\n",
        "",
    );
    let desired = desired_from(&text);
    let observed = converged(&desired);
    let planned = plan(&desired, &observed);
    assert!(planned.warnings.is_empty(), "{:?}", planned.warnings);
    assert!(!planned.has_changes(), "{:?}", planned.changes);
}
