//! Garage on one node: the island's secrets, the binary, the system user
//! and directories, the config and unit files, starting and stopping the
//! daemon, its node ID, and waiting on it.

use super::admin_api::{api, api_as};
use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::desired::{DesiredNode, DesiredScraper};
use archipel_planner::garage::{self as files, BINARY, CONFIG};
use archipel_planner::observed::{ClusterHealth, ClusterStatus};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// An island's shared secrets. Never printed, logged or written anywhere
/// but the island's nodes.
pub struct Secrets {
    pub rpc_secret: String,
    pub admin_token: String,
    /// The bearer of `/metrics` (Garage refuses the admin token there).
    pub metrics_token: String,
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
        getrandom::fill(&mut bytes).map_err(|e| LocalError::NoRandomness {
            reason: e.to_string(),
        })?;
        Ok(Secrets {
            rpc_secret: hex::encode(&bytes[..32]),
            admin_token: BASE64.encode(&bytes[32..]).replace(['+', '/', '='], ""),
            metrics_token: Self::token()?,
        })
    }

    /// A token in Garage's format: no `.` (a dynamic token's mark).
    fn token() -> Result<String, SshError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| LocalError::NoRandomness {
            reason: e.to_string(),
        })?;
        Ok(BASE64.encode(bytes).replace(['+', '/', '='], ""))
    }

    /// The secrets of a running island, read from one of its nodes; an
    /// island made before the metrics token gets one, made here once (the
    /// plan copies from a node that has one when any does).
    pub async fn read(remote: &Remote) -> Result<Secrets, SshError> {
        let read = |path: &'static str| async move {
            let bytes = remote
                .read_file(path)
                .await?
                .ok_or_else(|| LocalError::FileMissing {
                    host: remote.host().to_string(),
                    path: path.to_string(),
                })?;
            Ok::<_, SshError>(String::from_utf8_lossy(&bytes).trim().to_string())
        };
        Ok(Secrets {
            rpc_secret: read(files::RPC_SECRET).await?,
            admin_token: read(files::ADMIN_TOKEN).await?,
            metrics_token: match remote.read_file(files::METRICS_TOKEN).await? {
                Some(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
                None => Self::token()?,
            },
        })
    }
}

/// Installs the pinned binary (already verified), keeping the previous one
/// for a rollback by hand, and checks what landed: its hash, and that it
/// runs and reports the release the file says (upgrades are decided on
/// it). The daemon is not restarted here.
pub async fn install_binary(
    remote: &Remote,
    binary: &[u8],
    sha256: &str,
    version: &str,
) -> Result<(), SshError> {
    crate::pinned::install_pinned(remote, BINARY, Some(files::PREVIOUS_BINARY), binary, sha256)
        .await?;
    let reports = remote
        .run_checked(files::VERSION_PROBE.1, &[], None)
        .await?;
    let reported = files::Release::reported(&reports.stdout_text());
    if reported.is_some() && reported == files::Release::parse(version) {
        Ok(())
    } else {
        Err(SshError::Failed {
            host: remote.host().to_string(),
            command: files::VERSION_PROBE.1.to_string(),
            status: 1,
            stderr: format!(
                "the pinned binary reports {:?}, not Garage {version} as the file says; Garage was not restarted",
                reports.stdout_text().trim()
            ),
        })
    }
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
    remote
        .upload(CONFIG, node.config.as_bytes(), files::CONFIG_OWNER)
        .await
}

pub async fn write_secrets(remote: &Remote, secrets: &Secrets) -> Result<(), SshError> {
    remote
        .upload(
            files::RPC_SECRET,
            secrets.rpc_secret.as_bytes(),
            files::SECRET_OWNER,
        )
        .await?;
    remote
        .upload(
            files::ADMIN_TOKEN,
            secrets.admin_token.as_bytes(),
            files::SECRET_OWNER,
        )
        .await?;
    remote
        .upload(
            files::METRICS_TOKEN,
            secrets.metrics_token.as_bytes(),
            files::SECRET_OWNER,
        )
        .await
}

/// The node's own scraper of Garage's metrics: its curl config made on the
/// node from the node's metrics token (which never leaves it), root's
/// alone, then its service unit.
pub async fn write_metrics_service(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    const SCRIPT: &str = r#"set -eu
umask 077
token=$(cat "$1")
printf 'header = "Authorization: Bearer %s"\n' "$token" >"$2.partial"
mv -f -- "$2.partial" "$2""#;
    let scraper = scraper(remote, node)?;
    remote
        .run_checked(
            SCRIPT,
            &[files::METRICS_TOKEN, files::METRICS_CURL_CONFIG],
            None,
        )
        .await?;
    crate::backup::write_unit(remote, files::METRICS_SERVICE, &scraper.service, false).await
}

/// The scraper's timer, enabled and started.
pub async fn write_metrics_timer(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    let scraper = scraper(remote, node)?;
    crate::backup::write_unit(remote, files::METRICS_TIMER, &scraper.timer, true).await
}

