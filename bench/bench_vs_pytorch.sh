#!/usr/bin/env bash
# The kernel against the PyTorch reference, side by side on this machine:
# bench_train_epoch on every SIMD target, then the same GLDNet in PyTorch, ROUNDS times.
#   bench/bench_vs_pytorch.sh [ROUNDS]     (from the repository root, after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
if ! /usr/bin/python3 -c 'import torch, h5py' 2>/dev/null; then
  echo "the reference needs Debian's python3-torch and python3-h5py: apt-get install python3-torch python3-h5py" >&2
  exit 2
fi
dataset=/tmp/crimegraph-bench-city.h5
[ -f "$dataset" ] || build/crimegraph-prepare synth --log-level warn --out "$dataset" >/dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for r in $(seq "$rounds"); do
  build/bench/bench_train_epoch --epochs 3 --simd all --dataset "$dataset" | grep 'median train' >>"$log"
  bench/reference_gldnet.py --dataset "$dataset" --batches 15 --repeats 3 | grep 'median train' | sed 's/^/pytorch  /' >>"$log"
done
build/bench/bench_train_epoch --epochs 1 --simd all --dataset "$dataset" | head -2
# Each one's median over the rounds of its median seconds per epoch.
median_of() {
  awk -v name="$1" '$1 == name { for (i = 1; i <= NF; ++i) if ($i == "seconds/epoch") print $(i + 1) }' "$log" |
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
reference=$(median_of pytorch)
printf '%-8s %.3f s/epoch (median of %d rounds)\n' pytorch "$reference" "$rounds"
for name in $(awk '$1 != "pytorch" { print $1 }' "$log" | awk '!seen[$0]++'); do
  m=$(median_of "$name")
  printf '%-8s %.3f s/epoch (median of %d rounds), %.1fx faster than pytorch\n' "$name" "$m" "$rounds" \
    "$(awk -v a="$reference" -v b="$m" 'BEGIN { print a / b }')"
done
