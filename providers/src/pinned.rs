//! Pinned binaries on a host (Garage's, restic's): installed once checked
//! against their pin, and their hash recorded with the identity of the file
//! it was computed for, so that the facts script (`host.rs`) need not read
//! 50 MB again on every plan while the file is unchanged.

use crate::ssh::{Remote, SshError};
use archipel_planner::ownership::Ownership;

/// Where the hashes of files archipel installed are recorded, with the
/// identity of the file they were computed for.
pub(crate) const HASH_RECORDS: &str = "/var/lib/archipel/sha256";

/// Hashes a file archipel just installed and records the hash for later
/// observations (see the facts script); returns the hash.
pub async fn record_hash(remote: &Remote, path: &str) -> Result<String, SshError> {
    const SCRIPT: &str = r#"set -e
mkdir -p -m 0700 "$2"
rec="$2/$(printf '%s' "$1" | tr / %)"
sig=$(stat -c '%d:%i:%s:%y:%z' -- "$1")
h=$(sha256sum -- "$1" | cut -d' ' -f1)
printf '%s\n%s\n' "$sig" "$h" > "$rec.tmp"
mv -f -- "$rec.tmp" "$rec"
printf '%s\n' "$h""#;
    let output = remote
        .run_checked(SCRIPT, &[path, HASH_RECORDS], None)
        .await?;
    Ok(output.stdout_text().trim().to_string())
}

/// Installs a pinned binary (already verified against its pin) at `path`,
/// keeping the one it replaces at `previous` when given (for a rollback
/// by hand), then hashes what landed, records the hash (so that plans need
/// not read 50 MB again to know it is the pin) and checks it. Garage's and
/// restic's binaries both go through here.
pub async fn install_pinned(
    remote: &Remote,
    path: &str,
    previous: Option<&str>,
    binary: &[u8],
    sha256: &str,
) -> Result<(), SshError> {
    if let Some(previous) = previous {
        remote
            .run_checked(
                "if [ -f \"$1\" ]; then cp -p -- \"$1\" \"$2\"; fi",
                &[path, previous],
                None,
            )
            .await?;
    }
    remote
        .upload(path, binary, Ownership::ROOT_EXECUTABLE)
        .await?;
    let landed = record_hash(remote, path).await?;
    if landed != sha256 {
        return Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("install {path}"),
            status: 1,
            stderr: format!("the installed binary's sha256 is {landed}, not the pinned {sha256}"),
        });
    }
    Ok(())
}
