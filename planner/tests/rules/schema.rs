//! Blocks and attributes: what is known, required, of which type; every
//! error of a file at once, and what is only a warning.

use crate::fixture::{BASE, codes, diagnostics, line_of, with};
use archipel_planner::diagnostic::Severity;
use archipel_planner::source::Sources;

#[test]
fn the_base_is_valid_without_warnings() {
    assert_eq!(diagnostics(BASE), vec![]);
    let mut sources = Sources::new();
    sources.add("test.hcl", BASE);
    let model = archipel_planner::check(&sources).archipelago;
    let est = model.island("est").expect("est");
    assert_eq!(est.garage.rpc_port, 4901);
    assert_eq!(est.garage.s3_port, 3900);
    assert_eq!(est.garage.s3_region, "garage");
    assert_eq!(
        est.garage.sha256,
        "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    );
    let b = model.chaton("b").expect("b");
    assert_eq!(b.nodes[0].capacity.bytes(), 1_500_000_000_000);
    assert_eq!(b.nodes[0].ssh.port, Some(2222));
    assert_eq!(b.nodes[0].data_dir, "/var/lib/garage/data");
    assert_eq!(
        model.chaton("c").expect("c").nodes[0].capacity.bytes(),
        200 << 30
    );
    let mail = &model.chaton("d").expect("d").backups[0];
    assert_eq!(mail.keep.weekly, Some(4));
    assert_eq!(mail.exclude, vec!["*.tmp"]);
}

#[test]
fn unknown_blocks_and_attributes() {
    let text = with("chaton \"f\" {", "chatton \"f\" {");
    assert!(codes(&text).contains(&"unknown-block"));
    let text = with(
        "replication_factor = 2\n  }\n}\n\nisland",
        "replication_factr = 2\n  }\n}\n\nisland",
    );
    assert_eq!(codes(&text), vec!["missing-attribute", "unknown-attribute"]);
    let text = with("keep     = { daily = 7 }", "keep     = { dayly = 7 }");
    assert_eq!(codes(&text), vec!["unknown-attribute"]);
    let text = with(
        "  contact = \"a@example.org\"",
        "  contact = \"a@example.org\"\n  owner = \"x\"",
    );
    assert_eq!(codes(&text), vec!["unknown-attribute"]);
    let text = format!("{BASE}\nversion = 3\n");
    assert_eq!(codes(&text), vec!["unknown-attribute"]);
}

#[test]
fn missing_required_attributes_and_blocks() {
    assert_eq!(
        codes(&with("  contact = \"e@example.org\"\n", "")),
        vec!["missing-attribute"]
    );
    assert_eq!(
        codes(&with(
            "    capacity = \"500G\"\n  }\n}\n\nchaton \"f\"",
            "  }\n}\n\nchaton \"f\""
        )),
        vec!["missing-attribute"]
    );
    let no_garage = BASE.replacen(
        "island \"ouest\" {\n  s3_endpoint = \"https://s3.ouest.example.org\"\n  garage {\n    version            = \"2.5.0\"\n    binary             = \"/opt/garage\"\n    sha256             = \"0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\"\n    replication_factor = 2\n  }\n}",
        "island \"ouest\" {\n  s3_endpoint = \"https://s3.ouest.example.org\"\n}",
        1,
    );
    assert_eq!(codes(&no_garage), vec!["missing-block"]);
}

#[test]
fn wrong_types_name_what_was_expected() {
    assert_eq!(
        codes(&with(
            "replication_factor = 2",
            "replication_factor = \"2\""
        )),
        vec!["wrong-type"]
    );
    assert_eq!(
        codes(&with("paths    = [\"/srv\"]", "paths    = \"/srv\"")),
        vec!["wrong-type"]
    );
    assert_eq!(
        codes(&with("keep     = { daily = 7 }", "keep     = 7")),
        vec!["wrong-type"]
    );
    assert_eq!(
        codes(&with(
            "keep     = { daily = 7 }",
            "keep     = { daily = \"7\" }"
        )),
        vec!["wrong-type"]
    );
    assert_eq!(
        codes(&with(
            "keep     = { daily = 7 }",
            "keep     = { daily = 0 }"
        )),
        vec!["out-of-range"]
    );
    assert_eq!(
        codes(&with(
            "rpc_port           = 4901",
            "rpc_port           = 70000"
        )),
        vec!["out-of-range"]
    );
    assert_eq!(
        codes(&with(
            "db_engine          = \"sqlite\"",
            "db_engine          = \"sqlight\""
        )),
        vec!["invalid-value"]
    );
    assert_eq!(
        codes(&with("paths    = [\"/srv\"]", "paths    = [\"srv\"]")),
        vec!["invalid-path"]
    );
    assert_eq!(
        codes(&with("paths    = [\"/srv\"]", "paths    = []")),
        vec!["invalid-value"]
    );
}

#[test]
fn prevent_destroy_is_a_bool() {
    let text = with(
        "  contact = \"a@example.org\"\n",
        "  contact = \"a@example.org\"\n  prevent_destroy = \"yes\"\n",
    );
    assert_eq!(
        diagnostics(&text),
        vec![(
            "wrong-type",
            Severity::Error,
            line_of(&text, "prevent_destroy")
        )]
    );
    let text = with(
        "  contact = \"a@example.org\"\n",
        "  contact = \"a@example.org\"\n  prevent_destroy = true\n",
    );
    assert_eq!(diagnostics(&text), vec![]);
}

#[test]
fn risky_but_legal_is_a_warning() {
    let no_keep = with("    keep     = { daily = 7 }\n", "");
    assert_eq!(
        diagnostics(&no_keep)
            .iter()
            .map(|d| (d.0, d.1))
            .collect::<Vec<_>>(),
        vec![("no-retention", Severity::Warning)]
    );
    let no_quota = with("  quota   = \"10G\"\n", "");
    assert_eq!(codes(&no_quota), vec!["no-quota"]);
}

#[test]
fn every_error_at_once() {
    let text = with("replication_factor = 2", "replication_factor = \"2\"")
        .replacen("capacity = \"200GiB\"", "capacity = \"lots\"", 1)
        .replacen("schedule = \"daily\"", "schedule = \"nightly\"", 1)
        .replacen(
            "contact = \"e@example.org\"",
            "contakt = \"e@example.org\"",
            1,
        );
    assert_eq!(
        codes(&text),
        vec![
            "wrong-type",
            "invalid-schedule",
            "invalid-size",
            "missing-attribute",
            "unknown-attribute"
        ]
    );
}
