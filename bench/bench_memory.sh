#!/usr/bin/env bash
# Whole-job memory of a search at several rank counts: the peak of the summed proportional set
# size (PSS, /proc/PID/smaps_rollup: pages shared between ranks count once) of every rank.
#   bench/bench_memory.sh [JOB] [TRIALS] [RANKS...]   (from the repository root, after scripts/build.sh)
# Each run stops after TRIALS finished trials (default 20), long enough to reach steady training.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
job="${1:-jobs/seed-replication.ini}"; trials="${2:-20}"; shift 2 || true
ranks=("$@"); ((${#ranks[@]})) || ranks=(2 8 32 64)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /cpu: /'
pss_kb() {
  local total=0 kb
  for pid in $(pgrep -f 'build/crimegraph-search' || true); do
    kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
for n in "${ranks[@]}"; do
  start=$(date +%s%N)
  mpirun -n "$n" build/crimegraph-search --job "$job" --out "$out/r$n.h5" --stop-after-trials "$trials" \
    --log-level warn >"$out/log$n" 2>&1 &
  launcher=$!
  peak=0
  while kill -0 "$launcher" 2>/dev/null; do
    now=$(pss_kb); ((now > peak)) && peak=$now
    sleep 0.2
  done
  wait "$launcher" || true
  awk -v n="$n" -v kb="$peak" -v ns=$(($(date +%s%N) - start)) \
    'BEGIN { printf "ranks %3d: peak PSS %7.1f MB, %.1f s\n", n, kb / 1024, ns / 1e9 }'
done
