//! Expressions: lists and objects laid out an item a line, everything
//! else as written.

use super::lines::Lines;
use super::trivia::Trivia;
use hcl_edit::Decorate;
use hcl_edit::expr::{Array, Expression, Object, ObjectKey, ObjectValueTerminator};

/// An expression as lines: the first follows `key = `, the others are full
/// lines. Lists and objects written over several lines keep one item per
/// line; everything else is printed as written.
pub(super) fn expression_lines(expr: &Expression, src: &str, depth: usize) -> Vec<String> {
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
pub(super) fn raw(
    src: &str,
    element: &impl hcl_edit::Span,
    fallback: impl FnOnce() -> String,
) -> String {
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
