#!/usr/bin/env bash
# Installs the Debian 12 packages CrimeGraph Search builds and tests with, if any is missing.
#   scripts/install-deps.sh [--for-tests]   (also Slurm and munge for the Slurm test, clang and
#                                            libFuzzer for the fuzzing test)
set -euo pipefail
packages=(
  cmake g++ make
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libboost-program-options-dev libspdlog-dev libgtest-dev
  libgdal-dev libpugixml-dev libssl-dev zlib1g-dev
  libhwy-dev
  python3-h5py python3-pandas python3-matplotlib
)
if [ "${1:-}" = --for-tests ]; then
  packages+=(slurm-wlm slurmctld slurmd slurm-client munge clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
