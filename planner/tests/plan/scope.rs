//! `--only`: a plan cut down to its scope and what that needs.

use crate::converged::bare_world;
use crate::fixture::{BASE, desired_from, texts};
use archipel_planner::plan::{Plan, plan};

#[test]
fn only_keeps_its_scope_and_what_it_needs() {
    use archipel_planner::scope::{Scope, restrict};
    let desired = desired_from(BASE);
    let full = plan(&desired, &bare_world(&desired));
    let only = |texts: &[&str]| {
        let scopes: Vec<Scope> = texts
            .iter()
            .map(|t| Scope::parse(t, &desired).expect("a scope"))
            .collect();
        restrict(full.clone(), &scopes, &desired)
    };
    let addresses = |plan: &Plan| -> Vec<String> {
        texts(
            &plan
                .changes
                .iter()
                .map(|c| c.address.clone())
                .collect::<Vec<_>>(),
        )
    };

    let node = only(&["node.a-1"]);
    assert!(node.has_changes());
    assert!(
        addresses(&node)
            .iter()
            .all(|a| a.starts_with("island.ouest.node.a-1.")),
        "{:?}",
        addresses(&node)
    );

    // chaton d: its job, its node, its key and bucket on ouest, and what
    // those need (ouest's layout, its nodes running) — nothing of chaton a.
    let chaton = addresses(&only(&["chaton.d"]));
    for needed in [
        "chaton.d.backup.mail.repository",
        "island.est.node.d-1.service",
        "island.ouest.key.archipel-d",
        "island.ouest.bucket.backup-d",
        "island.ouest.layout",
    ] {
        assert!(chaton.iter().any(|a| a == needed), "{needed}: {chaton:?}");
    }
    assert!(
        !chaton.iter().any(|a| a.starts_with("chaton.a.")),
        "{chaton:?}"
    );
    // Every kept change's dependencies are kept too.
    let kept = only(&["chaton.d"]);
    for change in &kept.changes {
        for dep in &change.depends_on {
            assert!(
                chaton.contains(&dep.to_string()),
                "{} needs {dep}",
                change.address
            );
        }
    }

    let island = addresses(&only(&["island.est"]));
    assert!(
        island.iter().all(|a| a.starts_with("island.est.")),
        "{island:?}"
    );
    assert!(Scope::parse("island.nowhere", &desired).is_err());
    assert!(Scope::parse("pica-1", &desired).is_err());
}
