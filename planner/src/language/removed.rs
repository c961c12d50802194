//! A chaton's `removed` block: a backup job the file no longer runs, and the
//! host it is to be taken off.

use super::decoder::Decoder;
use super::schema::REMOVED;
use crate::model::Removed;
use hcl_edit::structure::Block;

impl Decoder<'_> {
    pub(super) fn removed(&mut self, block: &Block) -> Option<Removed> {
        let name = self.label(block, "removed", "nextcloud");
        let what = format!("removed \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &REMOVED, what);
        let host = self.required(
            &fields,
            "host",
            "\"root@cloud.example.org\"",
            Self::ssh_target,
        );
        Some(Removed {
            name: name?,
            host: host?,
            origin: fields.origin,
        })
    }
}
