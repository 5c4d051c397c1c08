#!/usr/bin/env bash
# bench/run.sh — headwire's benchmarks in one command (issue 9, plus issue 5's store scaling).
#
# Installs wrk, nginx and curl when missing (Debian), builds release, runs on 127.0.0.1:
#   1. serving, cached     wrk on /feed.atom?section=X&limit=50 vs nginx serving the same bytes
#   2. serving, uncached   wrk rotating over 20,000 section/limit queries (every request renders)
#                          vs nginx rotating over 1,000 static files of the same size
#   3. store scaling       query + Atom render in-process at 10k / 100k / 1M items, alternated;
#                          store open time and disk size at 1M
#   3b. search             `?q=` in-process at 100k and 1M items: no match, one story, common
#                          words (BENCH_ONLY=search re-runs it on an earlier run's stores)
#   4. polling             `headwire poll --once` over 1,000 ~100 KB pages served by nginx, then
#                          again with every page answering 304; getrusage via bash `time`
#   5. memory              VmHWM of `headwire serve` through 1–2 at 100k and at 1M items
#   6. live serving        wrk rotating over all 1,000 section feeds (gzip, like readers) at 100k
#                          items while 300 sections change and are polled every 60 s, vs the same
#                          readers on the same store with polling stopped, alternated
#   7. shared cache        the same readers through nginx proxy_cache vs directly
#   8. full text, images   `headwire poll --once` over 20 list pages of 50 stories whose 30–100 KB
#                          article pages are fetched (full_text on) or not (off), alternated;
#                          uncached 50-item RSS with content vs ?content=summary; cached /img/
#                          hits vs /healthz (BENCH_ONLY=fulltext runs this step alone)
# and rewrites BENCHMARKS.md. Every target is a ratio against a baseline measured in the same
# run (alternated A B A B) or an absolute bound; absolute numbers are printed for context.
#
# Knobs (environment): BENCH_DURATION (wrk seconds, default 15), BENCH_ROUNDS (A/B pairs,
# default 2), BENCH_ITEMS (largest store, default 1000000), BENCH_WORK (scratch dir, default a
# new /tmp dir, removed at the end unless BENCH_KEEP=1), BENCH_OUT (report, default
# BENCHMARKS.md in the repository root), BENCH_FT_SECTIONS / BENCH_FT_STORIES / BENCH_FT_ROUNDS /
# BENCH_FT_DURATION (step 8: 20 sections, 50 stories each, 3 pairs, 8 s wrk runs), BENCH_ANALYSIS (hand-written findings appended to the
# report, default bench/analysis.md), BENCH_NOTE (one line added under the machine facts).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DUR=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-2}
BIG=${BENCH_ITEMS:-1000000}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
W=${BENCH_WORK:-$(mktemp -d /tmp/headwire-bench.XXXXXX)}
mkdir -p "$W"
chmod 755 "$W" # nginx workers run as an unprivileged user and must reach the files
R="$W/results.env"
[[ -n ${BENCH_REPORT_ONLY:-}${BENCH_ONLY:-} ]] || : >"$R"
PIDS=()
T_START=$(date +%s)

log() { printf '[%s +%ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - T_START))" "$*" >&2; }
put() { printf '%s=%s\n' "$1" "$2" >>"$R"; }
get() { awk -F= -v k="$1" '$1 == k { v = substr($0, length(k) + 2) } END { print v }' "$R"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
# field NAME LINE: the value of NAME=... in a `key=value key=value` line
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -z ${BENCH_KEEP:-} && -z ${BENCH_WORK:-} && -z ${BENCH_REPORT_ONLY:-} ]]; then
        rm -rf "$W"
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 0. Tools and build
# ---------------------------------------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
install_tools() {
if ! command -v wrk >/dev/null || [[ ! -x $NGINX ]] || ! command -v curl >/dev/null; then
    log "installing wrk, nginx and curl"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq wrk nginx curl >/dev/null
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
}

build() {
log "building release (cargo build --release --examples --bins)"
b0=$(date +%s)
(cd "$ROOT" && cargo build --release --examples --bins --quiet)
put build_secs $(($(date +%s) - b0))
put commit "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# The report itself does not count: a rerun always finds it modified by the previous one.
put dirty "$(cd "$ROOT" && git status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md' 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)"
}
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET_DIR=${TARGET_DIR:-$ROOT/target}
HW="$TARGET_DIR/release/headwire"
BENCH="$TARGET_DIR/release/examples/bench"

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}
NP=$(free_port)
HP=$(free_port)
while [[ $HP == "$NP" ]]; do HP=$(free_port); done
PP=$(free_port)
while [[ $PP == "$NP" || $PP == "$HP" ]]; do PP=$(free_port); done

