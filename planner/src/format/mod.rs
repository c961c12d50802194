//! `archipel fmt`: the canonical layout of an archipelago file.
//!
//! Two-space indentation, `=` aligned in runs of attributes, one blank line
//! around blocks, at most one blank line anywhere, one space before a
//! trailing comment, a final newline — and every comment kept. hcl-rs's own
//! formatter drops comments, so this one works on hcl-edit's lossless tree,
//! where comments live in the "decor" around each item.

//!
//! The work is split by what it formats: a body's attributes and blocks
//! (`body.rs`), the expressions in them (`expression.rs`), the comments and
//! blank lines in hcl-edit's decor (`trivia.rs`), the output being built a
//! line at a time (`lines.rs`); and the check that the result means the
//! same and keeps every comment (`equivalence.rs`).

mod body;
mod equivalence;
mod expression;
mod lines;
mod trivia;

pub use equivalence::check_equivalent;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Sources, Span};
use body::body_lines;
use hcl_edit::Decorate;
use hcl_edit::structure::Body;
use lines::Lines;
use trivia::Trivia;

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
