//! archipel's pure core: the archipelago language, its model and the rules
//! that check it; later, desired state, diff and plan.
//!
//! Nothing here touches the network or the disk: callers hand in the text of
//! the files (and, later, the observed state), so every behaviour is testable
//! offline.

pub mod address;
pub mod backup;
pub mod capacity;
pub mod desired;
pub mod diagnostic;
pub mod drift;
pub mod duration;
pub mod endpoints;
pub mod escrow;
pub mod format;
pub mod garage;
pub mod journal;
pub mod language;
pub mod lexer;
pub mod model;
pub mod observed;
pub mod ownership;
pub mod plan;
pub mod restic;
pub mod saved;
pub mod schedule;
pub mod scope;
pub mod size;
pub mod source;
pub mod status;
pub mod templates;
pub mod validate;
pub mod vault;

use diagnostic::Diagnostic;
use model::Archipelago;
use source::Sources;

/// An archipelago read and checked: the model and every diagnostic, sorted
/// by place.
#[derive(Debug)]
pub struct Checked {
    pub archipelago: Archipelago,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, decodes and validates every file of an archipelago.
pub fn check(sources: &Sources) -> Checked {
    let mut parsed = language::parse(sources);
    let semantic = validate::validate(&parsed);
    parsed.diagnostics.extend(semantic);
    diagnostic::sort(&mut parsed.diagnostics);
    Checked {
        archipelago: parsed.archipelago,
        diagnostics: parsed.diagnostics,
    }
}
