#!/usr/bin/env bash
# Overhead of TlsScope on a loaded TLS server: nginx (TLS, keep-alive, ~1 KiB static file) on
# 127.0.0.1 under wrk, measured in requests/s in these states, one after the other:
#   untraced            nothing attached
#   noop probes         do-nothing uprobe+uretprobe at the read/write functions TlsScope probes in
#                       the libssl nginx uses (OpenSSL's internal ones; bench/TlsScope.Bench
#                       noop-probes): the pure trap cost of TlsScope's sites
#   tlsscope            the real tool writing NDJSON to a file (its loss count is recorded);
#                       HTTP parsing on (the default): the wrk traffic becomes http_* records
#   tlsscope --raw      the same with HTTP parsing off: the difference is what parsing costs
# and, with KEYS=1 (issue 4's outputs, each on top of --raw):
#   --raw --keylog      secrets read once per handshake: what the per-call check costs
#   --raw --pcapng      plus every packet of lo through TC into a pcapng file
#   filtered (sleep)    tlsscope --pid <an unrelated `sleep`>: no uprobe anywhere
#   filtered (python)   tlsscope --pid <an idle python3 that has libssl mapped>: uprobes on the
#                       same libssl file as nginx's, but installed in that process only
#   untraced (again)    drift check
# and, unless DIAG=0, three that split TlsScope's cost (marked "diag:"):
#   noop, exported      the do-nothing pairs on SSL_read/_write/_read_ex/_write_ex instead (where
#                       other uprobe tracers probe): what the choice of site costs
#   noop + syscall tps  the do-nothing probes plus do-nothing programs on the 8 socket syscall
#                       tracepoints TlsScope attaches
#   tlsscope, no match  tlsscope --comm no-such-comm: all its probes and tracepoints run, every
#                       call is filtered out at entry, nothing reaches the ring buffer
# With DIAG=1 it also times a bare syscall (dd, 1-byte read+write pairs) untraced, with the
# do-nothing tracepoints, and with tlsscope --pid <sleep>: what TlsScope's syscall tracepoints
# add to every syscall of every process, filtered or not.
# ROUNDS=N repeats the whole sequence N times and reports each state's median: this VM is
# shared and its throughput moves by +-10% between identical runs.
# SINKS=1 adds the default capture with its output to /dev/null, as NDJSON and as text.
# PROFILE=1 samples each TlsScope state with perf and writes the hottest symbols to
# .build/profile/<state>.txt (see lib.sh); its req/s are then not benchmark figures.
#
# Usage: sudo bench/overhead.sh
#   env: DURATION=15 WARMUP=3 CONNS=50 THREADS=2 PORT=18443 ROUNDS=1 DIAG=1 KEYS=0 KEEP=0 QUIET_CPUS=0.15 PROFILE=0 SINKS=0
# Every run is bounded (wrk runs WARMUP+DURATION s per state) and every process this script
# starts is stopped by its pid when it exits. The machinery is in bench/lib.sh (shared with
# go-overhead.sh).
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT=${PORT:-18443}
ROUNDS=${ROUNDS:-1}
DIAG=${DIAG:-1}
KEYS=${KEYS:-0}
KEEP=${KEEP:-0}
QUIET_CPUS=${QUIET_CPUS:-0.15} # a state starts once other processes use less than this many CPUs
PROFILE=${PROFILE:-0}
SINKS=${SINKS:-0}
if [ "$PROFILE" = 1 ]; then
  command -v perf >/dev/null || { echo "PROFILE=1 needs perf (apt-get install linux-perf)" >&2; exit 1; }
  export DOTNET_PerfMapEnabled=1        # JIT-compiled methods named in /tmp/perf-PID.map
  export DOTNET_EnableWriteXorExecute=0 # else JIT code runs from an anonymous double mapping perf cannot name
fi

. "$root/bench/lib.sh" # die, cleanup, CPU accounting, state, median ...
[ "$(id -u)" -eq 0 ] || die "run as root: sudo bench/overhead.sh"
"$root/scripts/setup" bench >&2 # installs nginx-light, wrk, openssl, python3 ... when missing

tmp="$(mktemp -d /tmp/tlsscope-overhead.XXXXXX)"
chmod 755 "$tmp" # nginx workers run unprivileged and read www/ from here

trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- our processes, for lib.sh's CPU accounting (the VM is shared: other sessions come and go) ----
our_pids() { # every long-running process this script started, nginx's workers included
  echo "${started[@]}" $(pgrep -P "$nginx_pid" || true)
}

