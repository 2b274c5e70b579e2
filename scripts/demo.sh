#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the default job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
source scripts/mpi-env.sh
mkdir -p results
build/crimegraph-prepare synth --out results/demo-city.h5
