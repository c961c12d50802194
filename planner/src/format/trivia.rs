//! The comments and blank lines around items, as hcl-edit keeps them in
//! their decor.

use hcl_edit::Decor;

/// Whether a comment runs to the end of its line (`#`, `//`).
pub(super) fn is_line_comment(comment: &str) -> bool {
    !comment.starts_with("/*")
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Comment(String),
    Blank,
}

/// The comments and blank lines in a piece of decor.
#[derive(Debug, Default)]
pub(super) struct Trivia {
    /// Comments before the first line break: they end the previous line.
    pub(super) same_line: Vec<String>,
    pub(super) pieces: Vec<Piece>,
}

impl Trivia {
    /// `at_line_start`: whether the decor begins at the start of a line (a
    /// structure's prefix) or right after code (an array element's prefix).
    pub(super) fn parse(raw: &str, at_line_start: bool) -> Trivia {
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

    pub(super) fn comments(raw: Option<&hcl_edit::RawString>) -> Vec<String> {
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
pub(super) fn stray_comments(decors: &[&Decor]) -> Vec<Piece> {
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
