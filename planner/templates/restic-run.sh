#!/bin/sh
# Managed by archipel: changes made here are reverted by `archipel apply`.
#
# Runs one restic task of a backup job, one task of a job at a time, and
# records how it went in /var/lib/archipel/backups/JOB.TASK.json (and, when
# it succeeded, JOB.TASK.success.json), each written atomically: the
# command, its exit code, start, duration, restic's version and, for a
# backup, restic's summary (snapshot id, files and bytes added), and for a
# failed run the failing command's last error line.
#
# A backup runs the job's commands around restic: `before`, then each dump
# (its output saved to $ARCHIPEL_DUMP_DIR/NAME, backed up with the job's
# paths, then deleted), then restic, then `on_failure` if something failed,
# then `after`, whatever happened once `before` started. A failing
# `before` or dump means no restic run at all: no snapshot can claim a
# dump that did not complete. Each command's exit code, duration and last
# lines of output are recorded with the run.
#
# With a local repository ($ARCHIPEL_LOCAL_REPOSITORY, on the host), a
# backup goes there, and the copy task sends the snapshots the island's
# repository lacks (`restic copy`, both repositories sharing the password
# and chunker parameters); prune and check then apply to both.
#
# A drill restores a sample of the latest snapshot (up to 20 of its files,
# chosen at random, and every dump) into a temporary directory, verifies
# them against it, and checks each dump: not empty, and accepted by its
# check command (the dump on its standard input) when it has one.
#
# After each run, the job's metrics are written for node_exporter's
# textfile collector ($ARCHIPEL_METRICS_DIR/archipel-JOB.prom): each task's
# last run, last success, duration and exit code, a backup's bytes added,
# the repository's snapshots and size, and when the job turns stale. With
# a ping URL ($ARCHIPEL_PING_FILE, root's alone), the service behind it
# hears of a backup's start and of each task's success or failure, the
# failure in restic's (or the failing command's) words; a ping that fails
# is said in the journal and never fails the run.
#
# Usage: restic-run JOB TASK [restic arguments...]
# The repository, the credentials and the password come from the
# environment (the unit's EnvironmentFile=), restic from $ARCHIPEL_RESTIC,
# the commands from the ARCHIPEL_* variables of the job's settings.
set -u
job=$1 task=$2
shift 2
restic=${ARCHIPEL_RESTIC:-restic}
status_dir=/var/lib/archipel/backups
mkdir -p "$status_dir"

# One task of a job at a time: a backup and its prune never overlap.
exec 9>"$status_dir/$job.lock"
flock 9

