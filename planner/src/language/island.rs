//! An `island` block: one Garage cluster, with exactly one `garage` block.

use super::decoder::Decoder;
use super::schema::ISLAND;
use crate::diagnostic::Diagnostic;
use crate::model::Island;
use hcl_edit::structure::Block;

impl Decoder<'_> {
    pub(super) fn island(&mut self, block: &Block) -> Option<Island> {
        let name = self.label(block, "island", "ouest");
        if let Some(name) = &name {
            self.declared.islands.insert(name.clone());
        }
        let what = format!("island \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &ISLAND, what);
        let s3_endpoint = self.optional(&fields, "s3_endpoint", Self::string);
        let garage_blocks: Vec<&Block> = fields
            .blocks
            .iter()
            .copied()
            .filter(|b| b.ident.as_str() == "garage")
            .collect();
        let garage = match garage_blocks.as_slice() {
            [] => {
                let span = fields.origin.block.clone();
                self.error(
                    "missing-block",
                    span,
                    format!("{} has no garage block", fields.what),
                )
                .help = Some(
                    "add `garage { version = …, binary = …, sha256 = …, replication_factor = 3 }`"
                        .into(),
                );
                None
            }
            [first, rest @ ..] => {
                for extra in rest {
                    let span = self.header_span(extra);
                    let first = self.header_span(first);
                    self.diagnostics.push(
                        Diagnostic::error(
                            "duplicate-block",
                            span,
                            format!("{} has more than one garage block", fields.what),
                        )
                        .with_related(first, "first garage block"),
                    );
                }
                self.garage(first, &fields.what)
            }
        };
        Some(Island {
            name: name?,
            garage: garage?,
            s3_endpoint: s3_endpoint?,
            origin: fields.origin,
        })
    }
}
