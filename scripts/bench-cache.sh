#!/usr/bin/env bash
# bench-cache.sh - HTTP cache hit path: Gatehouse's cache against nginx's
# proxy_cache, side by side on one machine (docs/performance.md, "HTTP cache
# hits").
#
# Reuses the side-by-side harness (../shared/bench, see its README): its Go
# origin (backend/), its helpers (lib.sh: spawn/stop by PID, CPU ticks, RSS)
# and its placement. PIN=1 (default): the proxy on CPU 1 with one worker
# (nginx worker_processes 1, GOMAXPROCS=1), wrk and the origin on CPU 0, so
# req/s is the proxy's single-core capacity and the ratio to nginx a ratio
# of per-core efficiency.
#
# What is measured: every response comes from the cache. The origin's
# /bytes/N carries no Cache-Control, so both proxies are told to store 200s
# for 10 minutes: nginx `proxy_cache_valid 200 10m`, Gatehouse
# `force_ttl: { "200": 10m }`. Each (proxy, size, round) starts a fresh
# proxy, fills the cache with one request, checks the second is a hit, runs
# WARMUP s of load, then DURATION s measured with wrk (CONNS connections).
# The origin's request counter proves the hits: `origin` in the table is
# the number of requests that reached it during the measured run (~0).
#
# Output (stdout): a table of medians over REPEATS interleaved rounds, then
#   CPURATIO target/nginx small=.. large=..   CPU us per request / nginx's
#   RATIO target/nginx small=.. large=..      req/s / nginx's (>1 faster)
#   P99RATIO target/nginx small=.. large=..   p99 / nginx's (>1 worse tail)
# prefixed with "CACHE ". Quote ratios, never absolute req/s.
#
# Usage:
#   scripts/bench-cache.sh                         # builds bin/gatehouse's source into a temp dir
#   GATEHOUSE=bin/gatehouse REPEATS=5 scripts/bench-cache.sh
# Knobs: GATEHOUSE, BENCH_DIR, PIN, PROXY_CPUS, LOAD_CPUS, REPEATS (3),
# DURATION (3), WARMUP (1), CONNS (64), SMALL_BYTES (1024), LARGE_BYTES
# (102400), BASE_PORT (18280: origin; proxy = +1), QUIET_PCT (15),
# QUIET_WAIT (3), KEEP_WORK (0), GO.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR=${BENCH_DIR:-$(cd "$REPO/../shared/bench" 2>/dev/null && pwd)}
[[ -f $BENCH_DIR/lib.sh ]] || {
	echo "bench-cache: the harness is not at '$BENCH_DIR' (set BENCH_DIR)" >&2
	exit 1
}
# shellcheck source=/dev/null
source "$BENCH_DIR/lib.sh"

PIN=${PIN:-1}
PROXY_CPUS=${PROXY_CPUS:-1}
LOAD_CPUS=${LOAD_CPUS:-0}
if [[ $PIN == 1 ]]; then WORKERS=${WORKERS:-1}; else WORKERS=${WORKERS:-2}; fi
WRK_THREADS=${WRK_THREADS:-$([[ $PIN == 1 ]] && echo 1 || echo 2)}
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-64}
SMALL_BYTES=${SMALL_BYTES:-1024}
LARGE_BYTES=${LARGE_BYTES:-102400}
BASE_PORT=${BASE_PORT:-18280}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-3}
KEEP_WORK=${KEEP_WORK:-0}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
GATEHOUSE=${GATEHOUSE:-}

ORIGIN="127.0.0.1:$BASE_PORT"
LISTEN="127.0.0.1:$((BASE_PORT + 1))"

