//! The text of an archipelago: one or more `.hcl` files, read by the caller.
//!
//! The planner does no I/O: the CLI reads the files and hands their text
//! here, so every diagnostic can point into them by byte offset.

use serde::Serialize;
use std::ops::Range;

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// A place in the archipelago's source text: a file and a byte range in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub range: Range<usize>,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span { file, range }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceFile {
    /// The path as the user gave it (or as found in the directory), for messages.
    pub path: String,
    pub text: String,
    /// Where each line starts: a position is found without reading the file
    /// from its start (a large file's many diagnostics would make that
    /// quadratic).
    #[serde(skip)]
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// The byte offset where each line starts (after each `\n`), the first
    /// at 0.
    pub fn line_starts(&self) -> &[usize] {
        &self.line_starts
    }

    /// The 0-based line an offset is on.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset) - 1
    }
}

/// Every file of one archipelago, in the order they are read (sorted by name
/// for a directory, as Terraform does).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

/// A 1-based line and column (in characters) in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            path: path.into(),
            text,
            line_starts,
        });
        self.files.len() - 1
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate()
    }

    pub fn get(&self, file: FileId) -> &SourceFile {
        &self.files[file]
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The line and column of a byte offset. Offsets inside a multi-byte
    /// character or past the end are clamped, never a panic.
    pub fn position(&self, file: FileId, offset: usize) -> Position {
        let source = &self.files[file];
        let text = &source.text;
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = source.line_of(offset);
        let column = text[source.line_starts[line]..offset].chars().count() + 1;
        Position {
            line: line + 1,
            column,
        }
    }

    /// The full lines of text that a span touches, without the final newline.
    pub fn snippet(&self, span: &Span) -> &str {
        let text = &self.files[span.file].text;
        let clamp = |mut i: usize| {
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = clamp(span.range.start);
        let end = clamp(span.range.end.max(span.range.start));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        // A span that ends right after a newline does not touch the next line.
        let end_probe = if end > start && text[..end].ends_with('\n') {
            end - 1
        } else {
            end
        };
        let line_end = text[end_probe..]
            .find('\n')
            .map_or(text.len(), |i| end_probe + i);
        text[line_start..line_end].trim_end_matches('\r')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading the text from its start, as positions were found before the
    /// line index: the index must agree everywhere.
    fn read_from_start(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    #[test]
    fn positions_from_the_line_index_agree_with_reading_from_the_start() {
        let mut sources = Sources::new();
        let text = "island \"é\" {\n\n  garage { version = \"2.5.0\" }\r\n}\nchaton \"ç\" {}";
        let file = sources.add("a.hcl", text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(
                sources.position(file, offset),
                read_from_start(text, offset),
                "offset {offset}"
            );
        }
        let empty = sources.add("empty.hcl", "");
        assert_eq!(sources.position(empty, 5), Position { line: 1, column: 1 });
    }
}
