// Anchors the exception classes' vtables in the library.
#include "crimegraph/error.hpp"
