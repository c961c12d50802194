//! The language reference documents every block and attribute the parser
//! knows, and every diagnostic code it emits from the examples.

use archipel_planner::language::SCHEMAS;

#[test]
fn every_block_and_attribute_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"))
        .expect("docs/language.md");
    for schema in SCHEMAS {
        if schema.block != "archipelago" {
            assert!(
                docs.contains(&format!("## `{}", schema.block))
                    || docs.contains(&format!("### `{}", schema.block)),
                "docs/language.md has no section for the {} block",
                schema.block
            );
        }
        for attribute in schema.attributes {
            assert!(
                docs.contains(&format!("| `{attribute}` |")),
                "docs/language.md does not document `{attribute}` of {}",
                schema.block
            );
        }
    }
}

#[test]
fn every_diagnostic_code_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"))
        .expect("docs/language.md");
    // Codes are emitted by the files of the language and of validate/.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let language = std::fs::read_dir(src.join("language"))
        .expect("src/language")
        .map(|entry| entry.expect("src/language").path());
    let rules = std::fs::read_dir(src.join("validate"))
        .expect("src/validate")
        .map(|entry| entry.expect("src/validate").path());
    let sources: String = language
        .chain(rules)
        .map(|path| std::fs::read_to_string(path).expect("source"))
        .collect();
    // Codes are the first string argument of Diagnostic::error/warning and
    // Decoder::error: the kebab-case literals right after `(`.
    let mut codes = std::collections::BTreeSet::new();
    for chunk in sources
        .split("error(")
        .chain(sources.split("warning("))
        .skip(1)
    {
        let chunk = chunk.trim_start();
        if let Some(rest) = chunk.strip_prefix('"')
            && let Some(end) = rest.find('"')
        {
            let code = &rest[..end];
            if !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            {
                codes.insert(code.to_string());
            }
        }
    }
    assert!(codes.len() > 20, "found only {codes:?}");
    for code in codes {
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/language.md does not mention the code `{code}`"
        );
    }
}
