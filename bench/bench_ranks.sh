#!/usr/bin/env bash
# Many ranks on one node: the same search at several rank counts, in turns, ROUNDS times.
# For each count: the median wall time from launch to exit, and from launch to the first
# dispatched trial (the coordinator's "search: ... planned" line, which it logs just before
# dispatching); each run's trials table must equal the first count's (ranks change who trains
# a trial, never its result).
#   bench/bench_ranks.sh [JOB] [ROUNDS] [RANKS...]   (from the repository root, after scripts/build.sh)
# Default: jobs/demo.ini, 3 rounds, ranks 3 and 64.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
job="${1:-jobs/demo.ini}"; rounds="${2:-3}"; shift 2 || true
ranks=("$@"); ((${#ranks[@]})) || ranks=(3 64)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /cpu: /'
columns=trial_id,parent_id,config_id,bracket,round,start_epoch,end_epoch,epochs_trained
columns+=,val_hit_rate_best,val_hit_rate_last,train_loss,val_loss,score,status
epoch_ms() { date -d "$1" +%s%3N; }
for r in $(seq "$rounds"); do
  for n in "${ranks[@]}"; do
    dir="$out/r$r-n$n"
    start=$(date +%s%3N)
    mpirun -n "$n" build/crimegraph-search --job "$job" --out "$dir/results.h5" >"$dir.log" 2>&1
    end=$(date +%s%3N)
    stamp=$(grep -m1 '\[info\] search: ' "$dir.log" | sed -E 's/^\[([^]]+)\].*/\1/')
    first=$(epoch_ms "$stamp")
    echo "$n $((end - start)) $((first - start))" >>"$out/times"
    # What a trial's result is, not who trained it when; rows by trial id, not completion order.
    build/crimegraph-report "$dir/results.h5" --csv - --columns "$columns" | sort -n >"$dir/trials.csv"
    if [ -f "$out/reference.csv" ]; then
      cmp -s "$out/reference.csv" "$dir/trials.csv" || { echo "-n $n round $r: trials table differs" >&2; exit 1; }
    else
      cp "$dir/trials.csv" "$out/reference.csv"
    fi
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=""
for n in "${ranks[@]}"; do
  wall=$(awk -v n="$n" '$1 == n { print $2 }' "$out/times" | median)
  first=$(awk -v n="$n" '$1 == n { print $3 }' "$out/times" | median)
  [ -n "$base" ] || { base_wall=$wall; base_first=$first; base=1; }
  awk -v n="$n" -v w="$wall" -v f="$first" -v bw="$base_wall" -v bf="$base_first" -v r="$rounds" 'BEGIN {
    printf "-n %3d: wall %6.2f s (%.2fx), launch to first trial %5.2f s (%.2fx), median of %d\n",
           n, w / 1000, w / bw, f / 1000, f / bf, r }'
done
echo "trials tables: identical at every rank count"
