//! Just enough of HCL's lexical structure to find comments and braces in a
//! text the parser has already accepted (or that it rejected, to say where
//! a block was left open): strings with their `${…}` and `%{…}` templates
//! (which may nest strings), heredocs, and the three comment forms.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A `#`, `//` or `/* */` comment, without its line break.
    Comment(Range<usize>),
    /// A `{` or `}` of the file's structure (blocks and objects), not one
    /// inside a string or a template.
    Open(usize),
    Close(usize),
}

/// How deep a file may nest: blocks, objects, lists, parentheses, quoted
/// strings and `${…}` interpolations all count, one level each (a string
/// in an object in a block is three deep; `"${ "${ "…" }" }"` is five).
/// HCL's parser (hcl-edit) backtracks over nestings it cannot close, and
/// its time doubles with each level: 20 levels took seconds, 30 would
/// take hours. Nothing an archipelago says goes past five or six.
pub const MAX_NESTING: usize = 16;

/// The comments and structural braces of `text`, in order.
pub fn scan(text: &str) -> Vec<Token> {
    scan_nesting(text).0
}

/// What is refused before the parser sees it: HCL does not allow it, and
/// the parser (hcl-edit) accepts it or backtracks over it in a time that
/// doubles with each occurrence (fuzzing found 5 KB files that take
/// seconds to minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A quoted string that holds a line break, at its opening quote. HCL
    /// (and Terraform) refuse it: a text on several lines is a heredoc.
    LineBreakInString(usize),
    /// A bracket, brace, parenthesis, quote or `${` that opens a level
    /// deeper than [`MAX_NESTING`], where it is.
    TooDeep(usize),
}

impl Refusal {
    /// Where it is, as a byte offset.
    pub fn offset(self) -> usize {
        match self {
            Refusal::LineBreakInString(at) | Refusal::TooDeep(at) => at,
        }
    }
}

/// The first thing in `text` the parser must not be given, if any.
pub fn refusal(text: &str) -> Option<Refusal> {
    scan_nesting(text).1
}

/// Where the scan is: in code or in a quoted string.
enum Context {
    /// Code, with the braces and the brackets or parentheses opened in
    /// it: a `}` with no brace open ends the template interpolation this
    /// code is in.
    Code { braces: usize, brackets: usize },
    /// A quoted string, with where its opening quote is.
    String(usize),
}

/// What a step of the scan does to the stack of contexts.
enum Then {
    Stay,
    Enter(Context),
    Leave,
}

/// What the scan found so far.
#[derive(Default)]
struct Found {
    tokens: Vec<Token>,
    refused: Option<Refusal>,
    /// Every level open: strings and interpolations (the stack past the
    /// file's own code) and the braces and brackets of each code.
    nesting: usize,
}

impl Found {
    fn refuse(&mut self, refusal: Refusal) {
        self.refused.get_or_insert(refusal);
    }

    /// A level opens at `at`.
    fn deeper(&mut self, at: usize) {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.refuse(Refusal::TooDeep(at));
        }
    }
}

/// The tokens, and the first refusal.
fn scan_nesting(text: &str) -> (Vec<Token>, Option<Refusal>) {
    let mut found = Found::default();
    let mut stack = vec![Context::Code {
        braces: 0,
        brackets: 0,
    }];
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let outermost = stack.len() == 1;
        let (advance, then) = match stack.last_mut() {
            Some(Context::String(start)) => in_string(rest, i, *start, &mut found),
            Some(Context::Code { braces, brackets }) => {
                in_code(rest, i, outermost, (braces, brackets), &mut found)
            }
            None => break,
        };
        i += advance;
        match then {
            Then::Stay => {}
            Then::Enter(context) => stack.push(context),
            Then::Leave => {
                stack.pop();
            }
        }
    }
    (found.tokens, found.refused)
}

/// One step in a quoted string opened at `start`, at `i` (`rest`): how
/// far it goes, and whether it opens an interpolation or ends the string.
fn in_string(rest: &str, i: usize, start: usize, found: &mut Found) -> (usize, Then) {
    let mut chars = rest.chars();
    let c = chars.next().unwrap_or(' ');
    if c == '\\' {
        // An escape: the next character is text, whatever it is.
        (1 + chars.next().map_or(0, char::len_utf8), Then::Stay)
    } else if rest.starts_with("$${") || rest.starts_with("%%{") {
        (3, Then::Stay)
    } else if rest.starts_with("${") || rest.starts_with("%{") {
        found.deeper(i);
        let code = Context::Code {
            braces: 0,
            brackets: 0,
        };
        (2, Then::Enter(code))
    } else {
        // hcl-edit accepts a line break inside a quoted string (only `"`
        // ends it); HCL does not.
        if c == '\n' {
            found.refuse(Refusal::LineBreakInString(start));
        }
        if c == '"' {
            found.nesting -= 1;
            (c.len_utf8(), Then::Leave)
        } else {
            (c.len_utf8(), Then::Stay)
        }
    }
}