# ---- nginx: TLS on 127.0.0.1, keep-alive, a ~1 KiB static file ----
mkdir -p "$tmp/www" "$tmp/temp"
head -c 768 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
chmod 644 "$tmp/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
# One worker per core; reuseport spreads wrk's connections evenly over the workers.
cat >"$tmp/nginx.conf" <<EOF
worker_processes $(nproc);
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/html;
  keepalive_timeout 300s;
  keepalive_requests 1000000000;
  client_body_temp_path $tmp/temp/body;
  proxy_temp_path $tmp/temp/proxy;
  fastcgi_temp_path $tmp/temp/fastcgi;
  uwsgi_temp_path $tmp/temp/uwsgi;
  scgi_temp_path $tmp/temp/scgi;
  server {
    listen 127.0.0.1:$PORT ssl reuseport;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    root $tmp/www;
  }
}
EOF
if ss -Hltn "sport = :$PORT" | grep -q .; then die "port $PORT is in use: PORT=N bench/overhead.sh"; fi
nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' 2>>"$tmp/error.log" &
nginx_pid=$!
started+=("$nginx_pid")
url="https://127.0.0.1:$PORT/index.html"
for _ in $(seq 100); do
  curl -sfk -o /dev/null "$url" && break
  kill -0 "$nginx_pid" 2>/dev/null || die "nginx did not start: $(tail -3 "$tmp/error.log")"
  sleep 0.1
done
curl -sfk -o /dev/null "$url" || die "nginx does not answer on $url"
libssl=$(awk '$6 ~ /\/libssl\.so/ {print $6; exit}' /proc/"$nginx_pid"/maps)
[ -n "$libssl" ] || die "nginx does not map a libssl"

# ---- the tools under test, built before anything is measured ----
echo "overhead.sh: building the benchmark tool and tlsscope ..." >&2
dotnet build "$root/bench/TlsScope.Bench/TlsScope.Bench.csproj" -c Release -o "$root/.build/bench" -nologo -v q \
  >"$tmp/bench-build.log" 2>&1 || die "bench build failed; see $tmp/bench-build.log (KEEP=1 keeps it)"
"$root/tlsscope" --help >/dev/null 2>"$tmp/tlsscope-build.log" || die "tlsscope does not build: $(tail -3 "$tmp/tlsscope-build.log")"
bench=(dotnet "$root/.build/bench/TlsScope.Bench.dll")

# ---- unrelated processes for the filtered states ----
sleep 100000 &
sleep_pid=$!
started+=("$sleep_pid")
python3 -c 'import ssl, time; time.sleep(100000)' &
py_pid=$!
started+=("$py_pid")
for _ in $(seq 50); do grep -q libssl "/proc/$py_pid/maps" 2>/dev/null && break; sleep 0.1; done
grep -q libssl "/proc/$py_pid/maps" || die "python3 did not map libssl"

echo "overhead.sh: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') ($(nproc) workers) on $url, libssl $libssl;" \
  "wrk -t$THREADS -c$CONNS, ${WARMUP} s warm-up + ${DURATION} s per state, $ROUNDS round(s)" >&2

tlsscope=("$root/tlsscope" --format json)
for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "round $round of $ROUNDS" >&2
  state "untraced"
  state "noop probes" "${bench[@]}" noop-probes --lib "$libssl"
  if [ "$DIAG" = 1 ]; then
    state "diag: noop, exported" "${bench[@]}" noop-probes --lib "$libssl" --exported 1
    state "diag: noop + syscall tps" "${bench[@]}" noop-probes --lib "$libssl" --tracepoints 1
    state "diag: tlsscope, no match" "${tlsscope[@]}" -o "$tmp/nomatch.ndjson" --comm no-such-comm
  fi
  state "tlsscope" "${tlsscope[@]}" -o "$tmp/capture.ndjson"
  ndjson_lines=$(wc -l <"$tmp/capture.ndjson" 2>/dev/null || echo 0)
  ndjson_mb=$(du -m "$tmp/capture.ndjson" 2>/dev/null | cut -f1 || echo 0)
  rm -f "$tmp/capture.ndjson"
  state "tlsscope --raw" "${tlsscope[@]}" -o "$tmp/capture-raw.ndjson" --raw
  rm -f "$tmp/capture-raw.ndjson"
  if [ "$SINKS" = 1 ]; then
    # The same capture without the file: what writing ~80 MB/s of output costs, and the
    # terminal's text formatting without a terminal emulator's own cost.
    state "tlsscope, NDJSON to /dev/null" "${tlsscope[@]}" -o /dev/null
    state "tlsscope, text to /dev/null" "$root/tlsscope" -o /dev/null
  fi
  if [ "$KEYS" = 1 ]; then
    state "--raw --keylog" "${tlsscope[@]}" -o "$tmp/k.ndjson" --raw --keylog "$tmp/keys.log"
    state "--raw --pcapng" "${tlsscope[@]}" -o "$tmp/p.ndjson" --raw --keylog "$tmp/keys2.log" --pcapng "$tmp/p.pcapng" -i lo
    pcap_mb=$(du -m "$tmp/p.pcapng" 2>/dev/null | cut -f1 || echo 0)
    rm -f "$tmp/k.ndjson" "$tmp/p.ndjson" "$tmp/p.pcapng"
  fi
  state "filtered (sleep)" "${tlsscope[@]}" -o "$tmp/filtered-sleep.ndjson" --pid "$sleep_pid"
  state "filtered (python)" "${tlsscope[@]}" -o "$tmp/filtered-python.ndjson" --pid "$py_pid"
  state "untraced (again)"
