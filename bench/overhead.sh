#!/usr/bin/env bash
# Overhead of TlsScope on a loaded TLS server: nginx (TLS, keep-alive, ~1 KiB static file) on
# 127.0.0.1 under wrk, measured in requests/s in these states, one after the other:
#   untraced           nothing attached
#   noop probes        do-nothing uprobe+uretprobe on SSL_read/_write/_read_ex/_write_ex of the
#                      libssl nginx uses (bench/TlsScope.Bench noop-probes): the pure trap cost
#   tlsscope           the real tool writing NDJSON to a file (its loss count is recorded)
#   filtered (sleep)   tlsscope --pid <an unrelated `sleep`>: no uprobe anywhere in nginx
#   filtered (python)  tlsscope --pid <an idle python3 that has libssl mapped>: uprobes are on
#                      the same libssl file, but installed in that process only
#   untraced (again)   drift check: the machine is shared, this shows how stable it was
# Usage: sudo bench/overhead.sh     (env: DURATION=15 WARMUP=3 CONNS=50 THREADS=2 PORT=18443 KEEP=0)
# Every run is bounded: wrk runs for WARMUP+DURATION s per state; every process this script
# starts is stopped by its pid on exit.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
PORT=${PORT:-18443}
KEEP=${KEEP:-0}
QUIET_CPUS=${QUIET_CPUS:-0.15} # a state starts once other processes use less than this many CPUs

die() { echo "overhead.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root: sudo bench/overhead.sh"
"$root/scripts/setup" bench # installs nginx-light, wrk, openssl, ... when missing
command -v python3 >/dev/null || die "python3 is missing"

tmp="$(mktemp -d /tmp/tlsscope-overhead.XXXXXX)"
chmod 755 "$tmp" # nginx workers run unprivileged and read www/ from here
started=()       # pids of every long-running process this script started

cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then echo "overhead.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # forget a pid that has been stopped and waited for
  local keep=() p
  for p in "${started[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  started=("${keep[@]}")
}

