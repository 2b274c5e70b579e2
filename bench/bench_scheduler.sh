#!/usr/bin/env bash
# Scheduler and transport overhead: dispatches per second with the instant null objective, for
# Hyperband (the 2024-trial job) and ASHA (the same job, about as many trials), at -n 8 and
# -n 64, the algorithms taking turns, median of 3 runs each. Targets: >= 5,000/s at -n 8;
# ASHA at least Hyperband's figure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A rates
for ranks in 8 64; do
  for run in 1 2 3; do
    for algorithm in hyperband asha; do
      extra=""
      [ "$algorithm" = asha ] && extra="--algorithm asha --max-trials 1012"
      line=$(mpirun -n "$ranks" build/crimegraph-search --job jobs/thousands.ini --objective null --final-epochs 0 \
               $extra --progress-seconds 1000 --log-level warn --out "$out/$algorithm-$ranks-$run.h5" | grep "trials/s")
      rates[$algorithm-$ranks]+="$(sed -E 's/.*\(([0-9]+) trials\/s\).*/\1/' <<<"$line") "
    done
  done
  for algorithm in hyperband asha; do
    median=$(printf '%s\n' ${rates[$algorithm-$ranks]} | sort -n | sed -n 2p)
    echo "$algorithm -n $ranks: ${rates[$algorithm-$ranks]}trials/s, median $median"
  done
done
