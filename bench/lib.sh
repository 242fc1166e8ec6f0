# Shared by overhead.sh and go-overhead.sh (sourced; not run on its own): stopping what a
# script started, CPU accounting on a shared machine, and one measured state (tracer up, wrk
# warm-up, wrk measured, tracer down) with its figures collected into the arrays below.
#
# The sourcing script sets, before it calls these:
#   root tmp KEEP QUIET_CPUS THREADS CONNS WARMUP DURATION   (its directory and settings)
#   url      the URL wrk loads
#   round    the round under way (the tracer's "ready" line is shown in round 1 only)
# and defines our_pids: every long-running process it started (the server's workers too).
# It installs the traps itself, once tmp exists: trap cleanup EXIT; trap 'exit 130' INT TERM.

die() { echo "${0##*/}: $*" >&2; exit 1; }

started=() # pids of every long-running process the script started

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
  if [ "$KEEP" = 1 ]; then echo "${0##*/}: kept $tmp" >&2; else rm -rf "$tmp"; fi
}

forget() { # forget a pid that has been stopped and waited for
  local keep=() p
  for p in "${started[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  started=("${keep[@]}")
}

# ---- CPU accounting (the VM is shared: other sessions' builds and tests come and go) ----
ctxt() { awk '/^ctxt / {print $2}' /proc/stat; } # context switches so far, all CPUs
machine_busy() { # user+nice+system+irq+softirq of all CPUs, in ticks
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat
}
proc_cpu() { # utime+stime ticks of the given pids (whole processes, all threads)
  local sum=0 pid f
  local -a a
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
  local -a a
  f=$(cat /proc/$$/stat)
  f=${f##*) }
  read -r -a a <<<"$f"
  echo $((a[13] + a[14])) # fields 16 and 17: cutime, cstime
}
wait_quiet() { # until other processes use < QUIET_CPUS CPUs for one second (at most 120 s)
  local i b0 b1 o0 o1 load
  for i in $(seq 120); do
    b0=$(machine_busy); o0=$(proc_cpu $(our_pids))
    sleep 1
    b1=$(machine_busy); o1=$(proc_cpu $(our_pids))
    load=$(awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) 'BEGIN {printf "%.2f", (b - o) / 100}')
    if awk -v l="$load" -v q="$QUIET_CPUS" 'BEGIN {exit !(l < q)}'; then return 0; fi
    [ "$i" = 1 ] && echo "  (machine busy: $load CPUs used by other processes; waiting up to 120 s for quiet)" >&2
  done
  echo "  (still busy: measuring anyway; see the 'other load' column)" >&2
}

# ---- one state: start the tracer (if any), warm up, measure, stop it ----
declare -A RPS LOST GAPS TCPU OTHER ERRS CSW RC SCPU WCPU
order=()
tracer_pid=
tracer_rc= # the exit code of the last tracer stop_tracer stopped
n=0

start_tracer() { # start_tracer COMMAND... : waits for its "ready" line on stderr
  local log="$tmp/tracer-$n.log"
  "$@" 2>"$log" &
  tracer_pid=$!
  started+=("$tracer_pid")
  for _ in $(seq 1200); do
    if grep -q ': ready' "$log"; then
      [ "$round" = 1 ] && grep -m1 ': ready' "$log" | sed 's/^/    /' >&2
      return 0
    fi
    kill -0 "$tracer_pid" 2>/dev/null || die "$1 exited before it was ready: $(tail -3 "$log")"
    sleep 0.1
  done
  die "$* was not ready after 120 s"
}

stop_tracer() { # SIGTERM, then wait (bounded) for its summary. Not SIGINT: a script's
  # background job starts with SIGINT ignored, and .NET leaves it ignored.
  kill -TERM "$tracer_pid" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$tracer_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$tracer_pid" 2>/dev/null || true
  tracer_rc=0
  wait "$tracer_pid" 2>/dev/null || tracer_rc=$?
  forget "$tracer_pid"
}

