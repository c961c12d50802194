#!/bin/sh
# Managed by archipel: changes made here are reverted by `archipel apply`.
#
# The vault pass: copies each chaton's backup bucket into its vault bucket on
# the same island, object by object and never over an existing name, so that
# a backup host that is taken cannot destroy its chaton's off-site history.
#
#   vault-pass [pass [CHATON...]]   one pass per configured vault (or those named)
#   vault-pass clear CHATON ID|all  clears incidents, then runs that chaton's pass
#
# Exit 0: every pass completed and no incident is open; 1: completed, but
# some incident is open; 2: some pass failed, or a usage error.
#
# Configuration (root-only), from $ARCHIPEL_VAULT_CONF_DIR (/etc/archipel/vault):
#   vaults.conf  TAB-separated lines:
#     vault CHATON SOURCE_BUCKET VAULT_BUCKET KEEP_DELETED_SECONDS GROWTH_ALARM_BYTES
#     job   CHATON JOB KEEP PRUNE_CALENDAR
#   (GROWTH_ALARM_BYTES `-` or 0: no alarm; KEEP like `daily=7,weekly=4` or
#   `-`; PRUNE_CALENDAR the OnCalendar= of the job's prune timer, or `-`.)
#   rclone.conf  the remote [garage]: the island's vault key (read on the
#                source buckets, read and write on the vault buckets).
# What the pass knows lives in the vault bucket under .archipel/ (so any node
# can run the next pass); what it last did, in
# $ARCHIPEL_VAULT_STATE_DIR/CHATON.json (/var/lib/archipel/vault).
#
# The key's secret is never printed nor logged: no `set -x` here, and curl
# gets it through a temporary config file, never on its command line.
set -u
umask 077
export LC_ALL=C TZ=UTC

conf_dir=${ARCHIPEL_VAULT_CONF_DIR:-/etc/archipel/vault}
state_dir=${ARCHIPEL_VAULT_STATE_DIR:-/var/lib/archipel/vault}
rclone_bin=${ARCHIPEL_RCLONE:-/usr/bin/rclone}
curl_bin=${ARCHIPEL_CURL:-/usr/bin/curl}
garage_bin=${ARCHIPEL_GARAGE:-/usr/local/bin/garage}
garage_conf=${ARCHIPEL_GARAGE_CONFIG:-/etc/garage/garage.toml}
vaults_conf=$conf_dir/vaults.conf
rclone_conf=$conf_dir/rclone.conf
tab=$(printf '\t')

# Only rclone.conf speaks for the S3 client: no AWS environment (a CA
# bundle for another endpoint makes rclone's S3 client fail to start).
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN 2>/dev/null
# Under systemd, rclone would log in the journal's format (no date, a
# priority prefix) even into a file: its logs are read here, in one format.
unset JOURNAL_STREAM 2>/dev/null
# The service may write only under its state dir (and its private /tmp).
export HOME="$state_dir" XDG_CACHE_HOME="$state_dir/cache" XDG_CONFIG_HOME="$state_dir/config"
export RCLONE_CACHE_DIR="$state_dir/cache/rclone" RCLONE_CONFIG="$rclone_conf"
# rclone flags of every call: no bucket creation (the key may not), short
# retries (the next pass retries anyway).
rc() {
    "$rclone_bin" --config "$rclone_conf" --s3-no-check-bucket --contimeout 10s \
        --timeout 5m --low-level-retries 3 --retries 1 "$@"
}

usage() {
    echo "usage: vault-pass [pass [CHATON...]] | vault-pass clear CHATON ID|all" >&2
    exit 2
}

# Dates: epoch -> RFC 3339 (UTC) and the stamp that starts event incident IDs.
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
stamp() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }

# The configured vaults: CHATON SOURCE VAULT KEEP_DELETED GROWTH_ALARM per line.
vault_lines() {
    awk -F '\t' '$1 == "vault" && NF >= 6 { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' "$vaults_conf"
}

# Lists a bucket: PATH SIZE EPOCH MD5 per line (MD5 empty when unknown), one
# recursive listing; locks/ of every repository left out.
list_bucket() {
    rc lsf -R --files-only --fast-list --use-server-modtime --hash MD5 \
        --format psth --separator "$tab" "garage:$1" >"$2.raw" 2>"$2.err" || return 1
    awk -F '\t' -v OFS='\t' '
        function days(y, m, d,   era, yoe, doy) {
            if (m <= 2) y -= 1
            era = int((y >= 0 ? y : y - 399) / 400)
            yoe = y - era * 400
            doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
            return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468
        }
        $1 ~ /^[^\/]+\/locks\// { next }
        {
            # "2006-01-02 15:04:05[.frac]" in UTC
            t = $3
            e = days(substr(t, 1, 4) + 0, substr(t, 6, 2) + 0, substr(t, 9, 2) + 0) * 86400 \
                + substr(t, 12, 2) * 3600 + substr(t, 15, 2) * 60 + substr(t, 18, 2)
            printf "%s\t%d\t%d\t%s\n", $1, $2, e, tolower($4)
        }' "$2.raw" >"$2" || return 1
    rm -f "$2.raw" "$2.err"
}

