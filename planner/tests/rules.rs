//! Every validation rule, accepted and rejected, on small archipelagos.

use archipel_planner::diagnostic::Severity;
use archipel_planner::source::Sources;

/// A valid archipelago with no warnings: two islands of three chatons each,
/// every chaton backing up to the other island.
const BASE: &str = r#"
island "ouest" {
  s3_endpoint = "https://s3.ouest.example.org"
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

island "est" {
  s3_endpoint = "https://s3.est.example.org"
  garage {
    version            = "2.5.0"
    binary             = "https://example.org/garage"
    sha256             = "0F9EA4A2B5D0B7E4C8A1C6D3E2F1A0B9C8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3"
    replication_factor = 2
    db_engine          = "sqlite"
    rpc_port           = 4901
  }
}

chaton "a" {
  island  = "ouest"
  contact = "a@example.org"
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
  node "a-1" {
    ssh      = "root@a1.example.org"
    capacity = "500G"
  }
  backup "files" {
    host     = "root@files.a.example.org"
    to       = "est"
    paths    = ["/srv"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "100G"
  }
}

chaton "b" {
  island  = "ouest"
  contact = "b@example.org"
  node "b-1" {
    ssh      = "ops@b1.example.org:2222"
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    capacity = "1.5T"
  }
}

chaton "c" {
  island  = "ouest"
  contact = "c@example.org"
  node "c-1" {
    ssh      = "root@c1.example.org"
    capacity = "200GiB"
    data_dir = "/srv/garage/data"
  }
}

chaton "d" {
  island  = "est"
  contact = "d@example.org"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN d@example.org"]
  node "d-1" {
    ssh      = "root@d1.example.org"
    capacity = "500G"
  }
  backup "mail" {
    host     = "root@mail.d.example.org"
    to       = "ouest"
    paths    = ["/var/vmail", "/etc/postfix"]
    exclude  = ["*.tmp"]
    schedule = "Mon..Fri 02:30"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "200G"
  }
}

chaton "e" {
  island  = "est"
  contact = "e@example.org"
  node "e-1" {
    ssh      = "root@e1.example.org"
    capacity = "500G"
  }
}

chaton "f" {
  island  = "est"
  contact = "f@example.org"
  node "f-1" {
    ssh      = "root@f1.example.org"
    capacity = "500G"
  }
}

bucket "shared" {
  island  = "est"
  quota   = "10G"
  readers = ["d", "e"]
  writers = ["f"]
}
"#;

/// (code, severity, line) of every diagnostic.
fn diagnostics(text: &str) -> Vec<(&'static str, Severity, usize)> {
    let mut sources = Sources::new();
    let file = sources.add("test.hcl", text);
    archipel_planner::check(&sources)
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code,
                d.severity,
                sources.position(file, d.span.range.start).line,
            )
        })
        .collect()
}

fn codes(text: &str) -> Vec<&'static str> {
    diagnostics(text)
        .into_iter()
        .map(|(code, _, _)| code)
        .collect()
}

/// BASE with one replacement, which must apply.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle")]
        .matches('\n')
        .count()
        + 1
}

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
fn syntax_errors_point_at_the_place() {
    let text = with("version            = \"2.5.0\"", "version = \"2.5.0");
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "syntax");
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
fn the_garage_binary_must_be_pinned() {
    let text = with(
        "    sha256             = \"0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\"\n",
        "",
    );
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "missing-attribute");
    assert_eq!(
        codes(&with(
            "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3\"",
            "0f9e\""
        )),
        vec!["invalid-sha256"]
    );
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
fn expressions_are_not_evaluated() {
    for value in [
        "\"${var.size}\"",
        "var.size",
        "upper(\"x\")",
        "1 + 1",
        "true ? \"a\" : \"b\"",
        "\"%{ if true }x%{ endif }\"",
    ] {
        let text = with("capacity = \"200GiB\"", &format!("capacity = {value}"));
        assert_eq!(codes(&text), vec!["unevaluated-expression"], "{value}");
    }
    // A heredoc without interpolation is a literal string.
    let text = with(
        "contact = \"a@example.org\"",
        "contact = <<EOT\n  a@example.org\n  EOT",
    );
    assert_eq!(codes(&text), Vec::<&str>::new());
}

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

