//! `archipel fmt`: canonical, idempotent, and it never changes meaning or
//! drops a comment.

use archipel_planner::format::{check_equivalent, format_text};
use proptest::prelude::*;

const MESSY: &str = r#"# The archipelago of the west.

# Islands first.
island "ouest" {   # the first island
    garage {
  version = "2.5.0"    # pinned
      binary="/opt/garage"
  /* verified below */ sha256 = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"


      replication_factor     = 3
    }
}
chaton "picasoft" {
  island = "ouest"
  contact = "technique@picasoft.net"
  node "pica-1" {
    ssh = "root@pica1.picasoft.net"
    capacity = "500G" // SI bytes
  }
  backup "nextcloud" {
    host = "root@cloud.picasoft.net"
    to = "est"
    paths = [
      "/var/www/nextcloud/data", # user files
      # and the config:
      "/var/www/nextcloud/config"
    ]
    exclude = [ "*.part" ,"cache/" ]
    schedule = "*-*-* 03:00"
    keep = {
      # a week of dailies
      daily = 7
      weekly = 4,
      monthly = 6 # half a year
    }
    quota = "200G"
  }

  # no more backups yet
}
bucket "shared" {}
# end of file
"#;

#[test]
fn messy_file_in_canonical_form() {
    let formatted = format_text(MESSY).expect("valid HCL");
    insta::assert_snapshot!(formatted);
    assert_eq!(format_text(&formatted).expect("valid"), formatted);
    assert_eq!(check_equivalent(MESSY, &formatted), Ok(()));
    assert_eq!(
        hcl::parse(MESSY).expect("parse"),
        hcl::parse(&formatted).expect("parse")
    );
}

#[test]
fn examples_are_formatted() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for dir in ["single-island", "archipelago"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("examples") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            assert_eq!(
                format_text(&text).expect("valid"),
                text,
                "{} is not formatted",
                path.display()
            );
        }
    }
}

/// Every input the fuzzer (`fuzz/run`) ever found a fault with, kept in
/// `tests/fmt-findings/`: each formats to a faithful, idempotent result.
#[test]
fn fuzz_findings_format_faithfully() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt-findings");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/fmt-findings exists") {
        let path = entry.unwrap().path();
        // Bytes, read as the fuzz target reads them.
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        seen += 1;
        let Ok(formatted) = format_text(&text) else {
            continue; // a syntax error is a fine answer, as long as nothing is written
        };
        assert_eq!(
            check_equivalent(&text, &formatted),
            Ok(()),
            "{}",
            path.display()
        );
        assert_eq!(
            format_text(&formatted).unwrap(),
            formatted,
            "{}",
            path.display()
        );
    }
    assert!(seen > 0, "no finding read from {}", dir.display());
}

#[test]
fn a_block_comment_opening_with_a_slash_is_kept_whole() {
    let text = "/*/ note */\nisland \"a\" {}\n";
    let formatted = format_text(text).unwrap();
    assert_eq!(formatted, text);
    assert_eq!(check_equivalent(text, &formatted), Ok(()));
}

#[test]
fn a_result_that_loses_a_comment_or_meaning_is_refused() {
    let text = "# keep me\nx = 1\n";
    assert!(
        check_equivalent(text, "x = 1\n")
            .unwrap_err()
            .contains("keep me")
    );
    assert!(
        check_equivalent(text, "# keep me\nx = 2\n")
            .unwrap_err()
            .contains("mean")
    );
    assert!(
        check_equivalent(text, "# keep me\nx = {\n")
            .unwrap_err()
            .contains("parse")
    );
    // Text that looks like a comment inside strings and heredocs is not one.
    let tricky = "a = \"# not ${\"//\"} /*\"\nb = <<EOF\n# not either\nEOF\n# real\n";
    assert!(
        check_equivalent(
            tricky,
            "a = \"# not ${\"//\"} /*\"\nb = <<EOF\n# not either\nEOF\n"
        )
        .is_err()
    );
    assert_eq!(check_equivalent(tricky, tricky), Ok(()));
}