# The repository's S3 address may be a node that is down: the island's
# other nodes serve the same bucket, so the first one that accepts a TCP
# connection within 5 s is used instead (bash's /dev/tcp: no other tool).
if [ -n "${ARCHIPEL_S3_ENDPOINTS:-}" ]; then
    first=${RESTIC_REPOSITORY#s3:}
    path=/${first#*://*/}
    first=${first%"$path"}
    for endpoint in $ARCHIPEL_S3_ENDPOINTS; do
        address=${endpoint#*://}
        host=${address%:*} port=${address##*:}
        host=${host#[} host=${host%]}
        if timeout 5 bash -c ': <"/dev/tcp/$1/$2"' reach "$host" "$port" 2>/dev/null; then
            if [ "$endpoint" != "$first" ]; then
                echo "restic-run: $first does not answer, using $endpoint" >&2
                RESTIC_REPOSITORY=s3:$endpoint$path
                export RESTIC_REPOSITORY
            fi
            break
        fi
    done
fi

local_repository=${ARCHIPEL_LOCAL_REPOSITORY:-}
if [ "$task" = copy ] && [ -z "$local_repository" ]; then
    echo "restic-run: the job has no local repository to copy from" >&2
    exit 2
fi

# A run killed before it could clean up leaves its lock in the repository;
# `restic unlock` removes only locks whose process is gone, or stale ones.
"$restic" unlock >/dev/null 2>&1 || true
[ -z "$local_repository" ] || "$restic" -r "$local_repository" unlock >/dev/null 2>&1 || true

version=$("$restic" version 2>/dev/null | sed -n 's/^restic \([0-9][0-9.]*\).*/\1/p')
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
begin=$(date +%s)
output=$(mktemp)
errors=$(mktemp)
work=$(mktemp -d)
dump_dir=${ARCHIPEL_DUMP_DIR:-}
cleanup() {
    rm -rf -- "$output" "$errors" "$work"
    [ -z "$dump_dir" ] || [ "$task" != backup ] || rm -rf -- "$dump_dir"
}
trap cleanup EXIT

# A command's output with what looks like a secret masked: dumps and hooks
# print connection strings (`password=…`, `postgresql://user:…@host`).
masked() {
    tr -d '\000-\010\013-\037' <"$1" | sed -E \
        -e 's/((password|passwd|pwd|secret|token)[[:space:]]*[=:][[:space:]]*)[^[:space:]&;,]+/\1<redacted>/Ig' \
        -e 's#(://[^:/@[:space:]]*:)[^@[:space:]]*@#\1<redacted>@#g'
}
# Lines as one JSON string.
json_string() {
    cut -c 1-300 | iconv -f UTF-8 -t UTF-8 -c | awk '
        BEGIN { printf "\"" }
        { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t")
          if (NR > 1) printf "\\n"
          printf "%s", $0 }
        END { printf "\"" }'
}
last_line() { masked "$1" | grep '[^[:space:]]' | tail -n 1; }

# The run's commands (hooks, dumps, checks) as JSON objects, and the first
# failure, in its own words.
steps=""
failure=""
outcome=success
snapshot=""
add_step() { steps="${steps:+$steps,}$1"; }
failed() { # WHAT EXIT_CODE TIMEOUT LOG
    outcome=failure
    [ -z "$failure" ] || return 0
    if [ "$2" -eq 124 ]; then
        failure="$1 timed out after $3 s"
    else
        line=$(last_line "$4")
        failure="$1 failed (exit $2)${line:+: $line}"
    fi
}

# Runs a command of the user's with `sh -c`: as USER (runuser), killed after
# SECONDS (SIGTERM, then SIGKILL 30 s later), in a clean environment: the
# S3 key and the password are the runner's, never the commands'.
as_user() { # USER SECONDS COMMAND
    if [ "$1" = root ]; then
        set -- timeout -k 30 "$2" sh -c "$3"
    else
        set -- runuser -u "$1" -- timeout -k 30 "$2" sh -c "$3"
    fi
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 ARCHIPEL_JOB="$job" ARCHIPEL_DUMP_DIR="$dump_dir" \
        ARCHIPEL_OUTCOME="$outcome" ARCHIPEL_ERROR="$failure" ARCHIPEL_SNAPSHOT="$snapshot" \
        "$@"
}

# `hook NAME`: runs the job's ARCHIPEL_NAME, if it has one, and records it.
hook() {
    eval "cmd=\${ARCHIPEL_$1:-} user=\${ARCHIPEL_$1_USER:-root} seconds=\${ARCHIPEL_$1_TIMEOUT:-600}"
    [ -n "$cmd" ] || return 0
    label=$(printf '%s' "$1" | tr 'A-Z' 'a-z')
    log="$work/$label.log"
    echo "restic-run: running $label" >&2
    t0=$(date +%s)
    as_user "$user" "$seconds" "$cmd" >"$log" 2>&1 </dev/null
    rc=$?
    masked "$log" >&2
    add_step "{\"hook\":\"$label\",\"exit_code\":$rc,\"duration_seconds\":$(($(date +%s) - t0)),\"output\":$(masked "$log" | tail -n 20 | json_string)}"
    [ "$rc" -eq 0 ] || failed "$label" "$rc" "$seconds" "$log"
    return "$rc"
}

# `dump N NAME`: the Nth dump's output to $dump_dir/NAME, recorded. A dump
# that fails, or prints nothing, leaves no file.
dump() {
    eval "cmd=\${ARCHIPEL_DUMP_$1} user=\${ARCHIPEL_DUMP_$1_USER:-root} seconds=\${ARCHIPEL_DUMP_$1_TIMEOUT:-21600}"
    file="$dump_dir/$2"
    log="$work/dump-$1.log"
    echo "restic-run: dumping $2" >&2
    t0=$(date +%s)
    as_user "$user" "$seconds" "$cmd" >"$file.partial" 2>"$log" </dev/null
    rc=$?
    masked "$log" >&2
    bytes=$(stat -c %s "$file.partial" 2>/dev/null || echo 0)
    if [ "$rc" -eq 0 ] && [ "$bytes" -eq 0 ]; then
        echo "the dump printed nothing on its standard output" >>"$log"
        rc=1
    fi
    add_step "{\"dump\":\"$2\",\"exit_code\":$rc,\"bytes\":$bytes,\"duration_seconds\":$(($(date +%s) - t0)),\"output\":$(masked "$log" | tail -n 20 | json_string)}"
    if [ "$rc" -ne 0 ]; then
        rm -f -- "$file.partial"
        failed "dump $2" "$rc" "$seconds" "$log"
        return "$rc"
    fi
    mv -f -- "$file.partial" "$file"
}

# `check_dump N NAME ROOT`: the Nth dump as restored under ROOT, checked.
check_dump() {
    eval "check=\${ARCHIPEL_DUMP_$1_CHECK:-} user=\${ARCHIPEL_DUMP_$1_USER:-root} seconds=\${ARCHIPEL_DUMP_$1_TIMEOUT:-21600}"
    file="$3$dump_dir/$2"
    log="$work/check-$1.log"
    bytes=$(stat -c %s "$file" 2>/dev/null || echo 0)
    if [ ! -f "$file" ]; then
        echo "the dump is not in the latest snapshot" >"$log"
        rc=1
    elif [ "$bytes" -eq 0 ]; then
        echo "the restored dump is empty" >"$log"
        rc=1
    elif [ -n "$check" ]; then
        as_user "$user" "$seconds" "$check" <"$file" >"$log" 2>&1
        rc=$?
        # Its output is the dump's table of contents: only the tail is kept.
        tail -n 20 "$log" | masked /dev/stdin >&2
    else
        : >"$log"
        rc=0
    fi
    add_step "{\"dump\":\"$2\",\"exit_code\":$rc,\"bytes\":$bytes,\"checked\":$([ -n "$check" ] && echo true || echo false),\"output\":$(masked "$log" | tail -n 20 | json_string)}"
    [ "$rc" -eq 0 ] || failed "check of dump $2" "$rc" "$seconds" "$log"
    return "$rc"
}

# `send_ping EVENT [MESSAGE]`: tells the job's ping URL that a backup started,
# or that a task succeeded or failed, the way its service expects it. The
# URL reaches curl on its standard input (not its command line, which any
# user of the host can read), and curl's own words are not repeated (they
# may quote it).
send_ping() {
    [ -n "${ARCHIPEL_PING_FILE:-}" ] || return 0
    url=$(grep -m 1 '[^[:space:]]' "$ARCHIPEL_PING_FILE" 2>/dev/null | tr -d '[:space:]"\\')
    if [ -z "$url" ]; then
        echo "restic-run: no ping URL in $ARCHIPEL_PING_FILE: the $1 is not pinged" >&2
        return 0
    fi
    if ! command -v curl >/dev/null; then
        echo "restic-run: curl is not installed: the $1 is not pinged" >&2
        return 0
    fi
    event=$1 message=${2:-}
    body="$work/ping"
    printf '%s\n' "$message" >"$body"
    # A failure's body ends with the last lines restic (or the failing
    # command) printed, what looks like a secret masked.
    [ "$event" != failure ] || masked "$errors" | grep -v '"message_type"' | tail -n 20 >>"$body"
    case ${ARCHIPEL_PING_TYPE:-healthchecks} in
        healthchecks) # URL/start, URL, URL/fail; the body is the run's log.
            case $event in start) url=$url/start ;; failure) url=$url/fail ;; esac
            set -- --data-binary "@$body" ;;
        uptime-kuma) # A push monitor: up or down, a short message.
            [ "$event" != start ] || return 0
            url=${url%%\?*}
            state=up
            [ "$event" = success ] || state=down
            set -- --get --data-urlencode "status=$state" \
                --data-urlencode "msg=$(head -n 1 "$body" | cut -c 1-200)" \
                --data-urlencode "ping=$(($(date +%s) - begin))000" ;;
        ntfy) # A message to the topic: failures loud, successes silent.
            [ "$event" != start ] || return 0
            if [ "$event" = success ]; then
                set -- -H "Priority: min" -H "Tags: white_check_mark"
            else
                set -- -H "Priority: high" -H "Tags: warning"
            fi
            set -- "$@" -H "Title: ${ARCHIPEL_CHATON:-}/${ARCHIPEL_JOB_NAME:-$job}: $task $event" \
                --data-binary "@$body" ;;
    esac
    printf 'url = "%s"\n' "$url" |
        curl --config - --silent --fail --max-time 10 --retry 2 --retry-max-time 30 \
            --user-agent archipel-restic-run --output /dev/null "$@" 2>/dev/null
    rc=$?
    [ "$rc" -eq 0 ] || echo "restic-run: the $event ping failed (curl exit $rc); the run goes on" >&2
    return 0
}

