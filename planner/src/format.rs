//! `archipel fmt`: the canonical layout of an archipelago file.
//!
//! Two-space indentation, `=` aligned in runs of attributes, one blank line
//! around blocks, at most one blank line anywhere, one space before a
//! trailing comment, a final newline — and every comment kept. hcl-rs's own
//! formatter drops comments, so this one works on hcl-edit's lossless tree,
//! where comments live in the "decor" around each item.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Sources, Span};
use hcl_edit::expr::{Array, Expression, Object, ObjectKey, ObjectValueTerminator};
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use hcl_edit::{Decor, Decorate};

const INDENT: &str = "  ";

/// The canonical form of one file, or why it cannot be given: a syntax
/// error, or (a bug in this formatter) a result that would not mean the same
/// or would lose a comment, which is never written.
pub fn format_file(sources: &Sources, file: FileId) -> Result<String, Box<Diagnostic>> {
    let text = &sources.get(file).text;
    let body = crate::language::parse_body(text)
        .map_err(|error| Box::new(crate::language::syntax_error(sources, file, &error)))?;
    let formatted = format_body_text(&body, text);
    if let Err(why) = check_equivalent(text, &formatted) {
        let start = Span::new(file, 0..0);
        return Err(Box::new(
            Diagnostic::error(
                "fmt-unsafe",
                start,
                format!("fmt left this file as it is: its formatted form {why}"),
            )
            .with_help("this is a bug in archipel's formatter; please report it with the file"),
        ));
    }
    Ok(formatted)
}

/// The canonical form of HCL text (for tests and tools without a file).
pub fn format_text(text: &str) -> Result<String, crate::language::SyntaxFailure> {
    crate::language::parse_body(text).map(|body| format_body_text(&body, text))
}

/// Whether `formatted` is a faithful rewrite of `original`: it parses, to the
/// same body, and holds the same comments (each compared line by line without
/// its indentation, since fmt re-indents them and may move a stray comment
/// onto its own line).
pub fn check_equivalent(original: &str, formatted: &str) -> Result<(), String> {
    if let Some(refusal) = crate::lexer::refusal(original) {
        return Err(format!(
            "cannot be compared: {}",
            crate::language::SyntaxFailure::Refused(refusal)
        ));
    }
    let before = hcl::parse(original).map_err(|e| format!("cannot be compared: {e}"))?;
    let after = match hcl::parse(formatted) {
        Ok(after) => after,
        Err(e) => return Err(format!("does not parse: {e}")),
    };
    if labels_as_strings(before) != labels_as_strings(after) {
        return Err("does not mean the same".to_string());
    }
    let mut comments_before = comments_of(original);
    let mut comments_after = comments_of(formatted);
    comments_before.sort();
    comments_after.sort();
    if comments_before != comments_after {
        let lost = comments_before
            .iter()
            .find(|c| !comments_after.contains(c))
            .or_else(|| comments_after.iter().find(|c| !comments_before.contains(c)));
        return Err(match lost {
            Some(comment) => format!("does not keep the comment {comment:?}"),
            None => "does not keep every comment".to_string(),
        });
    }
    Ok(())
}

/// A body with every block label a string: fmt writes `island ouest {` as
/// `island "ouest" {`, which means the same to archipel.
fn labels_as_strings(body: hcl::Body) -> hcl::Body {
    use hcl::structure::{BlockLabel, Structure};
    body.into_iter()
        .map(|structure| match structure {
            Structure::Block(mut block) => {
                block.labels = block
                    .labels
                    .into_iter()
                    .map(|label| BlockLabel::String(label.as_str().to_string()))
                    .collect();
                block.body = labels_as_strings(block.body);
                Structure::Block(block)
            }
            attribute => attribute,
        })
        .collect()
}