// --- random files ----------------------------------------------------------

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Num(u32),
    List(Vec<Value>, bool),
    Object(Vec<(String, Value)>, bool),
}

#[derive(Debug, Clone)]
enum Item {
    Attribute(String, Value),
    Block(String, Option<String>, Vec<Item>),
}

/// Layout noise: spaces, blank lines and comments in the places users put them.
#[derive(Debug, Clone)]
struct Style {
    indent: usize,
    blank_lines: usize,
    comment_before: Option<String>,
    comment_after: Option<String>,
    spaces: usize,
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,8}"
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ,.]{0,20}".prop_map(|t| format!("# {t}")),
        "[a-zA-Z0-9 ,.]{0,20}".prop_map(|t| format!("// {t}")),
        "[a-zA-Z0-9 ,.]{0,20}".prop_map(|t| format!("/* {t} */")),
        // Block comments whose opening and closing overlap in a naive scan.
        "[a-zA-Z0-9 ,.]{0,20}".prop_map(|t| format!("/*/ {t} */")),
        "[a-zA-Z0-9 ,.*/]{0,20}"
            .prop_filter("a comment cannot hold its end", |t| !format!("*{t}")
                .contains("*/")
                && !t.ends_with('*'))
            .prop_map(|t| format!("/**{t}*/")),
    ]
}

fn style() -> impl Strategy<Value = Style> {
    (
        0..6usize,
        0..3usize,
        proptest::option::of(comment()),
        proptest::option::of(comment()),
        0..3usize,
    )
        .prop_map(
            |(indent, blank_lines, comment_before, comment_after, spaces)| Style {
                indent,
                blank_lines,
                comment_before,
                comment_after,
                spaces,
            },
        )
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        "[a-z0-9 /*.@-]{0,12}".prop_map(Value::Str),
        any::<u32>().prop_map(Value::Num),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 0..4),
                any::<bool>()
            )
                .prop_map(|(v, m)| Value::List(v, m)),
            (
                proptest::collection::vec((ident(), inner), 0..4),
                any::<bool>()
            )
                .prop_map(|(v, m)| {
                    // Object keys are unique.
                    let mut seen = std::collections::BTreeSet::new();
                    Value::Object(
                        v.into_iter()
                            .filter(|(k, _)| seen.insert(k.clone()))
                            .collect(),
                        m,
                    )
                }),
        ]
    })
}

fn items(depth: u32) -> BoxedStrategy<Vec<(Item, Style)>> {
    let attribute = (ident(), value()).prop_map(|(k, v)| Item::Attribute(k, v));
    let item = if depth == 0 {
        attribute.boxed()
    } else {
        prop_oneof![
            3 => attribute,
            1 => (ident(), proptest::option::of("[a-z0-9-]{1,8}"), items(depth - 1))
                .prop_map(|(i, l, body)| Item::Block(i, l, body.into_iter().map(|(item, _)| item).collect())),
        ]
        .boxed()
    };
    proptest::collection::vec((item, style()), 0..6)
        .prop_map(|items| {
            // Attribute keys are unique within a body.
            let mut seen = std::collections::BTreeSet::new();
            items
                .into_iter()
                .filter(|(item, _)| match item {
                    Item::Attribute(k, _) => seen.insert(k.clone()),
                    Item::Block(..) => true,
                })
                .collect()
        })
        .boxed()
}