wait_http() { # URL: wait up to 120 s for a 2xx
    local i
    for i in $(seq 1 1200); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# ---------------------------------------------------------------------------------------------
# 3 (first, its stores feed 1, 2 and 5). Fill 10k → 100k → BIG through the store API.
# ---------------------------------------------------------------------------------------------
QROUNDS=5 # store-scaling alternations (each is one process per size)
SIZES=(10000 100000)
((BIG > 100000)) && SIZES+=("$BIG")

step_store() {
START_EPOCH=$(($(date +%s) - 2 * BIG - 3600)) # items 2 s apart, the newest an hour old
D="$W/store"
prev=0
for size in "${SIZES[@]}"; do
    log "filling the store to $size items"
    line=$("$BENCH" fill --data "$D" --from "$prev" --to "$size" --start-epoch "$START_EPOCH")
    log "$line"
    put "fill_${size}_secs" "$(field secs "$line")"
    put "fill_${size}_rate" "$(field items_per_sec "$line")"
    if [[ $size == "$BIG" ]]; then
        mv "$D" "$W/store-$size"
    else
        cp -a "$D" "$W/store-$size"
    fi
    prev=$size
done
put disk_bytes_big "$(du -sb "$W/store-$BIG" | cut -f1)"
put disk_bytes_100000 "$(du -sb "$W/store-100000" | cut -f1)"
put disk_bytes_10000 "$(du -sb "$W/store-10000" | cut -f1)"

log "store scaling: query + render, sizes alternated, $QROUNDS rounds"
for round in $(seq 1 "$QROUNDS"); do
    for size in "${SIZES[@]}"; do
        line=$("$BENCH" query --data "$W/store-$size" --rounds 100)
        log "round $round size $size: $line"
        for k in open_ms first_median_ms first_max_ms warm_median_ms warm_p99_ms warm_cpu_ms min_items rss_open_kb; do
            put "q_${size}_${k}_$round" "$(field "$k" "$line")"
        done
    done
done
log "store scaling: 2,000 queries over all 1,000 sections (cache misses), in-process RSS"
for size in "${SIZES[@]:1}"; do
    line=$("$BENCH" query --data "$W/store-$size" --rounds 0 --spread 2000)
    log "size $size: $line"
    for k in spread_median_ms spread_p99_ms rss_open_kb hwm_kb min_items; do
        put "s_${size}_$k" "$(field "$k" "$line")"
    done
done

}

# ---------------------------------------------------------------------------------------------
# nginx: the baseline for 1–2 and the fixture server for 4 (one process, static files)
# ---------------------------------------------------------------------------------------------
start_nginx() {
mkdir -p "$W/nginx/tmp" "$W/www/u" "$W/www/s"
cat >"$W/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
    open_file_cache max=4096 inactive=60s;
    client_body_temp_path $W/nginx/tmp/body;
    proxy_temp_path $W/nginx/tmp/proxy;
    fastcgi_temp_path $W/nginx/tmp/fastcgi;
    uwsgi_temp_path $W/nginx/tmp/uwsgi;
    scgi_temp_path $W/nginx/tmp/scgi;
    types { application/atom+xml atom; text/html html shtml; image/jpeg jpg; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NP;
        root $W/www;
    }
    # 7. headwire behind a shared cache, as docs/nginx-cache.conf sets it up.
    proxy_cache_path $W/nginx/cache levels=1:2 keys_zone=headwire:10m max_size=512m inactive=1d use_temp_path=off;
    server {
        listen 127.0.0.1:$PP;
        location / {
            proxy_pass http://127.0.0.1:$HP;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache headwire;
            proxy_cache_revalidate on;
            proxy_cache_use_stale updating error timeout http_500 http_502 http_503;
            proxy_cache_background_update on;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
EOF
"$NGINX" -c "$W/nginx/nginx.conf" -p "$W/nginx" &
PIDS+=($!)
NGINX_PID=$!
}

# ---------------------------------------------------------------------------------------------
# 1, 2, 5. Serving
# ---------------------------------------------------------------------------------------------
HOT_QUERY="/feed.atom?section=sec0050&limit=50"

start_serve() { # DATA_DIR [CONFIG]
    HEADWIRE_LISTEN="127.0.0.1:$HP" HEADWIRE_DATA="$1" RUST_LOG=warn \
        "$HW" serve --config "${2:-$W/serve.toml}" >"$W/serve.log" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    wait_http "http://127.0.0.1:$HP/healthz"
}
stop_serve() {
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID" || true
}
metric() { # NAME: a counter from /metrics (0 when absent)
    curl -fsS "http://127.0.0.1:$HP/metrics" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
wrk_run() { # LABEL URL [ROTATE]: one wrk run, its WRK line stored under LABEL
    local line
    line=$(BENCH_ROTATE=${3:-} BENCH_THREADS=2 wrk -t2 -c64 -d"${DUR}s" \
        -s "$ROOT/bench/wrk_report.lua" "$2" | grep '^WRK ')
    log "$1: $line"
    for k in requests rps p50_ms p99_ms max_ms errors non2xx; do
        put "${1}_$k" "$(field "$k" "$line")"
    done
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
other_routes() { # LABEL: one request to each page that is not a feed (after VmHWM was read)
    local route t
    for route in / /api/status /metrics; do
        t=$(curl -s -o /dev/null --max-time 120 -w '%{time_total}' "http://127.0.0.1:$HP$route" || echo "> 120")
        put "${1}_route$(printf %s "$route" | tr -c 'a-z' '_')" "$t"
        log "$1: GET $route took ${t}s"
    done
    put "${1}_hwm_after_routes_kb" "$(hwm_kb "$SERVE_PID")"
}

step_serve() {
"$BENCH" serve-config --out "$W/serve.toml"
log "serving at 100k items: headwire on :$HP, nginx on :$NP"
start_serve "$W/store-100000"
put serve_open_rss_100000_kb "$(hwm_kb "$SERVE_PID")"
curl -fsS "http://127.0.0.1:$HP$HOT_QUERY" -o "$W/www/feed.atom"
for i in $(seq 0 999); do cp "$W/www/feed.atom" "$W/www/u/$i.atom"; done
wait_http "http://127.0.0.1:$NP/feed.atom"
cmp -s "$W/www/feed.atom" <(curl -fsS "http://127.0.0.1:$NP$HOT_QUERY") ||
    { echo "nginx does not serve the same bytes" >&2; exit 1; }
put feed_bytes "$(stat -c %s "$W/www/feed.atom")"
# Warm both (connections, caches) before measuring.
wrk -t2 -c64 -d2s "http://127.0.0.1:$HP$HOT_QUERY" >/dev/null
wrk -t2 -c64 -d2s "http://127.0.0.1:$NP$HOT_QUERY" >/dev/null

log "benchmark 1: cached feed vs nginx, $ROUNDS A/B pairs of ${DUR}s"
for round in $(seq 1 "$ROUNDS"); do
    wrk_run "b1_hw_$round" "http://127.0.0.1:$HP$HOT_QUERY"
    wrk_run "b1_nx_$round" "http://127.0.0.1:$NP$HOT_QUERY"
done

log "benchmark 2: uncached feeds vs nginx over 1,000 files, $ROUNDS A/B pairs of ${DUR}s"
for round in $(seq 1 "$ROUNDS"); do
    renders0=$(metric headwire_feed_renders_total)
    hits0=$(metric headwire_feed_cache_hits_total)
    wrk_run "b2_hw_$round" "http://127.0.0.1:$HP/" feed
    put "b2_hw_${round}_renders" "$(($(metric headwire_feed_renders_total) - renders0))"
    put "b2_hw_${round}_hits" "$(($(metric headwire_feed_cache_hits_total) - hits0))"
    wrk_run "b2_nx_$round" "http://127.0.0.1:$NP/" static
done
put serve_hwm_100000_kb "$(hwm_kb "$SERVE_PID")"
other_routes r100000
stop_serve

log "benchmark 5: headwire serve over $BIG items through 1–2"
start_serve "$W/store-$BIG"
put serve_open_rss_big_kb "$(hwm_kb "$SERVE_PID")"
wrk -t2 -c64 -d2s "http://127.0.0.1:$HP$HOT_QUERY" >/dev/null
wrk_run b5_cached "http://127.0.0.1:$HP$HOT_QUERY"
wrk_run b5_uncached "http://127.0.0.1:$HP/" feed
put serve_hwm_big_kb "$(hwm_kb "$SERVE_PID")"
other_routes rbig
stop_serve
}

# ---------------------------------------------------------------------------------------------
# 6. Live serving: readers over every section feed while polling keeps changing the store
# ---------------------------------------------------------------------------------------------
LIVE_SECTIONS=${BENCH_LIVE_SECTIONS:-300}
LIVE_INTERVAL=${BENCH_LIVE_INTERVAL:-60s}
step_live() {
log "benchmark 6: live vs quiet at 100k items, $LIVE_SECTIONS sections changing, polled every $LIVE_INTERVAL"
"$BENCH" serve-config --out "$W/quiet.toml" --cache-mb 256
"$BENCH" serve-config --out "$W/live.toml" --cache-mb 256 --live "$LIVE_SECTIONS" \
    --live-port "$NP" --live-interval "$LIVE_INTERVAL"
mkdir -p "$W/www/live"
"$BENCH" live-pages --dir "$W/www/live" --sections "$LIVE_SECTIONS" --tick 0
wait_http "http://127.0.0.1:$NP/live/sec0000.html"
# Every second one new story on top of every live page (files replaced atomically).
(
    tick=0
    while :; do
        sleep 1
        tick=$((tick + 1))
        "$BENCH" live-pages --dir "$W/www/live" --sections "$LIVE_SECTIONS" --tick "$tick" || exit 0
    done
) &
PIDS+=($!)
for round in $(seq 1 "$ROUNDS"); do
    # A fresh copy per round: the live sections are first polled within 30 s of start and
    # again from 60 s on, so the measurement (from 70 s) sees polling in its steady state.
    rm -rf "$W/store-live"
    cp -a "$W/store-100000" "$W/store-live"
    for mode in quiet live; do
        start_serve "$W/store-live" "$W/$mode.toml"
        [[ $mode == live ]] && sleep 65
        # Warm: every section feed rendered once.
        BENCH_GZIP=1 BENCH_ROTATE=sections BENCH_THREADS=2 wrk -t2 -c64 -d5s \
            -s "$ROOT/bench/wrk_report.lua" "http://127.0.0.1:$HP/" >/dev/null
        new0=$(metric headwire_new_items_total)
        polls0=$(metric headwire_polls_total)
        renders0=$(metric headwire_feed_renders_total)
        hits0=$(metric headwire_feed_cache_hits_total)
        BENCH_GZIP=1 wrk_run "b6_${mode}_$round" "http://127.0.0.1:$HP/" sections
        put "b6_${mode}_${round}_new" "$(($(metric headwire_new_items_total) - new0))"
        put "b6_${mode}_${round}_polls" "$(($(metric headwire_polls_total) - polls0))"
        put "b6_${mode}_${round}_renders" "$(($(metric headwire_feed_renders_total) - renders0))"
        put "b6_${mode}_${round}_hits" "$(($(metric headwire_feed_cache_hits_total) - hits0))"
        log "$mode #$round: $(get "b6_${mode}_${round}_new") new items in $(get "b6_${mode}_${round}_polls") polls, $(get "b6_${mode}_${round}_renders") renders, $(get "b6_${mode}_${round}_hits") hits"
        if [[ $mode == quiet && $round == 1 ]]; then
            log "benchmark 7: behind nginx proxy_cache — every section feed (gzip), through the cache vs direct"
            BENCH_GZIP=1 BENCH_ROTATE=sections BENCH_THREADS=2 wrk -t2 -c64 -d5s \
                -s "$ROOT/bench/wrk_report.lua" "http://127.0.0.1:$PP/" >/dev/null
            put b7_cache_status "$(curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null -D - "http://127.0.0.1:$PP$HOT_QUERY" | awk -F': ' 'tolower($1) == "x-cache-status" { print $2 }' | tr -d '\r')"
            for r7 in $(seq 1 "$ROUNDS"); do
                BENCH_GZIP=1 wrk_run "b7_proxy_$r7" "http://127.0.0.1:$PP/" sections
                BENCH_GZIP=1 wrk_run "b7_direct_$r7" "http://127.0.0.1:$HP/" sections
            done
        fi
        stop_serve
    done
done
}

# ---------------------------------------------------------------------------------------------
# 3b. Search: `?q=` in-process at 100k and BIG items (stores of step 3)
# ---------------------------------------------------------------------------------------------
step_search() {
for size in "${SIZES[@]:1}"; do
    log "search at $size items: 20 rounds of no-match, one-story and common-word queries"
    line=$("$BENCH" search --data "$W/store-$size" --rounds 20 --items "$size")
    log "size $size: $line"
    for k in none_median_ms none_p99_ms rare_median_ms rare_p99_ms common_median_ms common_p99_ms all_p99_ms rare_found; do
        put "search_${size}_$k" "$(field "$k" "$line")"
    done
done
}

# ---------------------------------------------------------------------------------------------
# 4. Polling
# ---------------------------------------------------------------------------------------------
nginx_ticks() { # CPU ticks of nginx master + workers
    local pid sum=0
    for pid in $NGINX_PID $(ps -o pid= --ppid "$NGINX_PID"); do
        sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$sum"
}
TICK=$(getconf CLK_TCK)
step_poll() {
log "benchmark 4: generating 1,000 list pages"
line=$("$BENCH" portal --dir "$W/www" --port "$NP" --out "$W/poll.toml")
log "$line"
put page_bytes "$(field mean_bytes "$line")"
curl -fsS -o /dev/null "http://127.0.0.1:$NP/s/sec0000.html"

poll_run() { # LABEL: one `headwire poll --once`, wall/user/sys from getrusage (bash `time`)
    local t0 t1 times
    t0=$(nginx_ticks)
    TIMEFORMAT='%3R %3U %3S'
    { time HEADWIRE_DATA="$W/pollstore" "$HW" poll --once --config "$W/poll.toml" \
        >"$W/$1.out" 2>"$W/$1.err"; } 2>"$W/$1.time"
    t1=$(nginx_ticks)
    read -r wall user sys <"$W/$1.time"
    put "${1}_wall" "$wall"
    put "${1}_cpu" "$(calc "$user + $sys" 3)"
    put "${1}_user" "$user"
    put "${1}_sys" "$sys"
    put "${1}_nginx_cpu" "$(calc "($t1 - $t0) / $TICK" 3)"
    put "${1}_summary" "$(tail -1 "$W/$1.out")"
    put "${1}_found" "$(awk -F'\t' '$2 ~ /^found/ { split($2, a, " "); s += a[2] } END { print s + 0 }' "$W/$1.out")"
    put "${1}_unchanged" "$(awk -F'\t' '$2 == "unchanged" { n++ } END { print n + 0 }' "$W/$1.out")"
    log "$1: wall ${wall}s cpu $(get "${1}_cpu")s nginx $(get "${1}_nginx_cpu")s — $(tail -1 "$W/$1.out")"
}
for round in $(seq 1 "$ROUNDS"); do
    rm -rf "$W/pollstore"
    poll_run "b4_full_$round"
    poll_run "b4_304_$round"
done
}

# ---------------------------------------------------------------------------------------------
# 8. Full text and images (issue 16): poll with full text on vs off, feeds with content vs
#    ?content=summary, cached /img/ hits vs /healthz
# ---------------------------------------------------------------------------------------------
FT_SECTIONS=${BENCH_FT_SECTIONS:-20}
FT_STORIES=${BENCH_FT_STORIES:-50}
FT_ROUNDS=${BENCH_FT_ROUNDS:-3}
FT_DUR=${BENCH_FT_DURATION:-8}
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ft_poll() { # LABEL CONFIG STORE: one `headwire poll --once` on a fresh store, under /usr/bin/time -v
    local t0 t1 user sys wall rss stats
    rm -rf "$3"
    t0=$(nginx_ticks)
    HEADWIRE_DATA="$3" /usr/bin/time -v -o "$W/$1.time" "$HW" poll --once --config "$2" \
        >"$W/$1.out" 2>"$W/$1.err"
    t1=$(nginx_ticks)
    user=$(awk -F': ' '/User time \(seconds\)/ { print $2 }' "$W/$1.time")
    sys=$(awk -F': ' '/System time \(seconds\)/ { print $2 }' "$W/$1.time")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$W/$1.time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$W/$1.time")
    stats=$(HEADWIRE_DATA="$3" "$HW" store stats --config "$2")
    put "${1}_user" "$user"
    put "${1}_sys" "$sys"
    put "${1}_cpu" "$(calc "$user + $sys" 2)"
    put "${1}_wall" "$wall"
    put "${1}_rss_kb" "$rss"
    put "${1}_nginx_cpu" "$(calc "($t1 - $t0) / $TICK" 2)"
    put "${1}_texts" "$(awk -F': ' '$1 == "texts stored" { print $2 }' <<<"$stats")"
    put "${1}_items" "$(awk -F': ' '$1 == "items" { print $2 }' <<<"$stats")"
    put "${1}_summary" "$(tail -1 "$W/$1.out")"
    log "$1: wall ${wall}s cpu $(get "${1}_cpu")s (${user} + ${sys}) peak RSS $((rss / 1024)) MB, nginx $(get "${1}_nginx_cpu")s, $(get "${1}_items") items, $(get "${1}_texts") texts — $(tail -1 "$W/$1.out")"
}
ft_wrk() { # LABEL URL [ROTATE EXTRA]: wrk -t2 -c16, plus the server's CPU and render counters
    local line c0 c1 r0 h0
    c0=$(proc_cpu_ticks "$SERVE_PID")
    r0=$(metric headwire_feed_renders_total)
    h0=$(metric headwire_feed_cache_hits_total)
    line=$(BENCH_ROTATE=${3:-} BENCH_EXTRA=${4:-} BENCH_SECTIONS=$FT_SECTIONS BENCH_THREADS=2 \
        wrk -t2 -c16 -d"${FT_DUR}s" -s "$ROOT/bench/wrk_report.lua" "$2" | grep '^WRK ')
    c1=$(proc_cpu_ticks "$SERVE_PID")
    for k in requests rps p50_ms p99_ms max_ms bytes errors non2xx; do
        put "${1}_$k" "$(field "$k" "$line")"
    done
    put "${1}_renders" "$(($(metric headwire_feed_renders_total) - r0))"
    put "${1}_hits" "$(($(metric headwire_feed_cache_hits_total) - h0))"
    put "${1}_cpu_ms" "$(calc "($c1 - $c0) * 1000 / $TICK / $(field requests "$line")" 3)"
    log "$1: $line server_cpu_ms_per_request=$(get "${1}_cpu_ms") renders=$(get "${1}_renders") hits=$(get "${1}_hits")"
}

step_fulltext() {
log "benchmark 8: generating the full-text fixture ($FT_SECTIONS sections × $FT_STORIES stories)"
local ft_t0
ft_t0=$(date +%s)
local line feed proxy round img first
line=$("$BENCH" fulltext-portal --dir "$W/www" --port "$NP" --sections "$FT_SECTIONS" \
    --stories "$FT_STORIES" --per-poll "$FT_STORIES" --out "$W/ft")
log "$line"
for k in stories list_mean_bytes article_mean_bytes article_min_bytes article_max_bytes; do
    put "ft_$k" "$(field "$k" "$line")"
done
put ft_sections "$FT_SECTIONS"
put ft_per_section "$FT_STORIES"
put ft_rounds "$FT_ROUNDS"
put ft_dur "$FT_DUR"
wait_http "http://127.0.0.1:$NP/ft/s/sec0000.html"
log "benchmark 8a: poll --once with full text off / on, $FT_ROUNDS A/B pairs"
for round in $(seq 1 "$FT_ROUNDS"); do
    ft_poll "ft_off_$round" "$W/ft/poll-off.toml" "$W/ftstore-off"
    ft_poll "ft_on_$round" "$W/ft/poll-on.toml" "$W/ftstore"
done
log "benchmark 8a: in-process decode + extraction and image-proxy rewrite, $FT_ROUNDS runs"
for round in $(seq 1 "$FT_ROUNDS"); do
    line=$("$BENCH" extract-articles --dir "$W/www" --pages 200)
    log "$line"
    for k in pages selector_ms readability_ms readability_ok rewrite_content_ms rewrite_summary_us article_mean_bytes; do
        put "ft_ex_${round}_$k" "$(field "$k" "$line")"
    done
done

sed -i "s#127.0.0.1:8080#127.0.0.1:$HP#g" "$W/ft/serve.toml" "$W/ft/serve-img.toml"
feed="/feed.rss?section=sec0000&limit=50"
for proxy in plain img; do
    start_serve "$W/ftstore" "$W/ft/$([[ $proxy == img ]] && echo serve-img || echo serve).toml"
    curl -fsS "http://127.0.0.1:$HP$feed" -o "$W/ft-$proxy-content.rss"
    curl -fsS "http://127.0.0.1:$HP$feed&content=summary" -o "$W/ft-$proxy-summary.rss"
    put "ft_${proxy}_content_bytes" "$(stat -c %s "$W/ft-$proxy-content.rss")"
    put "ft_${proxy}_summary_bytes" "$(stat -c %s "$W/ft-$proxy-summary.rss")"
    put "ft_${proxy}_content_items" "$(grep -o '<content:encoded>' "$W/ft-$proxy-content.rss" | wc -l)"
    put "ft_${proxy}_summary_items" "$(grep -o '<content:encoded>' "$W/ft-$proxy-summary.rss" | wc -l)"
    log "8b ($proxy): 50-item RSS $(get "ft_${proxy}_content_bytes") bytes with content ($(get "ft_${proxy}_content_items") content:encoded), $(get "ft_${proxy}_summary_bytes") with content=summary ($(get "ft_${proxy}_summary_items"))"
    log "benchmark 8b ($proxy): uncached RSS renders with content vs content=summary, $FT_ROUNDS pairs of ${FT_DUR}s"
    for round in $(seq 1 "$FT_ROUNDS"); do
        ft_wrk "ft_${proxy}_content_$round" "http://127.0.0.1:$HP/" ftfeed ""
        ft_wrk "ft_${proxy}_summary_$round" "http://127.0.0.1:$HP/" ftfeed "&content=summary"
    done
    if [[ $proxy == img ]]; then
        img=$(grep -o '/img/[A-Za-z0-9_.~-]*' "$W/ft-img-content.rss" | sed -n 1p)
        [[ -n $img ]] || { echo "no /img/ URL in the proxied feed" >&2; exit 1; }
        put ft_img_count "$(grep -o '/img/[A-Za-z0-9_.~-]*' "$W/ft-img-content.rss" | sort -u | wc -l)"
        first=$(curl -sS -o "$W/ft-img.bin" -w '%{http_code} %{content_type} %{size_download} %{time_total}' "http://127.0.0.1:$HP$img")
        put ft_img_first "$first"
        put ft_img_second "$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$HP$img")"
        log "8c: $img → first fetch: $first; second: $(get ft_img_second)"
        [[ $first == "200 image/"* ]] || { echo "the image proxy did not answer 200 image/*: $first" >&2; exit 1; }
        log "benchmark 8c: cached /img/ hit vs /healthz, $FT_ROUNDS pairs of ${FT_DUR}s"
        for round in $(seq 1 "$FT_ROUNDS"); do
            ft_wrk "ft_imgget_$round" "http://127.0.0.1:$HP$img"
            ft_wrk "ft_healthz_$round" "http://127.0.0.1:$HP/healthz"
        done
        put ft_serve_hwm_kb "$(hwm_kb "$SERVE_PID")"
    fi
    stop_serve
done
put ft_secs $(($(date +%s) - ft_t0))
put ft_date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put ft_load "$(cut -d' ' -f1-3 /proc/loadavg)"
}

ft_median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Section 8 of the report, from the results (nothing when step 8 has not run).
ft_section() {
[[ -n $(get ft_on_1_cpu) ]] || return 0
local r p m proxy n dur per on_cpu off_cpu texts extra img_bytes
n=$(get ft_rounds)
dur=$(get ft_dur)
per=$(get ft_per_section)
med() { ft_median $(for r in $(seq 1 "$n"); do get "${1}_${r}_$2"; done); }
ratios() { # A B KEY: A/B pair by pair
    local out="" r
    for r in $(seq 1 "$n"); do out+="$(calc "$(get "${1}_${r}_$3") / $(get "${2}_${r}_$3")") "; done
    echo "${out% }"
}
on_cpu=$(med ft_on cpu)
off_cpu=$(med ft_off cpu)
texts=$(med ft_on texts)
extra=$(calc "$on_cpu - $off_cpu" 2)
img_bytes=$(echo "$(get ft_img_first)" | cut -d' ' -f3)
cat <<EOF

## 8. Full text and images

Fixture (\`bench fulltext-portal\` in examples/bench.rs, files served by the same nginx):
$(get ft_sections) list pages of ${per} stories (the layout of benchmark 4, $(get ft_list_mean_bytes) bytes on average) and one article
page per story, $(get ft_stories) in all, $(get ft_article_min_bytes)–$(get ft_article_max_bytes) bytes (mean $(get ft_article_mean_bytes)): head with stylesheets
and 60 inline script lines, an 80-link navigation bar, title and byline, share bars,
\`div.article-content\` with Chinese paragraphs and one picture, related stories, rankings,
comment box, footer, scripts. The two poll configs differ only in \`full_text = true\` and
\`content = "div.article-content"\` on every section; \`[poll] full_text_per_poll = ${per}\`,
\`concurrency = 64\`, \`per_host = 64\`, \`host_delay = "0"\`.

### 8a. \`headwire poll --once\`, full text off / on

A fresh store per run, off and on alternated (${n} pairs). CPU (user + sys) and peak RSS from
\`/usr/bin/time -v\`: the whole process, start-up, store open and flush included. Items and
texts from \`headwire store stats\` (\`texts stored\`).

| run | wall s | CPU s (user + sys) | peak RSS MB | nginx CPU s | items | texts stored |
|---|---|---|---|---|---|---|
EOF
for r in $(seq 1 "$n"); do
    for m in off on; do
        p="ft_${m}_$r"
        echo "| $m #$r | $(get "${p}_wall") | $(get "${p}_cpu") ($(get "${p}_user") + $(get "${p}_sys")) | $(calc "$(get "${p}_rss_kb") / 1024" 1) | $(get "${p}_nginx_cpu") | $(get "${p}_items") | $(get "${p}_texts") |"
    done
done
cat <<EOF

Medians: CPU **${on_cpu} s on vs ${off_cpu} s off = $(calc "$on_cpu / $off_cpu" 1)×** (pairs: $(ratios ft_on ft_off cpu));
peak RSS **$(calc "$(med ft_on rss_kb) / 1024" 1) MB vs $(calc "$(med ft_off rss_kb) / 1024" 1) MB = $(calc "$(med ft_on rss_kb) / $(med ft_off rss_kb)")×** (pairs: $(ratios ft_on ft_off rss_kb));
wall $(med ft_on wall) s vs $(med ft_off wall) s. CPU per article page (fetched, decoded, extracted,
stored): (${on_cpu} − ${off_cpu}) s / ${texts} texts = **$(calc "$extra * 1000 / $texts" 2) ms**.

Where it goes (\`bench extract-articles\`: the same calls in one thread, no network or store, thread
CPU over $(get ft_ex_1_pages) pages, median of ${n} runs): decode + \`extract_article\` with the selector
**$(med ft_ex selector_ms) ms** a page (sanitised body $(get ft_ex_1_article_mean_bytes) bytes on average), the same without a selector
(the Readability fallback, what a page the selector misses costs) $(med ft_ex readability_ms) ms ($(get ft_ex_1_readability_ok) of $(get ft_ex_1_pages)
found a body). The rest of the per-page CPU above is the fetch, the store write and the process.
The image proxy's \`rewrite_html\` (run on every item at every render, 8b) costs
$(med ft_ex rewrite_content_ms) ms on one such body and $(med ft_ex rewrite_summary_us) µs on a one-line plain-text summary.

### 8b. Feeds with full text: uncached renders, content vs \`?content=summary\`

\`headwire serve\` on the store of the last "on" run (every story has its text; the list pages
pointed at a closed port so nothing changes). \`wrk -t2 -c16 -d${dur}s\` rotating over
\`/feed.rss?section=secNNNN&limit=L\` for the $(get ft_sections) sections and L = 50..500 (9,020 distinct
queries, each answering the section's 50 items, so the render cache never hits: see renders
and hits), with and without \`&content=summary\`, alternated. Server CPU per request: the serve
process's own user + sys (/proc) over the run, divided by the requests. The 50-item RSS is
$(get ft_plain_content_bytes) bytes with content ($(get ft_plain_content_items) \`content:encoded\`) and $(get ft_plain_summary_bytes) bytes with \`content=summary\` ($(get ft_plain_summary_items) \`content:encoded\`).
Rows marked "img": the same with \`image_proxy = true\` (image URLs in content and enclosures
rewritten to signed \`/img/\` URLs; $(get ft_img_content_bytes) bytes with content).

| run | requests/s | p50 ms | p99 ms | server CPU ms / request | renders | cache hits | errors |
|---|---|---|---|---|---|---|---|
EOF
for proxy in plain img; do
    for r in $(seq 1 "$n"); do
        for m in content summary; do
            p="ft_${proxy}_${m}_$r"
            echo "| $m$([[ $proxy == img ]] && echo ", img") #$r | $(get "${p}_rps") | $(get "${p}_p50_ms") | $(get "${p}_p99_ms") | $(get "${p}_cpu_ms") | $(get "${p}_renders") | $(get "${p}_hits") | $(get "${p}_errors")/$(get "${p}_non2xx") |"
        done
    done
done
cat <<EOF

Medians, content / summary: server CPU per request **$(calc "$(med ft_plain_content cpu_ms) / $(med ft_plain_summary cpu_ms)" 1)×** ($(med ft_plain_content cpu_ms) vs $(med ft_plain_summary cpu_ms) ms;
pairs: $(ratios ft_plain_content ft_plain_summary cpu_ms)); requests/s $(calc "$(med ft_plain_content rps) / $(med ft_plain_summary rps)")× ($(med ft_plain_content rps) vs $(med ft_plain_summary rps)); p50 $(calc "$(med ft_plain_content p50_ms) / $(med ft_plain_summary p50_ms)" 1)×.
With the image proxy: CPU per request $(calc "$(med ft_img_content cpu_ms) / $(med ft_img_summary cpu_ms)" 1)× ($(med ft_img_content cpu_ms) vs $(med ft_img_summary cpu_ms) ms); the
proxy's rewriting costs $(calc "$(med ft_img_content cpu_ms) / $(med ft_plain_content cpu_ms)")× on content feeds and $(calc "$(med ft_img_summary cpu_ms) / $(med ft_plain_summary cpu_ms)")× on summary feeds (medians across servers: less exact than the pairs).

### 8c. Cached image hits vs \`/healthz\`

The server with \`image_proxy = true\` and \`image_proxy_private = true\` (the fixture is on
127.0.0.1). The first \`/img/\` URL of its 50-item RSS ($(get ft_img_count) distinct there) requested once to
fill the cache (status, type, bytes, seconds: \`$(get ft_img_first)\`; then \`$(get ft_img_second)\`),
then \`wrk -t2 -c16 -d${dur}s\` on it and on \`/healthz\`, alternated.

| run | requests/s | p50 ms | p99 ms | max ms | server CPU ms / request | errors |
|---|---|---|---|---|---|---|
EOF
for r in $(seq 1 "$n"); do
    for m in imgget healthz; do
        p="ft_${m}_$r"
        echo "| $([[ $m == imgget ]] && echo "/img/ (cached)" || echo "/healthz") #$r | $(get "${p}_rps") | $(get "${p}_p50_ms") | $(get "${p}_p99_ms") | $(get "${p}_max_ms") | $(get "${p}_cpu_ms") | $(get "${p}_errors")/$(get "${p}_non2xx") |"
    done
done
cat <<EOF

Medians: **$(med ft_imgget rps) vs $(med ft_healthz rps) req/s = $(calc "$(med ft_imgget rps) / $(med ft_healthz rps)")×** (pairs: $(ratios ft_imgget ft_healthz rps)); p99 $(med ft_imgget p99_ms) ms
vs $(med ft_healthz p99_ms) ms. The image is ${img_bytes} bytes: $(calc "$(med ft_imgget rps) * ${img_bytes:-0} / 1048576" 0) MiB/s from the cache. Peak RSS of this
server: $(calc "$(get ft_serve_hwm_kb) / 1024" 1) MB.

### 8, findings

- The image proxy's rewriting: $(calc "$(med ft_img_summary cpu_ms) / $(med ft_plain_summary cpu_ms)")× CPU on summary feeds and $(calc "$(med ft_img_content cpu_ms) / $(med ft_plain_content cpu_ms)")× on content feeds in 8b
  ($(med ft_ex rewrite_content_ms) ms an article body, $(med ft_ex rewrite_summary_us) µs a plain-text summary, in-process). HTML without an
  \`<img\` is passed through unchanged (before 1533618 every summary was re-serialised through
  ammonia, 1.5–2.6× per render); what remains is signing every enclosure URL and re-serialising
  the bodies that hold images. Rewriting once per item and storing it (the output is
  deterministic) would take it off the render path.
- An uncached 50-item feed with content is ~$(calc "$(get ft_plain_content_bytes) / 1024" 0) KB and costs $(med ft_plain_content cpu_ms) ms of CPU, so the default
  32 MiB render cache holds only ~$(calc "32 * 1048576 / $(get ft_plain_content_bytes)" 0) such feeds: an installation with many full-text sections
  will render far more often than benchmark 2 suggests (the README says to raise \`cache_mb\`).
- A cached \`/img/\` hit costs $(med ft_imgget cpu_ms) ms of server CPU against $(med ft_healthz cpu_ms) ms for \`/healthz\`. Part of it is
  sending ${img_bytes} bytes (sent from the cache without a copy since 1533618); on the code side
  each hit takes the cache's single mutex for an LRU update that allocates the key twice
  (\`format!\` in \`ImageProxy::serve\`, \`to_owned\` in \`ImageCache::get\`). Not profiled (the
  release binary has no symbols).
- Poll: the extra CPU per article page is $(calc "$extra * 1000 / $texts" 2) ms, of which decode + extraction is $(med ft_ex selector_ms) ms;
  the Readability fallback is $(calc "$(med ft_ex readability_ms) / $(med ft_ex selector_ms)")× the selector path. Article fetches within a section run one
  after another (\`fetch_texts\` awaits each), which is invisible here (20 sections in parallel,
  CPU-bound) but makes one section's ${per} texts take ${per} round trips on a real portal.

Commands (what \`BENCH_ONLY=fulltext bench/run.sh\` runs; knobs \`BENCH_FT_SECTIONS=20\`,
\`BENCH_FT_STORIES=50\`, \`BENCH_FT_ROUNDS=3\`, \`BENCH_FT_DURATION=8\`):

\`\`\`sh
target/release/examples/bench fulltext-portal --dir WWW --port NGINX_PORT --out CONF   # WWW served by nginx
HEADWIRE_DATA=S /usr/bin/time -v target/release/headwire poll --once --config CONF/poll-off.toml
HEADWIRE_DATA=S /usr/bin/time -v target/release/headwire poll --once --config CONF/poll-on.toml  # fresh S each
HEADWIRE_DATA=S target/release/headwire store stats --config CONF/poll-on.toml   # "texts stored"
target/release/examples/bench extract-articles --dir WWW --pages 200           # in-process split
HEADWIRE_DATA=S target/release/headwire serve --config CONF/serve.toml           # serve-img.toml: image proxy
BENCH_ROTATE=ftfeed wrk -t2 -c16 -d8s -s bench/wrk_report.lua http://127.0.0.1:PORT/
BENCH_ROTATE=ftfeed BENCH_EXTRA='&content=summary' wrk -t2 -c16 -d8s -s bench/wrk_report.lua http://127.0.0.1:PORT/
wrk -t2 -c16 -d8s -s bench/wrk_report.lua http://127.0.0.1:PORT/img/TOKEN   # TOKEN from the proxied RSS
wrk -t2 -c16 -d8s -s bench/wrk_report.lua http://127.0.0.1:PORT/healthz
\`\`\`
EOF
}

# BENCH_ONLY=fulltext: put section 8 into the existing report in place (replacing an earlier
# section 8, else before "## Commands", else at the end) and leave the other sections alone.
splice_fulltext() {
local sect="$W/fulltext.md" tmp="$OUT.tmp" stamp
stamp="_Section 8 written by \`BENCH_ONLY=fulltext bench/run.sh\` on $(get ft_date); the step took $(get ft_secs) s at headwire $(get commit)$(get dirty); load average at its end: $(get ft_load)._"
# The stamp goes right under the heading (line 2 of ft_section's output is the heading).
ft_section | awk -v stamp="$stamp" 'NR == 1 && $0 == "" { next } { print } /^## 8\. / { print ""; print stamp }' >"$sect"
if [[ ! -f $OUT ]]; then
    cp "$sect" "$OUT"
elif grep -q '^## 8\. Full text and images' "$OUT"; then
    awk -v f="$sect" '
        /^## 8\. Full text and images/ { skip = 1; while ((getline l < f) > 0) print l; print ""; next }
        skip && /^## / { skip = 0 }
        !skip { print }' "$OUT" >"$tmp" && mv "$tmp" "$OUT"
elif grep -q '^## Commands' "$OUT"; then
    awk -v f="$sect" '
        /^## Commands/ && !done { while ((getline l < f) > 0) print l; print ""; done = 1 }
        { print }' "$OUT" >"$tmp" && mv "$tmp" "$OUT"
else
    { echo; cat "$sect"; } >>"$OUT"
fi
# The step in the Commands list.
if grep -q '^## Commands' "$OUT" && ! grep -q '^BENCH_ONLY=fulltext bench/run.sh ' "$OUT"; then
    awk '
        /^## Commands/ { inc = 1 }
        inc && /^```/ && ++fences == 2 { print "BENCH_ONLY=fulltext bench/run.sh               # 8 only: full text on/off, content feeds, cached images"; inc = 0 }
        { print }' "$OUT" >"$tmp" && mv "$tmp" "$OUT"
fi
log "section 8 written into $OUT"
}

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
step_report() {
log "writing $OUT"
mean_of() { # PREFIX SUFFIX: mean over rounds of PREFIX_<round>_SUFFIX
    local s=0 r
    for r in $(seq 1 "$ROUNDS"); do s=$(calc "$s + $(get "${1}_${r}_$2")" 6); done
    calc "$s / $ROUNDS" "${3:-2}"
}
wrk_rows() { # PREFIX HW_NAME NGINX_NAME: one table row per wrk run, A B alternated
    local r who name p
    for r in $(seq 1 "$ROUNDS"); do
        for who in hw nx; do
            name=$([[ $who == hw ]] && echo "$2" || echo "$3")
            p="${1}_${who}_$r"
            echo "| $name #$r | $(get "${p}_rps") | $(get "${p}_p50_ms") | $(get "${p}_p99_ms") | $(get "${p}_max_ms") | $(get "${p}_errors")/$(get "${p}_non2xx") |"
        done
    done
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rounds_of() { # KEY_PREFIX KEY_SUFFIX: the value of every store-scaling round
    local r
    for r in $(seq 1 "$QROUNDS"); do get "${1}_$r"; done
}
yesno() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi; }

b1_hw=$(mean_of b1_hw rps 0)
b1_nx=$(mean_of b1_nx rps 0)
b1_ratio=$(calc "$b1_hw / $b1_nx")
b1_pairs=""
for r in $(seq 1 "$ROUNDS"); do
    b1_pairs+="$(calc "$(get "b1_hw_${r}_rps") / $(get "b1_nx_${r}_rps")") "
done
b2_p99_worst=$(for r in $(seq 1 "$ROUNDS"); do get "b2_hw_${r}_p99_ms"; done | sort -g | tail -1)
b2_renders=0
b2_hits=0
b2_requests=0
for r in $(seq 1 "$ROUNDS"); do
    b2_renders=$((b2_renders + $(get "b2_hw_${r}_renders")))
    b2_hits=$((b2_hits + $(get "b2_hw_${r}_hits")))
    b2_requests=$((b2_requests + $(get "b2_hw_${r}_requests")))
done
declare -A QW QF QO QP QC
for size in "${SIZES[@]}"; do
    QW[$size]=$(median $(rounds_of "q_${size}_warm_median_ms"))
    QP[$size]=$(median $(rounds_of "q_${size}_warm_p99_ms"))
    QF[$size]=$(median $(rounds_of "q_${size}_first_median_ms"))
    QO[$size]=$(median $(rounds_of "q_${size}_open_ms"))
    QC[$size]=$(median $(rounds_of "q_${size}_warm_cpu_ms"))
done
q_ratio=$(calc "${QC[$BIG]} / ${QC[10000]}")
q_wall_ratio=$(calc "${QW[$BIG]} / ${QW[10000]}")
q_first_ratio=$(calc "${QF[$BIG]} / ${QF[10000]}")
q_pairs=""
for r in $(seq 1 "$QROUNDS"); do
    q_pairs+="$(calc "$(get "q_${BIG}_warm_cpu_ms_$r") / $(get "q_10000_warm_cpu_ms_$r")") "
done
q_min_items=$(for k in $(grep -o '^q_[0-9]*_min_items_[0-9]*' "$R"); do get "$k"; done | sort -g | head -1)
b4_wall=$(mean_of b4_full wall)
b4_cpu=$(mean_of b4_full cpu 3)
b4_cpu_page_ms=$(calc "$b4_cpu * 1000 / 1000" 2)
b4_304_cpu=$(mean_of b4_304 cpu 3)
b4_cpu_ratio=$(calc "$b4_cpu / $b4_304_cpu" 1)
b7_proxy=$(mean_of b7_proxy rps 0)
b7_direct=$(mean_of b7_direct rps 0)
b7_ratio=$(calc "$b7_proxy / $b7_direct")
b6_live=$(mean_of b6_live rps 0)
b6_quiet=$(mean_of b6_quiet rps 0)
b6_ratio=$(calc "$b6_live / $b6_quiet")
b6_pairs=""
b6_new=""
for r in $(seq 1 "$ROUNDS"); do
    b6_pairs+="$(calc "$(get "b6_live_${r}_rps") / $(get "b6_quiet_${r}_rps")") "
    b6_new+="$(get "b6_live_${r}_new") "
done
b6_p99_worst=$(for r in $(seq 1 "$ROUNDS"); do get "b6_live_${r}_p99_ms"; done | sort -g | tail -1)
hwm_big_mb=$(calc "$(get serve_hwm_big_kb) / 1024" 1)
hwm_100k_mb=$(calc "$(get serve_hwm_100000_kb) / 1024" 1)
mb() { calc "$1 / 1048576" 1; }
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
BIG_LABEL=$(awk -v n="$BIG" 'BEGIN { if (n >= 1e6) printf "%gM", n / 1e6; else printf "%gk", n / 1e3 }')
# Store work per new item: the fill's wall time per item (pages of 30 through
# `Store::apply_batch_deferred`; includes building the observations, ~5% of it).
store_us_100k=$(calc "1000000 / $(get fill_100000_rate)" 1)
store_us_big=$(calc "1000000 / $(get fill_${BIG}_rate)" 1)
disk_item_kb=$(calc "$(get disk_bytes_big) / $BIG / 1024" 2)
search_100k=$(get search_100000_all_p99_ms)
search_big=$(get "search_${BIG}_all_p99_ms")

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
LOAD=$(get load_end)
LOAD=${LOAD:-$(cut -d' ' -f1-3 /proc/loadavg)}
RUSTC=$(rustc -V)
NGINX_V=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
WRK_V=$( (wrk -v 2>&1 || true) | head -1 | awk '{ print $1, $2 }')
COMMIT=$(get commit)
DIRTY=$(get dirty)
ELAPSED=$(get total_secs)
ELAPSED=${ELAPSED:-$(($(date +%s) - T_START))}

{
    cat <<EOF
# Benchmarks

Written by \`bench/run.sh\` on $(get run_date) in ${ELAPSED} s (release build ${BUILD_NOTE:-$(get build_secs) s}).
Rerun with \`bench/run.sh\` (see the README); every number below comes from that one run.

- Machine: $(nproc) cores, ${MEM_GIB} GiB, ${CPU_MODEL}; load average at the end: ${LOAD}
- Versions: headwire ${COMMIT}${DIRTY}, ${RUSTC}, ${NGINX_V}, ${WRK_V}
- Everything runs on 127.0.0.1 on the same cores: wrk, nginx and headwire share them, so
  absolute numbers move with the machine; the ratios (A and B alternated in the same run) are
  the figures to compare.${BENCH_NOTE:+
- Note: ${BENCH_NOTE}}

## Summary

| # | benchmark | measured | target | met |
|---|---|---|---|---|
| 1 | serving, cached: headwire / nginx requests/s | $b1_ratio× ($b1_hw vs $b1_nx req/s; pairs: ${b1_pairs% }) | ≥ 0.8× | $(yesno "$b1_ratio >= 0.8") |
| 2 | serving, uncached (every request renders): p99 | ${b2_p99_worst} ms (worst of $ROUNDS runs) | < 20 ms | $(yesno "$b2_p99_worst < 20") |
| 3 | store scaling: CPU per warm query+render, ${BIG_LABEL} / 10k | ${q_ratio}× (${QC[10000]} → ${QC[100000]} → ${QC[$BIG]} ms; rounds: ${q_pairs% }) | ≤ 1.5× | $(yesno "$q_ratio <= 1.5") |
| 3 | store scaling: wall median per warm query, first touch, ${BIG_LABEL} / 10k | ${q_wall_ratio}× (${QW[10000]} → ${QW[$BIG]} ms), ${q_first_ratio}× (${QF[10000]} → ${QF[$BIG]} ms) | (context) | |
| 3 | store at ${BIG_LABEL} items: open time, disk | ${QO[$BIG]} ms, $(mb "$(get disk_bytes_big)") MiB | (reported) | |
| 3 | disk per item at ${BIG_LABEL} items | ${disk_item_kb} KiB | < 1.5 KiB | $(yesno "$disk_item_kb < 1.5") |
| 3 | store work per new item (fill, pages of 30), 100k / ${BIG_LABEL} | ${store_us_100k} / ${store_us_big} µs | < 30 µs | $(yesno "$store_us_big < 30") |
| 3b | \`q=\` search p99 (no match, one story, common words), 100k / ${BIG_LABEL} | ${search_100k:-–} / ${search_big:-–} ms | < 50 / < 200 ms | $(yesno "${search_100k:-1e9} < 50 && ${search_big:-1e9} < 200") |
| 4 | polling 1,000 pages: wall time | ${b4_wall} s | < 10 s | $(yesno "$b4_wall < 10") |
| 4 | polling: CPU per page | ${b4_cpu_page_ms} ms | < 3 ms | $(yesno "$b4_cpu_page_ms < 3") |
| 4 | polling: CPU full / all-304 | ${b4_cpu_ratio}× (${b4_cpu} s vs ${b4_304_cpu} s) | ≥ 10× | $(yesno "$b4_cpu_ratio >= 10") |
| 5 | peak RSS of serve through 1–2, ${BIG_LABEL} items | ${hwm_big_mb} MB (100k items: ${hwm_100k_mb} MB) | < 100 MB | $(yesno "$hwm_big_mb < 100") |
| 6 | live / quiet requests/s, readers over every section feed while ${LIVE_SECTIONS} sections change | ${b6_ratio}× (${b6_live} vs ${b6_quiet} req/s; pairs: ${b6_pairs% }) | ≥ 0.8× | $(yesno "$b6_ratio >= 0.8") |
| 6 | live p99, same | ${b6_p99_worst} ms (worst of $ROUNDS runs) | < 20 ms | $(yesno "$b6_p99_worst < 20") |
| 7 | behind nginx proxy_cache / direct, every section feed (gzip) | ${b7_ratio}× (${b7_proxy} vs ${b7_direct} req/s; X-Cache-Status after warm-up: $(get b7_cache_status)) | (reported) | |

## 1. Serving, cached

Store: 1,000 sections in 10 sources, 100,000 items, filled through \`Store::apply_batch_deferred\` (pages of
30). \`wrk -t2 -c64 -d${DUR}s\` on \`${HOT_QUERY}\` (render cache hit after the first request)
against nginx serving the identical $(get feed_bytes) response bytes as a static file
(\`sendfile\`, \`open_file_cache\`, \`access_log off\`, 2 workers), alternated.

| run | requests/s | p50 ms | p99 ms | max ms | errors |
|---|---|---|---|---|---|
EOF
    wrk_rows b1 "headwire" "nginx"
    cat <<EOF

## 2. Serving, uncached

Same store and server. wrk's script rotates over 1,000 sections × limits 41–60 (20,000
distinct queries per cycle; the 32 MiB render cache holds about 1,000 feeds), so every
request is a query plus a render: headwire counted ${b2_renders} renders and ${b2_hits} cache hits
for ${b2_requests} requests. Baseline: nginx rotating over 1,000 static copies of the feed.

| run | requests/s | p50 ms | p99 ms | max ms | errors |
|---|---|---|---|---|---|
EOF
    wrk_rows b2 "headwire (renders)" "nginx (1,000 files)"
    cat <<EOF

## 6. Live serving

The 100k-item store again, with \`[server] cache_mb = 256\` (every section feed fits). Readers:
\`wrk -t2 -c64 -d${DUR}s\` rotating over \`/feed.atom?section=secNNNN&limit=50\` for all 1,000
sections with \`Accept-Encoding: gzip\`. Live: ${LIVE_SECTIONS} sections poll pages (nginx) that gain
one new story every second, every ${LIVE_INTERVAL}, so a page is committed every
$(calc "$(echo "$LIVE_INTERVAL" | tr -dc 0-9) / ${LIVE_SECTIONS}" 2) s or so; quiet: the same
readers on the same store with those sections pointed at a closed port (polling stopped).
Alternated quiet, live; new items stored during the live runs: ${b6_new% }.

| run | requests/s | p50 ms | p99 ms | max ms | errors | renders | cache hits |
|---|---|---|---|---|---|---|---|
EOF
    for r in $(seq 1 "$ROUNDS"); do
        for mode in quiet live; do
            p="b6_${mode}_$r"
            echo "| $mode #$r | $(get "${p}_rps") | $(get "${p}_p50_ms") | $(get "${p}_p99_ms") | $(get "${p}_max_ms") | $(get "${p}_errors")/$(get "${p}_non2xx") | $(get "${p}_renders") | $(get "${p}_hits") |"
        done
    done
    cat <<EOF

## 7. Behind a shared cache

nginx \`proxy_cache\` in front of headwire, set up as \`docs/nginx-cache.conf\` (revalidate,
serve stale while updating, one upstream request per stale feed), on the quiet 100k store of 6
(256 MiB render cache, so both sides answer from a cache): wrk rotating
over every section feed with \`Accept-Encoding: gzip\` through the cache and directly, alternated.
After the warm-up the cache answered \`X-Cache-Status: $(get b7_cache_status)\`.

| run | requests/s | p50 ms | p99 ms | max ms | errors |
|---|---|---|---|---|---|
EOF
    for r in $(seq 1 "$ROUNDS"); do
        for who in proxy direct; do
            p="b7_${who}_$r"
            echo "| $who #$r | $(get "${p}_rps") | $(get "${p}_p50_ms") | $(get "${p}_p99_ms") | $(get "${p}_max_ms") | $(get "${p}_errors")/$(get "${p}_non2xx") |"
        done
    done
    cat <<EOF

## 3. Store scaling (issue 5's proof)

\`bench query\` (examples/bench.rs) opens a store copy and runs \`?section=X&limit=50\` the way
the server does (\`Store::query\` on the section's label index, then \`render::atom::render\`),
in-process, over the 20 "hot" sections (each holds ≥ 50 items at every size, so every query
returns 50 items; fewest returned: ${q_min_items}). First touch = the first query of each section
after open; warm = 100 more rounds (2,000 queries), timed per query (wall) and as the thread's
CPU time over all of them (from /proc/thread-self/stat; CPU time does not grow when other
processes take the core, so the target is judged on it). Sizes alternated 10k, 100k,
${BIG_LABEL}, ${QROUNDS} times, one process each; medians of the ${QROUNDS} runs.

| items | fill rate (items/s) | disk MiB | open ms | RSS after open MB | first-touch median ms | warm median ms | warm p99 ms | warm CPU ms / query |
|---|---|---|---|---|---|---|---|---|
EOF
    for size in "${SIZES[@]}"; do
        disk=$([[ $size == "$BIG" ]] && get disk_bytes_big || get "disk_bytes_$size")
        echo "| $(commas "$size") | $(get "fill_${size}_rate") | $(mb "$disk") | ${QO[$size]} | $(calc "$(get "q_${size}_rss_open_kb_1") / 1024" 1) | ${QF[$size]} | ${QW[$size]} | ${QP[$size]} | ${QC[$size]} |"
    done
    cat <<EOF

Cache misses: 2,000 queries rotating over all 1,000 sections (every section holds at least 50
items from 100k on) in a fresh process, and its RSS (no HTTP server involved):

| items | median ms | p99 ms | RSS after open MB | peak RSS MB |
|---|---|---|---|---|
EOF
    for size in "${SIZES[@]:1}"; do
        echo "| $(commas "$size") | $(get "s_${size}_spread_median_ms") | $(get "s_${size}_spread_p99_ms") | $(calc "$(get "s_${size}_rss_open_kb") / 1024" 1) | $(calc "$(get "s_${size}_hwm_kb") / 1024" 1) |"
    done
    cat <<EOF

### Search (\`bench search\`)

\`?q=\` the way the server runs it (\`Store::query\` with folded words, limit 50, no time budget),
in-process on the same stores, 20 queries of each kind: a word no story holds (every search text
is read), a headline's unique number (its story anywhere in time, and the neighbours whose summaries
quote it: $(get search_100000_rare_found) stories over the 20 queries at 100k) and a common headline word (50 found among the
newest).

| items | no match median / p99 ms | one story median / p99 ms | common word median / p99 ms | all p99 ms |
|---|---|---|---|---|
EOF
    for size in "${SIZES[@]:1}"; do
        echo "| $(commas "$size") | $(get "search_${size}_none_median_ms") / $(get "search_${size}_none_p99_ms") | $(get "search_${size}_rare_median_ms") / $(get "search_${size}_rare_p99_ms") | $(get "search_${size}_common_median_ms") / $(get "search_${size}_common_p99_ms") | $(get "search_${size}_all_p99_ms") |"
    done
    cat <<EOF

## 4. Polling

1,000 distinct list pages of $(get page_bytes) bytes on average (examples/bench.rs \`portal\`:
the shape of a Chinese portal's channel page — head with styles and scripts, a 120-link
navigation bar, the 30-headline \`ul.new-left-list\` with image, title, summary, time, counters and
topic label, ranking columns, a footer of links), served by nginx as static files (ETag on).
\`headwire poll --once\` with \`concurrency = 64\`, \`per_host = 64\`, \`host_delay = "0"\` on a
fresh store, then again on the same store, where every page answers 304 to \`If-None-Match\`.
CPU is user + system from getrusage (bash \`time\`), the whole process (start-up, config with
1,000 sections, store open and flush included). nginx's own CPU is shown to prove the fixture
is not the bottleneck.

| run | wall s | CPU s (user + sys) | CPU ms / page | nginx CPU s | headlines stored | 304s | summary |
|---|---|---|---|---|---|---|---|
EOF
    for r in $(seq 1 "$ROUNDS"); do
        for kind in full 304; do
            p="b4_${kind}_$r"
            echo "| $([[ $kind == full ]] && echo "full" || echo "all 304") #$r | $(get "${p}_wall") | $(get "${p}_cpu") ($(get "${p}_user") + $(get "${p}_sys")) | $(calc "$(get "${p}_cpu")" 2) | $(get "${p}_nginx_cpu") | $(get "${p}_found") | $(get "${p}_unchanged") | $(get "${p}_summary") |"
        done
    done
    cat <<EOF

## 5. Memory

Peak resident set (\`VmHWM\` from /proc) of \`headwire serve\`, read after benchmarks 1–2 ran
against it (the ${BIG_LABEL} row ran one ${DUR}s cached and one ${DUR}s uncached wrk run).

| store | RSS after start MB | peak RSS MB | cached req/s | uncached req/s | uncached p99 ms |
|---|---|---|---|---|---|
| 100,000 items | $(calc "$(get serve_open_rss_100000_kb) / 1024" 1) | ${hwm_100k_mb} | ${b1_hw} | $(mean_of b2_hw rps 0) | $(mean_of b2_hw p99_ms) |
| $(commas "$BIG") items | $(calc "$(get serve_open_rss_big_kb) / 1024" 1) | ${hwm_big_mb} | $(get b5_cached_rps) | $(get b5_uncached_rps) | $(get b5_uncached_p99_ms) |

Not a target, for context: one request to each page that is not a feed, made after the peak
above was read (they count or scan the store per request):

| store | \`/\` s | \`/api/status\` s | \`/metrics\` s | peak RSS afterwards MB |
|---|---|---|---|---|
| 100,000 items | $(get r100000_route_) | $(get r100000_route_api_status) | $(get r100000_route_metrics) | $(calc "$(get r100000_hwm_after_routes_kb) / 1024" 1) |
| $(commas "$BIG") items | $(get rbig_route_) | $(get rbig_route_api_status) | $(get rbig_route_metrics) | $(calc "$(get rbig_hwm_after_routes_kb) / 1024" 1) |
EOF
    ft_section
    cat <<EOF

## Commands

\`\`\`sh
bench/run.sh                                   # everything below, then rewrites this file
BENCH_ONLY=fulltext bench/run.sh               # 8 only: full text on/off, content feeds, cached images
cargo build --release --examples --bins
target/release/examples/bench fill --data D --from 0 --to 10000 --start-epoch S   # then 100000, ${BIG}
target/release/examples/bench query --data D-SIZE --rounds 100   # sizes alternated; --spread 2000 for misses
target/release/examples/bench search --data D-SIZE --rounds 20 --items SIZE   # 3b, 100k and 1M
wrk -t2 -c64 -d${DUR}s -s bench/wrk_report.lua 'http://127.0.0.1:PORT${HOT_QUERY}'   # headwire, then nginx
BENCH_ROTATE=feed wrk -t2 -c64 -d${DUR}s -s bench/wrk_report.lua http://127.0.0.1:PORT/     # uncached
target/release/examples/bench portal --dir WWW --port NGINX_PORT --out poll.toml
time HEADWIRE_DATA=pollstore target/release/headwire poll --once --config poll.toml     # twice
\`\`\`
EOF
    ANALYSIS=${BENCH_ANALYSIS:-$ROOT/bench/analysis.md}
    if [[ -f $ANALYSIS ]]; then
        echo
        cat "$ANALYSIS"
    fi
} >"$OUT"
log "done in ${ELAPSED}s; $OUT written"
}

if [[ -n ${BENCH_REPORT_ONLY:-} ]]; then
    # Rewrite the report from an earlier run's results (BENCH_WORK must name its directory),
    # e.g. after editing bench/analysis.md; with BENCH_ONLY=fulltext, section 8 only.
    if [[ ${BENCH_ONLY:-} == fulltext ]]; then
        splice_fulltext
    else
        step_report
    fi
    exit 0
fi
install_tools
build
if [[ ${BENCH_ONLY:-} == live ]]; then
    # Re-run 6 and 7 only, on the stores of an earlier run (BENCH_WORK names its directory);
    # the report keeps that run's other figures.
    start_nginx
    step_live
    step_report
    exit 0
fi
if [[ ${BENCH_ONLY:-} == search ]]; then
    # Re-run 3b only, on the stores of an earlier run (BENCH_WORK names its directory).
    step_search
    step_report
    exit 0
fi
if [[ ${BENCH_ONLY:-} == fulltext ]]; then
    # Run 8 alone (about 3 minutes) and rewrite only section 8 of the report.
    start_nginx
    step_fulltext
    splice_fulltext
    exit 0
fi
step_store
step_search
start_nginx
step_serve
step_live
step_poll
step_fulltext
put total_secs $(($(date +%s) - T_START))
put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
put run_date "$(date -u '+%Y-%m-%d %H:%M UTC')"
step_report
