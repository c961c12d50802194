//! An island's Garage cluster, read through one member node with
//! `garage json-api` over SSH: no admin token, nothing exposed on the
//! network, and two round trips whatever the number of keys and buckets.

use crate::ssh::{Remote, SshError};
use archipel_planner::desired::{DesiredBucket, DesiredIsland, DesiredNode};
use archipel_planner::garage::{self as files, BINARY, CONFIG};
use archipel_planner::observed::Permissions;
use archipel_planner::observed::{
    BucketInfo, Cluster, ClusterHealth, ClusterLayout, ClusterStatus, KeyInfo, LayoutHistory,
    ListedId,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long one `garage json-api` call may take before archipel gives up
/// on it. Garage answers in well under a second while its members answer.
/// A member blackholed (its packets dropped, not refused) is another
/// matter: a read of the key and bucket tables, which every node holds,
/// needs two nodes of three in the default consistency mode, and Garage asks
/// the node itself and the peer it pings fastest; when that peer is the
/// blackholed one, the read waits for Garage's own RPC timeout, five
/// minutes, even once Garage has given the peer up (after five failed
/// pings, about 80 s). A write that needs it waits as long. Past this bound
/// the call is stopped on the node (`timeout`) and abandoned here, and the
/// error names the node and the call; an observation asks the island's
/// other running members too, whose Garage may prefer another peer.
pub const API_CALL_WITHIN: Duration = Duration::from_secs(10);

/// How many calls [`SCRIPT`] runs at once.
const CALLS_AT_ONCE: usize = 8;

/// The exit status of a call `timeout` stopped.
const TIMED_OUT: i32 = 124;

/// Runs `garage json-api` calls, one per argument after the binary, the
/// config and the bound in seconds (`Endpoint` or `Endpoint=JSON`), eight at
/// a time (each call is a short RPC session with the local daemon), each
/// stopped after the bound where the node has `timeout`, then prints each
/// answer framed as base64 on its own line, in the order asked.
const SCRIPT: &str = r#"bin=$1; cfg=$2; limit=$3; shift 3
if command -v timeout >/dev/null 2>&1; then bounded() { timeout "$limit" "$@"; }; else bounded() { "$@"; }; fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
i=0
for call; do
  i=$((i+1))
  (
    endpoint=${call%%=*}
    case $call in *=*) bounded "$bin" -c "$cfg" json-api "$endpoint" "${call#*=}" ;; *) bounded "$bin" -c "$cfg" json-api "$endpoint" ;; esac >"$dir/$i" 2>&1
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

/// One call's answer, as the node gave it.
enum Answer {
    Json(String),
    /// `garage json-api` failed: its exit status and what it printed.
    Failed(i32, String),
    /// Stopped after [`API_CALL_WITHIN`].
    TimedOut,
}

impl Answer {
    /// The JSON text, or the error naming the node and the call.
    fn json(self, remote: &Remote, endpoint: &str) -> Result<String, SshError> {
        match self {
            Answer::Json(text) => Ok(text),
            Answer::Failed(status, stderr) => Err(SshError::Failed {
                host: remote.host().to_string(),
                command: format!("garage json-api {endpoint}"),
                status,
                stderr,
            }),
            Answer::TimedOut => Err(SshError::Timeout {
                host: remote.host().to_string(),
                command: format!("garage json-api {endpoint}"),
                after: API_CALL_WITHIN,
            }),
        }
    }
}

/// Calls the admin API; answers in the order asked, each bounded by
/// [`API_CALL_WITHIN`] (on the node, and here for the whole round trip).
async fn call(remote: &Remote, calls: &[String]) -> Result<Vec<(String, Answer)>, SshError> {
    let limit = API_CALL_WITHIN.as_secs().to_string();
    let mut args: Vec<&str> = vec![BINARY, CONFIG, &limit];
    args.extend(calls.iter().map(String::as_str));
    // The calls run eight at a time; a node without `timeout` is bounded here.
    let rounds = calls.len().div_ceil(CALLS_AT_ONCE).max(1) as u32;
    let output = remote
        .run_within(
            SCRIPT,
            &args,
            None,
            API_CALL_WITHIN * rounds + Duration::from_secs(5),
        )
        .await
        // Named by its calls rather than by the script's first line.
        .map_err(|error| match error {
            SshError::Timeout { host, after, .. } => SshError::Timeout {
                host,
                command: format!("garage json-api {}", endpoints(calls)),
                after,
            },
            SshError::Transport { host, reason, .. } => SshError::Transport {
                host,
                command: format!("garage json-api {}", endpoints(calls)),
                reason,
            },
            other => other,
        })?;
    if output.status != 0 {
        return Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("garage json-api {}", endpoints(calls)),
            status: output.status,
            stderr: output.stderr_text(),
        });
    }
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
        let answer = match status.parse().unwrap_or(1) {
            0 => Answer::Json(text),
            TIMED_OUT => Answer::TimedOut,
            status => Answer::Failed(status, text),
        };
        answers.push((endpoint.to_string(), answer));
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

