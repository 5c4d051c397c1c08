#!/usr/bin/env bash
# Container proof for headwire: builds the repo's Dockerfile with podman and checks
# the image end to end, on a machine with no Docker engine and no image registry.
#
#   scripts/container-test.sh          (as root; run by .ci/run)
#
# What it does:
#  1. installs its host tools (podman, runc, debootstrap) when missing;
#  2. creates local stand-ins for the base images the Dockerfile names, since none
#     can be pulled here: debian:bookworm from `debootstrap --variant=minbase` and
#     the pinned rust:<version>-bookworm from that base + gcc + the host's own Rust
#     toolchain (reused when they already exist);
#  3. vendors the crates on the host (`cargo vendor`; the host trusts the HTTPS
#     proxy's CA, a build container would not) and builds the *unchanged*
#     Dockerfile cold (--no-cache) and warm (after a source-only edit), in a network
#     namespace with no network at all, the vendor directory and a cargo config that
#     points at it mounted for the RUN steps;
#  4. runs the image against a fixture portal served on 127.0.0.1 and checks:
#     /healthz, a feed with items, the HEALTHCHECK, the non-root user, a clean and
#     quick exit on SIGTERM, the items surviving into a new container on the same
#     volume, the baked-in default config, and the image size (< 30 MB).
#
# Environment knobs (all optional):
#   HW_CT_WORK   cache directory kept between runs   (/var/tmp/headwire-container-test)
#   HW_CT_IMAGE  tag for the image under test       (localhost/headwire:container-test)
#   HW_CT_PORT   host port the container listens on (8080; another free one if busy)
#   HW_CT_MIRROR Debian mirror for debootstrap      (read from /etc/apt sources)
#   HW_CT_SKIP_COLD=1  skip the --no-cache build (the warm build then starts from
#                      whatever layers the cache holds)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${HW_CT_WORK:-/var/tmp/headwire-container-test}
IMAGE=${HW_CT_IMAGE:-localhost/headwire:container-test}
LABEL=headwire-container-test
RUN_ID=$$
CTR=hw-ct-$RUN_ID
VOL=hw-ct-$RUN_ID-data
# Runtime options this VM needs (crun and the default rlimits fail here).
RUNOPTS=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --label "$LABEL=1")
MAX_IMAGE_BYTES=30000000
MAX_STOP_MS=5000

PASS=0
FAIL=0
declare -a RESULTS=()
FIXTURE_PID=
T_START=$(date +%s)

