//! Whether fmt's output is a faithful rewrite of its input.

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
