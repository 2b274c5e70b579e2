#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the default job:
# a small real Hyperband search with one coordinator and two workers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
source scripts/mpi-env.sh
mkdir -p results
mpirun -n "${RANKS:-3}" build/crimegraph-search --job jobs/demo.ini --overwrite "$@"
echo
echo "next: build/crimegraph-report results/demo.h5 [--plots results/demo-plots]"
echo "      build/crimegraph-predict --results results/demo.h5 --dataset results/synthetic-central-baltimore-streetsx1000-seed1.h5 --map results/demo-map.png"