/// The node's scraper, as the file says (the plan was made with one).
fn scraper<'a>(remote: &Remote, node: &'a DesiredNode) -> Result<&'a DesiredScraper, SshError> {
    node.metrics.as_ref().ok_or_else(|| {
        LocalError::FileMissing {
            host: remote.host().to_string(),
            path: files::METRICS_SERVICE.to_string(),
        }
        .into()
    })
}

pub async fn write_unit(remote: &Remote, node: &DesiredNode) -> Result<(), SshError> {
    remote
        .upload(files::UNIT, node.unit.as_bytes(), files::UNIT_OWNER)
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
        return Err(LocalError::NotANodeKey {
            host: remote.host().to_string(),
            path,
        }
        .into());
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
            let health: ClusterHealth = api_as(&remote, "GetClusterHealth").await?;
            Ok(health.status == "healthy")
        },
    )
    .await
}

/// How long a node's view of the island must stay whole before a restarted
/// node counts as back: longer than Garage's ping interval (15 s). A node
/// counts a peer as up through its own connection to it, and may read a
/// restarted peer as up before it noticed the restart, then as down until
/// its next attempt to reconnect.
const STEADY_FOR: Duration = Duration::from_secs(16);

/// How long a peer may look down before a restart is refused: more than
/// Garage's wait between two attempts to reconnect (30 s), so that a peer
/// just back (its link restored, its own restart finished) counts as up.
const PEERS_UP_WITHIN: Duration = Duration::from_secs(45);

/// The island as the first of `views` that answers sees it.
async fn first_view(views: &[Remote], island: &str) -> Result<ClusterStatus, SshError> {
    for view in views {
        if let Ok(status) = api_as::<ClusterStatus>(view, "GetClusterStatus").await {
            return Ok(status);
        }
    }
    Err(LocalError::NoIslandView {
        island: island.to_string(),
    }
    .into())
}

/// The nodes of `names` (id → name) that hold a role in the island's
/// layout: those a rejoining node must see, and be seen by (a node joining
/// in the same apply is connected later).
pub async fn members(
    views: &[Remote],
    island: &str,
    names: &BTreeMap<String, String>,
) -> Result<Vec<String>, SshError> {
    let status = first_view(views, island).await?;
    Ok(names
        .keys()
        .filter(|id| {
            status
                .nodes
                .iter()
                .any(|n| &n.id == *id && n.role.is_some())
        })
        .cloned()
        .collect())
}

/// Before restarting `node`: every other member of the island is up, as
/// the first of `views` that answers sees it, within [`PEERS_UP_WITHIN`].
/// A rolling restart never takes a second node down.
pub async fn others_up(
    views: &[Remote],
    island: &str,
    node: &str,
    members: &[String],
    names: &BTreeMap<String, String>,
) -> Result<(), SshError> {
    let started = Instant::now();
    loop {
        let status = first_view(views, island).await?;
        let down = members.iter().find(|id| {
            names.get(*id).is_some_and(|name| name != node)
                && !status.nodes.iter().any(|n| &n.id == *id && n.is_up)
        });
        let Some(down) = down else {
            return Ok(());
        };
        if started.elapsed() >= PEERS_UP_WITHIN {
            return Err(LocalError::PeerDown {
                node: node.to_string(),
                down: names.get(down).cloned().unwrap_or_else(|| down.clone()),
            }
            .into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits until every node of `views` sees every node of `ids` up, and
/// keeps seeing them so for [`STEADY_FOR`]: a restarted node back in its
/// island as each of the others sees it, not only as it sees itself.
pub async fn wait_rejoined(
    views: &[Remote],
    ids: &[String],
    limit: Duration,
) -> Result<(), SshError> {
    let started = Instant::now();
    let mut whole_since: Option<Instant> = None;
    loop {
        let mut missing = None;
        for view in views {
            let status: ClusterStatus = api_as(view, "GetClusterStatus").await?;
            if let Some(id) = ids
                .iter()
                .find(|id| !status.nodes.iter().any(|n| &n.id == *id && n.is_up))
            {
                missing = Some(format!(
                    "{} does not see node {} up",
                    view.host(),
                    id.get(..16).unwrap_or(id)
                ));
                break;
            }
        }
        match missing {
            None => {
                if whole_since.get_or_insert_with(Instant::now).elapsed() >= STEADY_FOR {
                    return Ok(());
                }
            }
            Some(missing) => {
                whole_since = None;
                if started.elapsed() > limit {
                    return Err(SshError::Failed {
                        host: views.first().map_or("?", |v| v.host()).to_string(),
                        command: "wait for every node to see the island whole".into(),
                        status: 1,
                        stderr: format!("still not whole after {} s: {missing}", limit.as_secs()),
                    });
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
            .map_err(|_| LocalError::BlocksUncounted {
                host: departing.host().to_string(),
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