/// Every comment of a well-formed HCL text, each line trimmed.
fn comments_of(text: &str) -> Vec<String> {
    crate::lexer::scan(text)
        .into_iter()
        .filter_map(|token| match token {
            crate::lexer::Token::Comment(range) => Some(
                text[range]
                    .trim_end()
                    .lines()
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .collect()
}

fn format_body_text(body: &Body, src: &str) -> String {
    let mut out = Lines::default();
    body_lines(body, src, 0, &mut out);
    // Comments after the last item of the file.
    if let Some(suffix) = body.decor().suffix() {
        let trivia = Trivia::parse(suffix, true);
        out.trailing(trivia.same_line);
        out.pieces(0, &trivia.pieces, !out.lines.is_empty());
    }
    let mut text = out.lines.join("\n");
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// Output under construction, a line at a time, so a trailing comment can be
/// appended to the line before it.
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    /// The line this formatter ended with a `#` or `//` comment, if it is
    /// still the last: it can take no more on it.
    line_comment_ends: Option<usize>,
}

impl Lines {
    fn push(&mut self, depth: usize, text: &str) {
        self.lines.push(format!("{}{text}", INDENT.repeat(depth)));
    }

    fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| !l.is_empty()) {
            self.lines.push(String::new());
        }
    }

    /// Appends comments to the last line (`x = 1 # why`). A line that
    /// already ends in a `#` or `//` comment takes no more: what followed
    /// would become part of that comment, so the next one gets a line of
    /// its own, at the same indentation.
    fn trailing(&mut self, comments: Vec<String>) {
        for comment in comments {
            let line_comment = is_line_comment(&comment);
            let ends_in_comment = self.line_comment_ends.is_some()
                && self.line_comment_ends == self.lines.len().checked_sub(1);
            match self.lines.last_mut() {
                Some(last) if !last.is_empty() && !ends_in_comment => {
                    last.push(' ');
                    last.push_str(&comment);
                }
                Some(last) if !last.is_empty() => {
                    let indent = last.len() - last.trim_start().len();
                    let line = format!("{}{comment}", &last[..indent]);
                    self.lines.push(line);
                }
                _ => self.lines.push(comment),
            }
            if line_comment {
                self.line_comment_ends = Some(self.lines.len() - 1);
            }
        }
    }

    /// The comments before an element of a list or object: those ending
    /// the previous line stay there, the others get lines of their own.
    /// Blank lines inside lists and objects are not kept.
    fn element_comments(&mut self, depth: usize, trivia: Trivia) {
        self.trailing(trivia.same_line);
        let pieces: Vec<Piece> = trivia
            .pieces
            .into_iter()
            .filter(|p| *p != Piece::Blank)
            .collect();
        self.pieces(depth, &pieces, false);
    }

    /// Own-line comments and blank lines. A blank line is kept only between
    /// things (`allow_leading_blank` is false for the first item of a body).
    fn pieces(&mut self, depth: usize, pieces: &[Piece], allow_leading_blank: bool) {
        let mut emitted = false;
        for piece in pieces {
            match piece {
                Piece::Blank if emitted || allow_leading_blank => self.blank(),
                Piece::Blank => {}
                Piece::Comment(text) => {
                    if is_line_comment(text) {
                        self.line_comment_ends = Some(self.lines.len());
                    }
                    for (i, line) in text.lines().enumerate() {
                        // Continuation lines of a /* */ comment keep their own indentation.
                        if i == 0 {
                            self.push(depth, line.trim());
                        } else {
                            self.lines.push(line.trim_end().to_string());
                        }
                    }
                    emitted = true;
                }
            }
        }
    }
}

/// Whether a comment runs to the end of its line (`#`, `//`).
fn is_line_comment(comment: &str) -> bool {
    !comment.starts_with("/*")
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Comment(String),
    Blank,
}

/// The comments and blank lines in a piece of decor.
#[derive(Debug, Default)]
struct Trivia {
    /// Comments before the first line break: they end the previous line.
    same_line: Vec<String>,
    pieces: Vec<Piece>,
}

impl Trivia {
    /// `at_line_start`: whether the decor begins at the start of a line (a
    /// structure's prefix) or right after code (an array element's prefix).
    fn parse(raw: &str, at_line_start: bool) -> Trivia {
        let mut trivia = Trivia::default();
        let mut seen_break = at_line_start;
        let mut line_empty = at_line_start;
        let mut rest = raw;
        while let Some(c) = rest.chars().next() {
            let comment_len = crate::lexer::comment_len(rest);
            if comment_len > 0 {
                let comment = rest[..comment_len].trim_end().to_string();
                if seen_break {
                    trivia.pieces.push(Piece::Comment(comment));
                } else {
                    trivia.same_line.push(comment);
                }
                line_empty = false;
                rest = &rest[comment_len..];
                continue;
            }
            if c == '\n' {
                if line_empty && seen_break && trivia.pieces.last() != Some(&Piece::Blank) {
                    trivia.pieces.push(Piece::Blank);
                }
                seen_break = true;
                line_empty = true;
            }
            rest = &rest[c.len_utf8()..];
        }
        trivia
    }

    fn comments(raw: Option<&hcl_edit::RawString>) -> Vec<String> {
        let Some(raw) = raw else { return Vec::new() };
        let trivia = Trivia::parse(raw, false);
        trivia
            .same_line
            .into_iter()
            .chain(trivia.pieces.into_iter().filter_map(|p| match p {
                Piece::Comment(c) => Some(c),
                Piece::Blank => None,
            }))
            .collect()
    }
}

/// Comments hidden in unusual places (`key /* x */ = value`): never lost,
/// moved onto their own line before the item.
fn stray_comments(decors: &[&Decor]) -> Vec<Piece> {
    decors
        .iter()
        .flat_map(|d| {
            Trivia::comments(d.prefix())
                .into_iter()
                .chain(Trivia::comments(d.suffix()))
        })
        .map(Piece::Comment)
        .collect()
}

/// One item of a body, ready to print.
enum Entry {
    Attribute { key: String, value: Vec<String> },
    Block(Vec<String>),
}

fn body_lines(body: &Body, src: &str, depth: usize, out: &mut Lines) {
    let mut index = 0;
    let items: Vec<&Structure> = body.iter().collect();
    while index < items.len() {
        // Gather a run of attributes not broken by a blank line or a block,
        // so their `=` can be aligned.
        let mut run: Vec<(Trivia, Entry, Vec<String>, Vec<Piece>)> = Vec::new();
        while index < items.len() {
            let structure = items[index];
            let prefix = structure
                .decor()
                .prefix()
                .map(|p| Trivia::parse(p, true))
                .unwrap_or_default();
            let is_block = matches!(structure, Structure::Block(_));
            let breaks_run = is_block || prefix.pieces.contains(&Piece::Blank);
            if !run.is_empty() && breaks_run {
                break;
            }
            let suffix = Trivia::comments(structure.decor().suffix());
            let (entry, stray) = match structure {
                Structure::Attribute(attr) => attribute_entry(attr, src, depth),
                Structure::Block(block) => {
                    (Entry::Block(block_lines(block, src, depth)), Vec::new())
                }
            };
            run.push((prefix, entry, suffix, stray));
            index += 1;
            if is_block {
                break;
            }
        }
        let width = run
            .iter()
            .filter_map(|(_, e, _, _)| match e {
                Entry::Attribute { key, .. } => Some(key.chars().count()),
                Entry::Block(_) => None,
            })
            .max()
            .unwrap_or(0);
        for (prefix, entry, suffix, stray) in run {
            let first_in_body = out_is_at_body_start(out, depth);
            out.trailing(prefix.same_line);
            let is_block = matches!(entry, Entry::Block(_));
            if is_block && !first_in_body {
                out.blank();
            }
            out.pieces(depth, &prefix.pieces, !first_in_body);
            out.pieces(depth, &stray, false);
            match entry {
                Entry::Attribute { key, value } => {
                    let mut value = value.into_iter();
                    let first = value.next().unwrap_or_default();
                    out.push(depth, &format!("{key:width$} = {first}"));
                    for line in value {
                        out.lines.push(line);
                    }
                }
                Entry::Block(lines) => out.lines.extend(lines),
            }
            out.trailing(suffix);
            if is_block {
                out.lines.push(String::new());
            }
        }
    }
    // No blank line between the last item and the closing brace (or the
    // comments that end the file, which bring their own blank lines).
    if out.lines.last().is_some_and(String::is_empty) {
        out.lines.pop();
    }
}

/// Whether nothing has been printed yet in the current body: the last line
/// opens a block (or there is no line at all at the top level).
fn out_is_at_body_start(out: &Lines, depth: usize) -> bool {
    match out.lines.iter().rev().find(|l| !l.is_empty()) {
        None => true,
        Some(last) => depth > 0 && opens_block(last),
    }
}

fn opens_block(line: &str) -> bool {
    let code = line.split(" #").next().unwrap_or(line);
    let code = code.split(" //").next().unwrap_or(code).trim_end();
    code.ends_with('{') && !code.contains('=')
}

fn attribute_entry(attr: &Attribute, src: &str, depth: usize) -> (Entry, Vec<Piece>) {
    let stray = stray_comments(&[attr.key.decor(), attr.value.decor()]);
    let value = expression_lines(&attr.value, src, depth);
    (
        Entry::Attribute {
            key: attr.key.as_str().to_string(),
            value,
        },
        stray,
    )
}

fn block_lines(block: &Block, src: &str, depth: usize) -> Vec<String> {
    let mut header = block.ident.as_str().to_string();
    for label in &block.labels {
        header.push(' ');
        // Labels are written quoted, as everywhere in HCL documentation:
        // a quoted one as written, an identifier in quotes.
        match label {
            BlockLabel::String(_) => header.push_str(&raw(src, label, || label.to_string())),
            BlockLabel::Ident(_) => {
                header.push_str(&Expression::from(label.as_str()).to_string());
            }
        }
    }
    let mut out = Lines::default();
    let mut stray = stray_comments(&[block.ident.decor()]);
    for label in &block.labels {
        stray.extend(stray_comments(&[label.decor()]));
    }
    out.pieces(depth, &stray, false);
    let body_prefix = Trivia::comments(block.body.decor().prefix());
    let body_suffix = block
        .body
        .decor()
        .suffix()
        .map(|s| Trivia::parse(s, true))
        .unwrap_or_default();
    if block.body.is_empty()
        && body_prefix.is_empty()
        && body_suffix.pieces.iter().all(|p| *p == Piece::Blank)
    {
        out.push(depth, &format!("{header} {{}}"));
        return out.lines;
    }
    out.push(depth, &format!("{header} {{"));
    out.trailing(body_prefix);
    body_lines(&block.body, src, depth + 1, &mut out);
    out.trailing(body_suffix.same_line);
    let only_blanks = body_suffix.pieces.iter().all(|p| *p == Piece::Blank);
    if !only_blanks {
        out.pieces(depth + 1, &body_suffix.pieces, !block.body.is_empty());
    }
    out.push(depth, "}");
    out.lines
}

/// An expression as lines: the first follows `key = `, the others are full
/// lines. Lists and objects written over several lines keep one item per
/// line; everything else is printed as written.
fn expression_lines(expr: &Expression, src: &str, depth: usize) -> Vec<String> {
    match expr {
        // A one-line list or object with a comment inside is kept as
        // written: its comments have no line of their own to go to.
        Expression::Array(_) | Expression::Object(_)
            if !is_multiline(expr, src) && holds_comment(expr, src) =>
        {
            verbatim(expr, src)
        }
        Expression::Array(array) if is_multiline(expr, src) => array_lines(array, src, depth),
        Expression::Array(array) => vec![format!(
            "[{}]",
            array
                .iter()
                .map(|e| expression_lines(e, src, depth).join("\n"))
                .collect::<Vec<_>>()
                .join(", ")
        )],
        Expression::Object(object) if is_multiline(expr, src) => object_lines(object, src, depth),
        Expression::Object(object) if object.is_empty() => vec!["{}".to_string()],
        Expression::Object(object) => vec![format!(
            "{{ {} }}",
            object
                .iter()
                .map(|(k, v)| format!(
                    "{} = {}",
                    key_text(k, src),
                    expression_lines(v.expr(), src, depth).join("\n")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )],
        other => verbatim(other, src),
    }
}

/// An expression as written, a line at a time. Everything but lists and
/// objects is printed so: hcl-edit's own encoder misses a `%{` or `${`
/// right after another `%` or `$` ("%%%{"), which would change a string.
fn verbatim(expr: &Expression, src: &str) -> Vec<String> {
    let text = raw(src, expr, || {
        let mut bare = expr.clone();
        bare.decor_mut().clear();
        bare.to_string()
    });
    // Split at line feeds only: a carriage return may be part of a string
    // (`str::lines` would drop it before a line feed).
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.split('\n').map(str::to_string).collect()
}

/// Whether an expression's text holds a comment.
fn holds_comment(expr: &Expression, src: &str) -> bool {
    let text = raw(src, expr, String::new);
    crate::lexer::scan(&text)
        .iter()
        .any(|token| matches!(token, crate::lexer::Token::Comment(_)))
}

fn is_multiline(expr: &Expression, src: &str) -> bool {
    raw(src, expr, || {
        let mut bare = expr.clone();
        bare.decor_mut().clear();
        bare.to_string()
    })
    .contains('\n')
}

/// An element's source text, as written (without its decor), or `fallback`
/// for one that has no place in the source.
fn raw(src: &str, element: &impl hcl_edit::Span, fallback: impl FnOnce() -> String) -> String {
    element
        .span()
        .and_then(|range| src.get(range))
        .map_or_else(fallback, str::to_string)
}

fn key_text(key: &ObjectKey, src: &str) -> String {
    match key {
        ObjectKey::Ident(ident) => ident.as_str().to_string(),
        ObjectKey::Expression(expr) => raw(src, expr, || {
            let mut bare = expr.clone();
            bare.decor_mut().clear();
            bare.to_string()
        }),
    }
}

fn array_lines(array: &Array, src: &str, depth: usize) -> Vec<String> {
    let mut out = Lines::default();
    out.lines.push("[".to_string());
    for element in array.iter() {
        let trivia = element
            .decor()
            .prefix()
            .map(|p| Trivia::parse(p, false))
            .unwrap_or_default();
        out.element_comments(depth + 1, trivia);
        let mut lines = expression_lines(element, src, depth + 1);
        // The comma goes after the element's last line.
        if let Some(last) = lines.last_mut() {
            last.push(',');
        }
        let mut lines = lines.into_iter();
        out.push(depth + 1, &lines.next().unwrap_or_default());
        out.lines.extend(lines);
        out.trailing(Trivia::comments(element.decor().suffix()));
    }
    let trailing = Trivia::parse(array.trailing(), false);
    out.element_comments(depth + 1, trailing);
    out.push(depth, "]");
    out.lines
}

fn object_lines(object: &Object, src: &str, depth: usize) -> Vec<String> {
    let mut out = Lines::default();
    out.lines.push("{".to_string());
    let width = object
        .iter()
        .map(|(k, _)| key_text(k, src).chars().count())
        .max()
        .unwrap_or(0);
    // An item ended by a line break (not a comma) has consumed that break:
    // what follows starts at the beginning of a line.
    let mut at_line_start = false;
    for (key, value) in object.iter() {
        let trivia = key
            .decor()
            .prefix()
            .map(|p| Trivia::parse(p, at_line_start))
            .unwrap_or_default();
        at_line_start = value.terminator() == ObjectValueTerminator::Newline;
        out.element_comments(depth + 1, trivia);
        let mut lines = expression_lines(value.expr(), src, depth + 1).into_iter();
        out.push(
            depth + 1,
            &format!(
                "{:width$} = {}",
                key_text(key, src),
                lines.next().unwrap_or_default()
            ),
        );
        out.lines.extend(lines);
        out.trailing(Trivia::comments(key.decor().suffix()));
        // A comment between `=` and the value moves after the value.
        out.trailing(Trivia::comments(value.expr().decor().prefix()));
        out.trailing(Trivia::comments(value.expr().decor().suffix()));
    }
    let trailing = Trivia::parse(object.trailing(), at_line_start);
    out.element_comments(depth + 1, trailing);
    out.push(depth, "}");
    out.lines
}
