#!/bin/bash
# Starts crimegraph-search inside a Slurm allocation; the sbatch scripts beside it call this.
#   slurm/run-search.sh JOB.ini [crimegraph-search options]
#
# - Launches the ranks with srun's PMIx plugin, which Debian's Slurm and OpenMPI share (PMI2
#   does not work with Debian's OpenMPI); falls back to mpirun where srun has no PMIx.
#   CRIMEGRAPH_LAUNCHER=srun or mpirun forces one.
# - Resumes the job's search when there is one to resume (a requeued job), else starts it.
# - Tells the coordinator the job's end (--deadline, a minute early), so it starts no trial it
#   can see would not finish in time; on SIGUSR1 (the scripts ask Slurm for it before the time
#   limit: --signal=B:USR1@SECONDS) it asks the search to start no new trial.
# - A search that stopped to be resumed exits 75: with CRIMEGRAPH_REQUEUE=1 the job then
#   requeues itself (scontrol requeue), and its next run continues the search.
set -uo pipefail
job=${1:?usage: slurm/run-search.sh JOB.ini [crimegraph-search options]}
shift
exe=${CRIMEGRAPH_SEARCH:-build/crimegraph-search}
threads=${SLURM_CPUS_PER_TASK:-1}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1

deadline=()
if [ -n "${SLURM_JOB_ID:-}" ]; then
  end=$(squeue -h -j "$SLURM_JOB_ID" -o %e 2>/dev/null || true)
  if [[ $end =~ ^[0-9]{4}- ]] && end_s=$(date -d "$end" +%s 2>/dev/null); then
    deadline=(--deadline "@$((end_s - ${CRIMEGRAPH_DEADLINE_MARGIN:-60}))")
  fi
fi

launcher=${CRIMEGRAPH_LAUNCHER:-}
if [ -z "$launcher" ]; then
  if srun --mpi=list 2>&1 | grep -w pmix >/dev/null; then launcher=srun; else launcher=mpirun; fi
fi
case $launcher in
  srun) launch=(srun --mpi=pmix --kill-on-bad-exit=0) ;;
  mpirun) launch=(mpirun -n "${SLURM_NTASKS:-1}") ;;
  *) echo "run-search.sh: CRIMEGRAPH_LAUNCHER must be srun or mpirun" >&2; exit 2 ;;
esac
echo "run-search.sh: job ${SLURM_JOB_ID:-?} run $((${SLURM_RESTART_COUNT:-0} + 1)), ${SLURM_NTASKS:-1} ranks on" \
     "${SLURM_JOB_NUM_NODES:-1} node(s) through $launcher, ${deadline[*]:-no deadline}"

"${launch[@]}" "$exe" --job "$job" --resume --threads "$threads" "${deadline[@]}" "$@" &
pid=$!
trap 'echo "run-search.sh: time limit near: the search starts no new trial"; kill -USR1 "$pid" 2>/dev/null' USR1
# A trapped signal interrupts wait; wait again until the search has really ended.
while true; do
  wait "$pid"
  status=$?
  kill -0 "$pid" 2>/dev/null || break
done
if [ "$status" -eq 75 ] && [ "${CRIMEGRAPH_REQUEUE:-0}" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "run-search.sh: the search stopped to be resumed: requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
fi
exit "$status"
