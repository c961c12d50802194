//! Names, and references by name to an island or a chaton, recorded so that
//! an undefined one is reported once.

use super::decoder::Decoder;
use super::{Reference, ReferenceKind};
use hcl_edit::structure::Attribute;

impl Decoder<'_> {
    fn name(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        if let Err(reason) = check_name(&text) {
            let span = self.span(&attr.value);
            self.error(
                "invalid-name",
                span,
                format!("\"{text}\" is not a valid name: {reason}"),
            );
            return None;
        }
        Some(text)
    }

    pub(super) fn island_reference(&mut self, attr: &Attribute) -> Option<String> {
        self.reference(attr, ReferenceKind::Island)
    }

    pub(super) fn chaton_reference(&mut self, attr: &Attribute) -> Option<String> {
        self.reference(attr, ReferenceKind::Chaton)
    }

    fn reference(&mut self, attr: &Attribute, kind: ReferenceKind) -> Option<String> {
        let name = self.name(attr)?;
        self.declared.references.push(Reference {
            kind,
            name: name.clone(),
            span: self.span(&attr.value),
        });
        Some(name)
    }
}

/// Names of islands, chatons, nodes and backups: they become Garage zones,
/// bucket names and systemd unit names, so they stay simple.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > 48 {
        return Err("a name has at most 48 characters".into());
    }
    check_characters(name)
}

/// What names and bucket names share: lowercase letters, digits and '-',
/// starting and ending with a letter or digit.
pub(super) fn check_characters(name: &str) -> Result<(), String> {
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("use lowercase letters, digits and '-'".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("a name starts and ends with a letter or digit".into());
    }
    Ok(())
}
