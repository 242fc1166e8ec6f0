#!/usr/bin/env bash
# Exec-time attach, measured (bench/README.md §6):
#   A. capture rate of a client statically linked with OpenSSL that talks within milliseconds of
#      its exec, copied to a fresh path (a never-seen file) for each of RUNS runs, under one
#      TlsScope: with the hold (default) and with --no-hold; exec-to-probes latency from the summary;
#   B. the same client run right after a fresh TlsScope start, STARTS times;
#   C. what the exec tracepoint costs every exec on the machine: EXECS runs of a known program
#      (no hold) with and without TlsScope;
#   D. the start-up index, cold (cache removed) and warm.
# Settings from the environment: RUNS=100 STARTS=10 EXECS=2000 PORT=18444.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=${RUNS:-100} STARTS=${STARTS:-10} EXECS=${EXECS:-2000} PORT=${PORT:-18444}
work=$(mktemp -d /tmp/tlsscope-exec-bench-XXXXXX)
chmod 700 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$root/scripts/setup" test >/dev/null
"$root/tlsscope" --help >/dev/null # builds .build/tlsscope when the sources changed
tlsscope=(dotnet "$root/.build/tlsscope/tlsscope.dll")
gcc -O1 -o "$work/static_client" "$root/tests/TlsScope.KernelTests/Peers/static_client.c" \
  -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -ldl -lpthread
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=localhost 2>/dev/null
openssl s_server -accept "127.0.0.1:$PORT" -cert "$work/cert.pem" -key "$work/key.pem" -www -quiet >/dev/null 2>&1 &
pids+=($!)
sleep 0.5

# Starts TlsScope (extra arguments after the output), waits for "ready"; sets $scope and $out.
start() {
  out="$work/out-$RANDOM.ndjson"
  "${tlsscope[@]}" --format json --raw -o "$out" "$@" 2>"$out.err" &
  scope=$!
  pids+=("$scope")
  until grep -q "tlsscope: ready" "$out.err" 2>/dev/null; do sleep 0.1; done
}
stop() { kill -INT "$scope"; wait "$scope" || true; }
captured() { grep -c '"direction":"write"' "$1" || true; }

for mode in hold no-hold; do
  args=(); [ "$mode" = no-hold ] && args=(--no-hold)
  start "${args[@]}"
  for i in $(seq 1 "$RUNS"); do
    cp "$work/static_client" "$work/c-$mode-$i"
    "$work/c-$mode-$i" "$PORT" "/run-$i" >/dev/null
  done
  stop
  echo "A. $mode: $(captured "$out") of $RUNS first requests captured; $(grep 'exec-time attach' "$out.err" | sed 's/tlsscope: //')"
done

ok=0
for i in $(seq 1 "$STARTS"); do
  start
  cp "$work/static_client" "$work/s-$i"
  "$work/s-$i" "$PORT" "/start-$i" >/dev/null
  stop
  [ "$(captured "$out")" -ge 1 ] && ok=$((ok + 1))
done
echo "B. right after the start: $ok of $STARTS captured"

per_exec() { local t0 t1; t0=$(date +%s%N); for _ in $(seq 1 "$EXECS"); do /bin/true; done; t1=$(date +%s%N); echo $(( (t1 - t0) / EXECS / 1000 )); }
/bin/true
without=$(per_exec)
start
with=$(per_exec)
stop
echo "C. one exec of /bin/true: ${without} us untraced, ${with} us under TlsScope (the exec tracepoint, and its event)"

rm -f /var/cache/tlsscope/index.json
for state in cold warm; do
  start -v
  sleep 3
  stop
  echo "D. index $state: $(grep 'index:' "$out.err" | sed 's/tlsscope: //')"
done
