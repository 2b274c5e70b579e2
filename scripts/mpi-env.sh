# Sourced by the scripts: lets OpenMPI run as root (CI, containers) and on fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Quiet OpenMPI's warnings about missing high-speed transports on a workstation.
export OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader,tcp}"
