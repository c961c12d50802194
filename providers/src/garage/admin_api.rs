//! Garage's admin API, called on a node with `garage json-api` over SSH:
//! many calls in one round trip, each bounded, and through an island's
//! running members when one of them cannot answer.

use crate::ssh::{LocalError, Remote, SshError};
use archipel_planner::garage::{BINARY, CONFIG};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use std::time::Duration;

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
const CALLS_AT_ONCE: usize = 16;

/// The exit status of a call `timeout` stopped.
const TIMED_OUT: i32 = 124;

/// Runs `garage json-api` calls, one per argument after the binary, the
/// config and the bound in seconds (`Endpoint` or `Endpoint=JSON`), sixteen
/// at a time (each call is a short RPC session with the local daemon), each
/// stopped after the bound where the node has `timeout`, then prints each
/// answer framed as base64 on its own line, in the order asked: what the
/// call printed on stdout when it succeeded (a release may log on stderr
/// meanwhile, and a log line in the middle of the JSON would break it),
/// its stderr then stdout when it failed.
///
/// A call `Endpoint=@Listing` (see [`over_listed`]) is made once per id the
/// answer of the call `Listing` (asked in the same round) lists, with
/// `{"id":"ID"}`, once `Listing` answered: the island's keys and buckets
/// are read in one round trip. Its answer is the JSON array of theirs; the
/// first that failed fails it. (The ids are picked out of the listing's
/// JSON with grep, and the caller checks them against the listing it
/// parses.)
const SCRIPT: &str = r#"bin=$1; cfg=$2; limit=$3; shift 3
if command -v timeout >/dev/null 2>&1; then bounded() { timeout "$limit" "$@"; }; else bounded() { "$@"; }; fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
one() { # NAME CALL: the answer in $dir/NAME, the exit status in $dir/NAME.rc
  endpoint=${2%%=*}
  case $2 in *=*) bounded "$bin" -c "$cfg" json-api "$endpoint" "${2#*=}" ;; *) bounded "$bin" -c "$cfg" json-api "$endpoint" ;; esac >"$dir/$1" 2>"$dir/$1.err"
  echo $? >"$dir/$1.rc"
}
i=0 running=0
for call; do
  i=$((i+1))
  case $call in *=@*) continue ;; esac
  one "$i" "$call" &
  running=$((running+1)); [ $((running % 16)) -eq 0 ] && wait
done
wait
i=0 running=0
for call; do
  i=$((i+1))
  case $call in *=@*) ;; *) continue ;; esac
  listing=${call#*=@}; j=0; from=0; k=0
  for c; do k=$((k+1)); [ "$c" = "$listing" ] && from=$k; done
  if [ "$from" -gt 0 ] && read -r rc <"$dir/$from.rc" && [ "$rc" = 0 ]; then
    for id in $(grep -o '"id": *"[0-9A-Za-z]*"' "$dir/$from" | cut -d'"' -f4); do
      j=$((j+1)); one "$i.$j" "${call%%=*}={\"id\":\"$id\"}" &
      running=$((running+1)); [ $((running % 16)) -eq 0 ] && wait
    done
    echo "$j" >"$dir/$i.count"
  else
    echo "$listing did not answer" >"$dir/$i.err"; : >"$dir/$i"; echo 1 >"$dir/$i.rc"
  fi
done
wait
i=0
for call; do
  i=$((i+1))
  [ -f "$dir/$i.count" ] || continue
  read -r count <"$dir/$i.count"
  rc=0; j=0
  {
    printf '['
    while [ "$j" -lt "$count" ]; do
      j=$((j+1))
      read -r one_rc <"$dir/$i.$j.rc" || one_rc=1
      if [ "$one_rc" != 0 ] && [ "$rc" = 0 ]; then rc=$one_rc; cat "$dir/$i.$j.err" "$dir/$i.$j" >"$dir/$i.err"; fi
      [ "$j" -gt 1 ] && printf ','
      cat "$dir/$i.$j"
    done
    printf ']'
  } >"$dir/$i"
  echo "$rc" >"$dir/$i.rc"
done
i=0
for call; do
  i=$((i+1))
  read -r rc <"$dir/$i.rc" || rc=1
  printf 'api\t%s\t%s\t' "${call%%=*}" "$rc"
  if [ "$rc" = 0 ]; then base64 -w0 <"$dir/$i"; else cat "$dir/$i.err" "$dir/$i" | base64 -w0; fi; echo
done
"#;

/// The call that makes `endpoint` once per id the call `listing` lists
/// (see [`SCRIPT`]); answered with a JSON array.
pub(super) fn over_listed(endpoint: &str, listing: &str) -> String {
    format!("{endpoint}=@{listing}")
}

/// The call a call over a listing needs answered on the same member.
fn listing_of(call: &str) -> Option<&str> {
    call.split_once("=@").map(|(_, listing)| listing)
}

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
    // The calls run sixteen at a time, those over a listing after it; a
    // node without `timeout` is bounded here. How many ids a listing holds
    // is not known yet: a round per kind of call over one is counted.
    let over = calls.iter().filter(|c| listing_of(c).is_some()).count();
    let rounds = (calls.len() - over).div_ceil(CALLS_AT_ONCE).max(1) as u32 + 2 * over as u32;
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
pub(super) async fn call_through(
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
                // A call over a listing is asked with its listing, even if
                // another member answered that: the ids are the member's own.
                let pending: Vec<usize> = (0..calls.len())
                    .filter(|i| {
                        answers[*i].is_none()
                            || calls.iter().enumerate().any(|(j, call)| {
                                answers[j].is_none() && listing_of(call) == Some(calls[*i].as_str())
                            })
                    })
                    .collect();
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

pub(super) fn parse<T: DeserializeOwned>(
    remote: &Remote,
    endpoint: &str,
    text: &str,
) -> Result<T, SshError> {
    serde_json::from_str(text).map_err(|e| SshError::Transport {
        host: remote.host().to_string(),
        command: format!("garage json-api {endpoint}"),
        reason: format!("unexpected answer: {e}"),
    })
}

/// Garage identifiers are hex (buckets) or `GK` + hex (keys): anything else
/// is not passed to a shell.
pub(super) fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// An admin API call without a body, its answer read as `T`.
pub(super) async fn api_as<T: DeserializeOwned>(
    remote: &Remote,
    endpoint: &'static str,
) -> Result<T, SshError> {
    serde_json::from_value(api(remote, endpoint, None).await?).map_err(|e| {
        LocalError::UnexpectedAnswer {
            host: remote.host().to_string(),
            endpoint,
            reason: e.to_string(),
        }
        .into()
    })
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
