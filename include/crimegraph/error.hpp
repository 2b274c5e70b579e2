#pragma once
// The project's exception hierarchy. Executables catch crimegraph::Error at their edge,
// print its one-line message and exit non-zero; anything else is a bug.
#include <stdexcept>
#include <string>

namespace crimegraph {

/// Base of every error the project raises on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A command line, config file, job file or hyperparameter the user gave is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Input data is malformed: a dataset of another format version, a wrong shape, a bad CSV.
class DataError : public Error {
 public:
  using Error::Error;
};

/// A file could not be read or written (HDF5 or plain I/O); the message names file and object.
class IoError : public Error {
 public:
  using Error::Error;
};

/// An MPI call failed; the message names the call.
class MpiError : public Error {
 public:
  using Error::Error;
};

/// `message` made safe to print as one line: line breaks, NUL and other control bytes (which a
/// bad input can carry into a message) become "\xHH", and it is cut at 2,000 bytes.
std::string one_line(const std::string& message);

}  // namespace crimegraph
