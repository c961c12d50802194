//! A job's dumps and hooks: names, users, timeouts, one-line commands.

use crate::fixture::{codes, diagnostics, line_of, with};
use archipel_planner::diagnostic::Severity;

const QUOTA: &str = "    quota    = \"100G\"\n  }\n}\n\nchaton \"b\"";

/// The first job of the base file, with `blocks` added to it.
fn job_with(blocks: &str) -> String {
    with(
        QUOTA,
        &QUOTA.replacen("\n  }", &format!("\n{blocks}\n  }}"), 1),
    )
}

#[test]
fn dumps_and_hooks_as_an_operator_writes_them() {
    let text = job_with(
        r#"    before {
      command = "sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --on"
      timeout = "2m"
    }
    dump "nextcloud-db" {
      command = "pg_dump -Fc nextcloud"
      user    = "postgres"
      check   = "pg_restore --list"
    }
    dump "mail-db" {
      command = "mysqldump --defaults-file=/root/.my.cnf --single-transaction --all-databases"
    }
    after {
      command = "sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --off"
    }
    on_failure {
      command = "logger -t backup \"the backup of $ARCHIPEL_JOB failed: $ARCHIPEL_ERROR\""
      user    = "root"
    }"#,
    );
    assert_eq!(codes(&text), Vec::<&str>::new());
}

#[test]
fn dump_names_are_distinct_in_a_job() {
    let text = job_with(
        "    dump \"db\" {\n      command = \"pg_dump a\"\n    }\n    dump \"db\" {\n      command = \"pg_dump b\"\n    }",
    );
    let second = text.rfind("dump \"db\"").expect("second dump");
    assert_eq!(
        diagnostics(&text),
        vec![(
            "duplicate-dump",
            Severity::Error,
            text[..second].lines().count()
        )]
    );
}

#[test]
fn a_hook_is_written_once() {
    let text = job_with(
        "    before {\n      command = \"a\"\n    }\n    before {\n      command = \"b\"\n    }",
    );
    assert_eq!(codes(&text), vec!["duplicate-hook"]);
    assert_eq!(
        codes(&job_with(
            "    before \"x\" {\n      command = \"a\"\n    }"
        )),
        vec!["extra-label"]
    );
    assert_eq!(
        codes(&job_with("    befor {\n      command = \"a\"\n    }")),
        vec!["unknown-block"]
    );
}

#[test]
fn users_timeouts_and_commands_that_cannot_work() {
    let dump = |attributes: &str| {
        job_with(&format!(
            "    dump \"db\" {{\n      command = \"pg_dump db\"\n{attributes}\n    }}"
        ))
    };
    for bad in ["Postgres", "1000", "post gres", ""] {
        let text = dump(&format!("      user    = \"{bad}\""));
        assert_eq!(
            diagnostics(&text),
            vec![("invalid-user", Severity::Error, line_of(&text, "user    ="))],
            "{bad}"
        );
    }
    for (bad, code) in [
        ("\"0s\"", "out-of-range"),
        ("\"8d\"", "out-of-range"),
        ("\"10\"", "invalid-duration"),
        ("600", "invalid-duration"),
    ] {
        assert_eq!(
            codes(&dump(&format!("      timeout = {bad}"))),
            vec![code],
            "{bad}"
        );
    }
    assert_eq!(
        codes(&job_with(
            "    dump \"db\" {\n      user = \"postgres\"\n    }"
        )),
        vec!["missing-attribute"]
    );
    assert_eq!(
        codes(&job_with("    after {\n      command = \"  \"\n    }")),
        vec!["invalid-value"]
    );
    assert_eq!(
        codes(&job_with(
            "    after {\n      command = <<EOT\nline one\nline two\nEOT\n    }"
        )),
        vec!["invalid-command"]
    );
    // A heredoc of one line is one line.
    assert!(
        codes(&job_with(
            "    after {\n      command = <<EOT\nsystemctl start app\nEOT\n    }"
        ))
        .is_empty()
    );
}

#[test]
fn a_local_repository_stands_apart() {
    let local = |block: &str| job_with(&format!("    local {{\n{block}\n    }}"));
    assert!(
        codes(&local(
            "      path = \"/backup/restic/files\"\n      copy = \"*-*-* 05:00\"\n      keep = { daily = 3 }"
        ))
        .is_empty()
    );
    // The base job backs up /srv.
    let inside = local("      path = \"/srv/restic\"\n      copy = \"daily\"");
    assert_eq!(
        diagnostics(&inside),
        vec![(
            "local-inside-paths",
            Severity::Error,
            line_of(&inside, "/srv/restic")
        )]
    );
    assert_eq!(
        codes(&local("      path = \"/backup\"")),
        vec!["missing-attribute"]
    );
    for bad in ["\"backup\"", "\"/\"", "\"/my backups\""] {
        assert_eq!(
            codes(&local(&format!(
                "      path = {bad}\n      copy = \"daily\""
            ))),
            vec!["invalid-path"],
            "{bad}"
        );
    }
    // Keeping more locally than on the island sends forgotten snapshots
    // again at each copy (the base job keeps daily = 7).
    assert_eq!(
        codes(&local(
            "      path = \"/backup\"\n      copy = \"daily\"\n      keep = { daily = 30 }"
        )),
        vec!["local-keeps-more"]
    );
    assert_eq!(
        codes(&local(
            "      path = \"/backup\"\n      copy = \"daily\"\n    }\n    local {\n      path = \"/b2\"\n      copy = \"daily\""
        )),
        vec!["duplicate-block"]
    );
}

#[test]
fn two_jobs_of_a_host_keep_distinct_local_repositories() {
    let text = job_with(
        "    local {\n      path = \"/backup/restic\"\n      copy = \"daily\"\n    }\n  }\n\n  backup \"other\" {\n    host     = \"root@files.a.example.org\"\n    to       = \"est\"\n    paths    = [\"/home\"]\n    schedule = \"daily\"\n    keep     = { daily = 7 }\n    quota    = \"10G\"\n    local {\n      path = \"/backup/restic/other\"\n      copy = \"daily\"\n    }",
    );
    assert_eq!(codes(&text), vec!["duplicate-local"]);
}
