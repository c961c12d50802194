//! Facts about a host — OS, architecture, systemd, files and units — in one
//! SSH round trip: a single remote script whose output is parsed here.

use crate::ssh::{LocalError, Remote, SshError};
pub use archipel_planner::observed::{FactsQuery, FileQuery, Read};
use archipel_planner::observed::{FileFacts, HostFacts, ProbeOutput, UnitFacts};
use archipel_planner::ownership::Ownership;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::BTreeMap;

/// One line per fact, tab-separated, so parsing is trivial and robust; a
/// handful of processes whatever the number of files and units (hosts may
/// be small machines, and many are observed at once).
/// Arguments: the hash records directory, the probes' bound in seconds,
/// then `M:`, `H:`, `C:` or `X:` and a path (see [`Read`]), `--`,
/// units, `--`, `NAME=SNIPPET` probes. Contents are capped at 1 MiB (they
/// are configuration files) and probe outputs at 64 KiB. Probes run at
/// once, each bounded (see [`PROBE_WITHIN`]).
const SCRIPT: &str = r#"export LC_ALL=C
records=$1; limit=$2; shift 2
. /etc/os-release 2>/dev/null || true
printf 'os\t%s\t%s\n' "${ID:-unknown}" "${VERSION_ID:-}"
printf 'arch\t%s\n' "$(uname -m)"
if [ -d /run/systemd/system ]; then printf 'systemd\tyes\n'; else printf 'systemd\tno\n'; fi
paths() { for a; do [ "$a" = -- ] && return; printf '%s\n' "${a#?:}"; done; }
hashed() { for a; do [ "$a" = -- ] && return; case $a in M:*) ;; *) printf '%s\n' "${a#?:}";; esac; done; }
# Missing paths print nothing: the parser reports them missing.
paths "$@" | xargs -r -d '\n' stat -c 'stat	%n	%F	%U	%G	%a	%s	%Y' -- 2>/dev/null
# A hash recorded when archipel installed the file stands while the file's
# identity (device, inode, size, mtime, ctime) is unchanged: large binaries
# are not read again on every plan.
hashed "$@" | while read -r p; do
  [ -f "$p" ] || continue
  rec="$records/$(printf '%s' "$p" | tr / %)"
  sig=$(stat -c '%d:%i:%s:%y:%z' -- "$p")
  h=
  if [ -f "$rec" ]; then { read -r rsig; read -r rhash; } < "$rec"; [ "$rsig" = "$sig" ] && h=$rhash; fi
  [ -n "$h" ] || h=$(sha256sum -- "$p" | cut -d' ' -f1)
  printf 'hash\t%s\t%s\n' "$p" "$h"
done
for a; do
  [ "$a" = -- ] && break
  p=${a#?:}
  [ -f "$p" ] || continue
  case $a in
    C:*) printf 'content\t%s\t' "$p"; head -c 1048576 -- "$p" | base64 -w0; echo ;;
    X:*) printf 'hex\t%s\t%s\n' "$p" "$(head -c 1048576 -- "$p" | od -An -tx1 -v | tr -d ' \n')" ;;
  esac