/// The endpoints of some calls, to name them in an error.
fn endpoints(calls: &[String]) -> String {
    let mut names: Vec<&str> = calls
        .iter()
        .map(|c| c.split('=').next().unwrap_or(c))
        .collect();
    names.dedup();
    names.join(", ")
}

/// How an island's running members are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// One after the other: the next member only for what the previous
    /// did not answer. What a healthy island needs.
    InTurn,
    /// All at once, the first answer to each call kept: when a member of
    /// the island is out of reach, Garage may make any member wait on it
    /// (see [`API_CALL_WITHIN`]), and asking in turn would cost that wait
    /// once per member.
    AtOnce,
}

/// Answers every call through the island's running members: each call is
/// answered by the first member that answers it. A call that fails or
/// times out on one member (its Garage waiting on a member out of reach)
/// is asked of the others, whose Garage may hold that data itself; a
/// member whose connection fails is passed over. Answers come in the order
/// asked, with the index of the member that answered the first call; when
/// some call got no answer anywhere, what each member said.
async fn call_through(
    members: &[&Remote],
    calls: &[String],
    asking: Asking,
) -> Result<(usize, Vec<String>), Vec<SshError>> {
    use futures_util::StreamExt;
    let mut answers: Vec<Option<String>> = vec![None; calls.len()];
    let mut first = None;
    let mut problems = Vec::new();
    let mut keep = |index: usize,
                    remote: &Remote,
                    pending: &[usize],
                    result: Result<Vec<(String, Answer)>, SshError>,
                    answers: &mut Vec<Option<String>>| match result {
        Err(error) => problems.push(error),
        Ok(results) => {
            for (&i, (endpoint, answer)) in pending.iter().zip(results) {
                if answers[i].is_some() {
                    continue;
                }
                match answer.json(remote, &endpoint) {
                    Ok(text) => {
                        answers[i] = Some(text);
                        if i == 0 {
                            first = Some(index);
                        }
                    }
                    Err(error) => problems.push(error),
                }
            }
        }
    };
    match asking {
        Asking::InTurn => {
            for (index, remote) in members.iter().enumerate() {
                let pending: Vec<usize> =
                    (0..calls.len()).filter(|i| answers[*i].is_none()).collect();
                if pending.is_empty() {
                    break;
                }
                let asked: Vec<String> = pending.iter().map(|i| calls[*i].clone()).collect();
                let result = call(remote, &asked).await;
                keep(index, remote, &pending, result, &mut answers);
            }
        }
        Asking::AtOnce => {
            let all: Vec<usize> = (0..calls.len()).collect();
            let mut asked: futures_util::stream::FuturesUnordered<_> = members
                .iter()
                .enumerate()
                .map(|(index, remote)| async move { (index, *remote, call(remote, calls).await) })
                .collect();
            // The first to answer everything ends it: the others' calls are
            // abandoned (and stopped on their nodes by their bound).
            while let Some((index, remote, result)) = asked.next().await {
                keep(index, remote, &all, result, &mut answers);
                if answers.iter().all(Option::is_some) {
                    break;
                }
            }
        }
    }
    match answers.into_iter().collect::<Option<Vec<String>>>() {
        Some(answers) => Ok((first.unwrap_or(0), answers)),
        None => Err(problems),
    }
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

/// Reads the whole cluster through its running members (see
/// [`call_through`]), asked as `asking` says: status, health, layout and
/// its history, every key (without its secret) and every bucket. Returns
/// the index of the member whose view of the cluster (status, health,
/// layout) it gives; when the island could not be read, what each member
/// said.
pub async fn observe_cluster(
    members: &[&Remote],
    asking: Asking,
) -> Result<(usize, Cluster), Vec<SshError>> {
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
    let (through, texts) = call_through(members, &first, asking).await?;
    let answers: BTreeMap<&str, String> = first.iter().map(String::as_str).zip(texts).collect();
    let remote = members[through];
    let read = || -> Result<_, SshError> {
        let text = |endpoint: &str| answers.get(endpoint).map(String::as_str).unwrap_or("");
        Ok((
            parse::<ClusterStatus>(remote, "GetClusterStatus", text("GetClusterStatus"))?,
            parse::<ClusterHealth>(remote, "GetClusterHealth", text("GetClusterHealth"))?,
            parse::<ClusterLayout>(remote, "GetClusterLayout", text("GetClusterLayout"))?,
            parse::<LayoutHistory>(
                remote,
                "GetClusterLayoutHistory",
                text("GetClusterLayoutHistory"),
            )?,
            parse::<Vec<ListedId>>(remote, "ListKeys", text("ListKeys"))?,
            parse::<Vec<ListedId>>(remote, "ListBuckets", text("ListBuckets"))?,
        ))
    };
    let (status, health, layout, history, keys, buckets) = read().map_err(|e| vec![e])?;

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
        // The member that answered first goes first again.
        let mut order: Vec<&Remote> = vec![remote];
        order.extend(
            members
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != through)
                .map(|(_, m)| *m),
        );
        let (_, texts) = call_through(&order, &second, asking).await?;
        for (call, text) in second.iter().zip(texts) {
            if call.starts_with("GetKeyInfo=") {
                key_infos.push(parse::<KeyInfo>(remote, "GetKeyInfo", &text).map_err(|e| vec![e])?);
            } else {
                bucket_infos.push(
                    parse::<BucketInfo>(remote, "GetBucketInfo", &text).map_err(|e| vec![e])?,
                );
            }
        }
    }
    Ok((
        through,
        Cluster {
            status,
            health,
            layout,
            history,
            keys: key_infos,
            buckets: bucket_infos,
        },
    ))
}

