//! `prevent_destroy`: a plan that would destroy guarded things is refused.

use crate::converged::converged;
use crate::fixture::{BASE, desired_from, replace_block};
use archipel_planner::plan::plan;

#[test]
fn prevent_destroy_turns_a_destroying_plan_into_errors() {
    let observed = converged(&desired_from(BASE));
    // chaton d, guarded, drops its only job: the job, its key and its
    // emptied bucket would go.
    let guarded = replace_block("  backup \"mail\"", "").replacen(
        "contact = \"d@example.org\"",
        "contact = \"d@example.org\"\n  prevent_destroy = true",
        1,
    );
    let refused = plan(&desired_from(&guarded), &observed);
    let mut errors: Vec<String> = refused
        .errors
        .iter()
        .map(|e| e.address.to_string())
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "chaton.d.backup.mail",
            "island.ouest.bucket.backup-d",
            "island.ouest.key.archipel-d"
        ]
    );
    assert!(
        refused.errors[0]
            .message
            .contains("chaton \"d\" has prevent_destroy = true")
    );
    assert!(refused.is_blocked());

    // A guarded bucket keeps its permissions: a reader taken away is an
    // error; a writer added is fine.
    let bucket = BASE.replacen(
        "  readers = [\"d\"]\n  writers = [\"e\"]",
        "  readers = []\n  writers = [\"e\", \"f\"]\n  prevent_destroy = true",
        1,
    );
    let refused = plan(&desired_from(&bucket), &observed);
    assert_eq!(
        refused
            .errors
            .iter()
            .map(|e| e.address.to_string())
            .collect::<Vec<_>>(),
        vec!["island.est.key.archipel-d"],
        "d needs no key on est any more: deleting it takes its permission away"
    );
    // Unguarded, the same plans are legal.
    assert!(
        plan(
            &desired_from(&bucket.replace("  prevent_destroy = true\n", "")),
            &observed
        )
        .errors
        .is_empty()
    );
}
