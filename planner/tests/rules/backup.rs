//! Backup jobs: to another island, their escrow, their restic, their
//! schedules, their files on a shared host, S3 in clear, removed jobs.

use crate::fixture::{BASE, codes, diagnostics, line_of, with};
use archipel_planner::diagnostic::Severity;
use archipel_planner::source::Sources;

#[test]
fn backups_leave_their_island() {
    assert_eq!(
        codes(&with("to       = \"est\"", "to       = \"ouest\"")),
        vec!["backup-to-own-island"]
    );
}

#[test]
fn escrow_recipients_are_public_keys() {
    let age = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let secret = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
    let leaked = with(age, secret);
    assert_eq!(
        diagnostics(&leaked),
        vec![(
            "invalid-recipient",
            Severity::Error,
            line_of(&leaked, secret)
        )]
    );
    // Backups without escrow: legal, but the password lives on one host.
    let none = with(&format!("  escrow  = [\"{age}\"]\n"), "");
    assert_eq!(
        diagnostics(&none),
        vec![(
            "no-escrow",
            Severity::Warning,
            line_of(&none, "chaton \"a\"")
        )]
    );
}

#[test]
fn restic_comes_from_the_package_or_a_pinned_binary() {
    let pinned = "    restic   = { binary = \"https://example.org/restic\", sha256 = \"0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\" }\n    quota    = \"100G\"";
    assert!(codes(&with("    quota    = \"100G\"", pinned)).is_empty());
    assert!(
        codes(&with(
            "    quota    = \"100G\"",
            "    restic   = \"package\"\n    quota    = \"100G\""
        ))
        .is_empty()
    );
    assert_eq!(
        codes(&with(
            "    quota    = \"100G\"",
            "    restic   = \"apt\"\n    quota    = \"100G\""
        )),
        vec!["wrong-type"]
    );
    assert_eq!(
        codes(&with(
            "    quota    = \"100G\"",
            "    restic   = { binary = \"/opt/restic\" }\n    quota    = \"100G\""
        )),
        vec!["missing-attribute"]
    );
    assert_eq!(
        codes(&with(
            "    quota    = \"100G\"",
            "    restic   = { binary = \"/opt/restic\", sha256 = \"abc\" }\n    quota    = \"100G\""
        )),
        vec!["invalid-sha256"]
    );
    assert_eq!(
        codes(&with(
            "    quota    = \"100G\"",
            "    restic   = { binary = \"/r\", sha = \"x\" }\n    quota    = \"100G\""
        )),
        vec!["unknown-attribute"]
    );
}

#[test]
fn jobs_of_one_host_share_their_restic() {
    // A second job on files.a.example.org, with a pinned restic.
    let text = with(
        "    quota    = \"100G\"\n  }",
        "    quota    = \"100G\"\n  }\n\n  backup \"more\" {\n    host     = \"root@files.a.example.org\"\n    to       = \"est\"\n    paths    = [\"/home\"]\n    schedule = \"daily\"\n    keep     = { daily = 7 }\n    quota    = \"10G\"\n    restic   = { binary = \"/opt/restic\", sha256 = \"0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\" }\n  }",
    );
    let found = diagnostics(&text);
    assert_eq!(
        found.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec!["conflicting-restic"]
    );
    assert_eq!(found[0].2, line_of(&text, "    restic   = { binary"));
}

#[test]
fn backup_schedules_have_defaults_and_are_checked() {
    let model = archipel_planner::check(&{
        let mut sources = Sources::new();
        sources.add("test.hcl", BASE);
        sources
    })
    .archipelago;
    let backup = &model.chatons[0].backups[0];
    assert_eq!(backup.prune.as_str(), "Sun 04:00");
    assert_eq!(backup.check.as_str(), "*-*-01 05:00");
    assert!(backup.drill.is_none());
    assert_eq!(
        codes(&with(
            "    quota    = \"100G\"",
            "    drill    = \"Mon 25:00\"\n    quota    = \"100G\""
        )),
        vec!["invalid-schedule"]
    );
}

