#!/bin/sh
# Managed by archipel: changes made here are reverted by `archipel apply`.
#
# Runs one restic task of a backup job, one task of a job at a time, and
# records how it went in /var/lib/archipel/backups/JOB.TASK.json (and, when
# it succeeded, JOB.TASK.success.json), each written atomically: the
# command, its exit code, start, duration, restic's version and, for a
# backup, restic's summary (snapshot id, files and bytes added), and for a
# failed run restic's last error line. A drill
# restores a sample of the latest snapshot (up to 20 of its files, chosen at
# random) into a temporary directory and verifies them against it.
#
# Usage: restic-run JOB TASK [restic arguments...]
# The repository, the credentials and the password come from the
# environment (the unit's EnvironmentFile=), restic from $ARCHIPEL_RESTIC.
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

# A run killed before it could clean up leaves its lock in the repository;
# `restic unlock` removes only locks whose process is gone, or stale ones.
"$restic" unlock >/dev/null 2>&1 || true

version=$("$restic" version 2>/dev/null | sed -n 's/^restic \([0-9][0-9.]*\).*/\1/p')
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
begin=$(date +%s)
output=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$output" "$errors"' EXIT
case $task in
    backup) "$restic" backup --json "$@" >"$output" 2>"$errors" ;;
    prune) "$restic" forget --prune "$@" >"$output" 2>"$errors" ;;
    check) "$restic" check "$@" >"$output" 2>"$errors" ;;
    drill)
        target=$(mktemp -d)
        sample=$(mktemp)
        "$restic" ls latest --json 2>/dev/null | grep '"type":"file"' |
            sed -n 's/.*"path":"\([^"\\]*\)".*/\1/p' | shuf -n 20 >"$sample"
        set --
        while IFS= read -r path; do set -- "$@" --include "$path"; done <"$sample"
        "$restic" restore latest --target "$target" --verify "$@" >"$output" 2>&1
        code=$?
        rm -rf -- "$target" "$sample"
        (exit "$code") ;;
    *) echo "restic-run: unknown task $task" >&2; exit 2 ;;
esac
code=$?
end=$(date +%s)

# The journal gets restic's messages, without a backup's progress lines.
grep -v '"message_type":"status"' "$output"
cat "$errors" >&2
summary=$(grep '"message_type":"summary"' "$output" | tail -n 1)
[ -n "$summary" ] || summary=null
# Why a run failed: restic's last word (its "Fatal: …" line), as a JSON
# string.
error=null
if [ "$code" -ne 0 ]; then
    line=$(grep -h . "$errors" "$output" | grep -v '"message_type"' | grep 'Fatal' | tail -n 1)
    [ -n "$line" ] || line=$(grep -h . "$errors" | tail -n 1)
    line=$(printf '%s' "$line" | tr -d '\000-\037' | cut -c 1-300 | sed 's/\\/\\\\/g; s/"/\\"/g')
    [ -z "$line" ] || error="\"$line\""
fi
record() {
    tmp="$status_dir/.$job.$task.$$"
    printf '{"job":"%s","command":"%s","exit_code":%d,"start":"%s","start_unix":%d,"duration_seconds":%d,"restic_version":"%s","summary":%s,"error":%s}\n' \
        "$job" "$task" "$code" "$start" "$begin" "$((end - begin))" "$version" "$summary" "$error" >"$tmp" &&
        mv -f "$tmp" "$1"
}
record "$status_dir/$job.$task.json"
[ "$code" -ne 0 ] || record "$status_dir/$job.$task.success.json"
exit "$code"