need() { command -v "$1" >/dev/null || die "missing tool: $1 ($2)"; }
need wrk "apt-get install wrk"
need nginx "apt-get install nginx-light"
need curl "apt-get install curl"
need taskset "apt-get install util-linux"
[[ -x $GO ]] || command -v "$GO" >/dev/null || die "Go toolchain not found at '$GO' (set GO=)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/benchcache.XXXXXX")
chmod 755 "$WORK" # nginx workers may run as an unprivileged user
cleanup() {
	local rc=$?
	set +e
	stop_all
	if [[ $KEEP_WORK == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
raise_nofile 65536
for a in "$ORIGIN" "$LISTEN"; do port_free "$a" || die "$a is already in use (set BASE_PORT)"; done

# ---------------------------------------------------------------- build
log "building the origin (and gatehouse unless GATEHOUSE is set) into $WORK"
build_go backend "$WORK/backend"
if [[ -z $GATEHOUSE ]]; then
	(cd "$REPO" && "$GO" build -trimpath -o "$WORK/gatehouse" ./cmd/gatehouse) || die "go build ./cmd/gatehouse failed"
	GATEHOUSE=$WORK/gatehouse
fi
[[ -x $GATEHOUSE ]] || die "GATEHOUSE=$GATEHOUSE is not an executable file"

# ---------------------------------------------------------------- configs
# nginx: the harness's proxy settings plus a cache zone. sendfile on as in
# Debian's stock nginx.conf (hits are served from the cache file); the
# cache lives in $WORK, so in the page cache after the first request.
mkdir -p "$WORK/nginx/cache"
cat >"$WORK/nginx.conf" <<EOF
worker_processes $WORKERS;
worker_rlimit_nofile $(ulimit -n);
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    proxy_cache_path $WORK/nginx/cache levels=1:2 keys_zone=hits:10m max_size=256m inactive=60m use_temp_path=off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream origin {
        server $ORIGIN;
        keepalive 1024;
    }
    server {
        listen $LISTEN;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_buffer_size 16k;
            proxy_buffers 16 16k;
            proxy_cache hits;
            proxy_cache_valid 200 10m;
            # Gatehouse sends Cache-Status on every response; this is nginx's equivalent.
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF

# Gatehouse: quick mode's configuration (one route, access log off) with
# the cache told to keep 200s for 10 minutes, as nginx is.
cat >"$WORK/gatehouse.yaml" <<EOF
listeners: [ { address: "$LISTEN" } ]
log: { access: { enabled: false } }
routes:
  - match: { path: /* }
    middleware:
      - cache: { size: 256MB, force_ttl: { "200": 10m } }
    upstream: origin
upstreams:
  origin: { targets: [ "$ORIGIN" ] }
EOF

# ---------------------------------------------------------------- processes
start_proxy() { # PROXY
	case $1 in
	nginx) spawn nginx "$PROXY_CPUS" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx.conf" ;;
	target) spawn target "$PROXY_CPUS" env "GOMAXPROCS=$WORKERS" "$GATEHOUSE" run -c "$WORK/gatehouse.yaml" ;;
	esac
	PROXY_PID=$SPAWNED_PID
	if ! wait_http "http://$LISTEN/bytes/16" "$PROXY_PID"; then
		tail -n 20 "$WORK/$1.log" >&2 || true
		die "$1 failed to start"
	fi
}

# hit_check PROXY PATH: fill the cache, then require the next response to be a hit.
hit_check() {
	local hdr
	curl -s -o /dev/null --max-time 5 "http://$LISTEN$2"
	hdr=$(curl -s -D - -o /dev/null --max-time 5 "http://$LISTEN$2" | tr -d '\r')
	case $1 in
	nginx) grep -qi '^X-Cache-Status: HIT' <<<"$hdr" ;;
	target) grep -qi '^Cache-Status: gatehouse; *hit' <<<"$hdr" ;;
	esac || {
		echo "$hdr" >&2
		die "$1: the second GET $2 was not a cache hit"
	}
}

origin_requests() { curl -s --max-time 2 "http://$ORIGIN/stats" | sed 's/.*"requests":\([0-9]*\).*/\1/'; }

wait_quiet() { # as run.sh: PREBUSY = whole-machine busy% with the proxy idle
	local i a b
	for ((i = 0; i < QUIET_WAIT * 4 || i == 0; i++)); do
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		sleep 0.25
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
		PREBUSY=$(echo "$a $b" | awk '{ d = $4 - $2; print (d > 0 ? int(100 * ($3 - $1) / d) : 0) }')
		((PREBUSY < QUIET_PCT)) && return 0
	done
	log "warning: machine not quiet (${PREBUSY}% busy with the proxy idle)"
}

wrk_run() { # SECONDS URL OUT
	local cmd=(wrk -t "$WRK_THREADS" -c "$CONNS" -d "$1s" --timeout 5s --latency "$2")
	[[ $PIN == 1 ]] && cmd=(taskset -c "$LOAD_CPUS" "${cmd[@]}")
	"${cmd[@]}" >"$3" 2>&1 </dev/null &
	LOAD_PID=$!
	TRACKED_PIDS+=("$LOAD_PID")
	wait "$LOAD_PID" || true
	untrack "$LOAD_PID"
}

parse_wrk() { # FILE -> "rps p50_ms p99_ms errors requests" (as run.sh)
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v)-2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v)-2) + 0
		if (v ~ /s$/)  return substr(v, 1, length(v)-1) * 1000
		return v + 0
	}
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/requests in/ { req = $1 }
	/Socket errors/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx/ { err += $5 }
	/^Requests\/sec/ { rps = $2 }
	END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, err, req }' "$1"
}