#[test]
fn duplicate_names() {
    let text = format!(
        "{BASE}\nchaton \"f\" {{\n  island  = \"est\"\n  contact = \"x@example.org\"\n}}\n"
    );
    let found = diagnostics(&text);
    assert_eq!(
        found.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec!["duplicate-name"]
    );
    assert_eq!(
        found[0].2,
        line_of(
            &text,
            "chaton \"f\" {\n  island  = \"est\"\n  contact = \"x@"
        )
    );
    assert_eq!(
        codes(&with("node \"e-1\"", "node \"d-1\"")),
        vec!["duplicate-name"]
    );
    assert_eq!(
        codes(&with(
            "backup \"mail\"",
            "backup \"mail\" {\n    host = \"root@x\"\n    to = \"ouest\"\n    paths = [\"/x\"]\n    schedule = \"daily\"\n    keep = { daily = 1 }\n    quota = \"1G\"\n  }\n  backup \"mail\""
        )),
        vec!["duplicate-name"]
    );
    assert_eq!(
        codes(&with("island \"est\" {", "island \"ouest\" {")).first(),
        Some(&"duplicate-name")
    );
}

#[test]
fn a_chaton_sits_in_one_island() {
    let text = format!(
        "{BASE}\nchaton \"a\" {{\n  island  = \"est\"\n  contact = \"a@example.org\"\n}}\n"
    );
    assert_eq!(codes(&text), vec!["chaton-in-several-islands"]);
}

#[test]
fn references_must_resolve() {
    assert_eq!(
        codes(&with("to       = \"est\"", "to       = \"eest\"")),
        vec!["undefined-reference"]
    );
    assert_eq!(
        codes(&with(
            "island  = \"ouest\"\n  contact = \"c",
            "island  = \"north\"\n  contact = \"c"
        )),
        vec!["undefined-reference"]
    );
    assert_eq!(
        codes(&with(
            "readers = [\"d\", \"e\"]",
            "readers = [\"d\", \"z\"]"
        )),
        vec!["undefined-reference"]
    );
    assert_eq!(
        codes(&with(
            "island  = \"est\"\n  quota",
            "island  = \"nord\"\n  quota"
        )),
        vec!["undefined-reference"]
    );
}

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
fn zones_must_cover_the_replication_factor() {
    // ouest has 3 zones: RF 3 is legal but leaves no spare zone, RF 4 is not.
    let three = with("replication_factor = 2", "replication_factor = 3");
    assert_eq!(
        diagnostics(&three),
        vec![(
            "no-spare-zone",
            Severity::Warning,
            line_of(&three, "replication_factor = 3")
        )]
    );
    assert_eq!(
        codes(&with("replication_factor = 2", "replication_factor = 4")),
        vec!["too-few-zones"]
    );
    // Zones are chatons, not nodes: a second node of chaton "a" does not
    // make up for chaton "c" moving to the other island.
    let two_zones = with("replication_factor = 2", "replication_factor = 3")
        .replacen("chaton \"c\" {\n  island  = \"ouest\"", "chaton \"c\" {\n  island  = \"est\"", 1)
        .replacen(
            "  node \"a-1\" {",
            "  node \"a-2\" {\n    ssh      = \"root@a2.example.org\"\n    capacity = \"500G\"\n  }\n  node \"a-1\" {",
            1,
        );
    assert_eq!(codes(&two_zones), vec!["too-few-zones"]);
}

#[test]
fn quotas_must_fit_the_usable_capacity() {
    // est: three zones of 500G, RF 2. 1.5T / 2 = 750G, but Garage's 256
    // partitions fit about 748.5G: 171 partitions of 2.924G per node.
    // 100G + 10G used.
    assert_eq!(
        codes(&with("quota    = \"100G\"", "quota    = \"738G\"")),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("quota    = \"100G\"", "quota    = \"740G\"")),
        vec!["quota-exceeds-capacity"]
    );
    // Uneven zones: each of the three copies needs its own zone, so the
    // smallest zone bounds the island. ouest: a 500G, b 1.5T, c 200GiB, RF 3
    // (with a spare zone less, so no-spare-zone too): about 215G.
    let uneven = with("replication_factor = 2", "replication_factor = 3").replacen(
        "quota    = \"200G\"",
        "quota    = \"220G\"",
        1,
    );
    assert_eq!(
        codes(&uneven),
        vec!["quota-exceeds-capacity", "no-spare-zone"]
    );
    let fits = uneven.replacen("quota    = \"220G\"", "quota    = \"210G\"", 1);
    assert_eq!(codes(&fits), vec!["no-spare-zone"]);
    assert_eq!(
        codes(&with("quota   = \"10G\"", "quota   = \"1T\"")),
        vec!["quota-exceeds-capacity"]
    );
}