#[test]
fn jobs_on_one_host_have_distinct_files() {
    // a/b-files and a-b/files are both "a-b-files" on the host.
    let text = format!(
        "{}\nchaton \"a-b\" {{\n  island  = \"est\"\n  contact = \"ab@example.org\"\n  escrow  = []\n  backup \"files\" {{\n    host     = \"root@files.a.example.org\"\n    to       = \"ouest\"\n    paths    = [\"/srv\"]\n    schedule = \"daily\"\n    keep     = {{ daily = 7 }}\n    quota    = \"1G\"\n  }}\n}}\n",
        with("backup \"files\"", "backup \"b-files\"")
    );
    assert_eq!(
        diagnostics(&text),
        vec![(
            "job-name-collision",
            Severity::Error,
            line_of(&text, "backup \"files\"")
        )]
    );
    // On different hosts the same names do not meet.
    let apart = text.replacen(
        "host     = \"root@files.a.example.org\"\n    to       = \"ouest\"",
        "host     = \"root@other.example.org\"\n    to       = \"ouest\"",
        1,
    );
    assert_eq!(codes(&apart), Vec::<&str>::new());
}

#[test]
fn backups_in_clear_over_a_public_network_are_a_warning() {
    // Without its https endpoint, ouest is reached at its nodes' public
    // names in clear.
    let clear = with("  s3_endpoint = \"https://s3.ouest.example.org\"\n", "");
    assert_eq!(codes(&clear), vec!["cleartext-s3"]);
    let http = with(
        "https://s3.ouest.example.org",
        "http://s3.ouest.example.org",
    );
    assert_eq!(codes(&http), vec!["cleartext-s3"]);
    // On a private network, http is the operator's call.
    for private in [
        "http://10.0.0.5:3900",
        "http://[fd00::5]:3900",
        "http://garage.lan:3900",
    ] {
        let text = with("https://s3.ouest.example.org", private);
        assert_eq!(codes(&text), Vec::<&str>::new(), "{private}");
    }
    // An island no backup goes to is not warned about.
    let no_backup_to_est = clear.replacen("to       = \"ouest\"", "to       = \"est\"", 1);
    assert!(codes(&no_backup_to_est).contains(&"backup-to-own-island"));
}

#[test]
fn a_removed_job_is_not_declared() {
    let text = with(
        "  backup \"files\" {",
        "  removed \"files\" {\n    host = \"root@old.a.example.org\"\n  }\n  backup \"files\" {",
    );
    assert_eq!(
        diagnostics(&text),
        vec![(
            "removed-still-declared",
            Severity::Error,
            line_of(&text, "removed \"files\"")
        )]
    );
}

/// A `notify` block names where its URL is, one way, never the URL.
#[test]
fn notify_names_where_its_url_is() {
    let notify = |body: &str| {
        with(
            "  contact = \"a@example.org\"\n",
            &format!("  contact = \"a@example.org\"\n  notify {{\n{body}  }}\n"),
        )
    };
    assert!(codes(&notify("    url_env = \"A_PING\"\n")).is_empty());
    assert!(
        codes(&notify(
            "    type = \"ntfy\"\n    url_file = \"/etc/ping\"\n"
        ))
        .is_empty()
    );
    assert_eq!(
        codes(&notify("    type = \"ntfy\"\n")),
        vec!["missing-attribute"]
    );
    assert_eq!(
        codes(&notify(
            "    url_env = \"A_PING\"\n    url_file = \"/etc/ping\"\n"
        )),
        vec!["conflicting-attributes"]
    );
    assert_eq!(
        codes(&notify(
            "    url_file = \"/etc/ping\"\n    url_version = 2\n"
        )),
        vec!["invalid-value"]
    );
    assert_eq!(
        codes(&notify("    url_env = \"2PING\"\n")),
        vec!["invalid-value"]
    );
    assert_eq!(
        codes(&notify("    url_file = \"ping\"\n")),
        vec!["invalid-path"]
    );
    assert_eq!(
        codes(&notify("    type = \"healthcheck\"\n    url_env = \"A\"\n")),
        vec!["invalid-value"]
    );
    // The URL itself is not an attribute.
    assert_eq!(
        codes(&notify("    url = \"https://hc-ping.com/x\"\n")),
        vec!["missing-attribute", "unknown-attribute"]
    );
    let twice = notify("    url_env = \"A\"\n  }\n  notify {\n    url_env = \"B\"\n");
    assert_eq!(codes(&twice), vec!["duplicate-block"]);
}
