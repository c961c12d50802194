//! The archipelago language: HCL files, read with hcl-edit so every block,
//! label and attribute keeps its place in the source, and decoded into the
//! typed [`model`](crate::model).
//!
//! Decoding never stops at the first problem: it reports every unknown,
//! missing or mistyped attribute it finds, and builds as much of the model as
//! it can so the semantic rules in [`crate::validate`] can run too.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::{
    Archipelago, Backup, BinarySource, Bucket, Chaton, ConsistencyMode, DbEngine, Garage, Island,
    Keep, Node, Origin, Removed, ResticSource, SshTarget,
};
use crate::schedule::Schedule;
use crate::size::Size;
use crate::source::{FileId, Sources, Span};
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::template::{Element, Template};
use std::collections::{BTreeMap, BTreeSet};

/// Default Garage ports and paths, as in Garage's documentation.
pub const DEFAULT_RPC_PORT: u16 = 3901;
pub const DEFAULT_S3_PORT: u16 = 3900;
pub const DEFAULT_ADMIN_PORT: u16 = 3903;
pub const DEFAULT_S3_REGION: &str = "garage";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/garage/data";
/// `forget --prune` once a week: pruning rewrites packs, more often costs
/// more than it saves.
pub const DEFAULT_PRUNE: &str = "Sun 04:00";
/// `check` reads a tenth of the data each month: all of it within a year.
pub const DEFAULT_CHECK: &str = "*-*-01 05:00";
pub const DEFAULT_META_DIR: &str = "/var/lib/garage/meta";

/// What may appear in each kind of block. The single source for unknown-name
/// checks, "did you mean" suggestions and the language reference's tests.
#[derive(Debug)]
pub struct Schema {
    pub block: &'static str,
    pub attributes: &'static [&'static str],
    pub blocks: &'static [&'static str],
}

pub const TOP_LEVEL: Schema = Schema {
    block: "archipelago",
    attributes: &[],
    blocks: &["island", "chaton", "bucket"],
};
pub const ISLAND: Schema = Schema {
    block: "island",
    attributes: &["s3_endpoint"],
    blocks: &["garage"],
};
pub const GARAGE: Schema = Schema {
    block: "garage",
    attributes: &[
        "version",
        "binary",
        "sha256",
        "replication_factor",
        "db_engine",
        "consistency_mode",
        "rpc_port",
        "s3_port",
        "admin_port",
        "s3_region",
    ],
    blocks: &[],
};
pub const CHATON: Schema = Schema {
    block: "chaton",
    attributes: &["island", "contact", "escrow", "prevent_destroy"],
    blocks: &["node", "backup", "removed"],
};
pub const REMOVED: Schema = Schema {
    block: "removed",
    attributes: &["host"],
    blocks: &[],
};
pub const NODE: Schema = Schema {
    block: "node",
    attributes: &[
        "ssh",
        "host_key",
        "capacity",
        "data_dir",
        "meta_dir",
        "rpc_public_addr",
        "prevent_destroy",
    ],
    blocks: &[],
};
pub const BACKUP: Schema = Schema {
    block: "backup",
    attributes: &[
        "host", "to", "paths", "exclude", "schedule", "keep", "quota", "restic", "prune", "check",
        "drill",
    ],
    blocks: &[],
};
pub const BUCKET: Schema = Schema {
    block: "bucket",
    attributes: &["island", "quota", "readers", "writers", "prevent_destroy"],
    blocks: &[],
};

pub const SCHEMAS: &[&Schema] = &[
    &TOP_LEVEL, &ISLAND, &GARAGE, &CHATON, &NODE, &BACKUP, &REMOVED, &BUCKET,
];

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

/// Why a text is not HCL archipel reads.
#[derive(Debug)]
pub enum SyntaxFailure {
    /// The parser's own error.
    Parser(hcl_edit::parser::Error),
    /// Refused before the parser (see [`crate::lexer::Refusal`]).
    Refused(crate::lexer::Refusal),
}

impl SyntaxFailure {
    /// What is wrong, in one line.
    fn message(&self) -> String {
        use crate::lexer::Refusal;
        match self {
            SyntaxFailure::Parser(error) => error.message().trim().to_string(),
            SyntaxFailure::Refused(Refusal::LineBreakInString(_)) => {
                "a quoted string may not be split over several lines".to_string()
            }
            SyntaxFailure::Refused(Refusal::TooDeep(_)) => format!(
                "nested more than {} deep (blocks, objects, lists, parentheses, strings and `${{…}}` all count)",
                crate::lexer::MAX_NESTING
            ),
        }
    }
}

impl std::fmt::Display for SyntaxFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntaxFailure::Parser(error) => write!(f, "{error}"),
            SyntaxFailure::Refused(refusal) => {
                write!(f, "{} (at byte {})", self.message(), refusal.offset())
            }
        }
    }
}