#[test]
fn one_node_per_machine() {
    assert_eq!(
        codes(&with("root@e1.example.org", "root@D1.example.org:22")),
        vec!["duplicate-ssh-target"]
    );
    // Two machines behind one NAT address, told apart by their SSH port:
    // distinct machines, but Garage would reach both at one RPC address.
    assert_eq!(
        codes(&with("root@e1.example.org", "root@d1.example.org:2200")),
        vec!["duplicate-rpc-address"]
    );
    assert_eq!(
        codes(&with(
            "ssh      = \"root@e1.example.org\"",
            "ssh      = \"root@d1.example.org:2200\"\n    rpc_public_addr = \"d1.example.org:3902\""
        )),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("root@e1.example.org", "root@")),
        vec!["invalid-ssh-target"]
    );
}

#[test]
fn host_keys_are_checked() {
    assert_eq!(
        codes(&with("ssh-ed25519 AAAAC3Nza", "ssh-dss AAAAC3Nza")),
        vec!["invalid-host-key"]
    );
    assert_eq!(
        codes(&with("ssh-ed25519 AAAAC3Nza", "ssh-ed25519 !!!!C3Nza")),
        vec!["invalid-host-key"]
    );
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

#[test]
fn several_files_form_one_archipelago() {
    let split = BASE.find("chaton \"a\"").expect("split");
    let mut sources = Sources::new();
    sources.add("islands.hcl", &BASE[..split]);
    sources.add("chatons.hcl", &BASE[split..]);
    let checked = archipel_planner::check(&sources);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.archipelago.chatons.len(), 6);

    // A syntax error in one file does not turn into "undefined island" elsewhere.
    let mut sources = Sources::new();
    sources.add("islands.hcl", format!("{} oops", &BASE[..split]));
    sources.add("chatons.hcl", &BASE[split..]);
    let checked = archipel_planner::check(&sources);
    assert_eq!(
        checked
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        vec!["syntax"]
    );
}

/// Found by fuzzing: a syntax error inside a multi-byte character.
#[test]
fn syntax_error_inside_a_multibyte_character() {
    let bytes = b"island \"ouest\" {\n  garigd {\n    version = \"2.5.0\xff\xfe\"\n  }\n#\xb3";
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(codes(&text), vec!["syntax"]);
}

/// Found by fuzzing: strings nested in `${…}` line after line, none closed
/// on its line. The parser (which accepts a line break in a quoted string,
/// where HCL does not) takes a time that doubles with each line: forty
/// would take days. The file is refused before it reaches the parser, at
/// the first string that holds a line break, and `fmt` refuses it the
/// same way.
#[test]
fn strings_over_several_lines_are_refused_before_the_parser() {
    let text = format!("x = \"\n{}", "\"/e/\"${e/\"\n".repeat(40));
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "syntax");
    assert_eq!(found[0].2, 1);
    let mut sources = Sources::new();
    let file = sources.add("test.hcl", text.as_str());
    let error = archipel_planner::format::format_file(&sources, file).unwrap_err();
    assert!(
        error
            .message
            .contains("a quoted string may not be split over several lines"),
        "{}",
        error.message
    );
}

