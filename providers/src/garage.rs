//! An island's Garage cluster, read through one member node with
//! `garage json-api` over SSH: no admin token, nothing exposed on the
//! network, and two round trips whatever the number of keys and buckets.

use crate::ssh::{Remote, SshError};
use archipel_planner::garage::{BINARY, CONFIG};
use archipel_planner::observed::{
    BucketInfo, Cluster, ClusterHealth, ClusterLayout, ClusterStatus, KeyInfo, LayoutHistory,
    ListedId,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Runs `garage json-api` calls, one per argument after the binary and the
/// config (`Endpoint` or `Endpoint=JSON`), eight at a time (each call is a
/// short RPC session with the local daemon), then prints each answer framed
/// as base64 on its own line, in the order asked.
const SCRIPT: &str = r#"bin=$1; cfg=$2; shift 2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
i=0
for call; do
  i=$((i+1))
  (
    endpoint=${call%%=*}
    case $call in *=*) "$bin" -c "$cfg" json-api "$endpoint" "${call#*=}" ;; *) "$bin" -c "$cfg" json-api "$endpoint" ;; esac >"$dir/$i" 2>&1
    echo $? >"$dir/$i.rc"
  ) &
  [ $((i % 8)) -eq 0 ] && wait
done
wait
i=0
for call; do
  i=$((i+1))
  printf 'api\t%s\t%s\t' "${call%%=*}" "$(cat "$dir/$i.rc")"; base64 -w0 <"$dir/$i"; echo
done
"#;

/// Calls the admin API; answers in the order asked.
async fn call(remote: &Remote, calls: &[String]) -> Result<Vec<(String, String)>, SshError> {
    let mut args: Vec<&str> = vec![BINARY, CONFIG];
    args.extend(calls.iter().map(String::as_str));
    let output = remote.run_checked(SCRIPT, &args, None).await?;
    let failure = |reason: String| SshError::Transport {
        host: remote.host().to_string(),
        command: "garage json-api".into(),
        reason,
    };
    let mut answers = Vec::new();
    for line in output.stdout_text().lines() {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let ["api", endpoint, status, encoded] = fields.as_slice() else {
            return Err(failure(format!("unexpected output {line:?}")));
        };
        let text =
            String::from_utf8_lossy(&BASE64.decode(encoded).map_err(|e| failure(e.to_string()))?)
                .into_owned();
        if *status != "0" {
            return Err(SshError::Failed {
                host: remote.host().to_string(),
                command: format!("garage json-api {endpoint}"),
                status: status.parse().unwrap_or(1),
                stderr: text,
            });
        }
        answers.push((endpoint.to_string(), text));
    }
    if answers.len() != calls.len() {
        return Err(failure(format!(
            "{} answers to {} calls",
            answers.len(),
            calls.len()
        )));
    }
    Ok(answers)
}

fn parse<T: DeserializeOwned>(remote: &Remote, endpoint: &str, text: &str) -> Result<T, SshError> {
    serde_json::from_str(text).map_err(|e| SshError::Transport {
        host: remote.host().to_string(),
        command: format!("garage json-api {endpoint}"),
        reason: format!("unexpected answer: {e}"),
    })
}

/// Garage identifiers are hex (buckets) or `GK` + hex (keys): anything else
/// is not passed to a shell.
fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Reads the whole cluster: status, health, layout and its history, every
/// key (without its secret) and every bucket.
pub async fn observe_cluster(remote: &Remote) -> Result<Cluster, SshError> {
    let first: Vec<String> = [
        "GetClusterStatus",
        "GetClusterHealth",
        "GetClusterLayout",
        "GetClusterLayoutHistory",
        "ListKeys",
        "ListBuckets",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let answers: BTreeMap<String, String> = call(remote, &first).await?.into_iter().collect();
    let text = |endpoint: &str| answers.get(endpoint).map(String::as_str).unwrap_or("");
    let status: ClusterStatus = parse(remote, "GetClusterStatus", text("GetClusterStatus"))?;
    let health: ClusterHealth = parse(remote, "GetClusterHealth", text("GetClusterHealth"))?;
    let layout: ClusterLayout = parse(remote, "GetClusterLayout", text("GetClusterLayout"))?;
    let history: LayoutHistory = parse(
        remote,
        "GetClusterLayoutHistory",
        text("GetClusterLayoutHistory"),
    )?;
    let keys: Vec<ListedId> = parse(remote, "ListKeys", text("ListKeys"))?;
    let buckets: Vec<ListedId> = parse(remote, "ListBuckets", text("ListBuckets"))?;

    let mut second = Vec::new();
    for key in keys.iter().filter(|k| is_identifier(&k.id)) {
        // Never `showSecretKey`: secrets are not part of what archipel observes.
        second.push(format!("GetKeyInfo={{\"id\":\"{}\"}}", key.id));
    }
    for bucket in buckets.iter().filter(|b| is_identifier(&b.id)) {
        second.push(format!("GetBucketInfo={{\"id\":\"{}\"}}", bucket.id));
    }
    let mut key_infos = Vec::new();
    let mut bucket_infos = Vec::new();
    if !second.is_empty() {
        for (endpoint, text) in call(remote, &second).await? {
            if endpoint == "GetKeyInfo" {
                key_infos.push(parse::<KeyInfo>(remote, &endpoint, &text)?);
            } else {
                bucket_infos.push(parse::<BucketInfo>(remote, &endpoint, &text)?);
            }
        }
    }
    Ok(Cluster {
        status,
        health,
        layout,
        history,
        keys: key_infos,
        buckets: bucket_infos,
    })
}
