#!/usr/bin/env bash
# Builds the project and its tests under sanitizers, each in a folder of its own, and runs them.
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer (GCC), the whole
#                                 suite but the Slurm and fuzzing tests, in build-asan/
#   scripts/sanitize.sh thread    ThreadSanitizer (clang, LLVM's OpenMP with its Archer tool, so
#                                 that TSan sees the trainer's OpenMP barriers) over the
#                                 multi-threaded trainer and event import, in build-tsan/
# Any report fails the run (exit 1). Extra arguments go to ctest (e.g. -R Trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?"usage: scripts/sanitize.sh address|thread [ctest arguments]"}
shift
supp=$PWD/scripts/sanitizers
case "$kind" in
  address)
    dir=build-asan
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    cmake_extra=()
    tests=(-E 'Slurm|Fuzz')
    targets=()
    # MPI, hwloc and PMIx keep allocations until exit by design: leaks there are not ours.
    # Full stacks for allocations (the libraries have no frame pointers), so the suppressions match.
    # intercept_tls_get_addr=0: GCC 12's runtime takes a dynamic TLS block whose address happens
    # to be 16 past a page boundary for glibc 2.19's layout, reads a garbage range from before it,
    # and LeakSanitizer's tracer dies at exit ("Tracer caught signal 11", DTLS at 0x4823-...;
    # google/sanitizers#1322). Only dlopen'ed libraries (MPI's components) have dynamic TLS here.
    export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:strict_string_checks=1:detect_stack_use_after_return=1:intercept_tls_get_addr=0
    export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  thread)
    dir=build-tsan
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    cmake_extra=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    tests=(-R 'Trainer|Events')
    targets=(--target crimegraph_tests crimegraph-prepare)
    archer=$(ls /usr/lib/llvm-*/lib/libarcher.so | head -1)
    export OMP_TOOL_LIBRARIES=$archer
    export ARCHER_OPTIONS=verbose=0
    # Archer asks for ignore_noninstrumented_modules: the OpenMP runtime itself is not instrumented.
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp
    ;;
  *) echo "scripts/sanitize.sh: unknown sanitizer '$kind' (address or thread)" >&2; exit 1 ;;
esac
[ $# -gt 0 ] && tests=("$@")
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRIMEGRAPH_BUILD_BENCH=OFF "${cmake_extra[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$dir" -j "${JOBS:-2}" "${targets[@]}"
source scripts/mpi-env.sh
cd "$dir"
ctest --output-on-failure -j "${JOBS:-2}" "${tests[@]}"
