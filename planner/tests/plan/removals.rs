//! Jobs the file no longer runs: taken off their old host, their
//! repository kept.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, facts, ok, replace_block, texts};
use archipel_planner::backup;
use archipel_planner::plan::{Action, Plan, plan};

#[test]
fn a_job_leaving_the_file_or_its_host_is_removed_there_and_its_repository_kept() {
    let observed = converged(&desired_from(BASE));
    let deletions = |plan: &Plan| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| format!("{}  ({})", c.address, c.reason))
            .collect()
    };

    // chaton d drops its only job; its host stays in the file (node d-1).
    let dropped = plan(
        &desired_from(&replace_block("  backup \"mail\"", "")),
        &observed,
    );
    snapshot!(debug "dropped", deletions(&dropped));
    let removal = dropped
        .changes
        .iter()
        .find(|c| c.address == "chaton.d.backup.mail")
        .expect("the removal");
    // Never escrowed (chaton d names no recipient): the password stays.
    assert!(
        removal
            .attributes
            .iter()
            .any(|a| a.name == "password" && a.after.as_deref().unwrap_or("").starts_with("kept")),
        "{:?}",
        removal.attributes
    );
    // The chaton's key goes only once no host uses it.
    let key = dropped
        .changes
        .iter()
        .find(|c| c.address == "island.ouest.key.archipel-d")
        .expect("the key's deletion");
    assert!(
        texts(&key.depends_on).contains(&"chaton.d.backup.mail".to_string()),
        "{:?}",
        key.depends_on
    );

    // Jobs a/files and d/mail swap hosts: each old host loses its job;
    // a's password goes (it is escrowed), d's stays.
    let swapped = BASE
        .replacen("host     = \"root@files.a\"", "host     = \"root@SWAP\"", 1)
        .replacen("host     = \"root@d1\"", "host     = \"root@files.a\"", 1)
        .replacen("root@SWAP", "root@d1", 1);
    let swapped = plan(&desired_from(&swapped), &observed);
    snapshot!(debug "swapped", deletions(&swapped));
    let password = |address: &str| {
        swapped
            .changes
            .iter()
            .find(|c| c.address == address)
            .and_then(|c| c.attributes.iter().find(|a| a.name == "password"))
            .and_then(|a| a.after.clone())
            .unwrap_or_default()
    };
    assert!(password("chaton.a.backup.files.previous-host").starts_with("removed"));
    let leaving = swapped
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files.previous-host")
        .expect("a leaves files.a");
    assert_eq!(
        texts(&leaving.depends_on),
        vec!["chaton.a.backup.files.password".to_string()],
        "the old host keeps the job until the new one has its password"
    );
    assert!(password("chaton.d.backup.mail.previous-host").starts_with("kept"));
}

#[test]
fn a_removed_block_reaches_a_host_that_left_the_file() {
    let mut observed = converged(&desired_from(BASE));
    // Chaton a's only job on files.a goes; the host goes with it, so a
    // `removed` block names it.
    let text = replace_block(
        "  backup \"files\"",
        "  removed \"files\" {\n    host = \"root@files.a\"\n  }\n",
    );
    let desired = desired_from(&text);
    let removal = plan(&desired, &observed);
    let change = removal
        .changes
        .iter()
        .find(|c| c.address == "chaton.a.backup.files")
        .expect("the job is taken off files.a");
    assert!(
        change.reason.contains("no longer in the file"),
        "{}",
        change.reason
    );
    assert!(removal.warnings.iter().all(|w| !w.contains("can go")));

    // Once it is gone, the plan says the block can go.
    facts(&mut observed, "files.a")
        .probes
        .insert(backup::JOBS_PROBE.0.into(), ok(""));
    let done = plan(&desired, &observed);
    assert!(
        !done
            .changes
            .iter()
            .any(|c| c.address == "chaton.a.backup.files")
    );
    assert!(
        done.warnings
            .iter()
            .any(|w| w.contains("nothing of it is left on files.a")),
        "{:?}",
        done.warnings
    );
}
