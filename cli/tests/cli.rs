//! The `archipel` binary as users run it: exit codes, output, files.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn archipel() -> Command {
    let mut command = Command::cargo_bin("archipel").expect("the archipel binary");
    command.env("NO_COLOR", "1").env_remove("ARCHIPEL_FILE");
    command
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Each file in examples/invalid breaks one rule; its rendered diagnostics
/// are a snapshot, and validate exits 1 (0 for the warnings-only file).
#[test]
fn invalid_examples() {
    insta::glob!("../../examples/invalid", "*.hcl", |path| {
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
        insta::assert_snapshot!(text);
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

#[test]
fn fmt_check_diff_and_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("archipelago.hcl");
    let messy = "island \"ouest\" {\n    garage {\n  version = \"2.5.0\" # pinned\n  replication_factor=3\n}\n}\n";
    std::fs::write(&file, messy).expect("write");

    archipel()
        .current_dir(dir.path())
        .args(["fmt", "--check"])
        .assert()
        .code(1)
        .stdout("archipelago.hcl\n");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        messy,
        "--check changes nothing"
    );

    archipel()
        .current_dir(dir.path())
        .args(["fmt", "--check", "--diff"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("+    replication_factor = 3"));

    archipel()
        .current_dir(dir.path())
        .arg("fmt")
        .assert()
        .success()
        .stdout("archipelago.hcl\n");
    let formatted = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        formatted,
        "island \"ouest\" {\n  garage {\n    version            = \"2.5.0\" # pinned\n    replication_factor = 3\n  }\n}\n"
    );
    archipel()
        .current_dir(dir.path())
        .args(["fmt", "--check"])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn fmt_refuses_invalid_syntax_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.hcl");
    std::fs::write(&file, "island \"ouest\" {\n  garage {\n").expect("write");
    archipel()
        .current_dir(dir.path())
        .arg("fmt")
        .assert()
        .code(1)
        // Where the unclosed block opens, not the end of the file.
        .stderr(predicates::str::contains("broken.hcl:2:10"))
        .stderr(predicates::str::contains("`garage {` is never closed"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "island \"ouest\" {\n  garage {\n"
    );
}

#[test]
fn examples_are_canonical() {
    for dir in ["single-island", "archipelago", "invalid"] {
        let mut command = archipel();
        command
            .args(["fmt", "--check", "-f"])
            .arg(examples().join(dir));
        if dir == "invalid" {
            // Broken on purpose: only check that it never rewrites them.
            command.assert().code(1);
        } else {
            command.assert().success();
        }
    }
}

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

use predicates::prelude::PredicateBooleanExt;

/// Plans rendered from a saved observation (a live island set up by hand in
/// the lab, whose config and unit differ from archipel's): every format.
#[test]
fn plan_from_a_saved_observation() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan");
    for format in ["human", "markdown", "json"] {
        let output = archipel()
            .current_dir(&fixtures)
            .args([
                "-f",
                "archipelago.hcl",
                "plan",
                "--observed",
                "observed.json",
                "--output",
                format,
            ])
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        insta::assert_snapshot!(format!("plan_{format}"), text);
    }
    let output = archipel()
        .current_dir(&fixtures)
        .args([
            "-f",
            "archipelago.hcl",
            "plan",
            "--observed",
            "observed.json",
            "--detailed-exitcode",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let output = archipel()
        .current_dir(&fixtures)
        .args([
            "-f",
            "archipelago.hcl",
            "plan",
            "--observed",
            "archipelago.hcl",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("archipelago.hcl is not a saved observation")
    );
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
        "facts", "plan", "apply", "status", "drill", "recover", "drift", "unlock",
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

/// An archipelago of machines that all refuse connections: nothing was
/// seen, so drift is unknown in every format, never "no drift".
#[test]
fn drift_that_saw_nothing_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        std::fs::read_to_string(examples().join("single-island/archipelago.hcl")).unwrap();
    for (i, host) in [
        "root@pica1.picasoft.net",
        "admin@stockage.retzien.fr:2222",
        "root@garage.distrilab.fr",
        "root@s3.hadoly.fr",
    ]
    .iter()
    .enumerate()
    {
        // Port 1 on loopback: refused at once, no network needed.
        text = text.replace(host, &format!("root@127.0.0.{}:1", i + 2));
    }
    let file = dir.path().join("archipelago.hcl");
    std::fs::write(&file, text).unwrap();
    let run = |output: &str| {
        archipel()
            .arg("-f")
            .arg(&file)
            .args(["drift", "--ssh-config", "/dev/null", "--output", output])
            .output()
            .unwrap()
    };
    let human = run("human");
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(!text.contains("No drift"), "{text}");
    assert!(
        text.contains("Drift unknown: 5 parts could not be observed"),
        "{text}"
    );
    let json = run("json");
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["drift"], serde_json::Value::Null, "{report}");
    assert_eq!(report["verdict"], "unknown");
    assert_eq!(report["complete"], false);
    assert_eq!(report["unknown"].as_array().unwrap().len(), 5, "{report}");
    let markdown = run("markdown");
    let text = String::from_utf8_lossy(&markdown.stdout);
    assert!(!text.contains("No drift"), "{text}");
    assert!(
        text.contains("| unknown | `pica-1` | could not be observed"),
        "{text}"
    );
}

/// fmt writes through a symbolic link and keeps the file's mode, owner and
/// group; a directory skips editors' leftovers and reports a broken link.
#[test]
fn fmt_keeps_links_owner_and_mode_and_directories_skip_editor_files() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let target = real.join("archipelago.hcl");
    std::fs::write(&target, "bucket   \"b\" {\nisland=\"x\"\n}\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    // The tests run as root (tests/run): give the file to another user.
    std::os::unix::fs::chown(&target, Some(65534), Some(65534))
        .expect("chown: the test suite runs as root");
    let link = dir.path().join("archipelago.hcl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    archipel()
        .arg("-f")
        .arg(&link)
        .arg("fmt")
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let metadata = std::fs::metadata(&target).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o640);
    assert_eq!((metadata.uid(), metadata.gid()), (65534, 65534));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "bucket \"b\" {\n  island = \"x\"\n}\n"
    );

    // Editors' files in a directory are not part of the archipelago.
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::copy(
        examples().join("single-island/archipelago.hcl"),
        project.join("a.hcl"),
    )
    .unwrap();
    std::fs::write(project.join("a.hcl~"), "garbage {").unwrap();
    std::fs::write(project.join("#a.hcl#"), "garbage {").unwrap();
    std::os::unix::fs::symlink("user@host.1234:1", project.join(".#a.hcl")).unwrap();
    archipel()
        .arg("-f")
        .arg(&project)
        .arg("validate")
        .assert()
        .success();
    // A link to nowhere is reported, not skipped.
    std::os::unix::fs::symlink("missing.hcl", project.join("b.hcl")).unwrap();
    archipel()
        .arg("-f")
        .arg(&project)
        .arg("validate")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("b.hcl"));
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

/// `--help`, the README and the docs tell one story: every command and
/// every option `--help` lists is documented, and every `--option` the
/// README shows on a command line is one archipel has.
#[test]
fn help_and_docs_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = std::fs::read_to_string(root.join("README.md")).unwrap();
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        docs.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let help = |args: &[&str]| {
        let output = archipel().args(args).arg("--help").output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let long_options = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(str::to_string)
            .collect()
    };
    let top = help(&[]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        // A command's line starts with two spaces; wrapped text with more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help" && l_is_command(c))
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 11, "{commands:?}");
    let mut every_option = long_options(&top);
    let mut undocumented = Vec::new();
    for command in &commands {
        assert!(
            docs.contains(&format!("archipel {command}")),
            "README/docs never show `archipel {command}`"
        );
        let options = long_options(&help(&[command.as_str()]));
        for option in &options {
            if option == "--help" || option == "--version" {
                continue;
            }
            if !docs.contains(option.as_str()) {
                undocumented.push(format!("archipel {command} {option}"));
            }
        }
        every_option.extend(options);
    }
    assert!(undocumented.is_empty(), "not documented: {undocumented:?}");
    // The other way: options the README's and the CI templates' command
    // lines use exist.
    let mut texts = std::fs::read_to_string(root.join("README.md")).unwrap();
    for entry in std::fs::read_dir(root.join("examples/ci")).unwrap() {
        texts.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let command_lines: Vec<String> = texts
        .lines()
        // A command line ends where prose or a comment starts.
        .filter_map(|l| l.find("archipel ").map(|at| &l[at..]))
        .map(|l| {
            l.split(['`', '|', '#', '"'])
                .next()
                .unwrap_or(l)
                .to_string()
        })
        .filter(|l| {
            let command = l.split_whitespace().nth(1).unwrap_or("");
            commands.iter().any(|c| c == command) || command.starts_with('-')
        })
        .collect();
    assert!(command_lines.len() > 10, "{command_lines:?}");
    for line in &command_lines {
        let line = line.split(" #").next().unwrap_or(line);
        for option in long_options(line) {
            assert!(
                every_option.contains(&option),
                "{option} is used, and no command has it: {line}"
            );
        }
    }
}

fn l_is_command(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_lowercase())
}