/// One admin API call, its JSON answer. Bodies never hold a secret (they
/// are visible in the node's process list); answers may (CreateKey), so
/// callers take what they need and drop the rest.
pub async fn api(
    remote: &Remote,
    endpoint: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, SshError> {
    let call_text = match body {
        Some(body) => format!("{endpoint}={body}"),
        None => endpoint.to_string(),
    };
    let answers = call(remote, &[call_text]).await?;
    let text = match answers.into_iter().next() {
        Some((_, answer)) => answer.json(remote, endpoint)?,
        None => String::new(),
    };
    parse(remote, endpoint, &text)
}

// --- changing nodes and islands -------------------------------------------

/// An island's shared secrets. Never printed, logged or written anywhere
/// but the island's nodes.
pub struct Secrets {
    pub rpc_secret: String,
    pub admin_token: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(sensitive)")
    }
}

impl Secrets {
    /// New secrets from the operating system's CSPRNG, in Garage's formats:
    /// the rpc secret is 32 bytes in hex; the admin token has no `.` (which
    /// Garage would read as a dynamic token).
    pub fn generate() -> Result<Secrets, SshError> {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| SshError::Local(format!("no randomness: {e}")))?;
        Ok(Secrets {
            rpc_secret: hex::encode(&bytes[..32]),
            admin_token: BASE64.encode(&bytes[32..]).replace(['+', '/', '='], ""),
        })
    }

    /// The secrets of a running island, read from one of its nodes.
    pub async fn read(remote: &Remote) -> Result<Secrets, SshError> {
        let read = |path: &'static str| async move {
            let bytes = remote
                .read_file(path)
                .await?
                .ok_or_else(|| SshError::Local(format!("{}: {path} is missing", remote.host())))?;
            Ok::<_, SshError>(String::from_utf8_lossy(&bytes).trim().to_string())
        };
        Ok(Secrets {
            rpc_secret: read(files::RPC_SECRET).await?,
            admin_token: read(files::ADMIN_TOKEN).await?,
        })
    }
}