# ---- CPU accounting (the VM is shared: other sessions' builds and tests come and go) ----
machine_busy() { # user+nice+system of all CPUs, in ticks
  awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat
}
proc_cpu() { # utime+stime ticks of the given pids (whole processes, all threads)
  local sum=0 pid f
  for pid in "$@"; do
    f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    f=${f##*) } # the fields after "pid (comm) "
    read -r -a a <<<"$f"
    sum=$((sum + a[11] + a[12])) # fields 14 and 15 of stat
  done
  echo "$sum"
}
children_cpu() { # utime+stime ticks of this shell's waited-for children (wrk)
  local f
  f=$(cat /proc/$$/stat)
  f=${f##*) }
  read -r -a a <<<"$f"
  echo $((a[13] + a[14])) # fields 16 and 17: cutime, cstime
}
wait_quiet() { # until other processes use < QUIET_CPUS CPUs for one second (at most 120 s)
  local i b0 b1 o0 o1 load
  for i in $(seq 120); do
    b0=$(machine_busy); o0=$(proc_cpu "${started[@]}")
    sleep 1
    b1=$(machine_busy); o1=$(proc_cpu "${started[@]}")
    load=$(awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) 'BEGIN {printf "%.2f", (b - o) / 100}')
    if awk -v l="$load" -v q="$QUIET_CPUS" 'BEGIN {exit !(l < q)}'; then return 0; fi
    [ "$i" = 1 ] && echo "  (machine busy: $load CPUs used by other processes; waiting up to 120 s for quiet)" >&2
  done
  echo "  (still busy: measuring anyway; see the 'other load' column)" >&2
}

# ---- nginx: TLS on 127.0.0.1, keep-alive, a ~1 KiB static file ----
mkdir -p "$tmp/www" "$tmp/temp"
head -c 768 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
chmod 644 "$tmp/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
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
    listen 127.0.0.1:$PORT ssl;
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
nginx_pids() { echo "$nginx_pid" $(cat /proc/"$nginx_pid"/task/*/children 2>/dev/null); }
libssl=$(awk '$6 ~ /\/libssl\.so/ {print $6; exit}' /proc/"$nginx_pid"/maps)
[ -n "$libssl" ] || die "nginx does not map a libssl"

# ---- the tools under test, built before anything is measured ----
echo "overhead.sh: building the benchmark tool and tlsscope ..." >&2
dotnet build "$root/bench/TlsScope.Bench/TlsScope.Bench.csproj" -c Release -o "$root/.build/bench" -nologo -v q \
  >"$tmp/bench-build.log" 2>&1 || die "bench build failed; see $tmp/bench-build.log (KEEP=1 keeps it)"
"$root/tlsscope" --help >/dev/null 2>"$tmp/tlsscope-build.log" || die "tlsscope does not build: $(tail -3 "$tmp/tlsscope-build.log")"

# ---- one state: warm-up, then the measured run ----
declare -A RPS LOST GAPS TRACER_CPU OTHER ERRS
order=()
measure() { # measure NAME [tracer pid]
  local name=$1 tracer=${2:-} b0 b1 n0 n1 w0 w1 t0 t1 out
  wait_quiet
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
  b0=$(machine_busy); n0=$(proc_cpu $(nginx_pids) "${started[@]}"); w0=$(children_cpu)
  t0=$([ -n "$tracer" ] && proc_cpu "$tracer" || echo 0)
  out="$tmp/wrk-${#order[@]}.txt"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$url" >"$out"
  b1=$(machine_busy); n1=$(proc_cpu $(nginx_pids) "${started[@]}"); w1=$(children_cpu)
  t1=$([ -n "$tracer" ] && proc_cpu "$tracer" || echo 0)
  order+=("$name")
  RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  [ -n "${RPS[$name]}" ] || die "wrk gave no Requests/sec for $name: $(cat "$out")"
  ERRS[$name]=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' "$out")
  # CPUs' worth used by everything that is not nginx, wrk or the tracer during the run
  OTHER[$name]=$(awk -v b=$((b1 - b0)) -v o=$((n1 - n0 + w1 - w0)) -v d="$DURATION" 'BEGIN {x = (b - o) / 100 / d; printf "%.2f", x < 0 ? 0 : x}')
  TRACER_CPU[$name]=$(awk -v t=$((t1 - t0)) -v d="$DURATION" 'BEGIN {printf "%.0f%%", t / d}')
  LOST[$name]="-"
  GAPS[$name]="-"
  printf '  %-20s %10.0f req/s  (other load %s CPUs)\n' "$name" "${RPS[$name]}" "${OTHER[$name]}" >&2
}

start_traced() { # start_traced LOGFILE COMMAND... ; sets tracer_pid, waits for its ready line
  local log=$1
  shift
  "$@" 2>"$log" &
  tracer_pid=$!
  started+=("$tracer_pid")
  for _ in $(seq 1200); do
    grep -q ': ready' "$log" && { grep -m1 ': ready' "$log" | sed 's/^/  /' >&2; return 0; }
    kill -0 "$tracer_pid" 2>/dev/null || die "$1 exited before it was ready: $(tail -3 "$log")"
    sleep 0.1
  done
  die "$1 was not ready after 120 s: $(tail -3 "$log")"
}

stop_traced() { # stop_traced PID : SIGINT, then wait (bounded) for its summary
  local pid=$1
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}

record_loss() { # record_loss NAME LOG : the "lost N records ... N gaps" summary line
  local lost gaps
  lost=$(grep -o 'lost [0-9]* records' "$2" | awk '{print $2}' | tail -1)
  gaps=$(grep -o '[0-9]* gaps' "$2" | awk '{print $1}' | tail -1)
  LOST[$1]=${lost:-?}
  GAPS[$1]=${gaps:-?}
  grep -E 'tlsscope: [0-9]+ chunks|tlsscope: lost' "$2" | sed 's/^/  /' >&2
}

echo "overhead.sh: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') ($(nproc) workers) on $url, libssl $libssl;" \
  "wrk -t$THREADS -c$CONNS, ${WARMUP} s warm-up + ${DURATION} s per state" >&2

# (a) untraced
measure "untraced"

# (b) the pure trap cost
start_traced "$tmp/noop.log" dotnet "$root/.build/bench/TlsScope.Bench.dll" noop-probes --lib "$libssl"
noop_pid=$tracer_pid
measure "noop probes" "$noop_pid"
stop_traced "$noop_pid"

# (c) TlsScope writing NDJSON to a file
start_traced "$tmp/tlsscope.log" "$root/tlsscope" --format json -o "$tmp/capture.ndjson"
measure "tlsscope" "$tracer_pid"
stop_traced "$tracer_pid"
record_loss "tlsscope" "$tmp/tlsscope.log"
ndjson_lines=$(wc -l <"$tmp/capture.ndjson")
ndjson_mb=$(du -m "$tmp/capture.ndjson" | cut -f1)
rm -f "$tmp/capture.ndjson"

# (d) filtered to an unrelated process: nginx must not pay for uprobes
sleep 1000 &
sleep_pid=$!
started+=("$sleep_pid")
start_traced "$tmp/filtered-sleep.log" "$root/tlsscope" --format json -o "$tmp/filtered-sleep.ndjson" --pid "$sleep_pid"
measure "filtered (sleep)" "$tracer_pid"
stop_traced "$tracer_pid"
record_loss "filtered (sleep)" "$tmp/filtered-sleep.log"

python3 -c 'import ssl, time; time.sleep(1000)' &
py_pid=$!
started+=("$py_pid")
for _ in $(seq 50); do grep -q libssl "/proc/$py_pid/maps" && break; sleep 0.1; done
start_traced "$tmp/filtered-python.log" "$root/tlsscope" --format json -o "$tmp/filtered-python.ndjson" --pid "$py_pid"
measure "filtered (python)" "$tracer_pid"
stop_traced "$tracer_pid"
record_loss "filtered (python)" "$tmp/filtered-python.log"

# drift check
measure "untraced (again)"

# ---- the table ----
base=${RPS[untraced]}
noop=${RPS["noop probes"]}
echo
echo "overhead: nginx $(nproc) workers, TLS keep-alive, 1 KiB file; wrk -t$THREADS -c$CONNS -d${DURATION}s after ${WARMUP} s warm-up; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| state | req/s | vs untraced | vs noop | lost records | gaps | tracer CPU | other load (CPUs) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for name in "${order[@]}"; do
  awk -v n="$name" -v r="${RPS[$name]}" -v b="$base" -v z="$noop" -v l="${LOST[$name]}" -v g="${GAPS[$name]}" \
    -v c="${TRACER_CPU[$name]}" -v o="${OTHER[$name]}" \
    'BEGIN {printf "| %s | %.0f | %.2fx | %.2fx | %s | %s | %s | %s |\n", n, r, r / b, r / z, l, g, (c == "0%" ? "-" : c), o}'
done
echo
echo "tlsscope wrote $ndjson_lines NDJSON lines ($ndjson_mb MB) in its run."
awk -v t="${RPS[tlsscope]}" -v z="$noop" -v l="${LOST[tlsscope]}" -v f="${RPS["filtered (sleep)"]}" \
  -v p="${RPS["filtered (python)"]}" -v b="$base" 'BEGIN {
  printf "target tlsscope >= 0.90x noop with 0 loss: %.2fx, lost %s -> %s\n", t / z, l, (t / z >= 0.90 && l == "0") ? "met" : "NOT met"
  printf "target filtered >= 0.95x untraced: sleep %.2fx, python %.2fx -> %s\n", f / b, p / b, (f / b >= 0.95 && p / b >= 0.95) ? "met" : "NOT met"
}'
for name in "${order[@]}"; do
  [ -n "${ERRS[$name]}" ] && echo "wrk reported for $name: ${ERRS[$name]}"
done
exit 0