/// Parses HCL text. Every parse of a user's text goes through here, so
/// that what HCL refuses and the parser would take for ever on is refused
/// first, in one linear pass.
pub(crate) fn parse_body(text: &str) -> Result<Body, SyntaxFailure> {
    if let Some(refusal) = crate::lexer::refusal(text) {
        return Err(SyntaxFailure::Refused(refusal));
    }
    hcl_edit::parser::parse_body(text).map_err(SyntaxFailure::Parser)
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

pub(crate) fn syntax_error(sources: &Sources, file: FileId, failure: &SyntaxFailure) -> Diagnostic {
    let error = match failure {
        SyntaxFailure::Parser(error) => error,
        SyntaxFailure::Refused(refusal) => {
            let at = refusal.offset();
            let help = match refusal {
                crate::lexer::Refusal::LineBreakInString(_) => {
                    "close the string on its line (a quote is probably missing), or write a text on several lines as a heredoc: <<EOT … EOT"
                }
                crate::lexer::Refusal::TooDeep(_) => {
                    "a closing bracket or a quote is probably missing before this: an archipelago nests five or six levels at most"
                }
            };
            return Diagnostic::error(
                "syntax",
                Span::new(file, at..at + 1),
                format!("invalid HCL syntax: {}", failure.message()),
            )
            .with_help(help);
        }
    };
    let location = error.location();
    let text = &sources.get(file).text;
    // The parser works on bytes and may stop inside a multi-byte character.
    let mut start = location.offset().min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    // Mark one character (or nothing at the end of the file).
    let end = text[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    let message = error.message().trim();
    let message = if message.is_empty() {
        "invalid HCL syntax".to_string()
    } else {
        format!("invalid HCL syntax: {message}")
    };
    let diagnostic = Diagnostic::error("syntax", Span::new(file, start..end), message);
    // hcl-edit refuses an attribute set twice as a syntax error, at the
    // second; the rule has its own code and shows the first too.
    if error.message().contains("redefined attribute")
        && let Some((key, first)) = first_definition(text, start)
    {
        return Diagnostic::error(
            "duplicate-attribute",
            Span::new(file, start..start + key.len()),
            format!("`{key}` is set twice in the same block"),
        )
        .with_related(Span::new(file, first..first + key.len()), "first set here");
    }
    match syntax_hint(text, start) {
        Some(Hint::At(at, what, help)) => {
            let end = at + text[at..].chars().next().map_or(0, char::len_utf8);
            let mut diagnostic =
                Diagnostic::error("syntax", Span::new(file, at..end), what).with_help(help);
            diagnostic.label = Some(diagnostic_label(error));
            diagnostic
        }
        Some(Hint::Help(help)) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

/// What a syntax error most likely is, in the words of someone who knows
/// HCL: the mistakes people bring from JSON, YAML and shell.
enum Hint {
    /// The error really is elsewhere: at this offset, with this message.
    At(usize, String, String),
    Help(String),
}

fn syntax_hint(text: &str, at: usize) -> Option<Hint> {
    if text.starts_with('\u{feff}') && at == 0 {
        return Some(Hint::Help(
            "the file starts with a byte order mark (BOM): save it as UTF-8 without BOM".into(),
        ));
    }
    let here = text[at..].chars().next();
    // Only blanks (or nothing) left: the parser reached the end of the file
    // looking for a `}`; say which block was left open.
    if (text[at..].trim().is_empty() || here == Some('}'))
        && let Some(brace) = crate::lexer::unbalanced_brace(text)
    {
        let line_start = text[..brace].rfind('\n').map_or(0, |i| i + 1);
        let header = text[line_start..brace].trim();
        return Some(if text[brace..].starts_with('{') {
            Hint::At(
                brace,
                format!("`{header} {{` is never closed"),
                "add the `}` that ends it".into(),
            )
        } else {
            Hint::At(
                brace,
                "this `}` closes no block".into(),
                "remove it, or the `}` before it that closed the block too early".into(),
            )
        });
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..at].trim();
    match here {
        Some('\'') => Some(Hint::Help(
            "HCL strings are written in double quotes: \"like this\"".into(),
        )),
        Some(':') if is_identifier(before) => Some(Hint::Help(format!(
            "attributes are set with `=`, not `:` (as in JSON or YAML): `{before} = …`"
        ))),
        _ => None,
    }
}

/// The attribute key at `at`, and where the same block first set it.
fn first_definition(text: &str, at: usize) -> Option<(String, usize)> {
    let key: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if key.is_empty() {
        return None;
    }
    // The block's own `{`: the last one still open before `at`.
    let mut open = Vec::new();
    for token in crate::lexer::scan(&text[..at]) {
        match token {
            crate::lexer::Token::Open(o) => open.push(o),
            crate::lexer::Token::Close(_) => {
                open.pop();
            }
            crate::lexer::Token::Comment(_) => {}
        }
    }
    let block_start = open.last().map_or(0, |o| o + 1);
    let depth = open.len();
    let mut offset = block_start;
    for line in text[block_start..at].split_inclusive('\n') {
        let trimmed = line.trim_start();
        let candidate = offset + (line.len() - trimmed.len());
        offset += line.len();
        let Some(rest) = trimmed.strip_prefix(key.as_str()) else {
            continue;
        };
        // Set at this block's own level, not in a nested one.
        let nesting =
            crate::lexer::scan(&text[..candidate])
                .into_iter()
                .fold(0i64, |d, t| match t {
                    crate::lexer::Token::Open(_) => d + 1,
                    crate::lexer::Token::Close(_) => d - 1,
                    crate::lexer::Token::Comment(_) => d,
                });
        if rest.trim_start().starts_with('=') && nesting == depth as i64 {
            return Some((key, candidate));
        }
    }
    None
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The parser's own words, kept under the mark when a hint moved it.
fn diagnostic_label(error: &hcl_edit::parser::Error) -> String {
    let message = error.message().trim();
    if message.is_empty() {
        "the parser stopped at the end of the file".into()
    } else {
        format!("the parser stopped later: {message}")
    }
}

/// Reads one file's body into the model, reporting problems as it goes.
struct Decoder<'d> {
    file: FileId,
    diagnostics: &'d mut Vec<Diagnostic>,
    declared: &'d mut Declared,
}

/// The attributes and blocks of one block, after the unknown-name checks.
struct Fields<'b> {
    attributes: BTreeMap<&'static str, &'b Attribute>,
    blocks: Vec<&'b Block>,
    /// What the block is called in messages: `node "pica-1"`.
    what: String,
    origin: Origin,
}

impl<'d> Decoder<'d> {
    fn span(&self, item: &impl hcl_edit::Span) -> Span {
        Span::new(self.file, item.span().unwrap_or(0..0))
    }

    fn error(
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
    fn header_span(&self, block: &Block) -> Span {
        let start = block.ident.span().map_or(0, |s| s.start);
        let end = block
            .labels
            .last()
            .and_then(|l| l.span())
            .or_else(|| block.ident.span())
            .map_or(start, |s| s.end);
        Span::new(self.file, start..end)
    }

    fn top_level(&mut self, body: &Body, archipelago: &mut Archipelago) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let span = self.span(&attr.key);
                    self.error(
                        "unknown-attribute",
                        span,
                        format!(
                            "unexpected attribute `{}` at the top level",
                            attr.key.as_str()
                        ),
                    )
                    .help =
                        Some("the top level holds only island, chaton and bucket blocks".into());
                }
                Structure::Block(block) => match block.ident.as_str() {
                    "island" => {
                        if let Some(island) = self.island(block) {
                            archipelago.islands.push(island);
                        }
                    }
                    "chaton" => {
                        if let Some(chaton) = self.chaton(block) {
                            archipelago.chatons.push(chaton);
                        }
                    }
                    "bucket" => {
                        if let Some(bucket) = self.bucket(block) {
                            archipelago.buckets.push(bucket);
                        }
                    }
                    other => self.unknown_block(block, other, &TOP_LEVEL),
                },
            }
        }
    }

    fn unknown_block(&mut self, block: &Block, name: &str, schema: &Schema) {
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
    fn label(&mut self, block: &Block, kind: &str, example: &str) -> Option<String> {
        self.label_checked(block, kind, example, check_name)
    }

    /// [`Decoder::label`] with the naming rule of its kind.
    fn label_checked(
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
    fn fields<'b>(&mut self, block: &'b Block, schema: &Schema, what: String) -> Fields<'b> {
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

    fn island(&mut self, block: &Block) -> Option<Island> {
        let name = self.label(block, "island", "ouest");
        if let Some(name) = &name {
            self.declared.islands.insert(name.clone());
        }
        let what = format!("island \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &ISLAND, what);
        let s3_endpoint = self.optional(&fields, "s3_endpoint", Self::string);
        let garage_blocks: Vec<&Block> = fields
            .blocks
            .iter()
            .copied()
            .filter(|b| b.ident.as_str() == "garage")
            .collect();
        let garage = match garage_blocks.as_slice() {
            [] => {
                let span = fields.origin.block.clone();
                self.error(
                    "missing-block",
                    span,
                    format!("{} has no garage block", fields.what),
                )
                .help = Some(
                    "add `garage { version = …, binary = …, sha256 = …, replication_factor = 3 }`"
                        .into(),
                );
                None
            }
            [first, rest @ ..] => {
                for extra in rest {
                    let span = self.header_span(extra);
                    let first = self.header_span(first);
                    self.diagnostics.push(
                        Diagnostic::error(
                            "duplicate-block",
                            span,
                            format!("{} has more than one garage block", fields.what),
                        )
                        .with_related(first, "first garage block"),
                    );
                }
                self.garage(first, &fields.what)
            }
        };
        Some(Island {
            name: name?,
            garage: garage?,
            s3_endpoint: s3_endpoint?,
            origin: fields.origin,
        })
    }

    fn garage(&mut self, block: &Block, island: &str) -> Option<Garage> {
        let fields = self.fields(block, &GARAGE, format!("the garage block of {island}"));
        let version = self.required(&fields, "version", "\"2.5.0\"", Self::string);
        let binary = self.required(&fields, "binary", "\"https://…/garage\"", |d, attr| {
            d.binary_source(&attr.value, "Garage")
        });
        let sha256 = self.required(&fields, "sha256", "\"<64 hex digits>\"", |d, attr| {
            d.sha256(&attr.value)
        });
        let replication_factor = self.required(&fields, "replication_factor", "3", |d, attr| {
            d.integer(attr, 1, 7).map(|n| n as u8)
        });
        let db_engine = self.optional(&fields, "db_engine", |d, attr| {
            d.choice(
                attr,
                &[("lmdb", DbEngine::Lmdb), ("sqlite", DbEngine::Sqlite)],
            )
        });
        let consistency_mode = self.optional(&fields, "consistency_mode", |d, attr| {
            d.choice(
                attr,
                &[
                    ("consistent", ConsistencyMode::Consistent),
                    ("degraded", ConsistencyMode::Degraded),
                    ("dangerous", ConsistencyMode::Dangerous),
                ],
            )
        });
        let port = |d: &mut Self, attr: &Attribute| d.integer(attr, 1, 65535).map(|n| n as u16);
        let rpc_port = self.optional(&fields, "rpc_port", port);
        let s3_port = self.optional(&fields, "s3_port", port);
        let admin_port = self.optional(&fields, "admin_port", port);
        let s3_region = self.optional(&fields, "s3_region", Self::string);
        Some(Garage {
            version: version?,
            binary: binary?,
            sha256: sha256?,
            replication_factor: replication_factor?,
            db_engine: db_engine?.unwrap_or(DbEngine::Lmdb),
            consistency_mode: consistency_mode?.unwrap_or(ConsistencyMode::Consistent),
            rpc_port: rpc_port?.unwrap_or(DEFAULT_RPC_PORT),
            s3_port: s3_port?.unwrap_or(DEFAULT_S3_PORT),
            admin_port: admin_port?.unwrap_or(DEFAULT_ADMIN_PORT),
            s3_region: s3_region?.unwrap_or_else(|| DEFAULT_S3_REGION.to_string()),
            origin: fields.origin,
        })
    }

    fn chaton(&mut self, block: &Block) -> Option<Chaton> {
        let name = self.label(block, "chaton", "picasoft");
        if let Some(name) = &name {
            self.declared.chatons.insert(name.clone());
        }
        let what = format!("chaton \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &CHATON, what);
        let island = self.required(&fields, "island", "\"ouest\"", Self::island_reference);
        // An invalid contact is reported but does not drop the chaton: its
        // name, island, nodes and backups still serve the other rules.
        let contact = self.required(&fields, "contact", "\"admin@example.org\"", |d, attr| {
            d.non_empty(attr, "a contact", "\"admin@example.org\"")
        });
        let escrow = self.optional(&fields, "escrow", |d, attr| {
            d.list(attr, Self::escrow_recipient)
        });
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        // A node or backup with an error is left out (and reported), the
        // chaton kept: its name and island still serve the other rules.
        let mut nodes = Vec::new();
        let mut backups = Vec::new();
        let mut removed = Vec::new();
        for inner in &fields.blocks {
            match inner.ident.as_str() {
                "node" => nodes.extend(self.node(inner)),
                "removed" => removed.extend(self.removed(inner)),
                _ => backups.extend(self.backup(inner)),
            }
        }
        Some(Chaton {
            name: name?,
            island: island?,
            contact: contact.unwrap_or_default(),
            // An invalid recipient is reported; the chaton still counts as
            // having said whom to escrow to.
            escrow: escrow.unwrap_or(Some(Vec::new())),
            // An invalid value is reported; the chaton is guarded meanwhile.
            prevent_destroy: prevent_destroy.unwrap_or(Some(true)).unwrap_or(false),
            nodes,
            backups,
            removed,
            origin: fields.origin,
        })
    }

    fn removed(&mut self, block: &Block) -> Option<Removed> {
        let name = self.label(block, "removed", "nextcloud");
        let what = format!("removed \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &REMOVED, what);
        let host = self.required(
            &fields,
            "host",
            "\"root@cloud.example.org\"",
            Self::ssh_target,
        );
        Some(Removed {
            name: name?,
            host: host?,
            origin: fields.origin,
        })
    }

    fn node(&mut self, block: &Block) -> Option<Node> {
        let name = self.label(block, "node", "pica-1");
        let what = format!("node \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &NODE, what);
        let ssh = self.required(
            &fields,
            "ssh",
            "\"root@host.example.org:22\"",
            Self::ssh_target,
        );
        let host_key = self.optional(&fields, "host_key", |d, attr| {
            let text = d.string(attr)?;
            match check_host_key(&text) {
                Ok(()) => Some(text.trim().to_string()),
                Err(reason) => {
                    let span = d.span(&attr.value);
                    d.error("invalid-host-key", span, reason);
                    None
                }
            }
        });
        let capacity = self.required(&fields, "capacity", "\"500G\"", |d, attr| {
            let size = d.size(attr)?;
            if size.bytes() < 1024 {
                let span = d.span(&attr.value);
                d.error(
                    "invalid-size",
                    span,
                    "Garage needs a capacity of at least 1024 bytes",
                );
                return None;
            }
            Some(size)
        });
        let data_dir = self.optional(&fields, "data_dir", Self::absolute_path);
        let meta_dir = self.optional(&fields, "meta_dir", Self::absolute_path);
        let rpc_public_addr = self.optional(&fields, "rpc_public_addr", Self::host_and_port);
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        Some(Node {
            name: name?,
            ssh: ssh?,
            host_key: host_key?,
            prevent_destroy: prevent_destroy?.unwrap_or(false),
            capacity: capacity?,
            data_dir: data_dir?.unwrap_or_else(|| DEFAULT_DATA_DIR.to_string()),
            meta_dir: meta_dir?.unwrap_or_else(|| DEFAULT_META_DIR.to_string()),
            rpc_public_addr: rpc_public_addr?,
            origin: fields.origin,
        })
    }

    fn backup(&mut self, block: &Block) -> Option<Backup> {
        let name = self.label(block, "backup", "nextcloud");
        let what = format!("backup \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &BACKUP, what);
        let host = self.required(
            &fields,
            "host",
            "\"root@cloud.example.org\"",
            Self::ssh_target,
        );
        let to = self.required(&fields, "to", "\"est\"", Self::island_reference);
        let paths = self.required(&fields, "paths", "[\"/srv/data\"]", |d, attr| {
            let paths = d.list(attr, Self::absolute_path)?;
            if paths.is_empty() {
                let span = d.span(&attr.value);
                d.error("invalid-value", span, "a backup needs at least one path");
                return None;
            }
            Some(paths)
        });
        let exclude = self.optional(&fields, "exclude", |d, attr| {
            d.list(attr, |d, attr| {
                d.non_empty(attr, "an exclude pattern", "\"*.tmp\"")
            })
        });
        let schedule = self.required(&fields, "schedule", "\"*-*-* 03:00\"", Self::schedule);
        let keep = self.optional(&fields, "keep", Self::keep);
        let quota = self.required(&fields, "quota", "\"200G\"", Self::quota);
        let restic = self.optional(&fields, "restic", Self::restic);
        let prune = self.optional(&fields, "prune", Self::schedule);
        let check = self.optional(&fields, "check", Self::schedule);
        let drill = self.optional(&fields, "drill", Self::schedule);
        Some(Backup {
            name: name?,
            host: host?,
            to: to?,
            paths: paths?,
            exclude: exclude?.unwrap_or_default(),
            schedule: schedule?,
            keep: keep?.unwrap_or_default(),
            quota: quota?,
            restic: restic?.unwrap_or(ResticSource::Package),
            prune: prune?
                .unwrap_or_else(|| Schedule::parse(DEFAULT_PRUNE).expect("a valid default")),
            check: check?
                .unwrap_or_else(|| Schedule::parse(DEFAULT_CHECK).expect("a valid default")),
            drill: drill?,
            origin: fields.origin,
        })
    }

    fn schedule(&mut self, attr: &Attribute) -> Option<Schedule> {
        let text = self.string(attr)?;
        match Schedule::parse(&text) {
            Ok(schedule) => Some(schedule),
            Err(reason) => {
                let span = self.span(&attr.value);
                self.error("invalid-schedule", span, format!("invalid schedule: {reason}"))
                    .help = Some(
                    "schedules use systemd's OnCalendar syntax: \"daily\", \"weekly\", \"*-*-* 03:00\", \"Mon..Fri 02:30\"; see systemd.time(7)"
                        .into(),
                );
                None
            }
        }
    }

    /// `"package"`, or `{ binary = "…", sha256 = "…" }`.
    fn restic(&mut self, attr: &Attribute) -> Option<ResticSource> {
        const EXPECTED: &str =
            "\"package\" (Debian's restic), or { binary = \"https://…/restic\", sha256 = \"…\" }";
        let object = match &attr.value {
            Expression::Object(object) => object,
            Expression::String(s) if s.value() == "package" => return Some(ResticSource::Package),
            other => {
                self.wrong_type(other, EXPECTED);
                return None;
            }
        };
        let (mut binary, mut sha256, mut ok) = (None, None, true);
        for (key, value) in object.iter() {
            let name = match key {
                ObjectKey::Ident(ident) => ident.as_str().to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                ObjectKey::Expression(other) => {
                    self.unevaluated(other);
                    ok = false;
                    continue;
                }
            };
            match name.as_str() {
                "binary" => {
                    binary = self.binary_source(value.expr(), "restic");
                    ok &= binary.is_some();
                }
                "sha256" => {
                    sha256 = self.sha256(value.expr());
                    ok &= sha256.is_some();
                }
                _ => {
                    let span = self.span(value.expr());
                    self.error(
                        "unknown-attribute",
                        span,
                        format!("unknown field `{name}` in restic: it takes `binary` and `sha256`"),
                    );
                    ok = false;
                }
            }
        }
        match (binary, sha256) {
            (Some(binary), Some(sha256)) if ok => Some(ResticSource::Binary { binary, sha256 }),
            (binary, sha256) => {
                if ok && (binary.is_none() || sha256.is_none()) {
                    let span = self.span(&attr.value);
                    self.error(
                        "missing-attribute",
                        span,
                        "a pinned restic needs both `binary` and `sha256`",
                    );
                }
                None
            }
        }
    }

    /// An http(s) URL archipel downloads, or a local path.
    fn binary_source(&mut self, value: &Expression, what: &str) -> Option<BinarySource> {
        let text = self.string_value(value)?;
        if text.starts_with("https://") || text.starts_with("http://") {
            Some(BinarySource::Url(text))
        } else if text.contains("://") {
            let span = self.span(value);
            self.error(
                "invalid-value",
                span,
                format!("the {what} binary is an http(s) URL or a local path"),
            );
            None
        } else {
            Some(BinarySource::Path(text))
        }
    }

    fn sha256(&mut self, value: &Expression) -> Option<String> {
        let text = self.string_value(value)?;
        if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            Some(text.to_ascii_lowercase())
        } else {
            let span = self.span(value);
            self.error(
                "invalid-sha256",
                span,
                "sha256 must be 64 hexadecimal digits (the output of `sha256sum`)",
            );
            None
        }
    }

    fn bucket(&mut self, block: &Block) -> Option<Bucket> {
        let name = self.label_checked(block, "bucket", "shared-assets", check_bucket_name);
        let what = format!("bucket \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &BUCKET, what);
        let island = self.required(&fields, "island", "\"ouest\"", Self::island_reference);
        let quota = self.optional(&fields, "quota", Self::quota);
        let readers = self.optional(&fields, "readers", |d, attr| {
            d.list(attr, Self::chaton_reference)
        });
        let writers = self.optional(&fields, "writers", |d, attr| {
            d.list(attr, Self::chaton_reference)
        });
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        Some(Bucket {
            name: name?,
            island: island?,
            quota: quota?,
            readers: readers?.unwrap_or_default(),
            writers: writers?.unwrap_or_default(),
            prevent_destroy: prevent_destroy?.unwrap_or(false),
            origin: fields.origin,
        })
    }

    // --- attributes -------------------------------------------------------

    /// A required attribute. `None` when it is missing or invalid (already
    /// reported).
    fn required<T>(
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
    fn optional<T>(
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

    fn boolean(&mut self, attr: &Attribute) -> Option<bool> {
        match &attr.value {
            Expression::Bool(value) => Some(*value.value()),
            other => {
                self.wrong_type(other, "true or false");
                None
            }
        }
    }

    fn string(&mut self, attr: &Attribute) -> Option<String> {
        self.string_value(&attr.value)
    }

    fn string_value(&mut self, value: &Expression) -> Option<String> {
        let literal = match value {
            Expression::String(s) => Some(s.value().clone()),
            Expression::StringTemplate(template) => literal_template(template),
            Expression::HeredocTemplate(heredoc) => {
                let mut heredoc = heredoc.as_ref().clone();
                heredoc.dedent();
                literal_template(&heredoc.template)
            }
            other => {
                self.wrong_type(other, "a string");
                return None;
            }
        };
        if literal.is_none() {
            self.unevaluated(value);
        }
        literal
    }

    fn name(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        if let Err(reason) = check_name(&text) {
            let span = self.span(&attr.value);
            self.error(
                "invalid-name",
                span,
                format!("\"{text}\" is not a valid name: {reason}"),
            );
            return None;
        }
        Some(text)
    }

    fn island_reference(&mut self, attr: &Attribute) -> Option<String> {
        self.reference(attr, ReferenceKind::Island)
    }

    fn chaton_reference(&mut self, attr: &Attribute) -> Option<String> {
        self.reference(attr, ReferenceKind::Chaton)
    }

    fn reference(&mut self, attr: &Attribute, kind: ReferenceKind) -> Option<String> {
        let name = self.name(attr)?;
        self.declared.references.push(Reference {
            kind,
            name: name.clone(),
            span: self.span(&attr.value),
        });
        Some(name)
    }

    fn absolute_path(&mut self, attr: &Attribute) -> Option<String> {
        self.absolute_path_value(&attr.value)
    }

    fn absolute_path_value(&mut self, value: &Expression) -> Option<String> {
        let text = self.string_value(value)?;
        if !text.starts_with('/') {
            let span = self.span(value);
            self.error(
                "invalid-path",
                span,
                format!("\"{text}\" is not an absolute path"),
            );
            return None;
        }
        Some(text)
    }

    /// A public key the chaton's passwords are encrypted to: what `age`
    /// itself accepts as a recipient.
    fn escrow_recipient(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let text = text.trim().to_string();
        if crate::escrow::parse_recipient(&text).is_err() {
            let span = self.span(&attr.value);
            self.error(
                "invalid-recipient",
                span,
                "not an age public key (age1…) nor an SSH public key (ssh-ed25519 AAAA…)",
            );
            return None;
        }
        Some(text)
    }

    fn ssh_target(&mut self, attr: &Attribute) -> Option<SshTarget> {
        let text = self.string(attr)?;
        SshTarget::parse(&text)
            .map_err(|reason| {
                let span = self.span(&attr.value);
                self.error(
                    "invalid-ssh-target",
                    span,
                    format!("invalid SSH target: {reason}"),
                );
            })
            .ok()
    }

    fn size(&mut self, attr: &Attribute) -> Option<Size> {
        let text = match &attr.value {
            Expression::Number(_) => {
                let span = self.span(&attr.value);
                self.error("invalid-size", span, "a size is a string with a unit")
                    .help = Some("write e.g. \"500G\" (SI, as Garage counts) or \"200GiB\"".into());
                return None;
            }
            _ => self.string(attr)?,
        };
        Size::parse(&text)
            .map_err(|reason| {
                let span = self.span(&attr.value);
                self.error("invalid-size", span, format!("invalid size: {reason}"));
            })
            .ok()
    }

    /// A quota: a size above zero (Garage reads 0 as "no quota").
    fn quota(&mut self, attr: &Attribute) -> Option<Size> {
        let size = self.size(attr)?;
        if size.bytes() == 0 {
            let span = self.span(&attr.value);
            self.error(
                "invalid-size",
                span,
                "a quota of 0 would hold nothing (and Garage reads it as no quota at all)",
            );
            return None;
        }
        Some(size)
    }

    /// A string with something in it.
    fn non_empty(&mut self, attr: &Attribute, what: &str, example: &str) -> Option<String> {
        let text = self.string(attr)?;
        if text.trim().is_empty() {
            let span = self.span(&attr.value);
            self.error("invalid-value", span, format!("{what} cannot be empty"))
                .help = Some(format!("write e.g. {example}"));
            return None;
        }
        Some(text)
    }

    /// `HOST:PORT` (`[IPv6]:PORT`), as Garage's `rpc_public_addr` wants.
    fn host_and_port(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let valid = match text.rsplit_once(':') {
            Some((host, port)) => {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                !host.is_empty()
                    && !host.contains(['[', ']', ' ', '/'])
                    && (host.contains(':') == text.starts_with('['))
                    && matches!(port.parse::<u16>(), Ok(p) if p > 0)
            }
            None => false,
        };
        if !valid {
            let span = self.span(&attr.value);
            self.error(
                "invalid-value",
                span,
                format!("\"{text}\" is not HOST:PORT"),
            )
            .help = Some(
                "write the address and port other nodes reach this node's RPC at, e.g. \"203.0.113.5:3901\" or \"[2001:db8::1]:3901\"".into(),
            );
            return None;
        }
        Some(text)
    }

    fn integer(&mut self, attr: &Attribute, min: u64, max: u64) -> Option<u64> {
        let Expression::Number(number) = &attr.value else {
            self.wrong_type(&attr.value, "a whole number");
            return None;
        };
        match number.value().as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let span = self.span(&attr.value);
                self.error(
                    "out-of-range",
                    span,
                    format!(
                        "`{}` must be a whole number from {min} to {max}",
                        attr.key.as_str()
                    ),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, attr: &Attribute, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(attr)?;
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let span = self.span(&attr.value);
        let diagnostic = self.error(
            "invalid-value",
            span,
            format!("`{}` cannot be \"{text}\"", attr.key.as_str()),
        );
        diagnostic.help = Some(match did_you_mean(&text, names.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("expected one of: {}", names.join(", ")),
        });
        None
    }

    fn list<T: PartialEq + Clone>(
        &mut self,
        attr: &Attribute,
        item: impl Fn(&mut Self, &Attribute) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Expression::Array(array) = &attr.value else {
            self.wrong_type(&attr.value, "a list, e.g. [\"a\", \"b\"]");
            return None;
        };
        let mut items = Some(Vec::new());
        let mut seen: Vec<(T, Span)> = Vec::new();
        for element in array.iter() {
            // Reuse the attribute decoders by wrapping each element.
            let wrapped = Attribute::new(attr.key.clone(), element.clone());
            let value = item(self, &wrapped);
            // The same value twice in a list means nothing more, and is
            // usually a slip (a chaton meant to be another one).
            if let Some(value) = &value {
                let span = self.span(element);
                if let Some((_, first)) = seen.iter().find(|(v, _)| v == value) {
                    let first = first.clone();
                    self.error(
                        "duplicate-value",
                        span.clone(),
                        format!(
                            "{} is listed twice in `{}`",
                            element_text(element),
                            attr.key.as_str()
                        ),
                    )
                    .related
                    .push(crate::diagnostic::Related {
                        span: first,
                        message: "first listed here".into(),
                    });
                    items = None;
                }
                seen.push((value.clone(), span));
            }
            match (value, items.as_mut()) {
                (Some(value), Some(items)) => items.push(value),
                _ => items = None,
            }
        }
        items
    }

    fn keep(&mut self, attr: &Attribute) -> Option<Keep> {
        let Expression::Object(object) = &attr.value else {
            self.wrong_type(&attr.value, "an object, e.g. { daily = 7, weekly = 4 }");
            return None;
        };
        let mut keep = Keep::default();
        let mut ok = true;
        for (key, value) in object.iter() {
            let (name, span) = match key {
                ObjectKey::Ident(ident) => (ident.as_str().to_string(), self.span(ident)),
                ObjectKey::Expression(expr) => match expr {
                    Expression::String(s) => (s.value().clone(), self.span(expr)),
                    other => {
                        self.unevaluated(other);
                        ok = false;
                        continue;
                    }
                },
            };
            if !Keep::FIELDS.contains(&name.as_str()) {
                let help = match did_you_mean(&name, Keep::FIELDS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known fields: {}", Keep::FIELDS.join(", ")),
                };
                self.error(
                    "unknown-attribute",
                    span,
                    format!("unknown retention field `{name}` in keep"),
                )
                .help = Some(help);
                ok = false;
                continue;
            }
            let value = value.expr();
            match value {
                Expression::Number(n) => match n.value().as_u64() {
                    Some(count) if (1..=100_000).contains(&count) => keep.set(&name, count as u32),
                    _ => {
                        let span = self.span(value);
                        self.error(
                            "out-of-range",
                            span,
                            format!("keep.{name} must be a whole number from 1 to 100000 (leave it out to keep none by that rule)"),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.wrong_type(other, "a whole number");
                    ok = false;
                }
            }
        }
        ok.then_some(keep)
    }

    fn wrong_type(&mut self, value: &Expression, expected: &str) {
        if is_expression(value) {
            self.unevaluated(value);
            return;
        }
        let span = self.span(value);
        self.error(
            "wrong-type",
            span,
            format!("expected {expected}, found {}", kind(value)),
        );
    }

    fn unevaluated(&mut self, value: &Expression) {
        let span = self.span(value);
        let help = match value {
            // `island = sud`: a name that lost its quotes.
            Expression::Variable(name) => format!(
                "a name is a string: write it in double quotes, \"{}\"",
                name.as_str()
            ),
            _ => "write the value itself: archipel does not evaluate variables, functions or `${…}` interpolations".into(),
        };
        self.error(
            "unevaluated-expression",
            span,
            "this value is an expression; archipel files hold literal values only",
        )
        .help = Some(help);
    }
}

/// The text of a template made only of literal parts, or `None` when it has
/// interpolations or directives.
fn literal_template(template: &Template) -> Option<String> {
    let mut text = String::new();
    for element in template.iter() {
        match element {
            Element::Literal(literal) => text.push_str(literal.value()),
            Element::Interpolation(_) | Element::Directive(_) => return None,
        }
    }
    Some(text)
}

fn is_expression(value: &Expression) -> bool {
    matches!(
        value,
        Expression::Variable(_)
            | Expression::Traversal(_)
            | Expression::FuncCall(_)
            | Expression::Conditional(_)
            | Expression::UnaryOp(_)
            | Expression::BinaryOp(_)
            | Expression::ForExpr(_)
            | Expression::Parenthesis(_)
            | Expression::StringTemplate(_)
            | Expression::HeredocTemplate(_)
    )
}

fn kind(value: &Expression) -> &'static str {
    match value {
        Expression::Null(_) => "null",
        Expression::Bool(_) => "a bool",
        Expression::Number(_) => "a number",
        Expression::String(_) | Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
            "a string"
        }
        Expression::Array(_) => "a list",
        Expression::Object(_) => "an object",
        _ => "an expression",
    }
}

/// A list element as the user wrote it, for messages.
fn element_text(element: &Expression) -> String {
    use hcl_edit::Decorate;
    let mut bare = element.clone();
    bare.decor_mut().clear();
    bare.to_string()
}

/// Names of islands, chatons, nodes and backups: they become Garage zones,
/// bucket names and systemd unit names, so they stay simple.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > 48 {
        return Err("a name has at most 48 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("use lowercase letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a name starts and ends with a letter or digit".into());
    }
    Ok(())
}

/// Garage's (and S3's) rules for bucket names, checked up front: 3 to 63
/// characters, lowercase letters, digits and '-' (dots are legal in S3 but
/// break TLS for virtual-hosted names, so archipel leaves them out).
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    if name.len() < 3 || name.len() > 63 {
        return Err("a bucket name has 3 to 63 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("use lowercase letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a name starts and ends with a letter or digit".into());
    }
    if name.starts_with("backup-") {
        return Err("names starting with \"backup-\" are reserved for backup buckets".into());
    }
    Ok(())
}

/// An OpenSSH public key line: type and base64 key (a comment may follow).
fn check_host_key(text: &str) -> Result<(), String> {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let mut parts = text.split_whitespace();
    let (Some(kind), Some(key)) = (parts.next(), parts.next()) else {
        return Err("a host key is \"TYPE BASE64\", e.g. \"ssh-ed25519 AAAAC3…\" (see /etc/ssh/ssh_host_ed25519_key.pub)".into());
    };
    if !TYPES.contains(&kind) {
        return Err(format!(
            "unknown host key type \"{kind}\"; expected one of: {}",
            TYPES.join(", ")
        ));
    }
    let base64 = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    if !base64 || !key.starts_with("AAAA") || key.len() < 32 {
        return Err("the key after the type is not a base64 public key".into());
    }
    Ok(())
}
