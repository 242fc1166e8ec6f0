#!/usr/bin/env bash
# Overhead of TlsScope on a loaded Go HTTPS server: the repo's Go test peer (gopeer server, Go's
# net/http over crypto/tls, HTTP/1.1, keep-alive) on 127.0.0.1 under wrk, answering
# GET /big?n=1024 (a 1 KiB body), measured in requests/s in these states, one after the other:
#   untraced            nothing attached
#   noop probes (Go)    do-nothing uprobes at the sites TlsScope probes in a Go binary: the entry
#                       of crypto/tls.(*Conn).Read, Write and Close and every RET of Read and
#                       Write (bench/TlsScope.Bench noop-probes --go): the pure trap cost
#   tlsscope            the real tool, defaults (every process, HTTP parsing on), writing NDJSON
#                       to a file; its exit code (3: loss) and loss counts are recorded. It also
#                       captures wrk's side, through the libssl wrk is linked with
#   tlsscope --raw      the same with HTTP parsing off
#   untraced (again)    drift check
# and, unless DIAG=0, two that separate the Go side from wrk's (marked "diag:"):
#   noop Go + wrk ssl   the Go set plus do-nothing uprobe+uretprobe pairs on SSL_read/_write/
#                       _read_ex/_write_ex of wrk's libssl: the same probe scope as tlsscope's
#   tlsscope --pid      tlsscope --pid <the server>: the Go side only, as the noop (Go) set
# ROUNDS=N repeats the whole sequence N times and reports each state's median.
#
# Usage: sudo bench/go-overhead.sh
#   env: GO_VERSION=1.26 GO_VARIANT=default DURATION=15 WARMUP=3 CONNS=50 THREADS=2 PORT=18444
#        ROUNDS=1 DIAG=1 KEEP=0 QUIET_CPUS=0.15
# GO_VERSION/GO_VARIANT pick .build/go/bin/<version>/<variant>/gopeer (scripts/setup bench builds
# them: 1.15 1.19 1.23 1.26 in every variant, 1.21 1.22 1.24 1.25 1.27 default only).
# Every run is bounded (wrk runs WARMUP+DURATION s per state) and every process this script
# starts is stopped by its pid when it exits (bench/lib.sh, shared with overhead.sh).
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
GO_VERSION=${GO_VERSION:-1.26}
GO_VARIANT=${GO_VARIANT:-default}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT=${PORT:-18444}
ROUNDS=${ROUNDS:-1}
DIAG=${DIAG:-1}
KEEP=${KEEP:-0}
QUIET_CPUS=${QUIET_CPUS:-0.15} # a state starts once other processes use less than this many CPUs
BODY=1024

. "$root/bench/lib.sh" # die, cleanup, CPU accounting, state, median ...
[ "$(id -u)" -eq 0 ] || die "run as root: sudo bench/go-overhead.sh"
"$root/scripts/setup" bench >&2 # wrk, curl ...; the Go toolchains and the gopeer builds

gopeer="$root/.build/go/bin/$GO_VERSION/$GO_VARIANT/gopeer"
[ -x "$gopeer" ] || die "no $gopeer: GO_VERSION is one of $(ls "$root/.build/go/bin" | tr '\n' ' ')"
go_release=$("$root/.build/go/toolchains/$GO_VERSION/bin/go" version 2>/dev/null | awk '{print $3}' || true)
wrk_bin=$(command -v wrk)
libssl=$(ldd "$wrk_bin" | awk '$1 ~ /^libssl\.so/ {print $3; exit}')
[ -n "$libssl" ] || echo "go-overhead.sh: wrk is not linked with a libssl: the 'noop Go + wrk ssl' state is left out" >&2

tmp="$(mktemp -d /tmp/tlsscope-go-overhead.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM

our_pids() { # every long-running process this script started (the Go server is one process)
  echo "${started[@]}"
}