code=0
[ "$task" != backup ] || send_ping start "$(uname -n): backup of ${ARCHIPEL_CHATON:-}/${ARCHIPEL_JOB_NAME:-$job} started"
case $task in
    backup)
        if hook BEFORE; then
            if [ -n "${ARCHIPEL_DUMPS:-}" ]; then
                # A dump holds a database: root's alone, and gone after the run.
                mkdir -p -m 0700 "${dump_dir%/*}"
                rm -rf -- "$dump_dir"
                mkdir -m 0700 "$dump_dir"
                n=0
                for name in $ARCHIPEL_DUMPS; do
                    n=$((n + 1))
                    dump "$n" "$name" || break
                done
                set -- "$@" "$dump_dir"
            fi
            if [ "$outcome" = success ]; then
                # With a local repository, the backup goes there.
                "$restic" ${local_repository:+-r "$local_repository"} backup --json "$@" >"$output" 2>"$errors"
                code=$?
            fi
        fi
        [ "$outcome" = success ] || code=1
        snapshot=$(grep '"message_type":"summary"' "$output" | tail -n 1 |
            sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p')
        [ "$code" -eq 0 ] || outcome=failure
        ;;
    copy)
        "$restic" copy --from-repo "$local_repository" --from-password-file "$RESTIC_PASSWORD_FILE" \
            >"$output" 2>"$errors" || code=$? ;;
    prune)
        "$restic" forget --prune "$@" >"$output" 2>"$errors" || code=$?
        if [ -n "$local_repository" ]; then
            # shellcheck disable=SC2086 # whole numbers and --keep-* flags
            "$restic" -r "$local_repository" forget --prune ${ARCHIPEL_LOCAL_KEEP:-} >>"$output" 2>>"$errors" ||
                { rc=$?; [ "$code" -ne 0 ] || code=$rc; }
        fi ;;
    check)
        "$restic" check "$@" >"$output" 2>"$errors" || code=$?
        if [ -n "$local_repository" ]; then
            "$restic" -r "$local_repository" check "$@" >>"$output" 2>>"$errors" ||
                { rc=$?; [ "$code" -ne 0 ] || code=$rc; }
        fi ;;
    drill)
        target=$(mktemp -d)
        sample=$(mktemp)
        "$restic" ls latest --json 2>/dev/null | grep '"type":"file"' |
            sed -n 's/.*"path":"\([^"\\]*\)".*/\1/p' | shuf -n 20 >"$sample"
        set --
        while IFS= read -r path; do set -- "$@" --include "$path"; done <"$sample"
        for name in ${ARCHIPEL_DUMPS:-}; do set -- "$@" --include "$dump_dir/$name"; done
        "$restic" restore latest --target "$target" --verify "$@" >"$output" 2>&1 || code=$?
        if [ "$code" -eq 0 ]; then
            n=0
            for name in ${ARCHIPEL_DUMPS:-}; do
                n=$((n + 1))
                check_dump "$n" "$name" "$target" || code=1
            done
        fi
        rm -rf -- "$target" "$sample" ;;
    *) echo "restic-run: unknown task $task" >&2; exit 2 ;;