log() { printf '[container-test %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
ok() { PASS=$((PASS + 1)); RESULTS+=("ok   - $*"); log "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); RESULTS+=("FAIL - $*"); log "FAIL - $*"; }
check() { # check NAME CMD...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
die() {
	bad "$*"
	summary
	exit 1
}
now_ms() { date +%s%3N; }
podman_q() { podman "$@" 2> >(grep -v 'systemd' >&2); } # hide "no systemd for healthcheck timers" noise

summary() {
	echo
	echo "================ headwire container test ================"
	printf '%s\n' "${RESULTS[@]}"
	[ -n "${IMAGE_BYTES:-}" ] && printf 'image size:  %s bytes (%s MB)\n' "$IMAGE_BYTES" "$(awk -v b="$IMAGE_BYTES" 'BEGIN{printf "%.1f", b/1000000}')"
	[ -n "${COLD_S:-}" ] && printf 'cold build:  %ss (--no-cache; dependencies + headwire)\n' "$COLD_S"
	[ -n "${WARM_S:-}" ] && printf 'warm build:  %ss (source-only change; dependency layer from cache: %s)\n' "$WARM_S" "${WARM_DEPS_CACHED:-?}"
	[ -n "${SIGTERM_MS:-}" ] && printf 'SIGTERM:     exit %s after %s ms\n' "${SIGTERM_RC:-?}" "$SIGTERM_MS"
	printf 'total time:  %ss\n' "$(($(date +%s) - T_START))"
	echo "container-test: $PASS passed, $FAIL failed"
}

cleanup() {
	local ids
	ids=$(podman ps -aq --filter "label=$LABEL=1" 2>/dev/null || true)
	[ -n "$ids" ] && podman rm -f -t 0 $ids >/dev/null 2>&1
	podman volume rm -f "$VOL" "$VOL-default" >/dev/null 2>&1
	if [ -n "$FIXTURE_PID" ]; then kill "$FIXTURE_PID" 2>/dev/null; fi
	rm -rf "$WORK/run-$RUN_ID"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || {
	echo "container-test: must run as root (rootful podman)" >&2
	exit 1
}
mkdir -p "$WORK"
RUNDIR=$WORK/run-$RUN_ID
mkdir -p "$RUNDIR"

# ---------------------------------------------------------------- host tools
need=()
for t in podman runc debootstrap curl python3 ss unshare; do
	command -v "$t" >/dev/null 2>&1 || need+=("$t")
done
if [ ${#need[@]} -gt 0 ]; then
	pkgs=()
	for t in "${need[@]}"; do
		case $t in
		python3) pkgs+=(python3-minimal) ;;
		ss) pkgs+=(iproute2) ;;
		unshare) pkgs+=(util-linux) ;;
		*) pkgs+=("$t") ;;
		esac
	done
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >"$WORK/apt.log" 2>&1 &&
		apt-get install -y -qq "${pkgs[@]}" >>"$WORK/apt.log" 2>&1 ||
		{
			tail -20 "$WORK/apt.log"
			die "apt-get install ${pkgs[*]}"
		}
fi
log "$(podman --version), $(runc --version | head -1)"
# Clear what an interrupted earlier run of this script may have left behind.
stale=$(podman ps -aq --filter "label=$LABEL=1")
[ -n "$stale" ] && podman rm -f -t 0 $stale >/dev/null 2>&1

# ---------------------------------------------------------------- stand-in base images
DOCKERFILE=$ROOT/Dockerfile
[ -f "$DOCKERFILE" ] || die "no Dockerfile at $DOCKERFILE"
RUST_IMAGE=$(awk 'toupper($1)=="FROM" && $2!="scratch" {print $2; exit}' "$DOCKERFILE")
case $RUST_IMAGE in */*) ;; *) RUST_IMAGE=docker.io/library/$RUST_IMAGE ;; esac
RUST_VERSION=$(sed -n 's/.*rust:\([0-9][0-9.]*\)-.*/\1/p' <<<"$RUST_IMAGE")
[ -n "$RUST_VERSION" ] || die "cannot read the rust image version from '$RUST_IMAGE'"
BASE_IMAGE=docker.io/library/debian:bookworm
log "builder image named by the Dockerfile: $RUST_IMAGE (rust $RUST_VERSION)"

debian_mirror() {
	if [ -n "${HW_CT_MIRROR:-}" ]; then
		echo "$HW_CT_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' |
		grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -1)
	echo "${m:-http://deb.debian.org/debian}"
}

if ! podman image exists "$BASE_IMAGE"; then
	MIRROR=$(debian_mirror)
	log "creating stand-in $BASE_IMAGE: debootstrap --variant=minbase bookworm from $MIRROR"
	rm -rf "$WORK/rootfs"
	debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
		{
			tail -20 "$WORK/debootstrap.log"
			die "debootstrap"
		}
	rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
	tar -C "$WORK/rootfs" --numeric-owner -cf - . |
		podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >"$WORK/import.log" 2>&1 ||
		{
			cat "$WORK/import.log"
			die "podman import $BASE_IMAGE"
		}
	rm -rf "$WORK/rootfs"
fi
ok "stand-in $BASE_IMAGE present"

if ! podman image exists "$RUST_IMAGE"; then
	SYSROOT=$(RUSTUP_TOOLCHAIN=$RUST_VERSION rustc --print sysroot 2>/dev/null)
	[ -n "$SYSROOT" ] && "$SYSROOT/bin/rustc" -V | grep -q "^rustc $RUST_VERSION " ||
		die "host has no Rust $RUST_VERSION toolchain for the $RUST_IMAGE stand-in"
	log "creating stand-in $RUST_IMAGE from $BASE_IMAGE + gcc + host toolchain $SYSROOT"
	SCTX=$WORK/rust-standin
	rm -rf "$SCTX"
	mkdir -p "$SCTX/toolchain"
	tar -C "$SYSROOT/" --exclude ./share/doc -cf - . | tar -C "$SCTX/toolchain" -xf -
	TC=/usr/local/rustup/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu
	cat >"$SCTX/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin RUST_VERSION=$RUST_VERSION
COPY toolchain $TC
RUN mkdir -p /usr/local/cargo/bin && for b in cargo rustc rustdoc; do ln -s $TC/bin/\$b /usr/local/cargo/bin/\$b; done && cargo --version && rustc --version
EOF
	podman build --isolation chroot --network host --pull=never -f "$SCTX/Containerfile" \
		-t "$RUST_IMAGE" "$SCTX" >"$WORK/rust-standin.log" 2>&1 ||
		{
			tail -30 "$WORK/rust-standin.log"
			die "build stand-in $RUST_IMAGE"
		}
	rm -rf "$SCTX"
fi
ok "stand-in $RUST_IMAGE present"

# ---------------------------------------------------------------- build context + vendored crates
CTX=$RUNDIR/ctx
mkdir -p "$CTX"
tar -C "$ROOT" --exclude ./target --exclude ./.git --exclude ./vendor -cf - . | tar -C "$CTX" -xf -
log "vendoring crates (host side)"
VENDOR=$WORK/vendor
if ! cargo vendor --locked --versioned-dirs --manifest-path "$CTX/Cargo.toml" "$VENDOR" \
	>"$RUNDIR/vendor.out" 2>"$RUNDIR/vendor.err"; then
	tail -20 "$RUNDIR/vendor.err"
	die "cargo vendor --locked (is Cargo.lock up to date?)"
fi
CARGO_CFG=$RUNDIR/cargo-config.toml
cat >"$CARGO_CFG" <<'EOF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/vendor"

[net]
offline = true
EOF
ok "crates vendored ($(find "$VENDOR" -mindepth 1 -maxdepth 1 -type d | wc -l) crates)"

# podman build of the unchanged Dockerfile; `unshare --net` gives the whole build an
# empty network namespace (chroot isolation itself only allows host networking).
BUILD=(unshare --net podman build --isolation chroot --pull=never --format docker
	-v "$VENDOR:/vendor:ro" -v "$CARGO_CFG:/usr/local/cargo/config.toml:ro"
	-f "$CTX/Dockerfile" -t "$IMAGE")

if [ "${HW_CT_SKIP_COLD:-0}" != 1 ]; then
	# Layers of earlier runs' builds are garbage once everything is rebuilt.
	podman image prune -f >/dev/null 2>&1
	log "cold build (--no-cache) ... (several minutes)"
	t0=$(date +%s)
	if "${BUILD[@]}" --no-cache "$CTX" >"$WORK/build-cold.log" 2>&1; then
		COLD_S=$(($(date +%s) - t0))
		ok "cold build in ${COLD_S}s"
	else
		tail -40 "$WORK/build-cold.log"
		die "cold build (log: $WORK/build-cold.log)"
	fi
fi

log "warm build after a source-only change ..."
printf '\n// container-test: warm rebuild marker %s\n' "$RUN_ID" >>"$CTX/src/main.rs"
t0=$(date +%s)
if "${BUILD[@]}" "$CTX" >"$WORK/build-warm.log" 2>&1; then
	WARM_S=$(($(date +%s) - t0))
	ok "warm build in ${WARM_S}s"
else
	tail -40 "$WORK/build-warm.log"
	die "warm build (log: $WORK/build-warm.log)"
fi
# The dependency step (the one building the placeholder main) must come from the
# cache, and the source step must not.
WARM_DEPS_CACHED=$(awk 'index($0, "STEP") && index($0, "fn main() {}") {s=1; next}
	s && /^--> / {print (index($0, "Using cache") ? "yes" : "no"); exit}' "$WORK/build-warm.log")
check "warm build reused the dependency layer" [ "$WARM_DEPS_CACHED" = yes ]
check "warm build recompiled headwire" grep -q 'Compiling headwire' "$WORK/build-warm.log"
check "warm build compiled no dependency" \
	[ "$(grep -c '^ *Compiling ' "$WORK/build-warm.log")" = "$(grep -c '^ *Compiling headwire' "$WORK/build-warm.log")" ]

# ---------------------------------------------------------------- image metadata
IMAGE_BYTES=$(podman image inspect --format '{{.Size}}' "$IMAGE")
check "image under 30 MB ($IMAGE_BYTES bytes)" [ "$IMAGE_BYTES" -lt "$MAX_IMAGE_BYTES" ]
CFG=$(podman image inspect --format '{{json .Config}}' "$IMAGE")
check "image runs as non-root user 10001" grep -q '"User":"10001:10001"' <<<"$CFG"
check "image declares VOLUME /data" grep -q '"Volumes":{"/data":{}}' <<<"$CFG"
check "image exposes 8080/tcp" grep -q '"8080/tcp"' <<<"$CFG"
check "image sets HEADWIRE_LISTEN=0.0.0.0:8080" grep -q '"HEADWIRE_LISTEN=0.0.0.0:8080"' <<<"$CFG"
check "image HEALTHCHECK runs 'headwire health'" \
	grep -q '^{"Test":\["CMD","/usr/local/bin/headwire","health"' <<<"$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")"
log "image content:"
podman run --rm "${RUNOPTS[@]}" --network none --entrypoint /usr/local/bin/headwire "$IMAGE" --version 2>/dev/null |
	sed 's/^/    /' || true
MNT=$(podman image mount "$IMAGE" 2>/dev/null)
if [ -n "$MNT" ]; then
	(cd "$MNT" && find . -mindepth 1 -printf '    %M %4U:%-5G %9s  /%P\n' | sort -k4)
	check "image carries a CA bundle" test -s "$MNT/etc/ssl/certs/ca-certificates.crt"
	check "image has no shell or curl" test ! -e "$MNT/bin/sh" -a ! -e "$MNT/usr/bin/curl"
	check "/data in the image is owned by 10001" [ "$(stat -c %u "$MNT/data")" = 10001 ]
	podman image unmount "$IMAGE" >/dev/null 2>&1
fi

# ---------------------------------------------------------------- fixture portal on the host
FIX=$RUNDIR/fixture
mkdir -p "$FIX/a"
cat >"$FIX/index.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>Fixture Portal</title></head>
<body><a href="/news.html">要闻</a></body></html>
EOF
cat >"$FIX/news.html" <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>要闻 - Fixture Portal</title></head>
<body>
<!-- relative times: the items stay inside the default 30-day retention on the second start -->
<ul class="list">
<li><a href="/a/1.html">标题一：容器测试头条</a><span class="time">10分钟前</span></li>
<li><a href="/a/2.html">标题二：卷上的数据</a><span class="time">1小时前</span></li>
<li><a href="/a/3.html">标题三：优雅退出</a><span class="time">2小时前</span></li>
</ul>
</body></html>
EOF
for i in 1 2 3; do
	printf '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><h1>Article %s</h1></body></html>\n' "$i" >"$FIX/a/$i.html"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
FPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$FPORT" --directory "$FIX" >"$RUNDIR/fixture.log" 2>&1 &
FIXTURE_PID=$!
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$FPORT/news.html" 2>/dev/null && break; sleep 0.1; done
check "fixture portal serving on 127.0.0.1:$FPORT" curl -fsS -o /dev/null "http://127.0.0.1:$FPORT/news.html"

CONF=$RUNDIR/feeds.toml
cat >"$CONF" <<EOF
# Fixture config for the container test. listen/store are overridden by the image's
# HEADWIRE_LISTEN / HEADWIRE_DATA.
[server]
listen = "127.0.0.1:8080"
base_url = "http://localhost:8080"

[store]
path = "data"

[[source]]
id = "fixture"
name = "Fixture Portal"
url = "http://127.0.0.1:$FPORT/"
timezone = "Asia/Shanghai"
interval = "15s"

[[source.section]]
id = "news"
name = "要闻"
url = "http://127.0.0.1:$FPORT/news.html"
item = "ul.list > li"
title = "a"
link = "a@href"
time = "span.time"
EOF
chmod 0644 "$CONF"

# The container shares the host's network namespace so that both the fixture and
# headwire stay on 127.0.0.1. The image's own port (8080) is used when it is free.
PORT=${HW_CT_PORT:-8080}
EXTRA=()
if ! port_free "$PORT"; then
	PORT=$(free_port)
	log "port 8080 is busy on this host; using $PORT"
fi
if [ "$PORT" != 8080 ]; then
	EXTRA=(-e "HEADWIRE_LISTEN=0.0.0.0:$PORT"
		--health-cmd "[\"/usr/local/bin/headwire\",\"health\",\"--url\",\"http://127.0.0.1:$PORT/healthz\"]")
fi
BASE=http://127.0.0.1:$PORT

start() { # start NAME [PODMAN-RUN-OPTIONS...]: the image on the shared volume, fixture config
	local name=$1
	shift
	podman_q run -d --name "$name" "${RUNOPTS[@]}" --network host "${EXTRA[@]}" "$@" \
		-v "$VOL:/data" -v "$CONF:/config/feeds.toml:ro" "$IMAGE" >/dev/null
}
wait_healthz() { # wait_healthz NAME SECONDS
	local deadline=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		curl -fsS -o /dev/null --max-time 2 "$BASE/healthz" 2>/dev/null && return 0
		[ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
		sleep 0.5
	done
	return 1
}
feed_items() { # number of fixture headlines in the Atom feed
	curl -fsS --max-time 5 "$BASE/feed.atom" 2>/dev/null | grep -o '标题[一二三]' | sort -u | wc -l
}
stop_term() { # stop_term NAME: SIGTERM, wait; sets STOP_RC and STOP_MS
	local t0
	t0=$(now_ms)
	podman_q kill --signal TERM "$1" >/dev/null
	STOP_RC=$(timeout 30 podman wait "$1" 2>/dev/null || echo timeout)
	STOP_MS=$(($(now_ms) - t0))
}
show_logs() { # the last lines the container logged (ANSI colours stripped, if any)
	log "--- logs of $1 (last ${2:-25} lines)"
	podman logs --tail "${2:-25}" "$1" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/    /'
}

# ---------------------------------------------------------------- run 1: fetch, health, SIGTERM
log "run 1: $IMAGE with volume $VOL and the fixture config"
start "$CTR-1" || die "podman run"
if wait_healthz "$CTR-1" 30; then ok "/healthz answers 200 on $BASE"; else
	show_logs "$CTR-1"
	die "/healthz did not come up"
fi
n=0
for _ in $(seq 90); do
	n=$(feed_items)
	[ "$n" -ge 3 ] && break
	sleep 1
done
if [ "$n" -ge 3 ]; then ok "/feed.atom carries the 3 fixture headlines"; else
	show_logs "$CTR-1"
	bad "/feed.atom carries the 3 fixture headlines (saw $n)"
fi
check "/feed.rss answers" curl -fsS -o /dev/null --max-time 5 "$BASE/feed.rss"
check "HEALTHCHECK (podman healthcheck run) is healthy" podman_q healthcheck run "$CTR-1"
check "process runs as uid 10001" [ "$(podman top "$CTR-1" huser | tail -n +2 | sort -u | tr -d ' ')" = 10001 ]
check "headwire is PID 1" [ "$(podman top "$CTR-1" pid | tail -n +2 | head -1 | tr -d ' ')" = 1 ]
check "/data is writable by the user (sled store present)" \
	sh -c "[ -n \"\$(ls -A \"$(podman volume inspect -f '{{.Mountpoint}}' "$VOL")\")\" ]"
stop_term "$CTR-1"
SIGTERM_RC=$STOP_RC
SIGTERM_MS=$STOP_MS
show_logs "$CTR-1"
check "SIGTERM: exit code 0 (got $STOP_RC)" [ "$STOP_RC" = 0 ]
check "SIGTERM: stopped in under ${MAX_STOP_MS} ms (took $STOP_MS ms)" [ "$STOP_MS" -lt "$MAX_STOP_MS" ]
check "SIGTERM: store flushed before exit (log)" sh -c "podman logs '$CTR-1' 2>&1 | grep -qi 'flushed'"

# ---------------------------------------------------------------- run 2: persistence
# The fixture goes away first, so whatever the new container serves came from the volume.
kill "$FIXTURE_PID" 2>/dev/null
wait "$FIXTURE_PID" 2>/dev/null
FIXTURE_PID=
# It also runs with compose.yaml's hardening: read-only root, no capabilities.
log "run 2: new container on the same volume, fixture portal stopped, --read-only --cap-drop ALL"
start "$CTR-2" --read-only --read-only-tmpfs=false --cap-drop ALL --security-opt no-new-privileges || die "podman run (2)"
if wait_healthz "$CTR-2" 30; then ok "second container: /healthz answers"; else
	show_logs "$CTR-2"
	die "second container: /healthz did not come up"
fi
n=$(feed_items)
if [ "$n" -ge 3 ]; then ok "items survived the restart on the volume ($n/3)"; else
	show_logs "$CTR-2"
	bad "items survived the restart on the volume ($n/3)"
fi
t0=$(now_ms)
podman_q stop -t 10 "$CTR-2" >/dev/null
ms=$(($(now_ms) - t0))
rc=$(podman inspect -f '{{.State.ExitCode}}' "$CTR-2")
check "podman stop: exit 0 in under ${MAX_STOP_MS} ms (exit $rc, $ms ms)" [ "$rc" = 0 -a "$ms" -lt "$MAX_STOP_MS" ]

# ---------------------------------------------------------------- run 3: baked-in default config
# No config mount and no network: the default config must load and the HEALTHCHECK pass.
log "run 3: baked-in default config, --network none"
podman_q run -d --name "$CTR-3" "${RUNOPTS[@]}" --network none -v "$VOL-default:/data" "$IMAGE" >/dev/null ||
	die "podman run (3)"
healthy=no
for _ in $(seq 30); do
	if podman_q healthcheck run "$CTR-3" >/dev/null 2>&1; then
		healthy=yes
		break
	fi
	[ "$(podman inspect -f '{{.State.Running}}' "$CTR-3")" = true ] || break
	sleep 0.5
done
[ "$healthy" = yes ] || show_logs "$CTR-3"
check "default config: starts and HEALTHCHECK passes" [ "$healthy" = yes ]
stop_term "$CTR-3"
check "default config: SIGTERM exit 0 ($STOP_RC, $STOP_MS ms)" [ "$STOP_RC" = 0 ]

summary
[ "$FAIL" -eq 0 ]