/// Nesting deeper than any archipelago needs — strings in `${…}`, or
/// objects, lists and parentheses left open (a fuzz finding: 1.7 KB of
/// objects some twenty deep took the parser more than 10 s) — is refused
/// before the parser too, where the level too many opens, and `fmt`
/// refuses it the same way.
#[test]
fn nesting_too_deep_is_refused_before_the_parser() {
    let strings = format!("x = {}{}\n", "\"${".repeat(40), "}\"".repeat(40));
    let objects = format!(
        "archipelago \"a\" {{\n  keep = {}\n",
        "{ daily = 6, a2 = \"2.5.\"/opt/gwe*".repeat(30)
    );
    let mixed = format!("x = {}\n", "[f(({ a = ".repeat(10));
    for (text, line) in [(strings, 1), (objects, 2), (mixed, 1)] {
        let found = diagnostics(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].2), ("syntax", line), "{text}");
        let mut sources = Sources::new();
        let file = sources.add("test.hcl", text.as_str());
        let error = archipel_planner::format::format_file(&sources, file).unwrap_err();
        assert!(
            error.message.contains("nested more than 16 deep"),
            "{}",
            error.message
        );
    }
    // Five levels, as deep as an archipelago goes, are fine.
    assert!(
        codes("archipelago \"a\" {\n  x = [{ a = (\"${b}\") }]\n}\n")
            .iter()
            .all(|code| *code != "syntax")
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
fn a_machine_is_its_host_and_port() {
    // Two backup hosts behind one NAT address: two machines, two names.
    let text = with("root@files.a.example.org", "root@203.0.113.5:2201").replacen(
        "root@mail.d.example.org",
        "backup@203.0.113.5:2202",
        1,
    );
    let mut sources = Sources::new();
    sources.add("test.hcl", &text);
    let checked = archipel_planner::check(&sources);
    assert_eq!(checked.diagnostics.len(), 0, "{:?}", checked.diagnostics);
    let names: Vec<String> = checked
        .archipelago
        .machines()
        .into_iter()
        .filter(|m| m.node.is_none())
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["203.0.113.5:2201", "203.0.113.5:2202"]);
    // The user is not part of the machine: root@ and backup@ one host are
    // one machine, with both jobs.
    let text = with("root@files.a.example.org", "backup@mail.d.example.org");
    let mut sources = Sources::new();
    sources.add("test.hcl", &text);
    let checked = archipel_planner::check(&sources);
    let hosts: Vec<_> = checked
        .archipelago
        .machines()
        .into_iter()
        .filter(|m| m.node.is_none())
        .collect();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].backups, ["a/files", "d/mail"]);
    // A backup host that is named like a node but is another machine.
    assert_eq!(
        codes(&with("root@files.a.example.org", "root@e-1")),
        vec!["duplicate-machine-name"]
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

/// Syntax errors people bring from JSON, YAML and shell get a hint, and an
/// unclosed block is shown where it opens, not at the end of the file.
#[test]
fn common_syntax_mistakes_get_a_hint() {
    let first = |text: &str| {
        let mut sources = Sources::new();
        let file = sources.add("test.hcl", text);
        let checked = archipel_planner::check(&sources);
        let d = checked.diagnostics[0].clone();
        let line = sources.position(file, d.span.range.start).line;
        (d.code, d.message, d.help.unwrap_or_default(), line)
    };
    let (code, _, help, line) = first("chaton 'a' {\n}\n");
    assert_eq!((code, line), ("syntax", 1));
    assert!(help.contains("double quotes"), "{help}");
    let (_, _, help, line) = first("chaton \"a\" {\n  island: \"x\"\n}\n");
    assert!(help.contains("`island = …`"), "{help}");
    assert_eq!(line, 2);
    let (_, message, help, line) =
        first("chaton \"a\" {\n  island = \"x\"\n\nbucket \"b\" {\n  island = \"x\"\n}\n");
    assert_eq!(line, 1, "{message}");
    assert!(
        message.contains("`chaton \"a\" {` is never closed"),
        "{message}"
    );
    assert!(help.contains("add the `}`"), "{help}");
    let (_, message, _, line) = first("chaton \"a\" {\n}\n}\n");
    assert!(message.contains("closes no block"), "{message}");
    assert_eq!(line, 3);
    let (_, _, help, _) = first("\u{feff}chaton \"a\" {\n}\n");
    assert!(help.contains("byte order mark"), "{help}");
    let text = "chaton \"a\" {\n  island  = sud\n  contact = \"a@b.c\"\n}\n";
    let mut sources = Sources::new();
    sources.add("test.hcl", text);
    let checked = archipel_planner::check(&sources);
    let unquoted = checked
        .diagnostics
        .iter()
        .find(|d| d.code == "unevaluated-expression")
        .expect("the bare word is reported");
    assert!(
        unquoted
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("\"sud\""),
        "{unquoted:?}"
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
