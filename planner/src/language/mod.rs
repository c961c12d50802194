//! The archipelago language: HCL files, read with hcl-edit so every block,
//! label and attribute keeps its place in the source, and decoded into the
//! typed [`model`](crate::model).
//!
//! Decoding never stops at the first problem: it reports every unknown,
//! missing or mistyped attribute it finds, and builds as much of the model as
//! it can so the semantic rules in [`crate::validate`] can run too.
//!
//! One file per concern: what each block may hold and the defaults
//! (`schema.rs`); reading the text and explaining syntax errors
//! (`syntax.rs`); the decoder's checks common to every block, its labels,
//! attributes and nested blocks (`decoder.rs`), the kinds of value
//! (`values.rs`) and names and references (`names.rs`); then one file per
//! kind of block: the top level (`archipelago.rs`), `island`, `garage`,
//! `node`, `chaton`, `backup` (and the commands it runs, `commands.rs`),
//! `removed`, `vault`, `notify` and `bucket`.

mod archipelago;
mod backup;
mod bucket;
mod chaton;
mod commands;
mod decoder;
mod garage;
mod island;
mod names;
mod node;
mod notify;
mod removed;
mod schema;
mod syntax;
mod values;
mod vault;

pub use bucket::check_bucket_name;
pub use commands::check_user;
pub use names::check_name;
pub use schema::{
    BACKUP, BUCKET, CHATON, DEFAULT_ADMIN_PORT, DEFAULT_CHECK, DEFAULT_DATA_DIR, DEFAULT_META_DIR,
    DEFAULT_PRUNE, DEFAULT_RPC_PORT, DEFAULT_S3_PORT, DEFAULT_S3_REGION, GARAGE, ISLAND, NODE,
    REMOVED, SCHEMAS, Schema, TOP_LEVEL,
};
pub use syntax::SyntaxFailure;
pub(crate) use syntax::{parse_body, syntax_error};

use crate::diagnostic::Diagnostic;
use crate::model::Archipelago;
use crate::source::{Sources, Span};
use decoder::Decoder;
use std::collections::BTreeSet;

/// The result of reading every file: the model and what was wrong with it.
///
/// A block with an error is left out of the model, but its name is still
/// recorded in `declared`, so references to it do not cause a second,
/// misleading "undefined" error.
#[derive(Debug, Default)]
pub struct Parsed {
    pub archipelago: Archipelago,
    pub diagnostics: Vec<Diagnostic>,
    pub declared: Declared,
}

/// Every island and chaton name written in the files, valid block or not.
#[derive(Debug, Default)]
pub struct Declared {
    pub islands: BTreeSet<String>,
    pub chatons: BTreeSet<String>,
    /// Every reference to an island or chaton by name, even from blocks
    /// left out of the model for another error.
    pub references: Vec<Reference>,
    /// False when any file could not be parsed at all.
    pub every_file_parsed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    Island,
    Chaton,
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub kind: ReferenceKind,
    pub name: String,
    pub span: Span,
}

pub fn parse(sources: &Sources) -> Parsed {
    let mut parsed = Parsed::default();
    parsed.declared.every_file_parsed = true;
    for (file, source) in sources.files() {
        match parse_body(&source.text) {
            Ok(body) => {
                let mut decoder = Decoder {
                    file,
                    diagnostics: &mut parsed.diagnostics,
                    declared: &mut parsed.declared,
                };
                decoder.top_level(&body, &mut parsed.archipelago);
            }
            Err(error) => {
                parsed.declared.every_file_parsed = false;
                parsed.diagnostics.push(syntax_error(sources, file, &error));
            }
        }
    }
    parsed
}
