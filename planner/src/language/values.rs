//! The kinds of value an attribute holds: literal strings, booleans,
//! numbers, choices, lists, paths, sizes, SSH targets and pinned binaries;
//! and why an expression is not one.

use super::decoder::Decoder;
use crate::diagnostic::did_you_mean;
use crate::model::{BinarySource, SshTarget};
use crate::size::Size;
use crate::source::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Attribute;
use hcl_edit::template::{Element, Template};

impl Decoder<'_> {
    pub(super) fn boolean(&mut self, attr: &Attribute) -> Option<bool> {
        match &attr.value {
            Expression::Bool(value) => Some(*value.value()),
            other => {
                self.wrong_type(other, "true or false");
                None
            }
        }
    }

    pub(super) fn string(&mut self, attr: &Attribute) -> Option<String> {
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

    pub(super) fn absolute_path(&mut self, attr: &Attribute) -> Option<String> {
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

    pub(super) fn ssh_target(&mut self, attr: &Attribute) -> Option<SshTarget> {
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

    pub(super) fn size(&mut self, attr: &Attribute) -> Option<Size> {
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
    pub(super) fn quota(&mut self, attr: &Attribute) -> Option<Size> {
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
    pub(super) fn non_empty(
        &mut self,
        attr: &Attribute,
        what: &str,
        example: &str,
    ) -> Option<String> {
        let text = self.string(attr)?;
        if text.trim().is_empty() {
            let span = self.span(&attr.value);
            self.error("invalid-value", span, format!("{what} cannot be empty"))
                .help = Some(format!("write e.g. {example}"));
            return None;
        }
        Some(text)
    }

    pub(super) fn integer(&mut self, attr: &Attribute, min: u64, max: u64) -> Option<u64> {
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

    pub(super) fn choice<T: Copy>(&mut self, attr: &Attribute, choices: &[(&str, T)]) -> Option<T> {
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

    pub(super) fn list<T: PartialEq + Clone>(
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

    /// An http(s) URL archipel downloads, or a local path.
    pub(super) fn binary_source(&mut self, value: &Expression, what: &str) -> Option<BinarySource> {
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

    /// A Garage release: three numbers (`2.5.0`), as its releases are named.
    pub(super) fn release(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        if crate::garage::Release::parse(&text).is_some() {
            Some(text.trim_start_matches('v').to_string())
        } else {
            let span = self.span(&attr.value);
            self.error(
                "invalid-version",
                span,
                format!("version must be a Garage release such as \"2.5.0\", not \"{text}\""),
            );
            None
        }
    }

    pub(super) fn sha256(&mut self, value: &Expression) -> Option<String> {
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

    pub(super) fn wrong_type(&mut self, value: &Expression, expected: &str) {
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

    pub(super) fn unevaluated(&mut self, value: &Expression) {
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