# ---- the Go server: HTTP/1.1 only (no --h2), a self-signed certificate it makes itself ----
if ss -Hltn "sport = :$PORT" | grep -q .; then die "port $PORT is in use: PORT=N bench/go-overhead.sh"; fi
"$gopeer" server --port "$PORT" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
started+=("$server_pid")
url="https://127.0.0.1:$PORT/big?n=$BODY"
for _ in $(seq 100); do
  grep -q '^listening' "$tmp/server.out" && break
  kill -0 "$server_pid" 2>/dev/null || die "gopeer did not start: $(tail -3 "$tmp/server.err")"
  sleep 0.1
done
got=$(curl -sfk --http1.1 -o /dev/null -w '%{size_download} %{http_version}' "$url") || die "gopeer does not answer on $url"
[ "$got" = "$BODY 1.1" ] || die "gopeer answered $got (bytes, HTTP version) on $url, not $BODY 1.1"

# ---- the tools under test, built before anything is measured ----
echo "go-overhead.sh: building the benchmark tool and tlsscope ..." >&2
dotnet build "$root/bench/TlsScope.Bench/TlsScope.Bench.csproj" -c Release -o "$root/.build/bench" -nologo -v q \
  >"$tmp/bench-build.log" 2>&1 || die "bench build failed; see $tmp/bench-build.log (KEEP=1 keeps it)"
"$root/tlsscope" --help >/dev/null 2>"$tmp/tlsscope-build.log" || die "tlsscope does not build: $(tail -3 "$tmp/tlsscope-build.log")"
bench=(dotnet "$root/.build/bench/TlsScope.Bench.dll")
# ./tlsscope rebuilds itself when src/ or bpf/ change: a run is one build only if this stays put.
tool_build() { stat -c %y "$root/.build/tlsscope/.stamp" 2>/dev/null || echo none; }
build0=$(tool_build)
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)

echo "go-overhead.sh: gopeer $GO_VERSION/$GO_VARIANT (${go_release:-?}) pid $server_pid on $url; wrk $wrk_bin" \
  "(libssl ${libssl:-none}) -t$THREADS -c$CONNS, ${WARMUP} s warm-up + ${DURATION} s per state, $ROUNDS round(s)" >&2

# What one tlsscope state captured, per library, from its summary (the last state's log).
declare -A LIBS NDJSON
libs_of_last() { # NAME
  local lines
  lines=$(grep -E '^tlsscope:   ' "$tmp/tracer-$n.log" 2>/dev/null | sed 's/^tlsscope: *//' | tr '\n' ';' | sed 's/;\(.\)/; \1/g' || true)
  [ -n "$lines" ] || lines="nothing captured;"
  LIBS[$1]="${LIBS[$1]:-}${lines%;}"$'\n'
  grep -E '^tlsscope:   ' "$tmp/tracer-$n.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  case "$lines" in *gopeer*) ;; *) echo "    WARNING: nothing captured from gopeer in '$1'" >&2 ;; esac
}
ndjson_of() { # NAME FILE
  NDJSON[$1]="${NDJSON[$1]:+${NDJSON[$1]},} $(wc -l <"$2" 2>/dev/null || echo 0) lines/$(du -m "$2" 2>/dev/null | cut -f1 || echo 0) MB"
  rm -f "$2"
}

tlsscope=("$root/tlsscope" --format json)
noop_go=("${bench[@]}" noop-probes --go --lib "$gopeer")
for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "round $round of $ROUNDS" >&2
  state "untraced"
  state "noop probes (Go)" "${noop_go[@]}"
  if [ "$DIAG" = 1 ] && [ -n "$libssl" ]; then
    state "diag: noop Go + wrk ssl" "${noop_go[@]}" --ssl-lib "$libssl"
  fi
  state "tlsscope" "${tlsscope[@]}" -o "$tmp/capture.ndjson"
  libs_of_last "tlsscope"
  ndjson_of "tlsscope" "$tmp/capture.ndjson"
  state "tlsscope --raw" "${tlsscope[@]}" -o "$tmp/capture-raw.ndjson" --raw
  libs_of_last "tlsscope --raw"
  ndjson_of "tlsscope --raw" "$tmp/capture-raw.ndjson"
  if [ "$DIAG" = 1 ]; then
    state "diag: tlsscope --pid server" "${tlsscope[@]}" -o "$tmp/capture-pid.ndjson" --pid "$server_pid"
    libs_of_last "diag: tlsscope --pid server"
    ndjson_of "diag: tlsscope --pid server" "$tmp/capture-pid.ndjson"
  fi
  state "untraced (again)"
