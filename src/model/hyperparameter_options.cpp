#include "crimegraph/model/hyperparameter_options.hpp"

namespace crimegraph {

void add_hyperparameter_options(po::options_description& desc) {
  desc.add_options()("set", po::value<std::vector<std::string>>()->composing(),
                     "set a hyperparameter, NAME=VALUE (repeatable; wins over the config file)");
  for (const auto& spec : Hyperparameters::specs()) {
    desc.add_options()(("model." + spec.name).c_str(), po::value<std::string>(), spec.help.c_str());
  }
}

Hyperparameters hyperparameters_from(const po::variables_map& vm, Hyperparameters hp) {
  for (const auto& spec : Hyperparameters::specs()) {
    const auto key = "model." + spec.name;
    if (vm.count(key)) hp.set(spec.name, vm[key].as<std::string>());
  }
  if (vm.count("set")) hp.apply(vm["set"].as<std::vector<std::string>>());
  return hp;
}

}  // namespace crimegraph
