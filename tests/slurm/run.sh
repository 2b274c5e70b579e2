#!/usr/bin/env bash
# The Slurm batch scripts against a real Slurm: starts a private single-machine Slurm from
# Debian's packages (munged, slurmctld, slurmd; a slurm.conf made from this machine's
# hostname, CPUs and memory), then
#   1. submits slurm/search.sbatch with a tiny search and checks its results file;
#   2. submits slurm/search-long.sbatch with a 1-minute limit, so that the search is stopped
#      by the warning signal and the deadline and requeues itself until it completes, and checks
#      the resumed search completed with no trial lost or run twice, and with the trials
#      table of the same search run without interruption.
# Stops every daemon it started, whatever happens.
#   tests/slurm/run.sh [BUILD_DIR]   (as root, after scripts/build.sh and scripts/install-deps.sh --for-tests)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
# Exit status 77: skipped (ctest's SKIP_RETURN_CODE).
[ "$(id -u)" -eq 0 ] || { echo "tests/slurm/run.sh: skipped: needs root (it starts slurmd)"; exit 77; }
for tool in munged mungekey slurmctld slurmd sbatch scontrol squeue sinfo; do
  command -v "$tool" >/dev/null || { echo "tests/slurm/run.sh: skipped: no $tool (scripts/install-deps.sh --for-tests)"; exit 77; }
done
started=$(date +%s)
work=$(mktemp -d /tmp/crimegraph-slurm.XXXXXX)
export SLURM_CONF=$work/slurm.conf

say() { echo "[slurm test $(( $(date +%s) - started )) s] $*"; }
stop_daemons() {
  local status=$?
  for daemon in slurmd slurmctld munged; do
    [ -f "$work/$daemon.pid" ] && kill "$(cat "$work/$daemon.pid")" 2>/dev/null || true
  done
  sleep 1
  for daemon in slurmd slurmctld munged; do
    [ -f "$work/$daemon.pid" ] && kill -9 "$(cat "$work/$daemon.pid")" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "--- slurm test failed; logs:"
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop_daemons EXIT

# --- a private Slurm: its own munge key and socket, ports, state and spool -------------------
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1024 - 512 ))
mkdir -p "$work/state" "$work/spool"
mungekey --create --keyfile="$work/munge.key" 2>/dev/null || dd if=/dev/urandom of="$work/munge.key" bs=1 count=1024 2>/dev/null
chmod 600 "$work/munge.key"
munged --force --key-file="$work/munge.key" --socket="$work/munge.socket" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munge.seed"
cat >"$SLURM_CONF" <<EOF
ClusterName=crimegraph-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.socket,cred_expire=10
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
SchedulerType=sched/backfill
KillWait=10
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 1
done
[ "$(sinfo -h -o %t)" = idle ] || { echo "the test node did not come up" >&2; exit 1; }
say "Slurm $(sinfo --version | cut -d' ' -f2) up: node $host, $cpus CPUs; srun MPI plugins: $(srun --mpi=list 2>&1 | tr -s ' \n\t' ' ')"

# Waits for a job to end; prints its final state.
wait_job() {
  local id=$1 limit=$2 state
  for _ in $(seq "$limit"); do
    state=$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) echo "$state"; return;; esac
    sleep 1
  done
  echo "still ${state:-unknown} after $limit s"
}

# The batch scripts run from the repository (slurm/run-search.sh) with this build's search.
export CRIMEGRAPH_SEARCH=$build/crimegraph-search
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp
cd "$repo"
report=$build/crimegraph-report
columns=trial_id,parent_id,config_id,bracket,round,start_epoch,end_epoch,epochs_trained
columns+=,val_hit_rate_best,val_hit_rate_last,train_loss,val_loss,score,status

# --- 1. one node ---------------------------------------------------------------------------
cat >"$work/tiny.ini" <<EOF
name = slurm-tiny
dataset = synthetic
synthetic-nodes = 60
synthetic-days = 200
space = configs/space-default.ini
max-epochs = 3
factor = 3
final-epochs = 2
EOF
id=$(sbatch --parsable --overcommit --ntasks=3 --time=5 --output="$work/tiny.log" \
       slurm/search.sbatch "$work/tiny.ini" --out "$work/tiny.h5")
