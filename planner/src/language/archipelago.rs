//! The top level of a file: island, chaton and bucket blocks, nothing else.

use super::decoder::Decoder;
use super::schema::TOP_LEVEL;
use crate::model::Archipelago;
use hcl_edit::structure::{Body, Structure};

impl Decoder<'_> {
    pub(super) fn top_level(&mut self, body: &Body, archipelago: &mut Archipelago) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let span = self.span(&attr.key);
                    self.error(
                        "unknown-attribute",
                        span,
                        format!(
                            "unexpected attribute `{}` at the top level",
                            attr.key.as_str()
                        ),
                    )
                    .help =
                        Some("the top level holds only island, chaton and bucket blocks".into());
                }
                Structure::Block(block) => match block.ident.as_str() {
                    "island" => {
                        if let Some(island) = self.island(block) {
                            archipelago.islands.push(island);
                        }
                    }
                    "chaton" => {
                        if let Some(chaton) = self.chaton(block) {
                            archipelago.chatons.push(chaton);
                        }
                    }
                    "bucket" => {
                        if let Some(bucket) = self.bucket(block) {
                            archipelago.buckets.push(bucket);
                        }
                    }
                    other => self.unknown_block(block, other, &TOP_LEVEL),
                },
            }
        }
    }
}
