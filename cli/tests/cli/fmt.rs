//! `archipel fmt`: check, diff and write; what it refuses; the file it
//! writes keeps its link, owner and mode.

use crate::fixture::{archipel, examples};

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