# A lifecycle configuration on BUCKET? Prints yes or no; fails when Garage
# gives no clear answer. The key goes to curl in a config file only.
lifecycle_of() {
    bucket=$1
    keys=$(awk '
        /^\[/ { in_remote = ($0 == "[garage]") ; next }
        in_remote && /^[ \t]*[a-z_]+[ \t]*=/ {
            k = $0; sub(/[ \t]*=.*/, "", k); gsub(/[ \t]/, "", k)
            v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            conf[k] = v
        }
        END { printf "%s\n%s\n", conf["endpoint"], conf["region"] }' "$rclone_conf")
    endpoint=$(printf '%s\n' "$keys" | sed -n 1p)
    region=$(printf '%s\n' "$keys" | sed -n 2p)
    [ -n "$endpoint" ] || { echo "no endpoint in $rclone_conf" >&2; return 1; }
    curl_conf=$work/curl.conf
    awk '
        /^\[/ { in_remote = ($0 == "[garage]") ; next }
        in_remote && /^[ \t]*(access_key_id|secret_access_key)[ \t]*=/ {
            k = $0; sub(/[ \t]*=.*/, "", k); gsub(/[ \t]/, "", k)
            v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            conf[k] = v
        }
        END {
            u = conf["access_key_id"] ":" conf["secret_access_key"]
            gsub(/\\/, "\\\\", u); gsub(/"/, "\\\"", u)
            printf "user = \"%s\"\n", u
        }' "$rclone_conf" >"$curl_conf"
    # Garage wants the payload's hash (here: of nothing) in a header.
    code=$("$curl_bin" -sS -K "$curl_conf" --aws-sigv4 "aws:amz:${region:-garage}:s3" \
        -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
        --max-time 30 -o "$work/lifecycle.xml" -w '%{http_code}' \
        "${endpoint%/}/$bucket?lifecycle=" 2>"$work/curl.err")
    rc_curl=$?
    rm -f "$curl_conf"
    if [ "$rc_curl" -ne 0 ]; then
        echo "cannot ask $endpoint for the lifecycle of $bucket: $(head -c 300 "$work/curl.err")" >&2
        return 1
    fi
    case $code in
        200) echo yes ;;
        403)
            # Garage wants the bucket's owner permission to read its
            # lifecycle, which the vault key need not have: the node's own
            # admin API (through the garage CLI, as root) answers instead.
            if [ -x "$garage_bin" ] && [ -r "$garage_conf" ]; then
                info=$("$garage_bin" -c "$garage_conf" json-api GetBucketInfo \
                    "{\"globalAlias\":\"$bucket\"}" 2>"$work/garage.err") || {
                    echo "asking Garage for the lifecycle of $bucket: $(head -c 300 "$work/garage.err")" >&2
                    return 1
                }
                if printf '%s' "$info" | tr -d ' \n\t' | grep -q '"lifecycleRules":\[[^]]'; then
                    echo yes
                else
                    echo no
                fi
            else
                echo "asking for the lifecycle of $bucket: HTTP 403 (the key may not read it) and no garage CLI at $garage_bin" >&2
                return 1
            fi ;;
        404)
            if grep -q NoSuchLifecycleConfiguration "$work/lifecycle.xml"; then
                echo no
            else
                echo "asking for the lifecycle of $bucket: HTTP 404 $(head -c 300 "$work/lifecycle.xml")" >&2
                return 1
            fi ;;
        *)
            echo "asking for the lifecycle of $bucket: HTTP $code $(head -c 300 "$work/lifecycle.xml" | tr -d '\n')" >&2
            return 1 ;;
    esac
}

# Was a run of CALENDAR due between FROM and TO (epochs)? yes or no.
due_between() {
    out=$(systemd-analyze calendar --base-time="@$2" --iterations=1 "$1" 2>/dev/null) || {
        echo no
        return 0
    }
    next=$(printf '%s\n' "$out" | sed -n 's/^ *Next elapse: [A-Za-z]* \([0-9-]* [0-9:]*\).*/\1/p')
    if [ -z "$next" ]; then
        echo no
        return 0
    fi
    next=$(date -u -d "$next UTC" +%s) || {
        echo no
        return 0
    }
    if [ "$next" -le "$3" ]; then echo yes; else echo no; fi
}