done
while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
[ $# -gt 0 ] && shift
units=
for a; do [ "$a" = -- ] && break; units="$units ${a}"; done
# Unit names are checked by the caller: no spaces, no globs.
if [ -n "$units" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl show --timestamp=unix -p LoadState -p UnitFileState -p ActiveState -p ActiveEnterTimestamp -- $units 2>/dev/null | sed 's/^/unit\t/'
fi
while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
[ $# -gt 0 ] && shift
if command -v timeout >/dev/null 2>&1; then
  probe() { timeout "$limit" sh -c "$1"; }
else
  probe() { (eval "$1"); }
fi
said() {
  out=$1
  if [ "$2" = 124 ]; then out="$out${out:+
}timed out: no answer within $limit s"; fi
  printf 'probe\t%s\t%s\t' "$3" "$2"; printf '%s' "$out" | head -c 65536 | base64 -w0; echo
}
if [ $# -gt 0 ] && dir=$(mktemp -d 2>/dev/null); then
  trap 'rm -rf "$dir"' EXIT
  i=0
  for a; do i=$((i+1)); ( probe "${a#*=}" >"$dir/$i" 2>&1; echo $? >"$dir/$i.rc" ) & done
  wait
  i=0
  for a; do
    i=$((i+1))
    said "$(cat "$dir/$i")" "$(cat "$dir/$i.rc" 2>/dev/null || echo 1)" "${a%%=*}"
  done
else
  for a; do
    out=$(probe "${a#*=}" 2>&1); rc=$?
    said "$out" "$rc" "${a%%=*}"
  done
fi
exit 0
"#;

/// How long one probe may run (they run at once). A probe can wait on
/// another machine: restic asking a backup job's repository whether it
/// exists waits on the island node of its S3 address, and when that node
/// drops every packet restic retries for minutes. Past this bound the
/// probe is stopped (where the host has `timeout`) and reports so; the
/// plan then says restic could not tell, and apply checks again.
pub const PROBE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the hashes of files archipel installed are recorded, with the
/// identity of the file they were computed for.
const HASH_RECORDS: &str = "/var/lib/archipel/sha256";

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

/// Gathers the facts of one host in one round trip.
pub async fn gather(remote: &Remote, query: &FactsQuery) -> Result<HostFacts, SshError> {
    for path in query.files.iter().map(|f| &f.path) {
        if !path.starts_with('/') || path.contains(['\t', '\n', '\\']) {
            return Err(LocalError::UnqueryablePath {
                host: remote.host().to_string(),
                path: path.clone(),
            }
            .into());
        }
    }
    for unit in &query.units {
        if unit.is_empty()
            || !unit
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._-:".contains(c))
        {
            return Err(LocalError::UnqueryableUnit {
                host: remote.host().to_string(),
                unit: unit.clone(),
            }
            .into());
        }
    }
    let mut args: Vec<String> = vec![HASH_RECORDS.to_string(), PROBE_WITHIN.as_secs().to_string()];
    args.extend(query.files.iter().map(|f| {
        let letter = match f.read {
            Read::Metadata => 'M',
            Read::Hash => 'H',
            Read::Content => 'C',
            Read::Hex => 'X',
        };
        format!("{letter}:{}", f.path)
    }));
    args.push("--".into());
    args.extend(query.units.iter().cloned());
    args.push("--".into());
    args.extend(
        query
            .probes
            .iter()
            .map(|(name, snippet)| format!("{name}={snippet}")),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = remote.run_checked(SCRIPT, &args, None).await?;
    let mut facts = parse(&output.stdout_text(), query).map_err(|reason| SshError::Transport {
        host: remote.host().to_string(),
        command: "gather host facts".into(),
        reason,
    })?;
    facts.lands_at = Some(remote.lands_at().to_string());
    Ok(facts)
}

/// Gathers the facts of many hosts at once, one round trip each.
pub async fn gather_all(
    remotes: &[Remote],
    query: &FactsQuery,
) -> Vec<Result<HostFacts, SshError>> {
    futures_util::future::join_all(remotes.iter().map(|r| gather(r, query))).await
}

fn parse(text: &str, query: &FactsQuery) -> Result<HostFacts, String> {
    let mut facts = HostFacts {
        os_id: String::new(),
        os_version: String::new(),
        architecture: String::new(),
        systemd: false,
        files: BTreeMap::new(),
        units: BTreeMap::new(),
        probes: BTreeMap::new(),
        lands_at: None,
    };
    let mut hashes: BTreeMap<&str, &str> = BTreeMap::new();
    let mut contents: BTreeMap<&str, String> = BTreeMap::new();
    // systemctl prints one block of properties per unit, in the order asked,
    // separated by blank lines.
    let mut unit_blocks: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let bad = || format!("unexpected line in the facts: {line:?}");
        match fields.as_slice() {
            ["os", id, version] => {
                facts.os_id = id.to_string();
                facts.os_version = version.to_string();
            }
            ["arch", arch] => facts.architecture = arch.to_string(),
            ["systemd", yes] => facts.systemd = *yes == "yes",
            ["stat", path, kind, owner, group, mode, size, modified] => {
                let fact = file_fact(kind, owner, group, mode, size, modified).ok_or_else(bad)?;
                facts.files.insert(path.to_string(), fact);
            }
            ["hash", path, hash] => {
                hashes.insert(path, hash);
            }
            ["content", path, encoded] => {
                let bytes = BASE64.decode(encoded).map_err(|_| bad())?;
                contents.insert(path, String::from_utf8_lossy(&bytes).into_owned());
            }
            ["hex", path, hex] => {
                contents.insert(path, hex.to_string());
            }
            ["probe", name, status, encoded] => {
                let bytes = BASE64.decode(encoded).map_err(|_| bad())?;
                facts.probes.insert(
                    name.to_string(),
                    ProbeOutput {
                        status: status.parse().map_err(|_| bad())?,
                        output: String::from_utf8_lossy(&bytes).trim_end().to_string(),
                    },
                );
            }
            ["unit", ""] => unit_blocks.push(Vec::new()),
            ["unit", property] => unit_blocks
                .last_mut()
                .map(|b| b.push(*property))
                .unwrap_or_default(),
            _ => return Err(bad()),
        }
    }
    attach_reads(&mut facts, query, &hashes, contents);
    facts.units = unit_facts(query, unit_blocks, facts.systemd)?;
    if facts.os_id.is_empty() || facts.architecture.is_empty() {
        return Err("the facts script printed no OS or architecture".into());
    }
    Ok(facts)
}

/// What `stat` said of a path; `None` when its size is not a number.
fn file_fact(
    kind: &str,
    owner: &str,
    group: &str,
    mode: &str,
    size: &str,
    modified: &str,
) -> Option<FileFacts> {
    Some(match kind {
        "regular file" | "regular empty file" => FileFacts::File {
            sha256: None,
            content: None,
            modified: modified.parse().ok(),
            owner: owner.to_string(),
            group: group.to_string(),
            mode: mode.to_string(),
            size: size.parse().ok()?,
        },
        "directory" => FileFacts::Directory {
            owner: owner.to_string(),
            group: group.to_string(),
            mode: mode.to_string(),
        },
        other => FileFacts::Other {
            description: other.to_string(),
        },
    })
}

/// Each queried file's hash and content, as asked, onto its facts; a path
/// `stat` did not print is missing.
fn attach_reads(
    facts: &mut HostFacts,
    query: &FactsQuery,
    hashes: &BTreeMap<&str, &str>,
    mut contents: BTreeMap<&str, String>,
) {
    for file in &query.files {
        let fact = facts
            .files
            .entry(file.path.clone())
            .or_insert(FileFacts::Missing);
        if let FileFacts::File {
            sha256, content, ..
        } = fact
        {
            if file.read != Read::Metadata {
                *sha256 = hashes.get(file.path.as_str()).map(|h| h.to_string());
            }
            if matches!(file.read, Read::Content | Read::Hex) {
                *content = contents.remove(file.path.as_str());
            }
        }
    }
}

/// The units' facts from systemctl's blocks of properties, one per unit in
/// the order asked.
fn unit_facts(
    query: &FactsQuery,
    unit_blocks: Vec<Vec<&str>>,
    systemd: bool,
) -> Result<BTreeMap<String, UnitFacts>, String> {
    let mut units = BTreeMap::new();
    let unit_blocks: Vec<Vec<&str>> = unit_blocks.into_iter().filter(|b| !b.is_empty()).collect();
    if !query.units.is_empty() && systemd && unit_blocks.len() != query.units.len() {
        return Err(format!(
            "asked systemd about {} units, it answered for {}",
            query.units.len(),
            unit_blocks.len()
        ));
    }
    for (index, name) in query.units.iter().enumerate() {
        let block = unit_blocks
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let property = |key: &str| {
            block
                .iter()
                .find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .unwrap_or("")
                .to_string()
        };
        units.insert(
            name.clone(),
            UnitFacts {
                installed: property("LoadState") == "loaded",
                enabled: property("UnitFileState"),
                active: property("ActiveState"),
                // `@1732630201` with --timestamp=unix; empty when never active.
                active_since: property("ActiveEnterTimestamp")
                    .trim_start_matches('@')
                    .parse()
                    .ok(),
            },
        );
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_output() {
        let query = FactsQuery {
            files: vec![
                FileQuery::hashed("/etc/garage/garage.toml"),
                FileQuery::metadata_only("/etc/garage/rpc_secret"),
                FileQuery::hashed("/var/lib/garage"),
                FileQuery::hashed("/nope"),
                FileQuery::hashed("/dev/null"),
            ],
            units: vec!["garage.service".into(), "nope.service".into()],
            probes: vec![],
        };
        let text = "os\tdebian\t12\narch\tx86_64\nsystemd\tyes\n\
            stat\t/etc/garage/garage.toml\tregular file\troot\tgarage\t640\t812\t1700000000\n\
            stat\t/etc/garage/rpc_secret\tregular file\tgarage\tgarage\t600\t65\t1700000000\n\
            stat\t/var/lib/garage\tdirectory\tgarage\tgarage\t700\t4096\t1700000000\n\
            stat\t/dev/null\tcharacter special file\troot\troot\t666\t0\t1700000000\n\
            hash\t/etc/garage/garage.toml\tabc123\n\
            unit\tLoadState=loaded\nunit\tActiveState=active\nunit\tUnitFileState=enabled\nunit\t\n\
            unit\tLoadState=not-found\nunit\tActiveState=inactive\nunit\tUnitFileState=\n";
        let facts = parse(text, &query).unwrap();
        assert_eq!(
            (facts.os_id.as_str(), facts.os_version.as_str()),
            ("debian", "12")
        );
        assert!(facts.systemd);
        assert_eq!(
            facts.files["/etc/garage/garage.toml"],
            FileFacts::File {
                sha256: Some("abc123".into()),
                owner: "root".into(),
                group: "garage".into(),
                mode: "640".into(),
                size: 812,
                content: None,
                modified: Some(1_700_000_000),
            }
        );
        assert!(matches!(
            &facts.files["/etc/garage/rpc_secret"],
            FileFacts::File { sha256: None, .. }
        ));
        assert!(matches!(
            &facts.files["/var/lib/garage"],
            FileFacts::Directory { .. }
        ));
        assert_eq!(facts.files["/nope"], FileFacts::Missing);
        assert!(matches!(&facts.files["/dev/null"], FileFacts::Other { .. }));
        assert!(
            facts.units["garage.service"].is_enabled() && facts.units["garage.service"].is_active()
        );
        assert!(!facts.units["nope.service"].installed);
        assert!(parse("garbage", &query).is_err());
        // systemd forgetting a unit is an error, not a wrong answer.
        let short = text.split("unit\t\n").next().unwrap();
        assert!(parse(short, &query).is_err());
    }
}