RAW="$WORK/results.tsv"
: >"$RAW"
# measure ROUND PROXY SCENARIO PATH
measure() {
	local round=$1 p=$2 sc=$3 path=$4 out="$WORK/wrk.out" t0 t1 s0 s1 o0 o1 rss rps p50 p99 err req cpu busy
	wait_quiet
	start_proxy "$p"
	hit_check "$p" "$path"
	((WARMUP > 0)) && wrk_run "$WARMUP" "http://$LISTEN$path" "$WORK/warmup.out"
	o0=$(origin_requests)
	t0=$(proc_ticks "$PROXY_PID")
	s0=$(cpu_snapshot)
	wrk_run "$DURATION" "http://$LISTEN$path" "$out"
	s1=$(cpu_snapshot)
	t1=$(proc_ticks "$PROXY_PID")
	o1=$(($(origin_requests) - 1)) # minus the /stats request itself
	rss=$(rss_kb "$PROXY_PID")
	stop_pid "$PROXY_PID"
	read -r rps p50 p99 err req <<<"$(parse_wrk "$out")"
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')
	busy=$(cpu_busy "$s0" "$s1")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$p" "$sc" "$rps" "$p50" "$p99" "$err" "$cpu" \
		"$rss" "$busy" "$((o1 - o0))" "$PREBUSY" >>"$RAW"
	log "$(printf 'round %d  %-7s %-5s %8s req/s  p50 %6sms  p99 %7sms  err %s  cpu %sus/req  busy %s  origin %s  bg %s%%' \
		"$round" "$p" "$sc" "$rps" "$p50" "$p99" "$err" "$cpu" "$busy" "$((o1 - o0))" "$PREBUSY")"
}

# ---------------------------------------------------------------- run
log "origin on $ORIGIN, proxies on $LISTEN; PIN=$PIN (proxy cpus $PROXY_CPUS, load+origin cpus $LOAD_CPUS)"
if [[ $PIN == 1 ]]; then
	spawn backend "$LOAD_CPUS" env "GOMAXPROCS=$(taskset -c "$LOAD_CPUS" nproc)" "$WORK/backend" -listen "$ORIGIN"
else
	spawn backend "" "$WORK/backend" -listen "$ORIGIN"
fi
wait_http "http://$ORIGIN/bytes/16" "$SPAWNED_PID" || die "origin failed to start"

PROXIES=(nginx target)
for ((r = 1; r <= REPEATS; r++)); do
	# Rotate the order each round so drift hits both alike.
	order=("${PROXIES[@]}")
	((r % 2 == 0)) && order=(target nginx)
	for p in "${order[@]}"; do
		measure "$r" "$p" small "/bytes/$SMALL_BYTES"
		measure "$r" "$p" large "/bytes/$LARGE_BYTES"
	done
done

# ---------------------------------------------------------------- report
col() { awk -F'\t' -v p="$1" -v s="$2" -v c="$3" '$2 == p && $3 == s { print $c }' "$RAW"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "# HTTP cache hits  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# host: $(nproc) cpus ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r), $(nginx -v 2>&1)"
echo "# PIN=$PIN workers=$WORKERS conns=$CONNS; $REPEATS interleaved rounds x ${DURATION}s (+${WARMUP}s warm-up); median shown"
echo "# small = GET /bytes/$SMALL_BYTES, large = GET /bytes/$LARGE_BYTES; cpu us = proxy CPU per request (least noisy);"
echo "# busy% = CPU0/CPU1 in the last round; origin = most requests that reached the origin in a run (0 = all hits);"
echo "# bg% = worst whole-machine busy% before a run (foreign load; > 15: distrust req/s and p99, compare cpu us)"
fmt='%-6s %-7s %9s %8s %8s %7s %7s %8s %8s %7s %5s\n'
printf "$fmt" size proxy "req/s" "p50 ms" "p99 ms" errors "cpu us" "RSS MiB" "busy%" origin "bg%"
for s in small large; do
	for p in nginx target; do
		printf "$fmt" "$s" "$p" "$(col $p $s 4 | median)" "$(col $p $s 5 | median)" "$(col $p $s 6 | median)" \
			"$(col $p $s 7 | awk '{ t += $1 } END { print t + 0 }')" "$(col $p $s 8 | median)" \
			"$(col $p $s 9 | median | awk '{ printf "%.1f", $1 / 1024 }')" "$(col $p $s 10 | tail -n 1)" \
			"$(col $p $s 11 | sort -g | tail -n 1)" "$(col $p $s 12 | sort -g | tail -n 1)"
	done
done
echo
linecpu="CACHE CPURATIO target/nginx" line="CACHE RATIO target/nginx" line99="CACHE P99RATIO target/nginx"
for s in small large; do
	linecpu+=" $s=$(ratio "$(col target $s 8 | median)" "$(col nginx $s 8 | median)")"
	line+=" $s=$(ratio "$(col target $s 4 | median)" "$(col nginx $s 4 | median)")"
	line99+=" $s=$(ratio "$(col target $s 6 | median)" "$(col nginx $s 6 | median)")"
done
echo "$linecpu"
echo "$line"
echo "$line99"
