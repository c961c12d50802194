//! What decoding every block shares: its header and label, the unknown-name
//! checks against its [`Schema`], and its attributes, required or optional.

use super::Declared;
use super::names::check_name;
use super::schema::Schema;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::Origin;
use crate::source::{FileId, Span};
use hcl_edit::Span as _;
use hcl_edit::structure::{Attribute, Block, Structure};
use std::collections::BTreeMap;

/// Reads one file's body into the model, reporting problems as it goes.
pub(super) struct Decoder<'d> {
    pub(super) file: FileId,
    pub(super) diagnostics: &'d mut Vec<Diagnostic>,
    pub(super) declared: &'d mut Declared,
}

/// The attributes and blocks of one block, after the unknown-name checks.
pub(super) struct Fields<'b> {
    pub(super) attributes: BTreeMap<&'static str, &'b Attribute>,
    pub(super) blocks: Vec<&'b Block>,
    /// What the block is called in messages: `node "pica-1"`.
    pub(super) what: String,
    pub(super) origin: Origin,
}

impl Decoder<'_> {
    pub(super) fn span(&self, item: &impl hcl_edit::Span) -> Span {
        Span::new(self.file, item.span().unwrap_or(0..0))
    }

    pub(super) fn error(
        &mut self,
        code: &'static str,
        span: Span,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::error(code, span, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// The block's type and labels: `node "pica-1"`.
    pub(super) fn header_span(&self, block: &Block) -> Span {
        let start = block.ident.span().map_or(0, |s| s.start);
        let end = block
            .labels
            .last()
            .and_then(|l| l.span())
            .or_else(|| block.ident.span())
            .map_or(start, |s| s.end);
        Span::new(self.file, start..end)
    }

    pub(super) fn unknown_block(&mut self, block: &Block, name: &str, schema: &Schema) {
        let span = self.span(&block.ident);
        let where_ = if schema.block == "archipelago" {
            "at the top level".to_string()
        } else {
            format!("in a {} block", schema.block)
        };
        let diagnostic = self.error(
            "unknown-block",
            span,
            format!("unknown block type `{name}` {where_}"),
        );
        diagnostic.help = Some(match did_you_mean(name, schema.blocks.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None if schema.blocks.is_empty() => format!("a {} block holds no blocks", schema.block),
            None => format!("expected one of: {}", schema.blocks.join(", ")),
        });
    }

    /// Checks a block's label (exactly one, a valid name) and returns it.
    pub(super) fn label(&mut self, block: &Block, kind: &str, example: &str) -> Option<String> {
        self.label_checked(block, kind, example, check_name)
    }

    /// [`Decoder::label`] with the naming rule of its kind.
    pub(super) fn label_checked(
        &mut self,
        block: &Block,
        kind: &str,
        example: &str,
        check: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let header = self.header_span(block);
        match block.labels.as_slice() {
            [label] => {
                let name = label.as_str();
                let span = self.span(label);
                if let Err(reason) = check(name) {
                    self.error(
                        "invalid-name",
                        span,
                        format!("invalid {kind} name \"{name}\": {reason}"),
                    );
                    return None;
                }
                Some(name.to_string())
            }
            [] => {
                self.error(
                    "missing-label",
                    header,
                    format!("a {kind} block needs a name"),
                )
                .help = Some(format!("write `{kind} \"{example}\" {{ … }}`"));
                None
            }
            [_, extra @ ..] => {
                let start = extra.first().and_then(|l| l.span()).map_or(0, |s| s.start);
                let end = extra.last().and_then(|l| l.span()).map_or(start, |s| s.end);
                self.error(
                    "extra-label",
                    Span::new(self.file, start..end),
                    format!("a {kind} block has one name, found {}", block.labels.len()),
                );
                None
            }
        }
    }

    /// Checks that a block holds only what its schema allows, and indexes it.
    pub(super) fn fields<'b>(
        &mut self,
        block: &'b Block,
        schema: &Schema,
        what: String,
    ) -> Fields<'b> {
        let mut fields = Fields {
            attributes: BTreeMap::new(),
            blocks: Vec::new(),
            what,
            origin: Origin {
                block: self.header_span(block),
                attributes: BTreeMap::new(),
            },
        };
        if !block.labels.is_empty() && schema.block == "garage" {
            let span = self.span(&block.labels[0]);
            self.error("extra-label", span, "a garage block has no name");
        }
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let key = attr.key.as_str();
                    let Some(&known) = schema.attributes.iter().find(|a| **a == key) else {
                        let span = self.span(&attr.key);
                        let help = match did_you_mean(key, schema.attributes.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None if schema.attributes.is_empty() => {
                                format!("a {} block holds no attributes", schema.block)
                            }
                            None => format!("known attributes: {}", schema.attributes.join(", ")),
                        };
                        self.error(
                            "unknown-attribute",
                            span,
                            format!("unknown attribute `{key}` in {}", fields.what),
                        )
                        .help = Some(help);
                        continue;
                    };
                    if let Some(first) = fields.attributes.get(known) {
                        let first = self.span(&first.key);
                        let span = self.span(&attr.key);
                        self.diagnostics.push(
                            Diagnostic::error(
                                "duplicate-attribute",
                                span,
                                format!("`{key}` is set twice in {}", fields.what),
                            )
                            .with_related(first, "first set here"),
                        );
                        continue;
                    }
                    fields.attributes.insert(known, attr);
                    let value_span = self.span(&attr.value);
                    fields.origin.attributes.insert(known, value_span);
                }
                Structure::Block(inner) => {
                    let name = inner.ident.as_str();
                    if schema.blocks.contains(&name) {
                        fields.blocks.push(inner);
                    } else {
                        self.unknown_block(inner, name, schema);
                    }
                }
            }
        }
        fields
    }

    fn missing(&mut self, fields: &Fields<'_>, name: &str, example: &str) {
        let span = fields.origin.block.clone();
        self.error(
            "missing-attribute",
            span,
            format!("{} has no `{name}`", fields.what),
        )
        .help = Some(format!("add `{name} = {example}`"));
    }

    /// A required attribute. `None` when it is missing or invalid (already
    /// reported).
    pub(super) fn required<T>(
        &mut self,
        fields: &Fields<'_>,
        name: &str,
        example: &str,
        decode: impl FnOnce(&mut Self, &Attribute) -> Option<T>,
    ) -> Option<T> {
        match fields.attributes.get(name) {
            Some(attr) => decode(self, attr),
            None => {
                self.missing(fields, name, example);
                None
            }
        }
    }

    /// An optional attribute: `Some(None)` when absent, `None` when invalid.
    pub(super) fn optional<T>(
        &mut self,
        fields: &Fields<'_>,
        name: &str,
        decode: impl FnOnce(&mut Self, &Attribute) -> Option<T>,
    ) -> Option<Option<T>> {
        match fields.attributes.get(name) {
            Some(attr) => decode(self, attr).map(Some),
            None => Some(None),
        }
    }
}
