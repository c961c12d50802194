//! A `notify` block, on a chaton or a backup job: the URL its runs ping,
//! named by where it is (a variable of apply's environment, or a file on
//! the backup host), never written in the file.

use super::decoder::Decoder;
use super::schema::NOTIFY;
use crate::diagnostic::Diagnostic;
use crate::model::{Notify, PingKind, PingUrl};
use hcl_edit::structure::{Attribute, Block};

impl Decoder<'_> {
    /// The one `notify` block among `blocks`, if any: `Some(None)` when
    /// there is none, `None` when it is invalid (reported).
    pub(super) fn notify(&mut self, blocks: &[&Block], owner: &str) -> Option<Option<Notify>> {
        let mut found = blocks.iter().filter(|b| b.ident.as_str() == "notify");
        let Some(block) = found.next() else {
            return Some(None);
        };
        let mut ok = true;
        for again in found {
            let span = self.header_span(again);
            let first = self.header_span(block);
            self.diagnostics.push(
                Diagnostic::error(
                    "duplicate-block",
                    span,
                    format!("{owner} has one `notify` block"),
                )
                .with_related(first, "first defined here"),
            );
            ok = false;
        }
        if !block.labels.is_empty() {
            let span = self.span(&block.labels[0]);
            self.error("extra-label", span, "a notify block has no name");
            ok = false;
        }
        let fields = self.fields(block, &NOTIFY, format!("notify of {owner}"));
        let kind = self.optional(&fields, "type", |d, attr| d.choice(attr, PingKind::NAMES));
        let variable = self.optional(&fields, "url_env", Self::variable_name);
        let version = self.optional(&fields, "url_version", |d, attr| {
            d.integer(attr, 1, u64::from(u32::MAX))
        });
        let file = self.optional(&fields, "url_file", Self::absolute_path);
        let (Some(kind), Some(variable), Some(version), Some(file)) =
            (kind, variable, version, file)
        else {
            return None;
        };
        let header = fields.origin.block.clone();
        let url = match (variable, version, file) {
            (Some(variable), version, None) => Some(PingUrl::Env {
                variable,
                version: version.unwrap_or(1),
            }),
            (None, None, Some(path)) => Some(PingUrl::File(path)),
            (None, Some(_), Some(_)) => {
                let span = fields.origin.attribute("url_version");
                self.error(
                    "invalid-value",
                    span,
                    "`url_version` goes with `url_env`: a file on the host is read at each run",
                );
                None
            }
            (Some(_), _, Some(_)) => {
                let span = fields.origin.attribute("url_file");
                self.error(
                    "conflicting-attributes",
                    span,
                    "a notify block takes `url_env` or `url_file`, not both",
                );
                None
            }
            (None, _, None) => {
                self.error(
                    "missing-attribute",
                    header,
                    format!("notify of {owner} has no `url_env` nor `url_file`"),
                )
                .help = Some(
                    "the ping URL is a secret: name the variable apply reads it from (`url_env = \"PICASOFT_PING_URL\"`) or a file on the backup host (`url_file = \"/etc/archipel/ping-url\"`)"
                        .into(),
                );
                None
            }
        };
        Some(Some(Notify {
            kind: kind.unwrap_or(PingKind::Healthchecks),
            url: url.filter(|_| ok)?,
            origin: fields.origin,
        }))
    }

    /// An environment variable's name, as POSIX shells take them.
    fn variable_name(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let mut chars = text.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let span = self.span(&attr.value);
            self.error(
                "invalid-value",
                span,
                format!("\"{text}\" is not an environment variable's name"),
            )
            .help = Some("letters, digits and `_`, not starting with a digit".into());
            return None;
        }
        Some(text)
    }
}
