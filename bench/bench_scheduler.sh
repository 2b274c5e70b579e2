#!/usr/bin/env bash
# Scheduler and transport overhead: dispatches per second of the 2024-trial job with the
# instant null objective, at -n 8 and -n 64, median of 3 runs each. Target: >= 5,000/s at -n 8.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
out=$(mktemp -d)
for ranks in 8 64; do
  rates=()
  for run in 1 2 3; do
    line=$(mpirun -n "$ranks" build/crimegraph-search --job jobs/thousands.ini --objective null --final-epochs 0 \
             --progress-seconds 1000 --log-level warn --out "$out/null-$ranks-$run.h5" | grep "trials/s")
    rates+=("$(sed -E 's/.*\(([0-9]+) trials\/s\).*/\1/' <<<"$line")")
  done
  median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p)
  echo "-n $ranks: ${rates[*]} trials/s, median $median"
done
rm -rf "$out"
