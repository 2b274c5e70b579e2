#pragma once
// The model's hyperparameters as command-line and config-file options, for the tools that train.
#include "crimegraph/model/hyperparameters.hpp"
#include "crimegraph/options.hpp"

namespace crimegraph {

/// Adds one option "model.NAME" per hyperparameter (a [model] section in a config file) and
/// --set NAME=VALUE (repeatable, applied last).
void add_hyperparameter_options(po::options_description& desc);
/// Hyperparameters from defaults, then the [model] section, then --set; validated.
Hyperparameters hyperparameters_from(const po::variables_map& vm, Hyperparameters base = {});

}  // namespace crimegraph