esac

# restic's own failure, in its words (its "Fatal: …" line).
if [ "$code" -ne 0 ] && [ -z "$failure" ]; then
    line=$(grep -h . "$errors" "$output" | grep -v '"message_type"' | grep 'Fatal' | tail -n 1)
    [ -n "$line" ] || line=$(grep -h . "$errors" | tail -n 1)
    failure=$line
fi
# A backup whose snapshot was saved is a success, even if `after` then
# fails (the run fails, and says why).
saved=0
[ "$task" != backup ] || [ -z "$snapshot" ] || [ "$outcome" != success ] || saved=1
if [ "$task" = backup ]; then
    [ "$outcome" = success ] || hook ON_FAILURE
    hook AFTER || code=1
fi
end=$(date +%s)

# The journal gets restic's messages, without a backup's progress lines.
grep -v '"message_type":"status"' "$output"
cat "$errors" >&2
summary=$(grep '"message_type":"summary"' "$output" | tail -n 1)
[ -n "$summary" ] || summary=null
error=null
[ "$code" -eq 0 ] || [ -z "$failure" ] || error=$(printf '%s\n' "$failure" | json_string)
record() { # FILE EXIT_CODE
    tmp="$status_dir/.$job.$task.$$"
    printf '{"job":"%s","command":"%s","exit_code":%d,"start":"%s","start_unix":%d,"duration_seconds":%d,"restic_version":"%s","summary":%s,"error":%s,"steps":[%s]}\n' \
        "$job" "$task" "$2" "$start" "$begin" "$((end - begin))" "$version" "$summary" "$error" "$steps" >"$tmp" &&
        mv -f "$tmp" "$1"
}
record "$status_dir/$job.$task.json" "$code"
if [ "$task" = backup ]; then
    [ "$saved" -eq 0 ] || record "$status_dir/$job.$task.success.json" 0
