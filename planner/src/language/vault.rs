//! A chaton's vault: `vault = false` opts out, `vault { keep_deleted = "30d" }`
//! sets how long deleted objects stay; saying nothing means a vault with
//! the default grace period.

use super::decoder::Decoder;
use super::schema::VAULT;
use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::model::Vault;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block};

impl Decoder<'_> {
    /// The chaton's `vault` attribute and `vault` blocks (at most one of all).
    pub(super) fn vault(&mut self, attribute: Option<&Attribute>, blocks: &[&Block]) -> Vault {
        let mut vault = Vault::default();
        let mut first: Option<crate::source::Span> = None;
        if let Some(attr) = attribute {
            first = Some(self.span(&attr.key));
            if let Some(enabled) = self.boolean(attr) {
                vault.enabled = enabled;
                vault.origin = Some(self.span(&attr.value));
            }
        }
        for block in blocks {
            let header = self.header_span(block);
            if let Some(first) = &first {
                self.diagnostics.push(
                    Diagnostic::error(
                        "duplicate-vault",
                        header,
                        "a chaton has one vault setting: `vault = false` or one `vault { … }` block",
                    )
                    .with_related(first.clone(), "first set here"),
                );
                continue;
            }
            first = Some(header);
            if !block.labels.is_empty() {
                let span = self.span(&block.labels[0]);
                self.error("extra-label", span, "a vault block has no name");
            }
            let fields = self.fields(block, &VAULT, "vault".to_string());
            if let Some(Some(keep)) = self.optional(&fields, "keep_deleted", Self::duration) {
                vault.keep_deleted = keep;
                vault.origin = fields.origin.attributes.get("keep_deleted").cloned();
            }
        }
        vault
    }

    /// A length of time: a string like `"30d"`.
    pub(super) fn duration(&mut self, attr: &Attribute) -> Option<Duration> {
        let text = match &attr.value {
            Expression::Number(_) => {
                let span = self.span(&attr.value);
                self.error(
                    "invalid-duration",
                    span,
                    "a duration is a string with a unit",
                )
                .help = Some("write e.g. \"30d\" (w, d, h, m or s)".into());
                return None;
            }
            _ => self.string(attr)?,
        };
        Duration::parse(&text)
            .map_err(|reason| {
                let span = self.span(&attr.value);
                self.error(
                    "invalid-duration",
                    span,
                    format!("invalid duration: {reason}"),
                );
            })
            .ok()
    }
}
