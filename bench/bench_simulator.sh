#!/usr/bin/env bash
# The schedulers compared in the simulator, and the cost of their decisions at scale.
#   bench/bench_simulator.sh [WORKERS...]     (default 64 1000 10000; from the repository root)
# Each worker count gets the same budget of about 40 epochs a worker: Hyperband (keras and
# paper arithmetic, max_epochs 25, factor 2) with as many iterations as that takes, ASHA and
# bracketed ASHA (3 brackets) with the epochs Hyperband keras trains. Synthetic trials (the
# simulator's defaults): 10 s an epoch for a middling configuration of the original study's
# space (x0.15 to x6.5 over it), 10% noise, 2% stragglers taking x4.
# Prints a Markdown table (docs/schedulers.md is this output), then the 100,000-trial runs.
set -euo pipefail
cd "$(dirname "$0")/.."
workers=("${@:-64 1000 10000}")
[ $# -eq 0 ] && workers=(64 1000 10000)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
search=build/crimegraph-search
common=(--max-epochs 25 --factor 2 --log-level warn --simulate-epoch-seconds 10)
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
epochs_of() { "$search" "${common[@]}" "$@" --dry-run | sed -nE 's/^total: .* ([0-9]+) epochs trained.*/\1/p'; }
row() {  # label workers options...
  local label=$1 w=$2
  shift 2
  local log="$out/log"
  "$search" "${common[@]}" --simulate "$w" --out "$out/r.h5" --overwrite "$@" >"$log"
  local trials makespan util best when us
  trials=$(sed -nE "s/^simulated search .*: ([0-9]+) trials.*/\1/p" "$log")
  makespan=$(sed -nE 's/^  makespan ([0-9]+) s simulated.*/\1/p' "$log")
  util=$(sed -nE 's/.*worker utilisation ([0-9.]+)%.*/\1/p' "$log")
  best=$(sed -nE 's/^  best validation hit rate ([0-9.]+), first reached at ([0-9]+) s.*/\1/p' "$log")
  when=$(sed -nE 's/^  best validation hit rate ([0-9.]+), first reached at ([0-9]+) s.*/\2/p' "$log")
  us=$(sed -nE 's/.*scheduler ([0-9.]+) us per decision.*/\1/p' "$log")
  printf '| %s | %s | %s | %.2f h | %s%% | %s | %.2f h | %s |\n' "$label" "$w" "$trials" \
    "$(awk -v s="$makespan" 'BEGIN { print s / 3600 }')" "$util" "$best" "$(awk -v s="$when" 'BEGIN { print s / 3600 }')" "$us"
}
echo "Simulated on $cpu; $(date -u +%Y-%m-%d)."
echo
echo "| scheduler | workers | trials | makespan | utilisation | best val hit rate | reached at | scheduler µs/decision |"
echo "|---|---|---|---|---|---|---|---|"
for w in "${workers[@]}"; do
  iterations=$(( (40 * w + 296) / 593 ))
  [ "$iterations" -ge 1 ] || iterations=1
  keras_epochs=$(epochs_of --iterations "$iterations")
  paper_per=$(epochs_of --variant paper --iterations 1)
  paper_iterations=$(( (keras_epochs + paper_per / 2) / paper_per ))
  [ "$paper_iterations" -ge 1 ] || paper_iterations=1
  row "Hyperband keras" "$w" --iterations "$iterations"
  row "Hyperband paper" "$w" --variant paper --iterations "$paper_iterations"
  row "ASHA" "$w" --algorithm asha --max-total-epochs "$keras_epochs"
  row "ASHA, 3 brackets" "$w" --algorithm asha --brackets 3 --max-total-epochs "$keras_epochs"
done
echo
echo "100,000 configurations (ASHA) and a 100,000-trial plan (Hyperband keras) at 10,000 workers:"
for args in "--algorithm asha --max-trials 100000" "--iterations 1087"; do
  /usr/bin/time -f "  %e s real, peak RSS %M KB" "$search" "${common[@]}" --simulate 10000 --out "$out/big.h5" \
    --overwrite $args 2>&1 | grep -E 'simulated search|makespan|real time|s real' | sed 's/^/  /'
done
