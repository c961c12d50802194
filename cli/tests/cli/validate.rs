//! `archipel validate`: the examples, valid and invalid, in text and JSON;
//! files that are not there.

use crate::fixture::{archipel, examples};

/// Each file in examples/invalid breaks one rule; its rendered diagnostics
/// are a snapshot, and validate exits 1 (0 for the warnings-only file).
#[test]
fn invalid_examples() {
    insta::glob!("../../../examples/invalid", "*.hcl", |path| {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let output = archipel()
            .current_dir(path.parent().expect("dir"))
            .args(["validate", "-f", &name])
            .output()
            .expect("run archipel");
        let expected = if name == "warnings.hcl" { 0 } else { 1 };
        assert_eq!(output.status.code(), Some(expected), "{name}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        snapshot!("invalid_examples", text);
    });
}

#[test]
fn valid_examples() {
    for dir in ["single-island", "archipelago"] {
        archipel()
            .args(["validate", "-f"])
            .arg(examples().join(dir))
            .assert()
            .success()
            .stdout(predicates::str::contains("The archipelago is valid"));
    }
    // The default is the current directory.
    archipel()
        .current_dir(examples().join("archipelago"))
        .arg("validate")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "3 islands, 12 chatons, 15 nodes, 14 backups, 1 bucket",
        ));
}

#[test]
fn validate_json() {
    let output = archipel()
        .current_dir(examples().join("invalid"))
        .args([
            "validate",
            "--output",
            "json",
            "-f",
            "backup-to-own-island.hcl",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["format_version"], "1");
    assert_eq!(report["valid"], false);
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["severity"], "error");
    assert_eq!(diagnostic["code"], "backup-to-own-island");
    assert_eq!(diagnostic["file"], "backup-to-own-island.hcl");
    assert_eq!(diagnostic["line"], 37);
    assert_eq!(diagnostic["column"], 16);
    assert_eq!(diagnostic["snippet"], "    to       = \"ouest\"");
    assert!(
        diagnostic["message"]
            .as_str()
            .expect("message")
            .contains("its own island")
    );

    let output = archipel()
        .args(["validate", "--output", "json", "-f"])
        .arg(examples().join("archipelago"))
        .output()
        .expect("run");
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["valid"], true);
    assert_eq!(report["summary"]["chatons"], 12);
}

#[test]
fn missing_files_are_a_clear_error() {
    let empty = tempfile::tempdir().expect("tempdir");
    archipel()
        .current_dir(empty.path())
        .arg("validate")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no .hcl file in ."));
    archipel()
        .args(["validate", "-f", "/nonexistent/archipelago.hcl"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "cannot read /nonexistent/archipelago.hcl",
        ));
}
