//! Facts about a host — OS, architecture, systemd, files and units — in one
//! SSH round trip: a single remote script whose output is parsed here.

use crate::ssh::{Remote, SshError};
use archipel_planner::observed::{FileFacts, HostFacts, UnitFacts};
use std::collections::BTreeMap;

/// What to look at on a host.
#[derive(Debug, Clone, Default)]
pub struct FactsQuery {
    pub files: Vec<FileQuery>,
    pub units: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FileQuery {
    pub path: String,
    /// Hash the content. Off for secrets: archipel never reads them, even
    /// as a hash, into what it observes.
    pub hash: bool,
}

impl FileQuery {
    pub fn hashed(path: impl Into<String>) -> FileQuery {
        FileQuery {
            path: path.into(),
            hash: true,
        }
    }

    pub fn metadata_only(path: impl Into<String>) -> FileQuery {
        FileQuery {
            path: path.into(),
            hash: false,
        }
    }
}

/// One line per fact, tab-separated, so parsing is trivial and robust.
/// Arguments: `H:PATH` or `M:PATH` (hash or metadata only) for files, then
/// `--`, then unit names.
const SCRIPT: &str = r#"export LC_ALL=C
. /etc/os-release 2>/dev/null || true
printf 'os\t%s\t%s\n' "${ID:-unknown}" "${VERSION_ID:-}"
printf 'arch\t%s\n' "$(uname -m)"
if [ -d /run/systemd/system ]; then printf 'systemd\tyes\n'; else printf 'systemd\tno\n'; fi
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  how=${1%%:*}; p=${1#?:}; shift
  if [ -L "$p" ]; then printf 'file\t%s\tother\tsymbolic link\n' "$p"
  elif [ -f "$p" ]; then
    if [ "$how" = H ]; then h=$(sha256sum -- "$p" | cut -d' ' -f1); else h=-; fi
    printf 'file\t%s\tfile\t%s\t%s\n' "$p" "$h" "$(stat -c '%U	%G	%a	%s' -- "$p")"
  elif [ -d "$p" ]; then printf 'file\t%s\tdirectory\t%s\n' "$p" "$(stat -c '%U	%G	%a' -- "$p")"
  elif [ -e "$p" ]; then printf 'file\t%s\tother\t%s\n' "$p" "$(stat -c '%F' -- "$p")"
  else printf 'file\t%s\tmissing\n' "$p"
  fi
done
[ "${1:-}" = -- ] && shift
for u in "$@"; do
  if command -v systemctl >/dev/null 2>&1; then
    printf 'unit\t%s\t%s\n' "$u" "$(systemctl show -p LoadState -p UnitFileState -p ActiveState -- "$u" 2>/dev/null | tr '\n' '\t')"
  else
    printf 'unit\t%s\t\n' "$u"
  fi
done
"#;

/// Gathers the facts of one host in one round trip.
pub async fn gather(remote: &Remote, query: &FactsQuery) -> Result<HostFacts, SshError> {
    for path in query.files.iter().map(|f| &f.path) {
        if !path.starts_with('/') || path.contains(['\t', '\n']) {
            return Err(SshError::Local(format!(
                "{}: cannot query {path:?}: paths are absolute, without tabs or newlines",
                remote.host()
            )));
        }
    }
    let mut args: Vec<String> = query
        .files
        .iter()
        .map(|f| format!("{}:{}", if f.hash { 'H' } else { 'M' }, f.path))
        .collect();
    args.push("--".into());
    args.extend(query.units.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = remote.run_checked(SCRIPT, &args, None).await?;
    parse(&output.stdout_text()).map_err(|reason| SshError::Transport {
        host: remote.host().to_string(),
        command: "gather host facts".into(),
        reason,
    })
}

/// Gathers the facts of many hosts at once, one round trip each.
pub async fn gather_all(
    remotes: &[Remote],
    query: &FactsQuery,
) -> Vec<Result<HostFacts, SshError>> {
    futures_util::future::join_all(remotes.iter().map(|r| gather(r, query))).await
}

fn parse(text: &str) -> Result<HostFacts, String> {
    let mut facts = HostFacts {
        os_id: String::new(),
        os_version: String::new(),
        architecture: String::new(),
        systemd: false,
        files: BTreeMap::new(),
        units: BTreeMap::new(),
    };
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
            ["file", path, "missing"] => {
                facts.files.insert(path.to_string(), FileFacts::Missing);
            }
            ["file", path, "file", hash, owner, group, mode, size] => {
                facts.files.insert(
                    path.to_string(),
                    FileFacts::File {
                        sha256: (*hash != "-").then(|| hash.to_string()),
                        owner: owner.to_string(),
                        group: group.to_string(),
                        mode: mode.to_string(),
                        size: size.parse().map_err(|_| bad())?,
                    },
                );
            }
            ["file", path, "directory", owner, group, mode] => {
                facts.files.insert(
                    path.to_string(),
                    FileFacts::Directory {
                        owner: owner.to_string(),
                        group: group.to_string(),
                        mode: mode.to_string(),
                    },
                );
            }
            ["file", path, "other", description] => {
                facts.files.insert(
                    path.to_string(),
                    FileFacts::Other {
                        description: description.to_string(),
                    },
                );
            }
            ["unit", name, properties @ ..] => {
                let property = |key: &str| {
                    properties
                        .iter()
                        .find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                        .unwrap_or("")
                        .to_string()
                };
                facts.units.insert(
                    name.to_string(),
                    UnitFacts {
                        installed: property("LoadState") == "loaded",
                        enabled: property("UnitFileState"),
                        active: property("ActiveState"),
                    },
                );
            }
            [""] => {}
            _ => return Err(bad()),
        }
    }
    if facts.os_id.is_empty() || facts.architecture.is_empty() {
        return Err("the facts script printed no OS or architecture".into());
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_output() {
        let text = "os\tdebian\t12\narch\tx86_64\nsystemd\tyes\n\
            file\t/etc/garage/garage.toml\tfile\tabc123\troot\tgarage\t640\t812\n\
            file\t/etc/garage/rpc_secret\tfile\t-\tgarage\tgarage\t600\t65\n\
            file\t/var/lib/garage\tdirectory\tgarage\tgarage\t700\n\
            file\t/nope\tmissing\n\
            file\t/dev/null\tother\tcharacter special file\n\
            unit\tgarage.service\tLoadState=loaded\tUnitFileState=enabled\tActiveState=active\t\n\
            unit\tnope.service\tLoadState=not-found\tUnitFileState=\tActiveState=inactive\t\n";
        let facts = parse(text).unwrap();
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
                size: 812
            }
        );
        assert!(matches!(
            &facts.files["/etc/garage/rpc_secret"],
            FileFacts::File { sha256: None, .. }
        ));
        assert_eq!(facts.files["/nope"], FileFacts::Missing);
        assert!(
            facts.units["garage.service"].is_enabled() && facts.units["garage.service"].is_active()
        );
        assert!(!facts.units["nope.service"].installed);
        assert!(parse("garbage").is_err());
    }
}