/// Installs the pinned binary (already verified), keeping the previous one
/// for a rollback by hand, and checks what landed.
pub async fn install_binary(remote: &Remote, binary: &[u8], sha256: &str) -> Result<(), SshError> {
    remote
        .run_checked(
            "if [ -f \"$1\" ]; then cp -p -- \"$1\" \"$2\"; fi",
            &[BINARY, files::PREVIOUS_BINARY],
            None,
        )
        .await?;
    remote.upload(BINARY, binary, "root", "root", 0o755).await?;
    // Recorded, so plans need not read 50 MB again to know it is the pin.
    let landed = crate::host::record_hash(remote, BINARY).await?;
    if landed != sha256 {
        return Err(SshError::Failed {
            host: remote.host().to_string(),
            command: format!("install {}", BINARY),
            status: 1,
            stderr: format!("the installed binary's sha256 is {landed}, not the pinned {sha256}"),
        });
    }
    Ok(())
}

/// The `garage` system user and the node's private directories.
pub async fn prepare_directories(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    const SCRIPT: &str = "set -e
id -u garage >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/garage --shell /usr/sbin/nologin garage
install -d -o garage -g garage -m 0700 -- \"$1\" \"$2\"";
    remote
        .run_checked(SCRIPT, &[&node.meta_dir, &node.data_dir], None)
        .await
        .map(drop)
}

pub async fn write_config(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    let (owner, group, _) = files::CONFIG_OWNER;
    remote
        .upload(CONFIG, node.config.as_bytes(), owner, group, 0o640)
        .await
}

pub async fn write_secrets(remote: &Remote, secrets: &Secrets) -> Result<(), SshError> {
    remote
        .upload(
            files::RPC_SECRET,
            secrets.rpc_secret.as_bytes(),
            files::USER,
            files::USER,
            0o600,
        )
        .await?;
    remote
        .upload(
            files::ADMIN_TOKEN,
            secrets.admin_token.as_bytes(),
            files::USER,
            files::USER,
            0o600,
        )
        .await
}

pub async fn write_unit(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    remote
        .upload(files::UNIT, node.unit.as_bytes(), "root", "root", 0o644)
        .await?;
    remote
        .run_checked("systemctl daemon-reload", &[], None)
        .await
        .map(drop)
}

/// Enables and (re)starts Garage, then waits until the daemon answers.
pub async fn start(remote: &Remote, restart: bool) -> Result<(), SshError> {
    let script = if restart {
        "systemctl enable --quiet garage && systemctl restart garage"
    } else {
        "systemctl enable --quiet garage && systemctl start garage"
    };
    remote.run_checked(script, &[], None).await?;
    wait_for(
        remote,
        "Garage to answer",
        Duration::from_secs(60),
        |remote| async move {
            match api(&remote, "GetClusterStatus", None).await {
                Ok(_) => Ok(true),
                // The machine itself is lost: no use waiting for its Garage.
                Err(error @ SshError::Transport { .. }) => Err(error),
                // Not started yet, or not answering yet.
                Err(_) => Ok(false),
            }
        },
    )
    .await
}

/// The node's Garage ID: its public key, hex.
pub async fn node_id(remote: &Remote, meta_dir: &str) -> Result<String, SshError> {
    let path = files::node_key_path(meta_dir);
    let output = remote
        .run_checked("od -An -tx1 -v -- \"$1\" | tr -d ' \\n'", &[&path], None)
        .await?;
    let id = output.stdout_text();
    if id.len() != 64 {
        return Err(SshError::Local(format!(
            "{}: {path} does not hold a node key",
            remote.host()
        )));
    }
    Ok(id)
}

