//! `archipel fmt`: canonical, idempotent, and it never changes meaning or
//! drops a comment.

use archipel_planner::format::format_text;
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
    assert_eq!(comments(MESSY), comments(&formatted));
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

/// Every comment of a text, trimmed, sorted: what fmt must preserve.
fn comments(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if c == '\\' {
                rest = &rest[c.len_utf8()..];
                if let Some(next) = rest.chars().next() {
                    rest = &rest[next.len_utf8()..];
                }
                continue;
            }
            if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let len = if c == '#' || rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            rest.find("*/").map_or(rest.len(), |i| i + 2)
        } else {
            0
        };
        if len > 0 {
            found.push(rest[..len].trim().to_string());
            rest = &rest[len..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        rest = &rest[c.len_utf8()..];
    }
    found.sort();
    found
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
        prop_assert_eq!(comments(&formatted), comments(&text), "comments changed:\n{}\n---\n{}", text, formatted);
    }
}