fn render_value(value: &Value, out: &mut String) {
    match value {
        Value::Str(s) => out.push_str(&format!("\"{s}\"")),
        Value::Num(n) => out.push_str(&n.to_string()),
        Value::List(items, multiline) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if *multiline {
                    out.push_str("\n   ");
                } else if i > 0 {
                    out.push(' ');
                }
                render_value(item, out);
                if *multiline || i + 1 < items.len() {
                    out.push(',');
                }
                if *multiline && i == 0 {
                    out.push_str(" # first item");
                }
            }
            if *multiline {
                out.push('\n');
            }
            out.push(']');
        }
        Value::Object(items, multiline) => {
            out.push('{');
            for (i, (k, v)) in items.iter().enumerate() {
                if *multiline {
                    out.push_str("\n     ");
                } else {
                    out.push(' ');
                }
                out.push_str(k);
                out.push_str(" = ");
                render_value(v, out);
                if !*multiline && i + 1 < items.len() {
                    out.push(',');
                }
            }
            out.push_str(if *multiline { "\n}" } else { " }" });
        }
    }
}

fn render(items: &[(Item, Style)], out: &mut String) {
    for (item, style) in items {
        out.push_str(&"\n".repeat(style.blank_lines));
        if let Some(comment) = &style.comment_before {
            out.push_str(&" ".repeat(style.indent));
            out.push_str(comment);
            out.push('\n');
        }
        out.push_str(&" ".repeat(style.indent));
        match item {
            Item::Attribute(key, value) => {
                out.push_str(key);
                out.push_str(&" ".repeat(style.spaces));
                out.push('=');
                out.push_str(&" ".repeat(style.spaces + 1));
                render_value(value, out);
            }
            Item::Block(ident, label, body) => {
                out.push_str(ident);
                if let Some(label) = label {
                    out.push_str(&format!(" \"{label}\""));
                }
                out.push_str(" {\n");
                let styled: Vec<(Item, Style)> = body
                    .iter()
                    .map(|i| {
                        (
                            i.clone(),
                            Style {
                                indent: style.indent + 2,
                                blank_lines: 0,
                                comment_before: None,
                                comment_after: style.comment_after.clone(),
                                spaces: style.spaces,
                            },
                        )
                    })
                    .collect();
                render(&styled, out);
                out.push_str(&" ".repeat(style.indent));
                out.push('}');
            }
        }
        if let Some(comment) = &style.comment_after {
            out.push_str(&" ".repeat(style.spaces + 1));
            out.push_str(comment);
        }
        out.push('\n');
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fmt_is_idempotent_keeps_meaning_and_comments(file in items(2)) {
        let mut text = String::new();
        render(&file, &mut text);
        let original = hcl::parse(&text).expect("generated HCL parses");
        let formatted = format_text(&text).expect("generated HCL formats");
        prop_assert_eq!(&format_text(&formatted).expect("formatted HCL parses"), &formatted, "not idempotent for:\n{}", text);
        prop_assert_eq!(hcl::parse(&formatted).expect("formatted HCL parses"), original, "meaning changed:\n{}\n---\n{}", text, formatted);
        prop_assert_eq!(check_equivalent(&text, &formatted), Ok(()), "comments changed:\n{}\n---\n{}", text, formatted);
    }
}

#[test]
fn strings_are_written_as_they_were_not_re_encoded() {
    // hcl-edit's encoder turns the value `%%%%{` back into `%%%%{`, which
    // reads as `%%%{`: fmt keeps the text as written instead.
    for text in [
        "a = \"%%%%%{\"\n",
        "a = [\"x\", \"$$${y\"]\n",
        "island \"%%%{\" {}\n",
    ] {
        let formatted = format_text(text).unwrap();
        assert_eq!(check_equivalent(text, &formatted), Ok(()), "{text}");
    }
}

#[test]
fn a_comment_inside_a_one_line_list_or_object_is_kept() {
    for text in [
        "a = [/* c */ \"x\"]\n",
        "s = { /*/**/ }\n",
        "o = { a = 1 /* why */ }\n",
    ] {
        let formatted = format_text(text).unwrap();
        assert_eq!(
            check_equivalent(text, &formatted),
            Ok(()),
            "{text} -> {formatted}"
        );
        assert_eq!(format_text(&formatted).unwrap(), formatted);
    }
}
