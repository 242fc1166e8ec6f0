#!/usr/bin/env bash
# What one KB written into the page cache costs this host, as TlsScope's output file is written:
# into pages the guest has not used for a while, and into pages just freed by another file. On a
# VM that hands free memory back to its hypervisor (virtio-balloon free page reporting), the first
# touch of such a page faults on the host, and the guest is charged for it (§1 "The output file on
# a VM that reports free pages"). Bounded: two writes of SIZE_MB each, repeated ROUNDS times.
set -euo pipefail

size_mb=${SIZE_MB:-1536}
rounds=${ROUNDS:-3}
dir=${DIR:-/var/tmp}

case $size_mb$rounds in *[!0-9]* | '') echo "page-cache.sh: SIZE_MB and ROUNDS are whole numbers" >&2; exit 2 ;; esac
[ "$size_mb" -ge 1 ] && [ "$rounds" -ge 1 ] || { echo "page-cache.sh: SIZE_MB and ROUNDS are at least 1" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "page-cache.sh: needs GNU time (/usr/bin/time: apt-get install time)" >&2; exit 2; }
[ -d "$dir" ] && [ -w "$dir" ] || { echo "page-cache.sh: DIR $dir is not a writable directory" >&2; exit 2; }

work=$(mktemp -d "$dir/tlsscope-page-cache.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints the system CPU seconds one buffered write of SIZE_MB took (dd, 64 KiB blocks, as the
# sinks' buffered writes), the file left in place.
write() {
  /usr/bin/time -f %S dd if=/dev/zero of="$1" bs=64k count=$((size_mb * 16)) status=none 2>&1 | tail -1
}

per_kb() { awk -v s="$1" -v mb="$size_mb" 'BEGIN { printf "%.2f", s * 1e6 / (mb * 1024) }'; }

order=/sys/module/page_reporting/parameters/page_reporting_order
reported=/sys/module/page_reporting/parameters/reported_kib
echo "free page reporting: $([ -r $order ] && echo "on, order $(cat $order), $(($(cat $reported 2>/dev/null || echo 0) / 1024)) MiB reported so far" || echo "not in this kernel")"
echo "| round | cold pages: sys s | µs per KB | pages just freed: sys s | µs per KB |"
echo "|---|---:|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  sync
  sleep 5 # let the hypervisor take back what the last round freed
  cold=$(write "$work/cold")
  rm -f "$work/cold" # its pages go back to the free lists, still backed by the host for now
  warm=$(write "$work/warm")
  rm -f "$work/warm"
  echo "| $round | $cold | $(per_kb "$cold") | $warm | $(per_kb "$warm") |"
done
