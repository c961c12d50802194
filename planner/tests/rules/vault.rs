//! Vaults: on by default, `vault = false` opts out with a warning, a
//! `vault` block sets the grace period; one setting per chaton.

use crate::fixture::{BASE, codes, diagnostics, line_of, with};
use archipel_planner::diagnostic::Severity;
use archipel_planner::source::Sources;

const CHATON_A: &str = "chaton \"a\" {\n  island  = \"ouest\"\n";

fn model(text: &str) -> archipel_planner::model::Archipelago {
    let mut sources = Sources::new();
    sources.add("test.hcl", text);
    archipel_planner::check(&sources).archipelago
}

#[test]
fn a_vault_is_on_by_default_with_thirty_days_of_grace() {
    let archipelago = model(BASE);
    let a = archipelago.chaton("a").expect("chaton a");
    assert!(a.vault.enabled);
    assert_eq!(a.vault.keep_deleted.to_string(), "30d");
}

#[test]
fn opting_out_is_legal_and_warned_where_it_is_written() {
    let text = with(CHATON_A, &format!("{CHATON_A}  vault   = false\n"));
    assert_eq!(
        diagnostics(&text),
        vec![(
            "no-vault",
            Severity::Warning,
            line_of(&text, "vault   = false")
        )]
    );
    assert!(!model(&text).chaton("a").expect("a").vault.enabled);
    // A chaton without backups has nothing to protect: no warning.
    let quiet = with(
        "chaton \"b\" {\n  island  = \"ouest\"\n",
        "chaton \"b\" {\n  island  = \"ouest\"\n  vault   = false\n",
    );
    assert_eq!(codes(&quiet), Vec::<&str>::new());
}

#[test]
fn the_grace_period_is_a_duration_and_a_short_one_is_warned() {
    let sixty = with(
        CHATON_A,
        &format!("{CHATON_A}  vault {{\n    keep_deleted = \"60d\"\n  }}\n"),
    );
    assert_eq!(codes(&sixty), Vec::<&str>::new());
    assert_eq!(
        model(&sixty)
            .chaton("a")
            .expect("a")
            .vault
            .keep_deleted
            .seconds(),
        60 * 86_400
    );
    let short = with(
        CHATON_A,
        &format!("{CHATON_A}  vault {{\n    keep_deleted = \"2d\"\n  }}\n"),
    );
    assert_eq!(
        diagnostics(&short),
        vec![(
            "short-vault-grace",
            Severity::Warning,
            line_of(&short, "\"2d\"")
        )]
    );
    for bad in ["\"30\"", "\"1y\"", "30"] {
        let text = with(
            CHATON_A,
            &format!("{CHATON_A}  vault {{\n    keep_deleted = {bad}\n  }}\n"),
        );
        assert_eq!(codes(&text), vec!["invalid-duration"], "{bad}");
    }
    let unknown = with(
        CHATON_A,
        &format!("{CHATON_A}  vault {{\n    keep = \"30d\"\n  }}\n"),
    );
    assert_eq!(codes(&unknown), vec!["unknown-attribute"]);
}

#[test]
fn one_vault_setting_per_chaton() {
    let both = with(
        CHATON_A,
        &format!("{CHATON_A}  vault   = false\n  vault {{\n    keep_deleted = \"60d\"\n  }}\n"),
    );
    assert!(
        codes(&both).contains(&"duplicate-vault"),
        "{:?}",
        codes(&both)
    );
    let two = with(
        CHATON_A,
        &format!("{CHATON_A}  vault {{\n  }}\n  vault {{\n  }}\n"),
    );
    assert_eq!(codes(&two), vec!["duplicate-vault"]);
    let named = with(CHATON_A, &format!("{CHATON_A}  vault \"x\" {{\n  }}\n"));
    assert_eq!(codes(&named), vec!["extra-label"]);
}

#[test]
fn vault_names_are_reserved() {
    // The island's own key is archipel-vault.
    let chaton = BASE.replace("chaton \"b\" {", "chaton \"vault\" {");
    assert_eq!(codes(&chaton), vec!["invalid-name"]);
    let bucket = with("bucket \"shared\"", "bucket \"vault-shared\"");
    assert_eq!(codes(&bucket), vec!["invalid-name"]);
}
