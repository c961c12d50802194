//! Pinned binaries (Garage, restic) from a local path or a URL, checked
//! against their sha256 before anything is installed.

use archipel_planner::model::BinarySource;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A binary from a path or a URL (fetched at most once), checked.
pub fn checked(
    source: &BinarySource,
    sha256: &str,
    fetched: &mut BTreeMap<String, Arc<Vec<u8>>>,
) -> Result<Arc<Vec<u8>>, String> {
    let bytes = match source {
        BinarySource::Path(path) => {
            Arc::new(std::fs::read(path).map_err(|e| format!("cannot be read from {path}: {e}"))?)
        }
        BinarySource::Url(url) => match fetched.get(url) {
            Some(bytes) => Arc::clone(bytes),
            None => {
                let bytes = Arc::new(download(url)?);
                fetched.insert(url.clone(), Arc::clone(&bytes));
                bytes
            }
        },
    };
    let actual = hex_digest(&bytes);
    if actual != sha256 {
        return Err(format!(
            "has sha256 {actual}, not the pinned {sha256}: refusing to install it (nothing was changed)"
        ));
    }
    Ok(bytes)
}

/// Garage binaries are some tens of MB; anything past this is not one.
const MAX_BINARY: u64 = 512 << 20;

fn download(url: &str) -> Result<Vec<u8>, String> {
    eprintln!("Downloading {url}…");
    let mut response = ureq::get(url)
        .call()
        .map_err(|e| format!("cannot download {url}: {e}"))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_BINARY)
        .read_to_vec()
        .map_err(|e| format!("cannot download {url}: {e}"))
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
