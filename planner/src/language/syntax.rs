//! Reading the text: every parse of a user's HCL, and a syntax error told
//! where it most likely is, in the words of someone who knows HCL.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Sources, Span};
use hcl_edit::structure::Body;

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