say "submitted slurm/search.sbatch as job $id"
state=$(wait_job "$id" 300)
[ "$state" = COMPLETED ] || { echo "job $id: $state" >&2; exit 1; }
grep -q "through srun" "$work/tiny.log" || { echo "job $id did not launch through srun" >&2; exit 1; }
"$report" "$work/tiny.h5" --json "$work/tiny.json"
grep -q '"complete": true' "$work/tiny.json" || { echo "tiny.h5 is not complete" >&2; exit 1; }
say "job $id: COMPLETED, results complete ($(grep -c '\[rank ' "$work/tiny.log") log lines from the ranks)"

# --- 2. the time limit: requeued until the search completes ---------------------------------
cat >"$work/long.ini" <<EOF
name = slurm-long
dataset = synthetic
synthetic-graph = data/central-baltimore/streets.h5
synthetic-days = 2000
synthetic-seed = 2
space = configs/space-default.ini
max-epochs = 9
factor = 3
iterations = 12
seed = 3
final-epochs = 3
progress-seconds = 10
EOF
# A 1-minute limit, the warning 20 s before it, the deadline 15 s before it.
id=$(sbatch --parsable --overcommit --ntasks=3 --time=1 --signal=B:USR1@20 --output="$work/long.log" \
       --export=ALL,CRIMEGRAPH_DEADLINE_MARGIN=15 slurm/search-long.sbatch "$work/long.ini" --out "$work/long.h5")
say "submitted slurm/search-long.sbatch as job $id (1-minute limit)"
state=$(wait_job "$id" 900)
restarts=$(scontrol show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
[ "$state" = COMPLETED ] || { echo "job $id: $state after $restarts restarts" >&2; exit 1; }
# About 160 s of training on a 2-core Zen 3, 80 s on a Zen 5 with AVX-512: more than one run of
# the 40 s a run has before its deadline on any CPU up to twice a Zen 5's speed.
[ "${restarts:-0}" -ge 1 ] || { echo "job $id was never requeued: the search fitted in one run" >&2; exit 1; }
"$report" "$work/long.h5" --json "$work/long.json"
grep -q '"complete": true' "$work/long.json" || { echo "long.h5 is not complete" >&2; exit 1; }
"$report" "$work/long.h5" --csv - --columns "$columns" | tail -n +2 | sort -n >"$work/long.csv"
"$report" "$work/long.h5" --csv - --columns trial_id,run | tail -n +2 >"$work/runs.csv"
trials=$(wc -l <"$work/long.csv")
unique=$(cut -d, -f1 "$work/long.csv" | sort -u | wc -l)
runs=$(cut -d, -f2 "$work/runs.csv" | sort -u | wc -l)
planned=$(sed -n 's/.*"planned": \([0-9]*\).*/\1/p' "$work/long.json")
[ "$trials" -eq "$planned" ] && [ "$unique" -eq "$trials" ] ||
  { echo "long.h5: $trials rows, $unique distinct trials, $planned planned" >&2; exit 1; }
say "job $id: COMPLETED after $restarts requeues; $trials of $planned trials, each once, trained over $runs runs"
grep -E "time limit near|stopped (before|on)|requeueing" "$work/long.log" | sed 's/^/  /' | head -20

# The same search without interruption gives the same trials.
mpirun -n 3 --oversubscribe "$CRIMEGRAPH_SEARCH" --job "$work/long.ini" --out "$work/reference.h5" \
  --log-level warn >"$work/reference.log" 2>&1
"$report" "$work/reference.h5" --csv - --columns "$columns" | tail -n +2 | sort -n >"$work/reference.csv"
cmp -s "$work/long.csv" "$work/reference.csv" || { echo "the requeued search's trials differ from the uninterrupted one's" >&2; exit 1; }
say "the requeued search's trials table equals the uninterrupted search's; passed"