else
    [ "$code" -ne 0 ] || record "$status_dir/$job.$task.success.json" 0
fi

# The task's samples, kept for the job's textfile: `sample NAME VALUE
# [LABELS]`, the job's labels first.
# (`backup`, not `job`: Prometheus gives `job` to the scrape's target.)
labels="chaton=\"${ARCHIPEL_CHATON:-}\",backup=\"${ARCHIPEL_JOB_NAME:-$job}\""
sample() { printf 'archipel_backup_%s{%s%s} %s\n' "$1" "$labels" "${3:+,$3}" "$2"; }
# A success's end, from its record (0: none yet).
success_end() {
    sed -n 's/.*"start_unix":\([0-9]*\),"duration_seconds":\([0-9]*\).*/\1 \2/p' "$1" 2>/dev/null |
        { read -r at took && echo $((at + took)) || echo 0; }
}
# The repository's snapshots and size, after a run that changed them:
# `repository_samples LABEL [-r PATH]`. Read without a lock, at most 5 min.
repository_samples() {
    which=$1
    shift
    list="$work/snapshots"
    timeout 300 "$restic" "$@" snapshots --json --no-lock >"$list" 2>/dev/null || return 0
    size=$(timeout 300 "$restic" "$@" stats --mode raw-data --json --no-lock 2>/dev/null |
        sed -n 's/.*"total_size":\([0-9]*\).*/\1/p')
    {
        sample snapshots "$(grep -o '"id":"' "$list" | wc -l)" "repository=\"$which\""
        [ -z "$size" ] || sample repository_bytes "$size" "repository=\"$which\""
    } >"$status_dir/$job.$which-repository.prom"
    # The repository opened with the job's files as they are: a plan within
    # a day need not open it again (restic's key derivation costs half a
    # second of CPU). A file changed since changes their identity.
    record="$status_dir/$job.opened"
    [ "$which" = island ] || record="$status_dir/$job.local-opened"
    settings=/etc/archipel/restic/$job
    if identity=$(stat --printf '%d:%i:%s:%Y:%Z ' "$settings.env" "$settings.s3" "$settings.password" 2>/dev/null); then
        printf '%s\n%s\n' "$identity" "$(date +%s)" >"$record.$$" && mv -f -- "$record.$$" "$record"
    fi
}
task_label="task=\"$task\""
last_success=$(success_end "$status_dir/$job.$task.success.json")
{
    sample last_run_timestamp_seconds "$end" "$task_label"
    sample last_success_timestamp_seconds "$last_success" "$task_label"
    sample last_duration_seconds "$((end - begin))" "$task_label"
    sample last_exit_code "$code" "$task_label"
    if [ "$task" = backup ]; then
        added=$(printf '%s' "$summary" | sed -n 's/.*"data_added":\([0-9]*\).*/\1/p')
        [ -z "$added" ] || sample last_added_bytes "$added" "$task_label"
        # Stale after two periods of its schedule without a success, as
        # `archipel status` judges it: the schedule is its timer's (a new
        # schedule changes the timer only).
        schedule=$(sed -n 's/^OnCalendar=//p' "/etc/systemd/system/archipel-backup-$job.timer" 2>/dev/null | head -n 1)
        period=
        [ -z "$schedule" ] || period=$(systemd-analyze calendar --iterations=2 -- "$schedule" 2>/dev/null |
            sed -n 's/^.*\(Next elapse\|#2\): //p' | while read -r at; do date -d "$at" +%s; done |
            { read -r first && read -r second && echo $((second - first)); })
        [ -z "$period" ] || sample stale_after_seconds "$((2 * period))"
    fi
} >"$status_dir/$job.$task.prom"
if [ "$code" -eq 0 ] || [ "$saved" -eq 1 ]; then
    case $task in
        backup)
            if [ -n "$local_repository" ]; then
                repository_samples local -r "$local_repository"
            else
                repository_samples island
            fi ;;
        copy) repository_samples island ;;
        prune)
            repository_samples island
            [ -z "$local_repository" ] || repository_samples local -r "$local_repository" ;;
    esac