# PROFILE=1: sample the tracer with perf while wrk measures (99 Hz per CPU, call graphs; .NET's
# JIT code named through its perf map: DOTNET_PerfMapEnabled=1 is exported for the tracer), then
# write the top of `perf report` by symbol to .build/profile/<state>.txt. Sampling costs the
# tracer a little: a PROFILE run's req/s are not the benchmark's figures.
profile_start() {
  mkdir -p "$root/.build/profile"
  perf record -q -F 99 -g -p "$(tracer_dotnet_pid)" -o "$tmp/perf-$n.data" -- sleep "$DURATION" >/dev/null 2>&1 &
  perf_pid=$!
}
profile_end() {
  wait "$perf_pid" 2>/dev/null || true
  local file="$root/.build/profile/$(echo "$1" | tr -c 'A-Za-z0-9\n' '-').txt"
  {
    echo "# by library (dso), then by symbol; samples of the tracer only"
    perf report -q -i "$tmp/perf-$n.data" --no-children -g none --sort dso --percent-limit 0.5 2>/dev/null | grep -v '^$'
    echo
    perf report -q -i "$tmp/perf-$n.data" --no-children -g none --sort dso,sym --percent-limit 0.4 2>/dev/null | grep -v '^$' | head -70
  } >"$file" || true
  echo "    profile: $file" >&2
}
tracer_dotnet_pid() { # the launcher execs dotnet, or runs it as a child
  local child
  child=$(pgrep -P "$tracer_pid" -x dotnet | head -1 || true)
  echo "${child:-$tracer_pid}"
}

state() { # state NAME [COMMAND...]
  local name=$1 b0 b1 o0 o1 w0 w1 t0=0 t1=0 c0 c1 out lost gaps log
  shift
  n=$((n + 1))
  log="$tmp/tracer-$n.log"
  tracer_pid=
  if [ $# -gt 0 ]; then start_tracer "$@"; fi
  wait_quiet
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
  out="$tmp/wrk-$n.txt"
  b0=$(machine_busy); o0=$(proc_cpu $(our_pids)); w0=$(children_cpu); c0=$(ctxt)
  [ -n "$tracer_pid" ] && t0=$(proc_cpu "$tracer_pid")
  local perf_pid=
  if [ "${PROFILE:-0}" = 1 ] && [ -n "$tracer_pid" ] && [[ "$1" == "$root/tlsscope" ]]; then
    profile_start "$name" # lib.sh: perf on the tracer during the measured run (PROFILE=1)
  fi
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$url" >"$out"
  [ -n "$perf_pid" ] && profile_end "$name"
  b1=$(machine_busy); o1=$(proc_cpu $(our_pids)); w1=$(children_cpu); c1=$(ctxt)
  [ -n "$tracer_pid" ] && t1=$(proc_cpu "$tracer_pid")
  if [ -n "$tracer_pid" ]; then stop_tracer; fi

  [ -n "${RPS[$name]+x}" ] || order+=("$name")
  if [ -n "$tracer_pid" ]; then RC[$name]="${RC[$name]:-} $tracer_rc"; fi
  local rps
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  [ -n "$rps" ] || die "wrk gave no Requests/sec for $name: $(cat "$out")"
  RPS[$name]="${RPS[$name]:-} $rps"
  ERRS[$name]="${ERRS[$name]:-}$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' "$out")"
  # CPUs' worth used by everything that is not the server, wrk or the tracer during the run
  OTHER[$name]="${OTHER[$name]:-} $(awk -v b=$((b1 - b0)) -v o=$((o1 - o0 + w1 - w0)) -v d="$DURATION" \
    'BEGIN {x = (b - o) / 100 / d; printf "%.2f", x < 0 ? 0 : x}')"
  TCPU[$name]="${TCPU[$name]:-} $(((t1 - t0) / DURATION))" # ticks/s = % of one CPU
  SCPU[$name]="${SCPU[$name]:-} $(((o1 - o0 - (t1 - t0)) / DURATION))" # the server (our_pids but the tracer)
  WCPU[$name]="${WCPU[$name]:-} $(((w1 - w0) / DURATION))"             # wrk
  CSW[$name]="${CSW[$name]:-} $(((c1 - c0) / DURATION))"
  if grep -q 'tlsscope: lost' "$log" 2>/dev/null; then
    lost=$(grep -o 'lost [0-9]* records' "$log" | awk '{print $2}' | tail -1 || true)
    gaps=$(grep -o '[0-9]* gaps' "$log" | awk '{print $1}' | tail -1 || true)
    LOST[$name]=$(( ${LOST[$name]:-0} + ${lost:-0} ))
    GAPS[$name]=$(( ${GAPS[$name]:-0} + ${gaps:-0} ))
    grep -E 'tlsscope: [0-9]+ chunks|tlsscope: lost|tlsscope: keys|tlsscope: packets' "$log" | sed 's/^/    /' >&2 || true
  elif [ $# -gt 0 ] && [[ "$1" == "$root/tlsscope" ]]; then
    LOST[$name]="no summary"
  fi
  printf '  %-26s %8.0f req/s  (tracer CPU %s%%, other load %s CPUs)\n' "$name" "$rps" \
    "$(((t1 - t0) / DURATION))" "${OTHER[$name]##* }" >&2
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
maximum() { tr ' ' '\n' | grep . | sort -g | tail -1; }
