//! An island's apply journal on its nodes: an entry written as a new file
//! (never over another), and every entry read back.

use crate::ssh::{Remote, SshError};
use archipel_planner::journal::{Entry, JOURNAL_DIR, READ_SCRIPT};

/// Writes `entry` on `remote`: beside, then moved in place, refused if an
/// entry of that id is already there (an entry is never rewritten).
pub async fn write(remote: &Remote, entry: &Entry) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
dir=$1 id=$2
mkdir -p -m 0755 "$dir"
partial="$dir/.$id.partial"
cat >"$partial"
chmod 0644 "$partial"
if [ -e "$dir/$id.json" ]; then
    rm -f -- "$partial"
    echo "journal entry $id is already there: not rewritten" >&2
    exit 3
fi
mv -- "$partial" "$dir/$id.json""#;
    let text = serde_json::to_string_pretty(entry).unwrap_or_default();
    remote
        .run_checked(SCRIPT, &[JOURNAL_DIR, &entry.id], Some(text.as_bytes()))
        .await
        .map(drop)
}

/// Every entry `remote` holds, as [`READ_SCRIPT`] prints them.
pub async fn read(remote: &Remote) -> Result<String, SshError> {
    let output = remote.run_checked(READ_SCRIPT, &[], None).await?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
