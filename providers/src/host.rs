//! Facts about a host — OS, architecture, systemd, files and units — in one
//! SSH round trip: a single remote script whose output is parsed here.

use crate::pinned::HASH_RECORDS;
use crate::ssh::{LocalError, Remote, SshError};
pub use archipel_planner::observed::{FactsQuery, FileQuery, Read};
use archipel_planner::observed::{FileFacts, HostFacts, ProbeOutput, UnitFacts};
use std::collections::BTreeMap;

/// One round trip and a handful of processes, whatever the number of files,
/// units and probes (hosts may be small machines, and a plan observes many
/// at once): one `stat` for every path, one `systemctl show` for every unit,
/// the probes started first and run all at once under one bound, and the
/// contents of files and the probes' outputs in one `tar` stream.
///
/// Arguments: the hash records directory, the probes' bound in seconds, one
/// letter per path (see [`Read`]: `M`, `H`, `C`, `X`; the `M` and `H` paths
/// first), then the units, `--`, the probes' snippets, `--`, the paths.
///
/// Output: text lines, one fact each, tab-separated (`os`, `arch`,
/// `systemd`, `stat`, `hash`; systemctl's properties between `units` and
/// `units-end`; `probes DIR`), then a line `tar` and a tar stream holding
/// each `C` and `X` file of at most 1 MiB (they are configuration files)
/// under its own path, and each probe's output (`DIR/N`) and exit status
/// (`DIR/N.rc`, missing when the bound stopped it), the Nth probe asked.
const SCRIPT: &str = r#"export LC_ALL=C
records=$1; limit=$2; letters=$3; shift 3
. /etc/os-release 2>/dev/null || true
printf 'os\t%s\t%s\n' "${ID:-unknown}" "${VERSION_ID:-}"
printf 'arch\t%s\n' "$(uname -m)"
if [ -d /run/systemd/system ]; then printf 'systemd\tyes\n'; else printf 'systemd\tno\n'; fi
units=
while [ $# -gt 0 ] && [ "$1" != -- ]; do units="$units $1"; shift; done
[ $# -gt 0 ] && shift
# The probes start first and run while the rest is read; each in a
# subshell of its own (a snippet may exit), all under one bound.
dir= probes=
if [ $# -gt 0 ] && [ "$1" != -- ] && dir=$(mktemp -d 2>/dev/null); then
  trap 'rm -rf "$dir"' EXIT
  run='dir=$1; shift; i=0; for a; do [ "$a" = -- ] && break; i=$((i+1)); ( ( eval "$a" ) >"$dir/$i" 2>&1 </dev/null; echo $? >"$dir/$i.rc" ) & done; wait'
  if command -v timeout >/dev/null 2>&1; then
    timeout "$limit" sh -c "$run" sh "$dir" "$@" &
  else
    sh -c "$run" sh "$dir" "$@" &
  fi
  probes=$!
fi
while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
[ $# -gt 0 ] && shift
# Missing paths print nothing: the parser reports them missing.
[ $# -gt 0 ] && stat -c 'stat	%n	%F	%U	%G	%a	%s	%Y' -- "$@" 2>/dev/null
# A hash recorded when archipel installed the file stands while the file's
# identity (device, inode, size, mtime, ctime) is unchanged: large binaries
# are not read again on every plan.
while [ $# -gt 0 ]; do
  case $letters in
    M*) ;;
    H*)
      p=$1
      if [ -f "$p" ]; then
        rec="$records/$(printf '%s' "$p" | tr / %)"
        sig=$(stat -c '%d:%i:%s:%y:%z' -- "$p")
        h=
        if [ -f "$rec" ]; then { read -r rsig; read -r rhash; } < "$rec"; [ "$rsig" = "$sig" ] && h=$rhash; fi
        [ -n "$h" ] || h=$(sha256sum -- "$p" | cut -d' ' -f1)
        printf 'hash\t%s\t%s\n' "$p" "$h"
      fi ;;
    *) break ;;
  esac
  letters=${letters#?}; shift
done
# Unit names are checked by the caller: no spaces, no globs.
if [ -n "$units" ] && command -v systemctl >/dev/null 2>&1; then
  printf 'units\n'
  systemctl show --timestamp=unix -p LoadState -p UnitFileState -p ActiveState -p ActiveEnterTimestamp -- $units 2>/dev/null
  printf 'units-end\n'
fi
[ -z "$probes" ] || { wait "$probes"; printf 'probes\t%s\n' "$dir"; }
printf 'tar\n'
{
  [ $# -eq 0 ] || find "$@" -maxdepth 0 -type f -size -1025k -print0 2>/dev/null
  [ -z "$dir" ] || printf '%s\0' "$dir"/*
} | tar --null -T - -P -cf - 2>/dev/null
exit 0
"#;

/// How long one probe may run (they run at once). A probe can wait on
/// another machine: restic asking a backup job's repository whether it
/// exists waits on the island node of its S3 address, and when that node
/// drops every packet restic retries for minutes. Past this bound the
/// probe is stopped (where the host has `timeout`) and reports so; the
/// plan then says restic could not tell, and apply checks again.
pub const PROBE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

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
    // The paths read for their metadata or hash first: the script reads
    // the others (contents) from where those end.
    let (first, then): (Vec<&FileQuery>, Vec<&FileQuery>) = query
        .files
        .iter()
        .partition(|f| matches!(f.read, Read::Metadata | Read::Hash));
    let paths: Vec<&FileQuery> = first.into_iter().chain(then).collect();
    let letters: String = paths
        .iter()
        .map(|f| match f.read {
            Read::Metadata => 'M',
            Read::Hash => 'H',
            Read::Content => 'C',
            Read::Hex => 'X',
        })
        .collect();
    let limit = PROBE_WITHIN.as_secs().to_string();
    let mut args: Vec<&str> = vec![HASH_RECORDS, &limit, &letters];
    args.extend(query.units.iter().map(String::as_str));
    args.push("--");
    args.extend(query.probes.iter().map(|(_, snippet)| snippet.as_str()));
    args.push("--");
    args.extend(paths.iter().map(|f| f.path.as_str()));
    let output = remote.run_checked(SCRIPT, &args, None).await?;
    let mut facts = parse(&output.stdout, query).map_err(|reason| SshError::Transport {
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

/// The exit status the facts report for a probe its bound stopped, as
/// `timeout` reports it.
const TIMED_OUT: i32 = 124;

/// How much of a probe's output is kept.
const PROBE_OUTPUT_CAP: usize = 64 * 1024;

fn parse(output: &[u8], query: &FactsQuery) -> Result<HostFacts, String> {
    let (text, archive) = split_archive(output);
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
    let mut probe_dir: Option<&str> = None;
    // systemctl prints one block of properties per unit, in the order asked,
    // separated by blank lines.
    let mut unit_blocks: Vec<Vec<&str>> = vec![Vec::new()];
    let mut in_units = false;
    for line in text.lines() {
        let bad = || format!("unexpected line in the facts: {line:?}");
        if in_units {
            match line {
                "units-end" => in_units = false,
                "" => unit_blocks.push(Vec::new()),
                property => unit_blocks
                    .last_mut()
                    .map(|b| b.push(property))
                    .unwrap_or_default(),
            }
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
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
            ["units"] => in_units = true,
            ["probes", dir] => probe_dir = Some(dir),
            _ => return Err(bad()),
        }
    }
    if in_units {
        return Err("systemd's answer about the units was cut short".into());
    }
    facts.units = unit_facts(query, unit_blocks, facts.systemd)?;
    let members = archive_members(archive)?;
    facts.probes = probe_outputs(query, probe_dir, &members);
    attach_reads(&mut facts, query, &hashes, &members);
    if facts.os_id.is_empty() || facts.architecture.is_empty() {
        return Err("the facts script printed no OS or architecture".into());
    }
    Ok(facts)
}

/// The facts' text lines and, after the line `tar`, the archive.
fn split_archive(output: &[u8]) -> (String, &[u8]) {
    let at = if output.starts_with(b"tar\n") {
        Some(0)
    } else {
        output
            .windows(5)
            .position(|w| w == b"\ntar\n")
            .map(|i| i + 1)
    };
    match at {
        Some(at) => (
            String::from_utf8_lossy(&output[..at]).into_owned(),
            &output[at + 4..],
        ),
        None => (String::from_utf8_lossy(output).into_owned(), &[]),
    }
}

/// Every member of the facts' archive, by path.
fn archive_members(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut members = BTreeMap::new();
    if archive.is_empty() {
        return Ok(members);
    }
    let mut reader = tar::Archive::new(archive);
    let entries = reader
        .entries()
        .map_err(|e| format!("the facts' archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the facts' archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("the facts' archive: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)
            .map_err(|e| format!("the facts' archive: {path}: {e}"))?;
        members.insert(path, bytes);
    }
    Ok(members)
}

/// Each probe's exit status and output, from `DIR/N` and `DIR/N.rc`; a probe
/// without a status was stopped by the bound, and one without a directory
/// never ran (the host could make no temporary directory).
fn probe_outputs(
    query: &FactsQuery,
    dir: Option<&str>,
    members: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, ProbeOutput> {
    let mut probes = BTreeMap::new();
    for (index, (name, _)) in query.probes.iter().enumerate() {
        let probe = match dir {
            None => ProbeOutput {
                status: 1,
                output: "not run: the host could not make a temporary directory".into(),
            },
            Some(dir) => {
                let output = members
                    .get(&format!("{dir}/{}", index + 1))
                    .map(|bytes| {
                        String::from_utf8_lossy(&bytes[..bytes.len().min(PROBE_OUTPUT_CAP)])
                            .trim_end()
                            .to_string()
                    })
                    .unwrap_or_default();
                let status = members
                    .get(&format!("{dir}/{}.rc", index + 1))
                    .and_then(|rc| String::from_utf8_lossy(rc).trim().parse().ok());
                match status {
                    Some(status) => ProbeOutput { status, output },
                    None => ProbeOutput {
                        status: TIMED_OUT,
                        output: format!(
                            "{output}{}timed out: no answer within {} s",
                            if output.is_empty() { "" } else { "\n" },
                            PROBE_WITHIN.as_secs()
                        ),
                    },
                }
            }
        };
        probes.insert(name.clone(), probe);
    }
    probes
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
/// `stat` did not print is missing. A content's hash is the hash of the
/// bytes read (the whole file: contents are read up to 1 MiB, and a larger
/// file has neither).
fn attach_reads(
    facts: &mut HostFacts,
    query: &FactsQuery,
    hashes: &BTreeMap<&str, &str>,
    members: &BTreeMap<String, Vec<u8>>,
) {
    use sha2::Digest;
    for file in &query.files {
        let fact = facts
            .files
            .entry(file.path.clone())
            .or_insert(FileFacts::Missing);
        let FileFacts::File {
            sha256, content, ..
        } = fact
        else {
            continue;
        };
        match file.read {
            Read::Metadata => {}
            Read::Hash => *sha256 = hashes.get(file.path.as_str()).map(|h| h.to_string()),
            Read::Content | Read::Hex => {
                let Some(bytes) = members.get(&file.path) else {
                    continue;
                };
                *sha256 = Some(hex::encode(sha2::Sha256::digest(bytes)));
                *content = Some(if file.read == Read::Hex {
                    hex::encode(bytes)
                } else {
                    String::from_utf8_lossy(bytes).into_owned()
                });
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

    /// A tar stream as the script's `tar -P` writes it.
    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // An absolute path, as `tar -P` keeps it.
            let name: &mut [u8; 100] = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn sample_query() -> FactsQuery {
        FactsQuery {
            files: vec![
                FileQuery::new("/etc/garage/garage.toml", Read::Content),
                FileQuery::metadata_only("/etc/garage/rpc_secret"),
                FileQuery::hashed("/usr/local/bin/garage"),
                FileQuery::hashed("/var/lib/garage"),
                FileQuery::hashed("/nope"),
                FileQuery::hashed("/dev/null"),
                FileQuery::new("/var/lib/garage/meta/node_key.pub", Read::Hex),
            ],
            units: vec!["garage.service".into(), "nope.service".into()],
            probes: vec![
                ("garage_version".into(), "garage --version".into()),
                ("slow".into(), "sleep 60".into()),
                ("failing".into(), "false".into()),
            ],
        }
    }

    /// What the script prints for [`sample_query`].
    fn sample_output() -> Vec<u8> {
        let mut output = "os\tdebian\t12\narch\tx86_64\nsystemd\tyes\n\
            stat\t/etc/garage/garage.toml\tregular file\troot\tgarage\t640\t9\t1700000000\n\
            stat\t/etc/garage/rpc_secret\tregular file\tgarage\tgarage\t600\t65\t1700000000\n\
            stat\t/usr/local/bin/garage\tregular file\troot\troot\t755\t55000000\t1700000000\n\
            stat\t/var/lib/garage\tdirectory\tgarage\tgarage\t700\t4096\t1700000000\n\
            stat\t/dev/null\tcharacter special file\troot\troot\t666\t0\t1700000000\n\
            stat\t/var/lib/garage/meta/node_key.pub\tregular file\tgarage\tgarage\t600\t3\t1700000000\n\
            hash\t/usr/local/bin/garage\tabc123\n\
            units\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n\
            LoadState=not-found\nActiveState=inactive\nUnitFileState=\nunits-end\n\
            probes\t/tmp/tmp.X\ntar\n"
            .as_bytes()
            .to_vec();
        output.extend(archive(&[
            ("/etc/garage/garage.toml", b"a = 1\ntar\n"),
            ("/var/lib/garage/meta/node_key.pub", &[0x00, 0xab, 0xff]),
            ("/tmp/tmp.X/1", b"garage cargo:2.5.0\n"),
            ("/tmp/tmp.X/1.rc", b"0\n"),
            ("/tmp/tmp.X/2", b"half"),
            ("/tmp/tmp.X/3", b""),
            ("/tmp/tmp.X/3.rc", b"1\n"),
        ]));
        output
    }

    #[test]
    fn parses_files_and_their_contents() {
        let (query, output) = (sample_query(), sample_output());
        let facts = parse(&output, &query).unwrap();
        assert_eq!(
            (facts.os_id.as_str(), facts.os_version.as_str()),
            ("debian", "12")
        );
        assert!(facts.systemd);
        assert_eq!(
            facts.files["/etc/garage/garage.toml"],
            FileFacts::File {
                // sha256("a = 1\ntar\n"): computed from the bytes read.
                sha256: Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                    b"a = 1\ntar\n"
                ))),
                owner: "root".into(),
                group: "garage".into(),
                mode: "640".into(),
                size: 9,
                content: Some("a = 1\ntar\n".into()),
                modified: Some(1_700_000_000),
            }
        );
        assert!(matches!(
            &facts.files["/usr/local/bin/garage"],
            FileFacts::File { sha256: Some(h), content: None, .. } if h == "abc123"
        ));
        assert!(matches!(
            &facts.files["/etc/garage/rpc_secret"],
            FileFacts::File {
                sha256: None,
                content: None,
                ..
            }
        ));
        assert!(matches!(
            &facts.files["/var/lib/garage/meta/node_key.pub"],
            FileFacts::File { content: Some(c), .. } if c == "00abff"
        ));
        assert!(matches!(
            &facts.files["/var/lib/garage"],
            FileFacts::Directory { .. }
        ));
        assert_eq!(facts.files["/nope"], FileFacts::Missing);
        assert!(matches!(&facts.files["/dev/null"], FileFacts::Other { .. }));
    }

    #[test]
    fn parses_units_and_probes_and_refuses_what_is_cut_short() {
        let (query, output) = (sample_query(), sample_output());
        let facts = parse(&output, &query).unwrap();
        assert!(
            facts.units["garage.service"].is_enabled() && facts.units["garage.service"].is_active()
        );
        assert!(!facts.units["nope.service"].installed);
        assert_eq!(
            facts.probes["garage_version"],
            ProbeOutput {
                status: 0,
                output: "garage cargo:2.5.0".into()
            }
        );
        // No status: the bound stopped it; what it said so far is kept.
        assert_eq!(facts.probes["slow"].status, TIMED_OUT);
        assert_eq!(
            facts.probes["slow"].output,
            "half\ntimed out: no answer within 10 s"
        );
        assert_eq!(facts.probes["failing"].status, 1);
        assert!(parse(b"garbage", &query).is_err());
        // systemd forgetting a unit is an error, not a wrong answer.
        let text = String::from_utf8_lossy(&output).into_owned();
        let short = text.replace(
            "\n\nLoadState=not-found\nActiveState=inactive\nUnitFileState=",
            "",
        );
        assert!(parse(short.split("probes").next().unwrap().as_bytes(), &query).is_err());
        // An answer cut inside systemd's is an error too.
        let cut = text.split("LoadState=not-found").next().unwrap();
        assert!(parse(cut.as_bytes(), &query).is_err());
    }

    #[test]
    fn probes_that_could_not_run_say_so() {
        let query = FactsQuery {
            files: vec![],
            units: vec![],
            probes: vec![("garage_version".into(), "garage --version".into())],
        };
        let facts = parse(b"os\tdebian\t12\narch\tx86_64\nsystemd\tno\ntar\n", &query).unwrap();
        assert_eq!(facts.probes["garage_version"].status, 1);
        assert!(facts.probes["garage_version"].output.starts_with("not run"));
    }
}
