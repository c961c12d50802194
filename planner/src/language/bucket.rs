//! A `bucket` block: a bucket shared between chatons, and S3's naming rules.

use super::decoder::Decoder;
use super::schema::BUCKET;
use crate::model::Bucket;
use hcl_edit::structure::Block;

impl Decoder<'_> {
    pub(super) fn bucket(&mut self, block: &Block) -> Option<Bucket> {
        let name = self.label_checked(block, "bucket", "shared-assets", check_bucket_name);
        let what = format!("bucket \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &BUCKET, what);
        let island = self.required(&fields, "island", "\"ouest\"", Self::island_reference);
        let quota = self.optional(&fields, "quota", Self::quota);
        let readers = self.optional(&fields, "readers", |d, attr| {
            d.list(attr, Self::chaton_reference)
        });
        let writers = self.optional(&fields, "writers", |d, attr| {
            d.list(attr, Self::chaton_reference)
        });
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        Some(Bucket {
            name: name?,
            island: island?,
            quota: quota?,
            readers: readers?.unwrap_or_default(),
            writers: writers?.unwrap_or_default(),
            prevent_destroy: prevent_destroy?.unwrap_or(false),
            origin: fields.origin,
        })
    }
}

/// Garage's (and S3's) rules for bucket names, checked up front: 3 to 63
/// characters, lowercase letters, digits and '-' (dots are legal in S3 but
/// break TLS for virtual-hosted names, so archipel leaves them out).
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    if name.len() < 3 || name.len() > 63 {
        return Err("a bucket name has 3 to 63 characters".into());
    }
    super::names::check_characters(name)?;
    if name.starts_with("backup-") {
        return Err("names starting with \"backup-\" are reserved for backup buckets".into());
    }
    if name.starts_with("vault-") {
        return Err("names starting with \"vault-\" are reserved for vaults".into());
    }
    Ok(())
}
