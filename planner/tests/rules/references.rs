//! Names across blocks: each defined once, each reference resolved.

use crate::fixture::{BASE, codes, diagnostics, line_of, with};

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
