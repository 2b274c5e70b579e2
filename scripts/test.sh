#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build, run the whole test suite (with the
# Slurm test, which starts a private Slurm on this machine when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --for-tests
scripts/build.sh
source scripts/mpi-env.sh
cd build
ctest --output-on-failure -j "${JOBS:-2}"