fi
# The job's textfile, made whole from every task's samples (each metric's
# under one HELP and TYPE), then moved in place: the collector never reads
# half a file.
if [ -n "${ARCHIPEL_METRICS_DIR:-}" ]; then
    textfile="$ARCHIPEL_METRICS_DIR/archipel-$job.prom"
    partial="$ARCHIPEL_METRICS_DIR/.archipel-$job.prom.$$"
    while IFS='|' read -r name help; do
        cat "$status_dir/$job".*.prom 2>/dev/null | grep "^archipel_backup_$name{" >"$work/samples"
        [ -s "$work/samples" ] || continue
        printf '# HELP archipel_backup_%s %s\n# TYPE archipel_backup_%s gauge\n' "$name" "$help" "$name"
        cat "$work/samples"
    done >"$partial" <<'METRICS'
last_run_timestamp_seconds|When the task's last run ended, in seconds since the epoch.
last_success_timestamp_seconds|When the task's last success ended, in seconds since the epoch (0: never).
last_duration_seconds|How long the task's last run took.
last_exit_code|The task's last exit code (0: success).
last_added_bytes|What the last backup added to the repository, in bytes.
stale_after_seconds|Without a backup that long (two periods of its schedule), the job is stale.
snapshots|Snapshots in the repository.
repository_bytes|The repository's size (restic's raw data), in bytes.
METRICS
    mv -f -- "$partial" "$textfile" 2>/dev/null || {
        rm -f -- "$partial"
        echo "restic-run: could not write the metrics to $textfile" >&2
    }
fi

# The run's end, told to the ping URL: a backup's success, any failure.
where=$(uname -n)
if [ "$code" -ne 0 ]; then
    send_ping failure "$where: $task of ${ARCHIPEL_CHATON:-}/${ARCHIPEL_JOB_NAME:-$job} failed: ${failure:-exit $code}"
elif [ "$task" = backup ]; then
    send_ping success "$where: backup of ${ARCHIPEL_CHATON:-}/${ARCHIPEL_JOB_NAME:-$job} saved snapshot ${snapshot:-?} in $((end - begin)) s${added:+, $added bytes added}"
fi
exit "$code"
