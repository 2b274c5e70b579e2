#!/usr/bin/env bash
# Configures and builds into build/ (Release, 2 parallel jobs: LibTorch TUs need the memory).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "${JOBS:-2}"
