//! The command line: help, version and exit codes, where the SSH options
//! apply, a closed pipe, JSON output whatever happens.

use crate::fixture::{archipel, examples};
use predicates::prelude::PredicateBooleanExt;

#[test]
fn help_and_version() {
    archipel()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("validate").and(predicates::str::contains("fmt")));
    archipel()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicates::str::starts_with("archipel "));
}

/// A usage error exits 1, never 2 (which means "changes" or "drift"): a
/// mistyped flag in CI must not read as drift. --help and --version exit 0.
#[test]
fn usage_errors_exit_1() {
    for args in [
        &["plna"][..],
        &[],
        &["plan", "--detailed-exitcod"],
        &["drift", "--output", "yaml"],
        &["validate", "--ssh-config", "x"],
        &["show"],
    ] {
        let output = archipel().args(args).output().expect("run archipel");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}: says why");
    }
    for args in [&["--help"][..], &["plan", "--help"], &["--version"]] {
        archipel().args(args).assert().code(0);
    }
}

/// Only the commands that reach machines take the SSH options, and their
/// help says so; Terraform's single-dash spellings work for every long option.
#[test]
fn ssh_options_where_they_apply_and_single_dash_spellings() {
    for command in ["validate", "fmt", "show"] {
        let help = archipel().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(
            !help.contains("--ssh-config"),
            "{command} lists --ssh-config"
        );
        assert!(!help.contains("--verbose"), "{command} lists --verbose");
    }
    for command in [
        "facts", "plan", "apply", "status", "drill", "recover", "drift", "unlock", "clear",
    ] {
        let help = archipel().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(
            help.contains("--ssh-config"),
            "{command} lacks --ssh-config"
        );
    }
    let dir = examples().join("archipelago");
    // `-check -diff` are fmt's --check --diff; `-f` stays the short option.
    archipel()
        .arg("-f")
        .arg(&dir)
        .args(["fmt", "-check", "-diff"])
        .assert()
        .success();
    archipel()
        .arg("-f")
        .arg(&dir)
        .args(["validate", "-output=json"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with("{"));
}

/// `archipel … | head -1`: a closed stdout ends the output quietly, with
/// the exit status the command would have had (no panic, no exit 101).
#[test]
fn a_closed_pipe_is_not_a_crash() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!("chaton   \"c{i}\" {{\ncontact=\"a@b.c\"\n}}\n"));
    }
    std::fs::write(dir.path().join("a.hcl"), &text).unwrap();
    for (args, code) in [
        (&["fmt", "--check", "--diff"][..], 1),
        // 2000 chatons without an island: a long list of errors.
        (&["validate", "--output", "json"], 1),
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("archipel"))
            .arg("-f")
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, then close the pipe as `head -c 1` does.
        let mut stdout = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        stdout.read_exact(&mut byte).unwrap();
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Nothing was rewritten by --check.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.hcl")).unwrap(),
        text
    );
}

/// `--output json` prints JSON for every outcome: a missing file, an
/// invalid archipelago, a missing saved plan; columns count characters.
#[test]
fn json_output_is_json_whatever_happens() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("invalid.hcl");
    // "é" is two bytes: the error's column counts it as one character.
    std::fs::write(&invalid, "chaton \"é\" { island = \"x\" }\n").unwrap();
    let missing = dir.path().join("missing.hcl");
    let commands: [&[&str]; 5] = [
        &["validate", "--output", "json"],
        &["plan", "--output", "json"],
        &["drift", "--output", "json"],
        &["status", "--output", "json"],
        &["facts", "--output", "json"],
    ];
    for args in commands {
        for file in [&invalid, &missing] {
            let output = archipel().arg("-f").arg(file).args(args).output().unwrap();
            assert_eq!(output.status.code(), Some(1), "{args:?} {}", file.display());
            let document: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| {
                    panic!(
                        "{args:?} {}: not JSON ({e}): {}",
                        file.display(),
                        String::from_utf8_lossy(&output.stdout)
                    )
                });
            assert_eq!(document["format_version"], "1", "{document}");
            if file == &missing {
                assert!(
                    document["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("missing.hcl"),
                    "{document}"
                );
            } else {
                let name = document["diagnostics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["code"] == "invalid-name")
                    .unwrap_or_else(|| panic!("{document}"));
                assert_eq!(name["column"], 8, "{document}");
                assert_eq!(name["end"]["column"], 11, "{document}");
            }
        }
    }
    let output = archipel()
        .args(["show", "--output", "json"])
        .arg(dir.path().join("no.plan"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no.plan")
    );
}

/// A recovery from the vault and a clearing are checked against the file
/// and their own rules before any machine is reached (the file's machines
/// do not exist here: reaching one would fail differently).
#[test]
fn vault_recovery_and_clearing_are_checked_before_any_machine() {
    let dir = examples().join("archipelago");
    let recover = |extra: &[&str]| {
        let mut args = vec![
            "recover",
            "picasoft/nextcloud",
            "--identity",
            "/nonexistent",
            "--to",
            "root@nowhere.invalid",
        ];
        args.extend_from_slice(extra);
        archipel().arg("-f").arg(&dir).args(&args).output().unwrap()
    };
    for (extra, says) in [
        (&["--from-vault"][..], "--target"),
        (&["--snapshot", "4f2a9c1e"], "--from-vault"),
        (
            &["--from-vault", "--target", "restore"],
            "give an absolute path",
        ),
        (
            &["--from-vault", "--target", "/srv/r", "--snapshot", "last"],
            "give restic's snapshot ID",
        ),
    ] {
        let output = recover(extra);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
    }
    for (args, says) in [
        (
            &["clear", "picasoft", "all"][..],
            "has vaults on islands est, sud: say which with --island",
        ),
        (
            &[
                "clear",
                "picasoft",
                "all",
                "20261203T1800Z-x",
                "--island",
                "est",
            ],
            "give `all` alone",
        ),
        (
            &["clear", "picasoft", "a/b", "--island", "sud"],
            "is not an incident id",
        ),
        (
            &["clear", "nobody", "all"],
            "chaton nobody has no vault in the file",
        ),
        (
            &["clear", "picasoft", "all", "--island", "nowhere"],
            "has no vault on island nowhere",
        ),
    ] {
        let output = archipel().arg("-f").arg(&dir).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
