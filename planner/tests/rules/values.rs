//! Values: sizes, schedules, names, and values that cannot work.

use crate::fixture::{BASE, codes, line_of, with};
use archipel_planner::source::Sources;

#[test]
fn sizes() {
    for good in ["1T", "750 G", "0.5T", "512GiB", "1024B"] {
        assert_eq!(
            codes(&with(
                "capacity = \"200GiB\"",
                &format!("capacity = \"{good}\"")
            )),
            Vec::<&str>::new(),
            "{good}"
        );
    }
    for bad in ["500", "2Tb", "lots", "1.5B", "100B"] {
        assert_eq!(
            codes(&with(
                "capacity = \"200GiB\"",
                &format!("capacity = \"{bad}\"")
            )),
            vec!["invalid-size"],
            "{bad}"
        );
    }
    assert_eq!(
        codes(&with("capacity = \"200GiB\"", "capacity = 500")),
        vec!["invalid-size"]
    );
}

#[test]
fn schedules() {
    for good in [
        "weekly",
        "*-*-* 03:00",
        "Mon..Fri 02:30",
        "Sat,Sun 04:00",
        "*-*-1,15 05:00",
        "*:0/15",
    ] {
        assert_eq!(
            codes(&with(
                "schedule = \"daily\"",
                &format!("schedule = \"{good}\"")
            )),
            Vec::<&str>::new(),
            "{good}"
        );
    }
    for bad in ["every night", "*-*-* 24:00", "Mo 02:00", "02:00 *-*-*"] {
        assert_eq!(
            codes(&with(
                "schedule = \"daily\"",
                &format!("schedule = \"{bad}\"")
            )),
            vec!["invalid-schedule"],
            "{bad}"
        );
    }
}

#[test]
fn names_are_checked() {
    assert_eq!(
        codes(&with("chaton \"f\" {", "chaton \"F\" {")),
        vec!["invalid-name", "undefined-reference"]
    );
    assert_eq!(
        codes(&with("bucket \"shared\"", "bucket \"backup-x\"")),
        vec!["invalid-name"]
    );
    assert_eq!(
        codes(&with("node \"f-1\" {", "node \"f 1\" {")),
        vec!["invalid-name"]
    );
}

/// What the language reference says about names and attributes is what the
/// rules do.
#[test]
fn names_and_attributes_as_documented() {
    // Buckets: 3 to 63 characters, not the 48 of other names.
    let long_bucket = "b".repeat(60);
    assert_eq!(
        codes(&with(
            "bucket \"shared\"",
            &format!("bucket \"{long_bucket}\"")
        )),
        Vec::<&str>::new()
    );
    let too_long = "b".repeat(64);
    assert_eq!(
        codes(&with(
            "bucket \"shared\"",
            &format!("bucket \"{too_long}\"")
        )),
        vec!["invalid-name"]
    );
    assert_eq!(
        codes(&with("bucket \"shared\"", "bucket \"Shared\"")),
        vec!["invalid-name"]
    );
    let long_chaton = "f".repeat(49);
    assert!(codes(&BASE.replace("\"f\"", &format!("\"{long_chaton}\""))).contains(&"invalid-name"));
    // An attribute set twice has its own code, and shows the first place.
    let twice = with(
        "contact = \"a@example.org\"",
        "contact = \"a@example.org\"\n  contact = \"b@example.org\"",
    );
    let mut sources = Sources::new();
    sources.add("test.hcl", &twice);
    let checked = archipel_planner::check(&sources);
    assert_eq!(checked.diagnostics.len(), 1, "{:?}", checked.diagnostics);
    assert_eq!(checked.diagnostics[0].code, "duplicate-attribute");
    assert_eq!(checked.diagnostics[0].related.len(), 1);
    assert_eq!(
        sources
            .position(
                checked.diagnostics[0].related[0].span.file,
                checked.diagnostics[0].related[0].span.range.start
            )
            .line,
        line_of(&twice, "contact = \"a@example.org\"")
    );
}

#[test]
fn values_that_cannot_work_are_refused() {
    let cases = [
        // An RPC address that is not HOST:PORT.
        (
            "ssh      = \"root@e1.example.org\"",
            "ssh      = \"root@e1.example.org\"\n    rpc_public_addr = \"e1.example.org\"",
            "invalid-value",
        ),
        (
            "ssh      = \"root@e1.example.org\"",
            "ssh      = \"root@e1.example.org\"\n    rpc_public_addr = \"e1.example.org:0\"",
            "invalid-value",
        ),
        (
            "ssh      = \"root@e1.example.org\"",
            "ssh      = \"root@e1.example.org\"\n    rpc_public_addr = \"fd00::1:3901\"",
            "invalid-value",
        ),
        ("quota    = \"100G\"", "quota    = \"0G\"", "invalid-size"),
        ("quota   = \"10G\"", "quota   = \"0\"", "invalid-size"),
        (
            "contact = \"a@example.org\"",
            "contact = \" \"",
            "invalid-value",
        ),
        (
            "writers = [\"f\"]",
            "writers = [\"f\", \"f\"]",
            "duplicate-value",
        ),
        (
            "paths    = [\"/srv\"]",
            "paths    = [\"/srv\", \"/srv\"]",
            "duplicate-value",
        ),
        (
            "exclude  = [\"*.tmp\"]",
            "exclude  = [\"*.tmp\", \"\"]",
            "invalid-value",
        ),
    ];
    for (from, to, code) in cases {
        assert_eq!(codes(&with(from, to)), vec![code], "{to}");
    }
    // The duplicate points at its second place, the first one related.
    let text = with("writers = [\"f\"]", "writers = [\"f\", \"f\"]");
    let mut sources = Sources::new();
    sources.add("test.hcl", &text);
    let checked = archipel_planner::check(&sources);
    assert_eq!(checked.diagnostics[0].related.len(), 1);
    assert!(
        checked.diagnostics[0]
            .message
            .contains("\"f\" is listed twice in `writers`")
    );
    // Addresses that are HOST:PORT are fine.
    for good in ["e1.example.org:3901", "203.0.113.5:3901", "[fd00::1]:3901"] {
        let text = with(
            "ssh      = \"root@e1.example.org\"",
            &format!("ssh      = \"root@e1.example.org\"\n    rpc_public_addr = \"{good}\""),
        );
        assert_eq!(codes(&text), Vec::<&str>::new(), "{good}");
    }
}
