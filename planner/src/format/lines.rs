//! The formatted text, built a line at a time.

use super::INDENT;
use super::trivia::{Piece, Trivia, is_line_comment};

/// Output under construction, a line at a time, so a trailing comment can be
/// appended to the line before it.
#[derive(Default)]
pub(super) struct Lines {
    pub(super) lines: Vec<String>,
    /// The line this formatter ended with a `#` or `//` comment, if it is
    /// still the last: it can take no more on it.
    line_comment_ends: Option<usize>,
}

impl Lines {
    pub(super) fn push(&mut self, depth: usize, text: &str) {
        self.lines.push(format!("{}{text}", INDENT.repeat(depth)));
    }

    pub(super) fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| !l.is_empty()) {
            self.lines.push(String::new());
        }
    }

    /// Appends comments to the last line (`x = 1 # why`). A line that
    /// already ends in a `#` or `//` comment takes no more: what followed
    /// would become part of that comment, so the next one gets a line of
    /// its own, at the same indentation.
    pub(super) fn trailing(&mut self, comments: Vec<String>) {
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
    pub(super) fn element_comments(&mut self, depth: usize, trivia: Trivia) {
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
    pub(super) fn pieces(&mut self, depth: usize, pieces: &[Piece], allow_leading_blank: bool) {
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
