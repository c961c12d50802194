//! A body's attributes (their `=` aligned in runs) and blocks.

use super::expression::{expression_lines, raw};
use super::lines::Lines;
use super::trivia::{Piece, Trivia, stray_comments};
use hcl_edit::Decorate;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};

/// One item of a body, ready to print.
enum Entry {
    Attribute { key: String, value: Vec<String> },
    Block(Vec<String>),
}

pub(super) fn body_lines(body: &Body, src: &str, depth: usize, out: &mut Lines) {
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