done

# ---- syscall micro-cost (DIAG) ----
syscall_ns() { # median of 3: ns per syscall of dd copying 2e6 single bytes (2 syscalls each)
  local runs="" s e
  for _ in 1 2 3; do
    s=$(date +%s%N)
    dd if=/dev/zero of=/dev/null bs=1 count=2000000 2>/dev/null
    e=$(date +%s%N)
    runs="$runs $(((e - s) / 4000000))"
  done
  echo "$runs" | median
}
if [ "$DIAG" = 1 ]; then
  round=0
  wait_quiet
  sc_plain=$(syscall_ns)
  start_tracer "${bench[@]}" noop-probes --lib "$libssl" --pid "$sleep_pid" --tracepoints 1
  wait_quiet
  sc_noop=$(syscall_ns)
  stop_tracer
  start_tracer "${tlsscope[@]}" -o "$tmp/syscall.ndjson" --pid "$sleep_pid"
  wait_quiet
  sc_tlsscope=$(syscall_ns)
  stop_tracer
fi

# ---- the table ----
declare -A MED
for name in "${order[@]}"; do MED[$name]=$(echo "${RPS[$name]}" | median); done
base=${MED[untraced]}
noop=${MED["noop probes"]}
echo
echo "overhead: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(nproc) workers, TLS keep-alive, 1 KiB file;" \
  "wrk -t$THREADS -c$CONNS -d${DURATION}s after ${WARMUP} s warm-up; $ROUNDS round(s), median shown; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| state | req/s | vs untraced | vs noop | lost records | gaps | tracer CPU | context switches/s | other load (CPUs, max) | runs (req/s) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for name in "${order[@]}"; do
  cpu=$(echo "${TCPU[$name]}" | median)
  awk -v n="$name" -v r="${MED[$name]}" -v b="$base" -v z="$noop" -v l="${LOST[$name]:--}" -v g="${GAPS[$name]:--}" \
    -v c="$cpu" -v o="$(echo "${OTHER[$name]}" | maximum)" -v runs="${RPS[$name]}" -v s="$(echo "${CSW[$name]}" | median)" \
    'BEGIN {gsub(/^ +/, "", runs); gsub(/ +/, ", ", runs)
      printf "| %s | %.0f | %.2fx | %.2fx | %s | %s | %s | %.0f | %s | %s |\n", n, r, r / b, r / z, l, g, (c == 0 ? "-" : c "%"), s, o, runs}'
done
echo
echo "tlsscope wrote $ndjson_lines NDJSON lines ($ndjson_mb MB) in its (last) run."
if [ "$KEYS" = 1 ]; then echo "--pcapng wrote ${pcap_mb:-?} MB of pcapng in its (last) run."; fi
if [ "$DIAG" = 1 ]; then
  echo "one syscall (dd, 1-byte read/write): ${sc_plain} ns untraced, ${sc_noop} ns with do-nothing programs on the 8" \
    "syscall tracepoints, ${sc_tlsscope} ns with tlsscope --pid <sleep> (filtered out)"
fi
awk -v t="${MED[tlsscope]}" -v z="$noop" -v l="${LOST[tlsscope]:-?}" -v f="${MED["filtered (sleep)"]}" \
  -v p="${MED["filtered (python)"]}" -v b="$base" 'BEGIN {
  printf "target tlsscope >= 0.90x noop with 0 loss: %.2fx, lost %s -> %s\n", t / z, l, (t / z >= 0.90 && l == "0") ? "met" : "NOT met"
  printf "target filtered >= 0.95x untraced: sleep %.2fx, python %.2fx -> %s\n", f / b, p / b, (f / b >= 0.95 && p / b >= 0.95) ? "met" : "NOT met"
}'
for name in "${order[@]}"; do
  if [ -n "${ERRS[$name]:-}" ]; then echo "wrk reported for $name: ${ERRS[$name]}"; fi
done
exit 0
