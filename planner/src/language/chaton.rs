//! A `chaton` block: who runs the machines, where their data goes, and
//! the node, backup and removed blocks it holds.

use super::decoder::Decoder;
use super::schema::{CHATON, DEFAULT_METRICS_DIR};
use crate::model::Chaton;
use hcl_edit::structure::{Attribute, Block};

/// A chaton's name is also in its key's name (`archipel-CHATON`): `vault`
/// would be the island's own vault key.
fn check_chaton_name(name: &str) -> Result<(), String> {
    super::names::check_name(name)?;
    if name == "vault" {
        return Err("\"vault\" is reserved: the key `archipel-vault` is each island's own".into());
    }
    Ok(())
}

impl Decoder<'_> {
    pub(super) fn chaton(&mut self, block: &Block) -> Option<Chaton> {
        let name = self.label_checked(block, "chaton", "picasoft", check_chaton_name);
        if let Some(name) = &name {
            self.declared.chatons.insert(name.clone());
        }
        let what = format!("chaton \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &CHATON, what);
        let island = self.required(&fields, "island", "\"ouest\"", Self::island_reference);
        // An invalid contact is reported but does not drop the chaton: its
        // name, island, nodes and backups still serve the other rules.
        let contact = self.required(&fields, "contact", "\"admin@example.org\"", |d, attr| {
            d.non_empty(attr, "a contact", "\"admin@example.org\"")
        });
        let escrow = self.optional(&fields, "escrow", |d, attr| {
            d.list(attr, Self::escrow_recipient)
        });
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        let metrics_dir = self.optional(&fields, "metrics_dir", Self::absolute_path);
        let what = format!("chaton \"{}\"", name.as_deref().unwrap_or("?"));
        let notify = self.notify(&fields.blocks, &what);
        // A node or backup with an error is left out (and reported), the
        // chaton kept: its name and island still serve the other rules.
        let mut nodes = Vec::new();
        let mut backups = Vec::new();
        let mut removed = Vec::new();
        let mut vault_blocks = Vec::new();
        for inner in &fields.blocks {
            match inner.ident.as_str() {
                "node" => nodes.extend(self.node(inner)),
                "removed" => removed.extend(self.removed(inner)),
                "vault" => vault_blocks.push(*inner),
                "notify" => {}
                _ => backups.extend(self.backup(inner)),
            }
        }
        let vault = self.vault(fields.attributes.get("vault").copied(), &vault_blocks);
        Some(Chaton {
            name: name?,
            island: island?,
            contact: contact.unwrap_or_default(),
            // An invalid recipient is reported; the chaton still counts as
            // having said whom to escrow to.
            escrow: escrow.unwrap_or(Some(Vec::new())),
            // An invalid value is reported; the chaton is guarded meanwhile.
            prevent_destroy: prevent_destroy.unwrap_or(Some(true)).unwrap_or(false),
            vault,
            metrics_dir: metrics_dir
                .flatten()
                .unwrap_or_else(|| DEFAULT_METRICS_DIR.to_string()),
            // An invalid block is reported; the chaton's jobs still count.
            notify: notify.flatten(),
            nodes,
            backups,
            removed,
            origin: fields.origin,
        })
    }

    /// A public key the chaton's passwords are encrypted to: what `age`
    /// itself accepts as a recipient.
    fn escrow_recipient(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let text = text.trim().to_string();
        if crate::escrow::parse_recipient(&text).is_err() {
            let span = self.span(&attr.value);
            self.error(
                "invalid-recipient",
                span,
                "not an age public key (age1…) nor an SSH public key (ssh-ed25519 AAAA…)",
            );
            return None;
        }
        Some(text)
    }
}
