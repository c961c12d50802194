//! `archipel plan` and `drift` from what was observed: a saved observation
//! in every format, machines that could not be seen.

use crate::fixture::{archipel, examples};
use std::path::Path;

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
        snapshot!(format!("plan_{format}"), text);
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

/// `--dead-node` names a node out of the file: one the file still has is
/// refused before anything is observed, by plan and apply alike.
#[test]
fn a_node_of_the_file_cannot_be_declared_dead() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan");
    for command in [&["plan", "--observed", "observed.json"][..], &["apply"]] {
        let output = archipel()
            .current_dir(&fixtures)
            .args(["-f", "archipelago.hcl"])
            .args(command)
            .args(["--dead-node", "node1"])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{command:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--dead-node node1: node1 is a node of the file"),
            "{command:?}: {stderr}"
        );
    }
}