/// One step in code, at `i` (`rest`), with the braces and brackets it has
/// open: how far it goes, and whether it opens a string or ends the
/// interpolation it is in. Only the file's own code (`outermost`) has
/// structural braces.
fn in_code(
    rest: &str,
    i: usize,
    outermost: bool,
    (braces, brackets): (&mut usize, &mut usize),
    found: &mut Found,
) -> (usize, Then) {
    let c = rest.chars().next().unwrap_or(' ');
    let comment = comment_len(rest);
    if comment > 0 {
        found.tokens.push(Token::Comment(i..i + comment));
        return (comment, Then::Stay);
    }
    if rest.starts_with("<<") {
        return (heredoc_len(rest), Then::Stay);
    }
    match c {
        '"' => {
            found.deeper(i);
            return (1, Then::Enter(Context::String(i)));
        }
        '{' => {
            *braces += 1;
            if outermost {
                found.tokens.push(Token::Open(i));
            }
            found.deeper(i);
        }
        '[' | '(' => {
            *brackets += 1;
            found.deeper(i);
        }
        // One that closes nothing is the parser's to report.
        ']' | ')' if *brackets > 0 => {
            *brackets -= 1;
            found.nesting -= 1;
        }
        '}' if *braces > 0 => {
            *braces -= 1;
            found.nesting -= 1;
            if outermost {
                found.tokens.push(Token::Close(i));
            }
        }
        '}' if !outermost => {
            // The interpolation ends; what it left open with it.
            found.nesting -= 1 + *brackets;
            return (1, Then::Leave);
        }
        '}' => found.tokens.push(Token::Close(i)),
        _ => {}
    }
    (c.len_utf8(), Then::Stay)
}

/// The length of the comment `rest` starts with (`#` or `//` to the end
/// of the line, `/* … */` through its end), or 0 when it starts none.
pub fn comment_len(rest: &str) -> usize {
    if rest.starts_with('#') || rest.starts_with("//") {
        rest.find('\n').unwrap_or(rest.len())
    } else if let Some(body) = rest.strip_prefix("/*") {
        // The end is searched after the opening: in `/*/ x */` the `*/` at
        // offset 1 is part of the opening, not the end.
        body.find("*/").map_or(rest.len(), |end| end + 4)
    } else {
        0
    }
}

/// The length of a heredoc (`<<EOF` or `<<-EOF` … the marker alone on a
/// line), or 2 when `<<` starts none.
fn heredoc_len(rest: &str) -> usize {
    let after = rest[2..].strip_prefix('-').unwrap_or(&rest[2..]);
    let marker: String = after
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if marker.is_empty() {
        return 2;
    }
    let Some(first_break) = rest.find('\n') else {
        return rest.len();
    };
    let mut offset = first_break + 1;
    for line in rest[first_break + 1..].split_inclusive('\n') {
        offset += line.len();
        if line.trim() == marker {
            return offset;
        }
    }
    rest.len()
}

/// The `{` of the innermost block or object left open at the end of the
/// text, or a `}` that closes nothing: where an unbalanced file really
/// goes wrong (the parser only notices at the end of the file).
pub fn unbalanced_brace(text: &str) -> Option<usize> {
    let mut open = Vec::new();
    for token in scan(text) {
        match token {
            Token::Open(at) => open.push(at),
            Token::Close(at) => {
                if open.pop().is_none() {
                    return Some(at);
                }
            }
            Token::Comment(_) => {}
        }
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_braces_outside_strings_and_heredocs() {
        let text = "a = \"# not ${\"//\"} { /*\"\nb = <<EOF\n# not { either\nEOF\nc { # real\n}\n";
        let tokens = scan(text);
        let comments: Vec<&str> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Comment(r) => Some(&text[r.clone()]),
                _ => None,
            })
            .collect();
        assert_eq!(comments, ["# real"]);
        assert_eq!(
            tokens
                .iter()
                .filter(|t| matches!(t, Token::Open(_)))
                .count(),
            1
        );
    }

    #[test]
    fn nesting_too_deep_is_found_where_the_first_level_too_many_opens() {
        // Each level closed on the line, so that no string holds a break:
        // a string and its interpolation are two levels.
        let strings =
            |depth: usize| format!("a = {}{}\n", "\"${".repeat(depth), "}\"".repeat(depth));
        assert_eq!(refusal(&strings(MAX_NESTING / 2)), None);
        assert_eq!(
            refusal(&strings(MAX_NESTING / 2 + 3)),
            Some(Refusal::TooDeep(4 + 3 * MAX_NESTING / 2))
        );
        // Blocks, objects, lists and parentheses count alike, left open or
        // closed.
        let mixed = |depth: usize| {
            let opening: String = (0..depth)
                .map(|n| ["b {\n", "{ a = ", "[", "("][n % 4])
                .collect();
            format!("{opening}1\n")
        };
        assert_eq!(refusal(&mixed(MAX_NESTING)), None);
        let too_deep = mixed(MAX_NESTING + 1);
        assert_eq!(
            refusal(&too_deep),
            Some(Refusal::TooDeep(too_deep.len() - 4))
        );
        let closed = format!("x = {}1{}\n", "[".repeat(40), "]".repeat(40));
        assert_eq!(refusal(&closed), Some(Refusal::TooDeep(4 + MAX_NESTING)));
        // What an interpolation leaves open ends with it.
        assert_eq!(refusal(&"a = \"${ [[[ }\"\n".repeat(20)), None);
        // Closed strings one after the other are not nested.
        assert_eq!(refusal(&"a = \"${b}\"\n".repeat(50)), None);
    }

    #[test]
    fn a_line_break_in_a_quoted_string_is_refused_at_its_quote() {
        assert_eq!(
            refusal("a = \"x\"\nb = \"one\ntwo\"\n"),
            Some(Refusal::LineBreakInString(12))
        );
        // In an interpolation, in a heredoc, in a comment, escaped: fine.
        for text in [
            "a = \"${\n  b\n}\"\n",
            "a = <<EOF\none \"\ntwo\nEOF\n",
            "# \"\na = \"x\\n\"\n",
        ] {
            assert_eq!(refusal(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_block_left_open_is_found_where_it_opens() {
        let text = "chaton \"a\" {\n  island = \"x\"\n\nbucket \"b\" {\n}\n";
        assert_eq!(unbalanced_brace(text), Some(11));
        assert_eq!(unbalanced_brace("a {\n}\n}\n"), Some(6));
        assert_eq!(unbalanced_brace("a { b = { c = 1 } }\n"), None);
    }
}
