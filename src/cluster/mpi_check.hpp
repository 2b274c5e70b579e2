#pragma once
// The cluster layer's MPI adapters (mpi_transport.cpp, mpi_node.cpp) check every call alike.
#include <mpi.h>

#include <string>

#include "crimegraph/error.hpp"

namespace crimegraph::detail {

/// Throws MpiError naming `call` and MPI's reason unless `code` is MPI_SUCCESS.
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw MpiError(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

}  // namespace crimegraph::detail