# Writes one incident object (ID KIND JOB SINCE WHAT) into the upload tree.
raise() {
    mkdir -p "$work/up/incidents"
    printf '%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" >"$work/up/incidents/$1"
    echo "$1" >>"$work/raised"
    echo "vault-pass: $chaton: incident $1: $5" >&2
}

# Collects the failed pass's error and stops it.
fail() {
    printf '%s' "$*" >"$work/error"
    echo "vault-pass: $chaton: $*" >&2
    exit 2
}

# One pass of one vault, the lock held: prints nothing but messages,
# writes $state_dir/$chaton.json, exits 0, 1 or 2.
pass_body() {
    started=$(date -u +%s)
    mkdir -p "$work/st" "$work/up"
    : >"$work/raised"
    trap 'write_status' EXIT

    awk -F '\t' -v c="$chaton" '$1 == "job" && $2 == c && NF >= 5 { print $3 "\t" $4 "\t" $5 }' \
        "$vaults_conf" >"$work/jobs"
    jobs=$(cut -f1 "$work/jobs" | tr '\n' ' ')

    list_bucket "$source" "$work/src" ||
        fail "cannot list the source bucket $source: $(tail -n 3 "$work/src.err" | tr '\n' ' ')"
    list_bucket "$vault" "$work/vlt" ||
        fail "cannot list the vault bucket $vault: $(tail -n 3 "$work/vlt.err" | tr '\n' ' ')"

    # The vault's own state, as far as it exists.
    : >"$work/fetch"
    for f in missing.tsv refused.tsv last-pass.tsv; do
        grep -q "^\.archipel/$f$tab" "$work/vlt" && echo "$f" >>"$work/fetch"
    done
    awk -F '\t' '$1 ~ /^\.archipel\/incidents\// { print substr($1, 21) }' "$work/vlt" | sort >"$work/incidents"
    awk -F '\t' '$1 ~ /^\.archipel\/cleared\// { print substr($1, 19) }' "$work/vlt" | sort >"$work/cleared"
    comm -23 "$work/incidents" "$work/cleared" | sed 's|^|incidents/|' >>"$work/fetch"
    if [ -s "$work/fetch" ]; then
        rc copy --no-traverse --files-from "$work/fetch" "garage:$vault/.archipel" "$work/st" \
            2>"$work/fetch.err" ||
            fail "cannot read the vault's state in $vault/.archipel: $(tail -n 3 "$work/fetch.err" | tr '\n' ' ')"
    fi
    for f in missing.tsv refused.tsv last-pass.tsv; do
        [ -f "$work/st/$f" ] || : >"$work/st/$f"
    done

    # Compare: NEW (to copy, by kind), CHANGED (refused), MISSING (kept for
    # the grace period), and what this pass saw.
    awk -F '\t' -v OFS='\t' -v now="$started" -v jobs="$jobs" -v w="$work" \
        -v SRC="$work/src" -v VLT="$work/vlt" -v MISS="$work/st/missing.tsv" \
        -v REF="$work/st/refused.tsv" -v LAST="$work/st/last-pass.tsv" '
        function jobof(p,   j) {
            j = p; sub(/\/.*/, "", j)
            if (j == p) return "-"
            sub(/\.escrow$/, "", j)
            return j
        }
        function kind(p) {
            if (p ~ /^[^\/]+\/data\//) return "data"
            if (p ~ /^[^\/]+\/index\//) return "index"
            if (p ~ /^[^\/]+\/snapshots\//) return "snapshots"
            return "rest"
        }
        function first(p,   j) { j = p; sub(/\/.*/, "", j); return j == p ? "" : j }
        BEGIN {
            n = split(jobs, js, " ")
            for (i = 1; i <= n; i++) if (js[i] != "") isjob[js[i]] = 1
            for (k in isjob) njobs++
        }
        FILENAME == SRC {
            sp[$1] = 1; ss[$1] = $2; st[$1] = $3; sh[$1] = $4
            sn++; sb += $2
            f = first($1)
            if ((njobs && (f in isjob)) || (!njobs && f != "")) underjob++
            if (f in isjob) {
                jobj[f]++
                if (kind($1) == "snapshots") jobsnap[f]++
            }
            next
        }
        FILENAME == VLT {
            if ($1 ~ /^\.archipel\//) next
            vp[$1] = 1; vs[$1] = $2; vt[$1] = $3; vh[$1] = $4
            vn++; vb += $2
            next
        }
        FILENAME == MISS { if ($1 != "") pm[$1] = $2; next }
        FILENAME == REF { if ($1 != "") pr[$1] = $2; next }
        FILENAME == LAST {
            if ($1 == "pass") lastpass = $2
            else if ($1 == "source") { lastsrc = $2; havelast = 1 }
            else if ($1 == "snapshot") ls[$2] = $3
            next
        }
        END {
            for (p in sp) {
                if (!(p in vp)) {
                    print p > (w "/new." kind(p))
                    print p, ss[p] > (w "/new.sizes")
                    newn++; newb += ss[p]
                } else if (ss[p] != vs[p] || (sh[p] != "" && vh[p] != "" && sh[p] != vh[p])) {
                    since = (p in pr) ? pr[p] : now
                    print p, since > (w "/refused.tsv")
                    if (!(p in pr)) {
                        j = jobof(p)
                        chn[j]++
                        if (!(j in chex) || p < chex[j]) chex[j] = p
                    }
                }
            }
            for (j in chn) print j, chn[j], chex[j] > (w "/changed")
            for (p in vp) {
                if (p in sp) continue
                since = (p in pm) ? pm[p] : now
                print p, since, vs[p] > (w "/missing.tsv")
                pending++
                if (!(p in pm)) {
                    j = first(p); k = kind(p)
                    if (j != "" && k != "rest") { nm[j] = 1; nmk[j, k]++ }
                    if (k == "snapshots" && j != "") {
                        t = (p in ls) ? ls[p] : vt[p]
                        print j, t, "deleted" > (w "/snaps")
                    }
                }
            }
            for (p in sp) if (kind(p) == "snapshots" && first(p) != "")
                print first(p), st[p], "present" > (w "/snaps")
            for (j in nm)
                print j, nmk[j, "snapshots"] + 0, nmk[j, "data"] + 0, nmk[j, "index"] + 0 > (w "/newly-missing")
            # What this pass saw, for the next one.
            out = w "/last-pass.tsv"
            printf "pass\t%d\n", now > out
            printf "source\t%d\t%d\n", sn, sb > out
            for (j in isjob) printf "job\t%s\t%d\t%d\n", j, jobsnap[j], jobj[j] > out
            for (p in sp) if (kind(p) == "snapshots") printf "snapshot\t%s\t%d\n", p, st[p] > out
            printf "source_objects=%d\nsource_bytes=%.0f\nvault_objects=%d\nvault_bytes=%.0f\n", sn, sb, vn, vb > (w "/counts")
            printf "new_objects=%d\nnew_bytes=%.0f\nunder_job=%d\nlast_source=%d\nhave_last=%d\nlast_pass=%d\n", \
                newn, newb, underjob, lastsrc, havelast, lastpass > (w "/counts")
        }' "$work/src" "$work/vlt" "$work/st/missing.tsv" "$work/st/refused.tsv" "$work/st/last-pass.tsv" ||
        fail "cannot compare the source with the vault"
    for f in refused.tsv missing.tsv changed snaps newly-missing new.sizes; do
        [ -f "$work/$f" ] || : >"$work/$f"
    done
    . "$work/counts"

    # Copy NEW in restic's safe order: packs, then indexes, then snapshots,
    # then the rest (keys, config, escrows). Never over an existing name.
    : >"$work/copied"
    for k in data index snapshots rest; do
        [ -s "$work/new.$k" ] || continue
        rc copy --files-from "$work/new.$k" --no-traverse --immutable --checksum \
            --transfers 16 --checkers 16 -v "garage:$source" "garage:$vault" 2>"$work/copy.log"
        code=$?
        sed -n 's/^.*INFO  : \(.*\): Copied (.*)$/\1/p' "$work/copy.log" >>"$work/copied"
        if [ "$code" -ne 0 ]; then
            fail "copying $k objects from $source to $vault failed: $(grep -E 'ERROR|Failed' "$work/copy.log" | tail -n 3 | sed 's/^[0-9/]* [0-9:]* //' | tr '\n' ' ')"
        fi
    done
    copied_objects=$(wc -l <"$work/copied")
    copied_bytes=$(awk -F '\t' -v C="$work/copied" 'FILENAME == C { c[$0] = 1; next } ($1 in c) { b += $2 } END { printf "%.0f\n", b }' \
        "$work/copied" "$work/new.sizes")
    vault_objects=$((vault_objects + copied_objects))
    vault_bytes=$(awk -v a="$vault_bytes" -v b="$copied_bytes" 'BEGIN { printf "%.0f\n", a + b }')

    # Incidents judged by this pass.
    now=$(date -u +%s)
    st_now=$(stamp "$started")
    while IFS="$tab" read -r job count example; do
        [ -n "$job" ] || continue
        id=$st_now-changed-file${job:+-$job}
        [ "$job" = - ] && id=$st_now-changed-file
        raise "$id" changed-file "$job" "$started" \
            "$count object(s) changed in $source under a name the vault already holds, for example $example: refused, the vault keeps the first version"
    done <"$work/changed"

    emptied=no
    if [ "$have_last" = 1 ] && [ "$last_source" -gt 0 ] && [ "$under_job" -eq 0 ] && [ "$vault_objects" -gt 0 ]; then
        emptied=yes
        emptied_jobs=$(cut -f1 "$work/jobs" | paste -sd, - | sed "s/,/, /g")
        raise "$st_now-bucket-emptied" bucket-emptied - "$started" \
            "The source bucket $source had $last_source objects at the last pass and now has none under its jobs (${emptied_jobs:-none configured}), while the vault holds $vault_objects"
    fi

    if [ "$emptied" = no ]; then
        while IFS="$tab" read -r job nsnap ndata nindex; do
            [ -n "$job" ] || continue
            line=$(awk -F '\t' -v j="$job" '$1 == j { print $2 "\t" $3; exit }' "$work/jobs")
            keep=${line%%"$tab"*}
            cal=${line#*"$tab"}
            [ -n "$line" ] || { keep=-; cal=-; }
            what="$nsnap snapshot(s), $ndata pack(s) and $nindex index file(s) of job $job disappeared from $source"
            reason=
            if [ "$cal" = - ]; then
                reason="the job never prunes"
            # The schedule is the host's, in the host's time zone, which
            # the island does not know; and a prune may run for hours. So a
            # prune counts as due within 14 hours either way of the passes.
            elif [ "$(due_between "$cal" "$((last_pass - 50400))" "$((now + 50400))")" = no ]; then
                reason="no prune of the job was due within 14 hours of the last pass ($cal)"
            elif [ "$keep" != - ] && [ "$nsnap" -gt 0 ]; then
                kept=$(awk -F '\t' -v j="$job" -v keep="$keep" '
                    function civil(z,   era, doe, yoe, y, doy, mp, m) {
                        z += 719468
                        era = int((z >= 0 ? z : z - 146096) / 146097)
                        doe = z - era * 146097
                        yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
                        y = yoe + era * 400
                        doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
                        mp = int((5 * doy + 2) / 153)
                        m = mp + (mp < 10 ? 3 : -9)
                        if (m <= 2) y++
                        CY = y; CM = m
                    }
                    function period(f, t,   d) {
                        d = int(t / 86400)
                        if (f == "last") return t " " NR
                        if (f == "hourly") return int(t / 3600)
                        if (f == "daily") return d
                        if (f == "weekly") return d - (d + 3) % 7
                        civil(d)
                        if (f == "monthly") return CY * 12 + CM
                        if (f == "yearly") return CY
                        return ""
                    }
                    $1 == j { n++; t[n] = $2; state[n] = $3 }
                    END {
                        m = split(keep, kv, ",")
                        # Newest first; S3 times have a second of resolution,
                        # and of two snapshots of the same second the one
                        # still there counts as the newer (the lenient reading).
                        for (a = 2; a <= n; a++) for (b = a; b > 1 && (t[b] > t[b - 1] ||
                            t[b] == t[b - 1] && state[b] == "present" && state[b - 1] == "deleted"); b--) {
                            x = t[b]; t[b] = t[b - 1]; t[b - 1] = x
                            x = state[b]; state[b] = state[b - 1]; state[b - 1] = x
                        }
                        for (i = 1; i <= m; i++) {
                            split(kv[i], fc, "=")
                            left = fc[2] + 0; lastp = "none"
                            for (s = 1; s <= n && left > 0; s++) {
                                p = (fc[1] == "last") ? s : period(fc[1], t[s])
                                if (p == "") break
                                if (p != lastp) { kept[s] = 1; left--; lastp = p }
                            }
                        }
                        for (s = 1; s <= n; s++) if (kept[s] && state[s] == "deleted") c++
                        print c + 0
                    }' "$work/snaps")
                [ "$kept" -gt 0 ] &&
                    reason="$kept of the deleted snapshots are ones the job's keep ($keep) would keep"
            fi
            [ -n "$reason" ] || continue
            raise "$st_now-unexplained-deletion-$job" unexplained-deletion "$job" "$started" \
                "$what and the job's prune does not explain it: $reason (judged from the objects' S3 times, since snapshot contents are encrypted)"
        done <"$work/newly-missing"
    fi

    # Conditions: raised again by every pass while true, even once cleared.
    condition() {
        if grep -qx "$1" "$work/cleared"; then
            rc deletefile "garage:$vault/.archipel/cleared/$1" 2>>"$work/cond.err" ||
                fail "cannot reopen incident $1: $(tail -n 2 "$work/cond.err" | tr '\n' ' ')"
            sed -i "/^$1\$/d" "$work/cleared"
            raise "$1" "$2" - "$started" "$3"
        elif ! grep -qx "$1" "$work/incidents"; then
            raise "$1" "$2" - "$started" "$3"
        fi
    }
    lifecycle=$(lifecycle_of "$source" 2>"$work/lc.err") ||
        fail "$(cat "$work/lc.err")"
    [ "$lifecycle" = yes ] && condition lifecycle-rule lifecycle-rule \
        "The source bucket $source has a lifecycle configuration, which lets Garage delete backups by itself"
    case $growth_alarm in
        '' | - | 0) ;;
        *) if [ "$(awk -v a="$vault_bytes" -v b="$growth_alarm" 'BEGIN { print (a > b) ? "yes" : "no" }')" = yes ]; then
            condition growth growth "The vault holds $vault_bytes bytes, more than its growth alarm of $growth_alarm bytes"
        fi ;;
    esac

    # Incidents first, so a pass that dies later loses none.
    if [ -d "$work/up/incidents" ]; then
        rc copy --ignore-times --no-traverse "$work/up/incidents" "garage:$vault/.archipel/incidents" \
            2>"$work/up.err" ||
            fail "cannot record incidents in $vault: $(tail -n 3 "$work/up.err" | tr '\n' ' ')"
        mkdir -p "$work/st/incidents"
        cp "$work/up/incidents"/* "$work/st/incidents/"
    fi
    sort -u "$work/incidents" "$work/raised" | comm -23 - "$work/cleared" >"$work/open"
    open=$(wc -l <"$work/open")

    # Deletions after the grace period, none while an incident is open.
    deleted_objects=0
    frozen=false
    if [ "$open" -gt 0 ]; then
        frozen=true
    else
        # Judged at the pass's start, so the pass that first sees an object
        # missing never deletes it, however long it takes.
        awk -F '\t' -v now="$started" -v grace="$keep_deleted" 'now - $2 >= grace { print $1 }' \
            "$work/missing.tsv" >"$work/delete"
        if [ -s "$work/delete" ]; then
            rc delete --files-from "$work/delete" --checkers 16 -v "garage:$vault" 2>"$work/delete.log" ||
                fail "deleting from $vault failed: $(grep -E 'ERROR|Failed' "$work/delete.log" | tail -n 3 | tr '\n' ' ')"
            deleted_objects=$(wc -l <"$work/delete")
            awk -F '\t' -v D="$work/delete" 'FILENAME == D { d[$0] = 1; next } !($1 in d)' \
                "$work/delete" "$work/missing.tsv" >"$work/missing.kept"
            vault_bytes=$(awk -F '\t' -v D="$work/delete" -v b="$vault_bytes" \
                'FILENAME == D { d[$0] = 1; next } ($1 in d) { b -= $3 } END { printf "%.0f\n", b }' \
                "$work/delete" "$work/missing.tsv")
            vault_objects=$((vault_objects - deleted_objects))
            mv "$work/missing.kept" "$work/missing.tsv"
        fi
    fi
    pending_deletions=$(wc -l <"$work/missing.tsv")

    # The state, for the next pass (on whichever node).
    mkdir -p "$work/up/state"
    cut -f1,2 "$work/missing.tsv" | sort >"$work/up/state/missing.tsv"
    sort "$work/refused.tsv" >"$work/up/state/refused.tsv"
    cp "$work/last-pass.tsv" "$work/up/state/last-pass.tsv"
    rc copy --ignore-times --no-traverse "$work/up/state" "garage:$vault/.archipel" 2>"$work/up.err" ||
        fail "cannot record the pass's state in $vault: $(tail -n 3 "$work/up.err" | tr '\n' ' ')"
    result=ok
    [ "$open" -gt 0 ] && exit 1
    exit 0
}

# The status file, written whatever happened (EXIT trap of the pass).
write_status() {
    code=$?
    finished=$(date -u +%s)
    status=$state_dir/$chaton.json
    error=
    [ -f "$work/error" ] && error=$(cat "$work/error")
    [ "$code" -ge 2 ] && [ -z "$error" ] && error="the pass stopped unexpectedly (exit $code)"
    # Open incidents with their content (those known to this pass).
    : >"$work/open.tsv"
    if [ -f "$work/open" ]; then
        while read -r id; do
            f=$work/st/incidents/$id
            [ -f "$f" ] || f=$work/up/incidents/$id
            [ -f "$f" ] || continue
            printf '%s\t%s\n' "$id" "$(head -n 1 "$f")" >>"$work/open.tsv"
        done <"$work/open"
    elif [ -f "$work/incidents" ] && [ -d "$work/st/incidents" ]; then
        comm -23 "$work/incidents" "$work/cleared" 2>/dev/null | while read -r id; do
            [ -f "$work/st/incidents/$id" ] &&
                printf '%s\t%s\n' "$id" "$(head -n 1 "$work/st/incidents/$id")" >>"$work/open.tsv"
        done
    fi
    awk -F '\t' -v chaton="$chaton" -v source="$source" -v vault="$vault" \
        -v started="$(rfc3339 "${started:-$finished}")" -v finished="$(rfc3339 "$finished")" \
        -v finished_unix="$finished" \
        -v failed="$([ "$code" -ge 2 ] && echo 1 || echo 0)" -v error="$error" \
        -v copied_objects="${copied_objects:-0}" -v copied_bytes="${copied_bytes:-0}" \
        -v source_objects="${source_objects:-0}" -v source_bytes="${source_bytes:-0}" \
        -v vault_objects="${vault_objects:-0}" -v vault_bytes="${vault_bytes:-0}" \
        -v pending="${pending_deletions:-0}" -v deleted="${deleted_objects:-0}" \
        -v frozen="${frozen:-false}" '
        function js(s) {
            gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
            gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s); gsub(/\n/, "\\n", s)
            gsub(/[\001-\037]/, " ", s)
            return "\"" s "\""
        }
        function civil(z,   era, doe, yoe, y, doy, mp, d, m) {
            z += 719468
            era = int((z >= 0 ? z : z - 146096) / 146097)
            doe = z - era * 146097
            yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
            y = yoe + era * 400
            doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
            mp = int((5 * doy + 2) / 153)
            d = doy - int((153 * mp + 2) / 5) + 1
            m = mp + (mp < 10 ? 3 : -9)
            if (m <= 2) y++
            return sprintf("%04d-%02d-%02d", y, m, d)
        }
        function rfc(t,   s) {
            t = int(t); s = t % 86400
            return civil(int(t / 86400)) sprintf("T%02d:%02d:%02dZ", int(s / 3600), int(s % 3600 / 60), s % 60)
        }
        {
            inc = inc (n++ ? "," : "") sprintf("{\"id\":%s,\"kind\":%s,\"job\":%s,\"since\":%s,\"what\":%s}",
                js($1), js($2), ($3 == "-" || $3 == "") ? "null" : js($3), js(rfc($4)), js($5))
        }
        END {
            printf "{\"chaton\":%s,\"source\":%s,\"vault\":%s,\"started\":%s,\"finished\":%s,\"finished_unix\":%d,", \
                js(chaton), js(source), js(vault), js(started), js(finished), finished_unix
            printf "\"result\":%s,\"error\":%s,", failed ? "\"failed\"" : "\"ok\"", \
                (failed && error != "") ? js(error) : "null"
            printf "\"copied_objects\":%d,\"copied_bytes\":%.0f,\"source_objects\":%d,\"source_bytes\":%.0f,", \
                copied_objects, copied_bytes, source_objects, source_bytes
            printf "\"vault_objects\":%d,\"vault_bytes\":%.0f,\"pending_deletions\":%d,\"deleted_objects\":%d,", \
                vault_objects, vault_bytes, pending, deleted
            printf "\"frozen\":%s,\"incidents\":[%s]}\n", (frozen == "true") ? "true" : "false", inc
        }' "$work/open.tsv" >"$status.tmp" && mv "$status.tmp" "$status"
    rm -rf "$work"
    exit "$code"
}

# Clears incident ID (or all open ones) of the vault: a marker per incident,
# and the grace period of every missing object starts again now.
clear_body() {
    work_clear=$work/clear
    mkdir -p "$work_clear/up/cleared"
    if ! rc lsf -R --files-only --fast-list "garage:$vault/.archipel" >"$work_clear/state" 2>"$work_clear/err"; then
        if grep -q 'directory not found' "$work_clear/err"; then
            : >"$work_clear/state"
        else
            echo "vault-pass: cannot list the state of $vault: $(tail -n 2 "$work_clear/err" | tr '\n' ' ')" >&2
            return 2
        fi
    fi
    sed -n 's|^incidents/||p' "$work_clear/state" | sort >"$work_clear/incidents"
    sed -n 's|^cleared/||p' "$work_clear/state" | sort >"$work_clear/cleared"
    comm -23 "$work_clear/incidents" "$work_clear/cleared" >"$work_clear/open"
    if [ "$1" = all ]; then
        cp "$work_clear/open" "$work_clear/targets"
    elif grep -qxF -- "$1" "$work_clear/incidents"; then
        echo "$1" >"$work_clear/targets"
    else
        echo "vault-pass: $chaton has no incident $1" >&2
        return 2
    fi
    now=$(date -u +%s)
    while read -r id; do
        echo "$now" >"$work_clear/up/cleared/$id"
        echo "vault-pass: $chaton: cleared $id" >&2
    done <"$work_clear/targets"
    if [ -n "$(ls "$work_clear/up/cleared")" ]; then
        rc copy --ignore-times --no-traverse "$work_clear/up/cleared" "garage:$vault/.archipel/cleared" \
            2>"$work_clear/err" || {
            echo "vault-pass: cannot record the clearing in $vault: $(tail -n 2 "$work_clear/err" | tr '\n' ' ')" >&2
            return 2
        }
    fi
    # The grace period restarts after a person cleared.
    if grep -qx missing.tsv "$work_clear/state"; then
        rc cat "garage:$vault/.archipel/missing.tsv" >"$work_clear/missing" 2>"$work_clear/err" || {
            echo "vault-pass: cannot read $vault/.archipel/missing.tsv" >&2
            return 2
        }
        mkdir -p "$work_clear/up/state"
        awk -F '\t' -v OFS='\t' -v now="$now" 'NF >= 2 { $2 = now; print }' "$work_clear/missing" \
            >"$work_clear/up/state/missing.tsv"
        rc copy --ignore-times --no-traverse "$work_clear/up/state" "garage:$vault/.archipel" \
            2>"$work_clear/err" || {
            echo "vault-pass: cannot write $vault/.archipel/missing.tsv" >&2
            return 2
        }
    fi
    rm -rf "$work_clear"
}

# Runs one vault's pass (after clearing, for `clear`) under its lock, in a
# subshell: prints messages, exits 0, 1, 2 (or 3 when skipped).
run_one() {
    (
        chaton=$1
        shift
        line=$(vault_lines | awk -F '\t' -v c="$chaton" '$1 == c { print; exit }')
        [ -n "$line" ] || {
            echo "vault-pass: no vault configured for chaton $chaton" >&2
            exit 2
        }
        IFS=$tab read -r _ source vault keep_deleted growth_alarm <<EOF
$line
EOF
        case $keep_deleted in '' | *[!0-9]*)
            echo "vault-pass: $chaton: KEEP_DELETED_SECONDS is not a number: $keep_deleted" >&2
            exit 2 ;;
        esac
        mkdir -p "$state_dir" || exit 2
        exec 9>"$state_dir/$chaton.lock"
        if ! flock -n 9; then
            echo "vault-pass: $chaton: another pass is running, skipped" >&2
            exit 3
        fi
        work=$(mktemp -d "${TMPDIR:-/tmp}/vault-pass.XXXXXX") || exit 2
        if [ "$#" -gt 0 ]; then
            clear_body "$1" || { rm -rf "$work"; exit 2; }
        fi
        pass_body
    )
}

[ -r "$vaults_conf" ] || { echo "vault-pass: cannot read $vaults_conf" >&2; exit 2; }
[ -r "$rclone_conf" ] || { echo "vault-pass: cannot read $rclone_conf" >&2; exit 2; }

command=${1:-pass}
[ "$#" -gt 0 ] && shift
worst=0
case $command in
    pass)
        if [ "$#" -eq 0 ]; then
            set -- $(vault_lines | cut -f1)
        fi
        for chaton in "$@"; do
            run_one "$chaton"
            code=$?
            [ "$code" -eq 3 ] && code=0
            [ "$code" -gt "$worst" ] && worst=$code
        done ;;
    clear)
        [ "$#" -eq 2 ] || usage
        run_one "$1" "$2"
        worst=$?
        [ "$worst" -eq 3 ] && worst=2 ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
exit "$worst"
