//! The file as text: syntax errors where they are, with a hint for the
//! usual mistakes; what is refused before the parser; expressions left
//! unevaluated; several files as one.

use crate::fixture::{BASE, codes, diagnostics, with};
use archipel_planner::source::Sources;

#[test]
fn syntax_errors_point_at_the_place() {
    let text = with("version            = \"2.5.0\"", "version = \"2.5.0");
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "syntax");
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