/// Polls `ready` every half second until it says yes or `limit` passes.
pub async fn wait_for<F, Fut>(
    remote: &Remote,
    what: &str,
    limit: Duration,
    ready: F,
) -> Result<(), SshError>
where
    F: Fn(Remote) -> Fut,
    Fut: Future<Output = Result<bool, SshError>>,
{
    let started = Instant::now();
    loop {
        if ready(remote.clone()).await? {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(SshError::Failed {
                host: remote.host().to_string(),
                command: format!("wait for {what}"),
                status: 1,
                stderr: format!("still not ready after {} s", limit.as_secs()),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the island reports `healthy`.
pub async fn wait_healthy(remote: &Remote, limit: Duration) -> Result<(), SshError> {
    wait_for(
        remote,
        "the island to be healthy",
        limit,
        |remote| async move {
            let health: ClusterHealth =
                serde_json::from_value(api(&remote, "GetClusterHealth", None).await?)
                    .map_err(|e| SshError::Local(e.to_string()))?;
            Ok(health.status == "healthy")
        },
    )
    .await
}

/// Waits until a node taken out of the layout holds nothing more: no layout
/// version still draining (its metadata moved to the new owners), nothing
/// in its resync queue, and no block file left in its data directory (its
/// data moved too; Garage deletes a block only once it has handed it
/// over). Garage keeps a node's unneeded blocks for ten minutes before it
/// offloads them, so a node that held data takes at least that long.
/// `progress` hears how much is left, at most every `report_every`.
pub async fn wait_drained(
    coordinator: &Remote,
    departing: &Remote,
    id: &str,
    limit: Duration,
    report_every: Duration,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<(), SshError> {
    // The data directory as the node's own config names it (archipel
    // writes it as one string), then its block files, counted.
    const COUNT_BLOCKS: &str = r#"dir=$(sed -n 's/^data_dir = "\(.*\)"$/\1/p' "$1")
[ -n "$dir" ] || { echo "no data_dir in $1" >&2; exit 3; }
find "$dir" -type f ! -name garage-marker | wc -l"#;
    let started = Instant::now();
    let mut reported = Instant::now();
    loop {
        let history = api(coordinator, "GetClusterLayoutHistory", None).await?;
        let draining_versions = history["versions"].as_array().map_or(0, |v| {
            v.iter().filter(|v| v["status"] == "Draining").count()
        });
        let statistics = api(
            coordinator,
            "GetNodeStatistics",
            Some(&serde_json::json!({ "node": id, "body": null })),
        )
        .await?;
        let queued = statistics["success"][id]["blockManagerStats"]["resyncQueueLen"].as_u64();
        let files: u64 = departing
            .run_checked(COUNT_BLOCKS, &[CONFIG], None)
            .await?
            .stdout_text()
            .trim()
            .parse()
            .map_err(|_| {
                SshError::Local(format!("{}: cannot count its blocks", departing.host()))
            })?;
        let left = match queued {
            Some(queued) => {
                if draining_versions == 0 && queued == 0 && files == 0 {
                    return Ok(());
                }
                format!(
                    "{draining_versions} layout version(s) draining, {files} block(s) on disk, {queued} in its resync queue"
                )
            }
            // Not answering: it must be up to hand its data over.
            None => format!(
                "its Garage does not answer ({}): it must run until its data has moved",
                statistics["error"][id].as_str().unwrap_or("no statistics")
            ),
        };
        if started.elapsed() > limit {
            return Err(SshError::Failed {
                host: departing.host().to_string(),
                command: "wait for the node to drain".into(),
                status: 1,
                stderr: format!(
                    "still not drained after {} s: {left}; it is out of the layout and keeps running; apply again once it has drained to stop it",
                    limit.as_secs()
                ),
            });
        }
        if reported.elapsed() >= report_every {
            progress(format!("draining: {left}"));
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Stops and disables Garage on a node that left its island. Its data
/// and metadata directories stay where they are.
pub async fn stop(remote: &Remote) -> Result<(), SshError> {
    remote
        .run_checked("systemctl disable --now --quiet garage", &[], None)
        .await
        .map(drop)
}

/// Connects the coordinator to every other node (`id@addr`), then waits
/// until the coordinator sees them all up.
pub async fn connect(
    coordinator: &Remote,
    peers: &[(String, String)],
    all_ids: &[String],
) -> Result<(), SshError> {
    let body = serde_json::Value::Array(
        peers
            .iter()
            .map(|(id, addr)| format!("{id}@{addr}").into())
            .collect(),
    );
    let answers = api(coordinator, "ConnectClusterNodes", Some(&body)).await?;
    if let Some(results) = answers.as_array() {
        for ((id, addr), result) in peers.iter().zip(results) {
            if result["success"] != true {
                return Err(SshError::Failed {
                    host: coordinator.host().to_string(),
                    command: format!("connect to {}@{addr}", &id[..16]),
                    status: 1,
                    stderr: result["error"].as_str().unwrap_or("refused").to_string(),
                });
            }
        }
    }
    let ids = all_ids.to_vec();
    wait_for(
        coordinator,
        "every node to be connected",
        Duration::from_secs(60),
        move |remote| {
            let ids = ids.clone();
            async move {
                let status: ClusterStatus =
                    serde_json::from_value(api(&remote, "GetClusterStatus", None).await?)
                        .map_err(|e| SshError::Local(e.to_string()))?;
                Ok(ids
                    .iter()
                    .all(|id| status.nodes.iter().any(|n| &n.id == id && n.is_up)))
            }
        },
    )
    .await
}

/// Stages every role change of the island in one UpdateClusterLayout,
/// previews it, and applies version current+1 exactly once. Returns the
/// version applied, or `None` when nothing needed staging.
pub async fn apply_layout(
    coordinator: &Remote,
    island: &DesiredIsland,
    ids: &BTreeMap<String, String>,
    remove: &[String],
    clear_staged: bool,
) -> Result<Option<u64>, SshError> {
    let failed = |command: &str, stderr: String| SshError::Failed {
        host: coordinator.host().to_string(),
        command: command.to_string(),
        status: 1,
        stderr,
    };
    let layout: ClusterLayout =
        serde_json::from_value(api(coordinator, "GetClusterLayout", None).await?)
            .map_err(|e| SshError::Local(e.to_string()))?;
    if !layout.staged_role_changes.is_empty() {
        if !clear_staged {
            return Err(failed(
                "stage the layout",
                format!(
                    "{} layout change(s) are staged that archipel did not make; look at them (garage layout show) and rerun with --clear-staged to drop them",
                    layout.staged_role_changes.len()
                ),
            ));
        }
        api(coordinator, "RevertClusterLayout", None).await?;
    }
    let mut roles = Vec::new();
    for node in &island.nodes {
        let Some(id) = ids.get(&node.name) else {
            return Err(failed(
                "stage the layout",
                format!("node {} has no Garage ID yet", node.name),
            ));
        };
        let live = layout.roles.iter().find(|r| &r.id == id);
        let same = live.is_some_and(|r| {
            r.zone == node.zone && r.capacity == Some(node.capacity) && r.tags == node.tags
        });
        if !same {
            roles.push(serde_json::json!({"id": id, "zone": node.zone, "capacity": node.capacity, "tags": node.tags}));
        }
    }
    // Only the removals the plan showed: a role that appeared since is not
    // for this apply to remove.
    for id in remove {
        if layout.roles.iter().any(|r| &r.id == id) {
            roles.push(serde_json::json!({"id": id, "remove": true}));
        }
    }
    if roles.is_empty() {
        return Ok(None);
    }
    api(
        coordinator,
        "UpdateClusterLayout",
        Some(&serde_json::json!({ "roles": roles })),
    )
    .await?;
    let preview = api(coordinator, "PreviewClusterLayoutChanges", None).await?;
    if let Some(error) = preview.get("error").and_then(|e| e.as_str()) {
        // Leave nothing staged behind a refusal.
        let _ = api(coordinator, "RevertClusterLayout", None).await;
        return Err(failed(
            "preview the layout",
            format!("Garage cannot compute this layout: {error}"),
        ));
    }
    let version = layout.version + 1;
    let applied = api(
        coordinator,
        "ApplyClusterLayout",
        Some(&serde_json::json!({ "version": version })),
    )
    .await;
    if let Err(error) = applied {
        // Never apply a version twice: it may have gone through.
        let now: ClusterLayout =
            serde_json::from_value(api(coordinator, "GetClusterLayout", None).await?)
                .map_err(|e| SshError::Local(e.to_string()))?;
        if now.version != version {
            return Err(error);
        }
    }
    Ok(Some(version))
}

/// The bucket exists with its quota.
pub async fn ensure_bucket(coordinator: &Remote, bucket: &DesiredBucket) -> Result<(), SshError> {
    let id = match bucket_id(coordinator, &bucket.name).await? {
        Some(id) => id,
        None => {
            let created = api(
                coordinator,
                "CreateBucket",
                Some(&serde_json::json!({ "globalAlias": bucket.name })),
            )
            .await?;
            created["id"].as_str().unwrap_or_default().to_string()
        }
    };
    // `quotas` replaces both values: always send both.
    let body = serde_json::json!({ "id": id, "body": { "quotas": { "maxSize": bucket.quota, "maxObjects": null } } });
    api(coordinator, "UpdateBucket", Some(&body))
        .await
        .map(drop)
}

async fn bucket_id(coordinator: &Remote, alias: &str) -> Result<Option<String>, SshError> {
    let buckets: Vec<BucketInfoAlias> =
        serde_json::from_value(api(coordinator, "ListBuckets", None).await?)
            .map_err(|e| SshError::Local(e.to_string()))?;
    Ok(buckets
        .into_iter()
        .find(|b| b.global_aliases.iter().any(|a| a == alias))
        .map(|b| b.id))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BucketInfoAlias {
    id: String,
    #[serde(default)]
    global_aliases: Vec<String>,
}

#[derive(serde::Deserialize)]
struct KeyName {
    id: String,
    name: String,
}

pub(crate) async fn key_id(coordinator: &Remote, name: &str) -> Result<Option<String>, SshError> {
    let keys: Vec<KeyName> = serde_json::from_value(api(coordinator, "ListKeys", None).await?)
        .map_err(|e| SshError::Local(e.to_string()))?;
    let matching: Vec<KeyName> = keys.into_iter().filter(|k| k.name == name).collect();
    match matching.len() {
        0 => Ok(None),
        1 => Ok(matching.into_iter().next().map(|k| k.id)),
        n => Err(SshError::Local(format!(
            "{n} keys are named {name}: archipel will not guess which one is its own"
        ))),
    }
}

/// A key with its secret, as S3 clients sign with it. Never printed.
pub struct KeySecret {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret({}, sensitive)", self.id)
    }
}

/// archipel's key `name` on the island, with its secret.
pub async fn key_secret(
    coordinator: &Remote,
    island: &str,
    name: &str,
) -> Result<KeySecret, SshError> {
    let id = key_id(coordinator, name)
        .await?
        .ok_or_else(|| SshError::Local(format!("key {name} does not exist on island {island}")))?;
    let info = api(
        coordinator,
        "GetKeyInfo",
        Some(&serde_json::json!({ "id": id, "showSecretKey": true })),
    )
    .await?;
    let secret = info["secretAccessKey"].as_str().ok_or_else(|| {
        SshError::Local(format!("island {island} did not give key {name}'s secret"))
    })?;
    Ok(KeySecret {
        secret: secret.to_string(),
        id,
    })
}

/// The key exists. Its secret, in CreateKey's answer, is dropped here.
pub async fn ensure_key(coordinator: &Remote, name: &str) -> Result<(), SshError> {
    if key_id(coordinator, name).await?.is_none() {
        let created = api(
            coordinator,
            "CreateKey",
            Some(&serde_json::json!({ "name": name })),
        )
        .await?;
        drop(created);
    }
    Ok(())
}

/// Deletes archipel's key `name`, and with it its permissions. A key
/// already gone is fine.
pub async fn delete_key(coordinator: &Remote, name: &str) -> Result<(), SshError> {
    if let Some(id) = key_id(coordinator, name).await? {
        api(
            coordinator,
            "DeleteKey",
            Some(&serde_json::json!({ "id": id })),
        )
        .await?;
    }
    Ok(())
}

/// Deletes an empty bucket. Garage itself refuses one that holds objects
/// (BucketNotEmpty), should any have arrived since the plan.
pub async fn delete_bucket(coordinator: &Remote, alias: &str) -> Result<(), SshError> {
    if let Some(id) = bucket_id(coordinator, alias).await? {
        api(
            coordinator,
            "DeleteBucket",
            Some(&serde_json::json!({ "id": id })),
        )
        .await?;
    }
    Ok(())
}

/// The key holds exactly `wanted` on the bucket.
pub async fn grant(
    coordinator: &Remote,
    bucket: &str,
    key: &str,
    wanted: Permissions,
) -> Result<(), SshError> {
    let missing =
        |what: &str| SshError::Local(format!("{}: {what} does not exist", coordinator.host()));
    let bucket_id = bucket_id(coordinator, bucket)
        .await?
        .ok_or_else(|| missing(&format!("bucket {bucket}")))?;
    let key_id = key_id(coordinator, key)
        .await?
        .ok_or_else(|| missing(&format!("key {key}")))?;
    let body = |p: Permissions| serde_json::json!({ "bucketId": bucket_id, "accessKeyId": key_id, "permissions": { "read": p.read, "write": p.write, "owner": p.owner } });
    // Only `true` flags act: allow what is wanted, deny the rest.
    api(coordinator, "AllowBucketKey", Some(&body(wanted))).await?;
    let deny = Permissions {
        read: !wanted.read,
        write: !wanted.write,
        owner: !wanted.owner,
    };
    if deny.read || deny.write || deny.owner {
        api(coordinator, "DenyBucketKey", Some(&body(deny))).await?;
    }
    Ok(())
}