done
kill -0 "$server_pid" 2>/dev/null || die "gopeer exited during the run: $(tail -3 "$tmp/server.err")"
rebuilt=
[ "$(tool_build)" = "$build0" ] || rebuilt="; WARNING: tlsscope was rebuilt during the run (the sources changed): its states mix builds"

# ---- the table ----
declare -A MED
for name in "${order[@]}"; do MED[$name]=$(echo "${RPS[$name]}" | median); done
base=${MED[untraced]}
noop=${MED["noop probes (Go)"]}
echo
echo "go overhead: gopeer server $GO_VERSION/$GO_VARIANT (${go_release:-?}), net/http HTTP/1.1 over crypto/tls," \
  "keep-alive, GET /big?n=$BODY; wrk -t$THREADS -c$CONNS -d${DURATION}s after ${WARMUP} s warm-up; $ROUNDS round(s)," \
  "median shown; $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); TlsScope $commit$rebuilt"
echo
echo "| state | req/s | vs untraced | vs noop (Go) | tlsscope exit | lost records | gaps | tracer CPU | server CPU | wrk CPU | context switches/s | other load (CPUs, max) | runs (req/s) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for name in "${order[@]}"; do
  cpu=$(echo "${TCPU[$name]}" | median)
  rc=$(echo "${RC[$name]:-}" | sed 's/^ *//; s/ \+/, /g')
  awk -v n="$name" -v r="${MED[$name]}" -v b="$base" -v z="$noop" -v l="${LOST[$name]:--}" -v g="${GAPS[$name]:--}" \
    -v c="$cpu" -v o="$(echo "${OTHER[$name]}" | maximum)" -v runs="${RPS[$name]}" -v s="$(echo "${CSW[$name]}" | median)" \
    -v sc="$(echo "${SCPU[$name]}" | median)" -v wc="$(echo "${WCPU[$name]}" | median)" \
    -v rc="$([[ "$name" == *tlsscope* ]] && echo "${rc:-?}" || echo -)" \
    'BEGIN {gsub(/^ +/, "", runs); gsub(/ +/, ", ", runs)
      printf "| %s | %.0f | %.2fx | %.2fx | %s | %s | %s | %s | %s%% | %s%% | %.0f | %s | %s |\n", n, r, r / b, r / z, rc, l, g,
        (c == 0 ? "-" : c "%"), sc, wc, s, o, runs}'
done
echo
echo "(tracer CPU, server CPU, wrk CPU: % of one CPU during the measured seconds; lost records and gaps: summed over the rounds;"
echo " tlsscope exit: 0 clean, 3 loss reported, one per round)"
for name in "${order[@]}"; do
  if [ -n "${LIBS[$name]:-}" ]; then
    printf '%s captured (per round): %s; NDJSON%s\n' "$name" "$(printf '%s' "${LIBS[$name]}" | tr '\n' '|' | sed 's/|$//; s/|/ | /g')" \
      "${NDJSON[$name]:-}"
  fi
done
echo
awk -v t="${MED[tlsscope]}" -v z="$noop" -v l="${LOST[tlsscope]:-?}" -v rc="$(echo "${RC[tlsscope]:-?}" | sed "s/^ *//")" \
  -v m="${MED["diag: noop Go + wrk ssl"]:-}" 'BEGIN {
  clean = (l == "0" && rc !~ /[^0 ]/)
  printf "target tlsscope >= 0.90x noop (Go) with 0 loss: %.2fx, lost %s, exit %s -> %s\n", t / z, l, rc, (t / z >= 0.90 && clean) ? "met" : "NOT met"
  if (m != "") printf "  (against the do-nothing set of the same scope, Go + wrk'\''s libssl: %.2fx)\n", t / m
}'
for name in "${order[@]}"; do
  if [ -n "${ERRS[$name]:-}" ]; then echo "wrk reported for $name: ${ERRS[$name]}"; fi
done
exit 0
