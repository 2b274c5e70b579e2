// crimegraph-search: distributed Hyperband over GLDNet configurations.
//   mpirun -n 64 crimegraph-search --job jobs/demo.ini [--out results/x.h5] [--dry-run] ...
// Rank 0 coordinates, every other rank trains; with a single rank the coordinator trains
// in-process.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <algorithm>
#include <exception>
#include <filesystem>
#include <optional>
#include <iostream>

#include "crimegraph/cluster/coordinator.hpp"
#include "crimegraph/cluster/messages.hpp"
#include "crimegraph/cluster/mpi_node.hpp"
#include "crimegraph/cluster/mpi_transport.hpp"
#include "crimegraph/cluster/node_data.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/data/windows.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/machine.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/model/hyperparameter_options.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/search/hyperband/plan.hpp"
#include "crimegraph/search/results_reader.hpp"
#include "crimegraph/search/simulator.hpp"
#include "crimegraph/version.hpp"

using namespace crimegraph;
namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "Usage: mpirun -n RANKS crimegraph-search --job JOB.ini [options]\n"
    "Rank 0 plans Hyperband brackets and records results; ranks 1.. train GLDNet trials.\n"
    "Options on the command line override the job file. --dry-run prints the plan and exits.\n"
    "--resume continues a search that was stopped part way (e.g. a preempted Slurm job).";

// A search stopped before its end (a signal, --stop-after-trials): BSD's EX_TEMPFAIL, "try again later".
constexpr int kExitStopped = 75;

// SIGTERM (Slurm's preemption and time limit, sent to every task) and SIGINT ask the
// coordinator to flush and stop; a second one ends the process at once. SIGUSR1 (the warning
// a batch script asks for before its time limit, --signal) asks it to start no new trial.
std::atomic<bool> stop_requested{false};
std::atomic<bool> drain_requested{false};
extern "C" void on_drain_signal(int) { drain_requested.store(true); }
extern "C" void on_stop_signal(int signal) {
  if (stop_requested.exchange(true)) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

struct Job {
  std::string name, job_path, job_text, dataset, space_path, out, objective, synthetic_graph;
  std::string synthetic_preset = "default";
  std::int32_t synthetic_nodes = 300, synthetic_days = 1000;
  std::uint64_t synthetic_seed = 1, seed = 1;
  Algorithm algorithm = Algorithm::Hyperband;
  HyperbandOptions hyperband;
  AshaOptions asha;
  double time_limit = 0.0;
  SimulationOptions simulation;  // workers 0: a real search
  Ranking ranking = Ranking::BestEpoch;
  std::int32_t final_epochs = 25, threads = 1, final_threads = 0;
  std::string workers_per_node = "auto";
  double trial_timeout = 0.0;
  std::optional<std::chrono::system_clock::time_point> deadline;
  double window_cache_mb = 1024.0;
  DatasetBroadcast dataset_broadcast = DatasetBroadcast::Auto;
  double progress_seconds = 5.0;
  HitRateOptions hit_rate;
  Hyperparameters base;
  bool dry_run = false;
  bool resume = false, overwrite = false;
  std::int64_t stop_after_trials = 0;
  std::string log_level;
};

// A relative path is looked up in the working directory, then next to the job file, then in
// the folder above it (jobs/ and configs/ are siblings in a project).
std::string locate(const std::string& path, const std::string& job_path) {
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path) || job_path.empty()) return path;
  const auto folder = fs::path(job_path).parent_path();
  for (const auto& candidate : {folder / path, folder.parent_path() / path}) {
    if (fs::exists(candidate)) return candidate.lexically_normal().string();
  }
  return path;
}

Job parse_job(int argc, char** argv, bool& exit_now) {
  po::options_description desc("crimegraph-search options");
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "show the version and exit")
      ("job", po::value<std::string>(), "job file (INI); command-line options override it")
      ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error or off")
      ("name", po::value<std::string>()->default_value("search"), "name of the search (results/NAME.h5)")
      ("dataset", po::value<std::string>()->default_value("synthetic"), "dataset file, or 'synthetic' to generate one")
      ("synthetic-nodes", po::value<std::int32_t>()->default_value(300), "segments of the generated synthetic city")
      ("synthetic-days", po::value<std::int32_t>()->default_value(1000), "days of the generated synthetic city")
      ("synthetic-seed", po::value<std::int64_t>()->default_value(1), "seed of the generated synthetic city")
      ("synthetic-preset", po::value<std::string>()->default_value("default"),
       "event process of the generated city: default, or baltimore-like (as hard as the original study's city)")
      ("synthetic-graph", po::value<std::string>()->default_value(""),
       "street graph file for the synthetic events (default: a generated grid of --synthetic-nodes)")
      ("space", po::value<std::string>()->default_value("configs/space-default.ini"), "search space file")
      ("objective", po::value<std::string>()->default_value("gldnet"),
       "gldnet (train GLDNet) or null (instant deterministic scores, for measuring the scheduler)")
      ("algorithm", po::value<std::string>()->default_value("hyperband"),
       "hyperband (exact, synchronous rounds) or asha (asynchronous successive halving: no worker waits)")
      ("variant", po::value<std::string>()->default_value("keras"), "Hyperband: keras (Keras Tuner's arithmetic) or paper (Li et al.)")
      ("max-epochs", po::value<std::int32_t>()->default_value(25), "Hyperband R: epochs of the longest trial")
      ("factor", po::value<std::int32_t>()->default_value(2), "Hyperband reduction factor eta")
      ("iterations", po::value<std::int32_t>()->default_value(1), "Hyperband iterations")
      ("min-epochs", po::value<std::int32_t>()->default_value(1), "ASHA: epochs of the lowest rung (r)")
      ("brackets", po::value<std::int32_t>()->default_value(1), "ASHA: brackets, each starting one rung higher")
      ("max-trials", po::value<std::int64_t>()->default_value(0), "ASHA budget: configurations to start (0: no limit)")
      ("max-total-epochs", po::value<std::int64_t>()->default_value(0),
       "ASHA budget: epochs trained by all trials together (0: no limit)")
      ("time-limit", po::value<double>()->default_value(0.0),
       "budget of seconds: no trial starts after this much search time and the search ends complete (0: none)")
      ("max-planned-trials", po::value<std::int64_t>()->default_value(1000000),
       "refuse a plan of more trials than this (a mistyped --max-epochs or --iterations)")
      ("ranking", po::value<std::string>()->default_value("best-epoch"),
       "rank trials by their best-epoch or last-epoch validation hit rate")
      ("seed", po::value<std::int64_t>()->default_value(1), "search seed: configurations and trial seeds")
      ("threads", po::value<std::int32_t>()->default_value(1), "intra-op threads per worker")
      ("deadline", po::value<std::string>(),
       "when this run must have ended (YYYY-MM-DDTHH:MM:SS local time, as squeue prints a job's end, or +SECONDS): "
       "trials that would not finish by then are not started, and the search stops to be resumed")
      ("trial-timeout", po::value<double>()->default_value(0.0),
       "a trial training longer than this many seconds fails with that reason and the search goes on (0: no limit)")
      ("workers-per-node", po::value<std::string>()->default_value("auto"),
       "workers given trials on each node: auto (one per --threads of its cores; the others wait), all, or a number")
      ("final-epochs", po::value<std::int32_t>()->default_value(25), "retrain the best configuration for this many epochs (0: skip)")
      ("final-threads", po::value<std::int32_t>()->default_value(0),
       "threads of the final retraining (0: the cores of the workers on its node, which wait for it)")
      ("window-cache-mb", po::value<double>()->default_value(1024.0),
       "each node keeps every window's smoothed inputs, shared by its workers, when they fit in this many MB (0: never)")
      ("dataset-broadcast", po::value<std::string>()->default_value("auto"),
       "auto: rank 0 sends its dataset file to nodes that cannot open theirs; always: to every node; never: such a "
       "node is an error")
      ("coverage", po::value<double>()->default_value(0.2), "share of segments flagged by the hit rate")
      ("hit-rate", po::value<std::string>()->default_value("day-mean"), "day-mean, event-weighted or street-length")
      ("progress-seconds", po::value<double>()->default_value(5.0), "seconds between progress lines")
      ("out", po::value<std::string>(), "results file (default results/NAME.h5)")
      ("overwrite", "replace a finished search's results file at --out (without it, such a file is kept and the "
                    "search refused)")
      ("resume", "continue the unfinished search at --out (after a preemption or a crash): its finished trials "
                 "are kept, the others run again; without one, start it (a finished search is left alone)")
      ("stop-after-trials", po::value<std::int64_t>()->default_value(0),
       "for testing --resume: stop as if preempted after this many finished trials (0: never)")
      ("dry-run", "print the plan and exit, without MPI or training")
      ("simulate", po::value<std::int32_t>()->default_value(0),
       "run the search against this many simulated workers in simulated time, without MPI or training "
       "(results to --out, default results/NAME-simulated.h5)")
      ("simulate-from", po::value<std::string>()->default_value(""),
       "fit the simulated epoch times and learning curves to this results file (default: a synthetic model)")
      ("simulate-epoch-seconds", po::value<double>()->default_value(10.0),
       "synthetic model: seconds an epoch of a middling configuration takes")
      ("simulate-stragglers", po::value<double>()->default_value(0.02), "share of simulated trials that take 4x longer")
      ("simulate-seed", po::value<std::int64_t>()->default_value(1), "seed of the simulated durations and scores")
      ("simulate-checkpoint-kb", po::value<double>()->default_value(0.0),
       "size of each simulated trial's training state, kept and handed to promotions as real ones are");
  add_hyperparameter_options(desc);
  po::variables_map vm;
  try {
    // No positional arguments: a stray word is an error, not silently ignored.
    store_command_line(argc, argv, desc, {}, vm);
    if (vm.count("help")) {
      std::cout << kUsage << "\n\n" << desc << "\n";
      exit_now = true;
      return {};
    }
    if (vm.count("version")) {
      std::cout << "crimegraph-search (CrimeGraph Search) " << kVersion << "\n";
      exit_now = true;
      return {};
    }
    Job job;
    if (vm.count("job")) {
      job.job_path = vm["job"].as<std::string>();
      job.job_text = read_text_file(job.job_path, "job file");
      const auto keys = store_config_text(job.job_text, job.job_path, "job file", desc, vm);
      if (std::find(keys.begin(), keys.end(), "job") != keys.end()) {
        throw ConfigError("job file '" + job.job_path + "' names another job file (a job cannot include one)");
      }
    }
    po::notify(vm);
    job.name = vm["name"].as<std::string>();
    // The name becomes results/NAME.h5: a plain file name, not a path out of results/.
    if (job.name.empty() || job.name[0] == '.' || job.name.size() > 128 ||
        job.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos) {
      throw ConfigError("--name '" + job.name.substr(0, 160) + "' must be up to 128 letters, digits, '.', '_' or '-' (not starting with '.'); "
                        "--out chooses another place for the results");
    }
    job.dataset = vm["dataset"].as<std::string>();
    if (job.dataset != "synthetic") job.dataset = locate(job.dataset, job.job_path);
    job.synthetic_nodes = vm["synthetic-nodes"].as<std::int32_t>();
    job.synthetic_days = vm["synthetic-days"].as<std::int32_t>();
    job.synthetic_seed = non_negative(vm, "synthetic-seed");
    job.synthetic_graph = vm["synthetic-graph"].as<std::string>();
    job.synthetic_preset = vm["synthetic-preset"].as<std::string>();
    event_process_preset(job.synthetic_preset);  // an unknown name fails here
    if (!job.synthetic_graph.empty()) job.synthetic_graph = locate(job.synthetic_graph, job.job_path);
    job.space_path = locate(vm["space"].as<std::string>(), job.job_path);
    job.objective = vm["objective"].as<std::string>();
    if (job.objective != "gldnet" && job.objective != "null") {
      throw ConfigError("unknown objective '" + job.objective + "' (use gldnet or null)");
    }
    job.algorithm = parse_algorithm(vm["algorithm"].as<std::string>());
    job.hyperband.variant = parse_variant(vm["variant"].as<std::string>());
    job.hyperband.max_epochs = vm["max-epochs"].as<std::int32_t>();
    job.hyperband.factor = vm["factor"].as<std::int32_t>();
    job.hyperband.iterations = vm["iterations"].as<std::int32_t>();
    job.hyperband.max_planned_trials = vm["max-planned-trials"].as<std::int64_t>();
    job.time_limit = vm["time-limit"].as<double>();
    if (!(job.time_limit >= 0) || job.time_limit > 4e9) throw ConfigError("--time-limit must be 0 to 4e9 seconds");
    job.asha.max_epochs = job.hyperband.max_epochs;
    job.asha.factor = job.hyperband.factor;
    job.asha.min_epochs = vm["min-epochs"].as<std::int32_t>();
    job.asha.brackets = vm["brackets"].as<std::int32_t>();
    job.asha.max_trials = vm["max-trials"].as<std::int64_t>();
    job.asha.max_total_epochs = vm["max-total-epochs"].as<std::int64_t>();
    if (job.algorithm == Algorithm::Asha) job.asha.validate(job.time_limit > 0);
    else job.hyperband.validate();
    job.ranking = parse_ranking(vm["ranking"].as<std::string>());
    job.seed = non_negative(vm, "seed");
    job.threads = vm["threads"].as<std::int32_t>();
    if (job.threads < 1) throw ConfigError("--threads must be at least 1");
    if (vm.count("deadline")) job.deadline = parse_time_point(vm["deadline"].as<std::string>(), "--deadline");
    job.trial_timeout = vm["trial-timeout"].as<double>();
    if (!(job.trial_timeout >= 0)) throw ConfigError("--trial-timeout must not be negative");
    job.workers_per_node = vm["workers-per-node"].as<std::string>();
    training_workers(job.workers_per_node, 1, 1, 1);  // a bad value fails here, on every rank
    job.final_epochs = vm["final-epochs"].as<std::int32_t>();
    if (job.final_epochs < 0) throw ConfigError("--final-epochs must not be negative");
    job.final_threads = vm["final-threads"].as<std::int32_t>();
    if (job.final_threads < 0) throw ConfigError("--final-threads must not be negative");
    job.window_cache_mb = vm["window-cache-mb"].as<double>();
    if (!(job.window_cache_mb >= 0)) throw ConfigError("--window-cache-mb must not be negative");
    job.dataset_broadcast = parse_dataset_broadcast(vm["dataset-broadcast"].as<std::string>());
    job.progress_seconds = vm["progress-seconds"].as<double>();
    if (!(job.progress_seconds > 0)) throw ConfigError("--progress-seconds must be positive");
    job.hit_rate.coverage = vm["coverage"].as<double>();
    job.hit_rate.kind = parse_hit_rate_kind(vm["hit-rate"].as<std::string>());
    job.hit_rate.validate();
    job.base = hyperparameters_from(vm);
    job.simulation.workers = vm["simulate"].as<std::int32_t>();
    if (job.simulation.workers < 0 || job.simulation.workers > 10'000'000) {
      throw ConfigError("--simulate takes 1 to 10,000,000 workers");
    }
    job.simulation.fit_from = vm["simulate-from"].as<std::string>();
    job.simulation.epoch_seconds = vm["simulate-epoch-seconds"].as<double>();
    if (!(job.simulation.epoch_seconds > 0) || job.simulation.epoch_seconds > 1e6) {
      throw ConfigError("--simulate-epoch-seconds must be above 0 and at most 1e6");
    }
    job.simulation.straggler_rate = vm["simulate-stragglers"].as<double>();
    if (!(job.simulation.straggler_rate >= 0 && job.simulation.straggler_rate <= 1)) {
      throw ConfigError("--simulate-stragglers must be a share, 0 to 1");
    }
    job.simulation.seed = non_negative(vm, "simulate-seed");
    const double checkpoint_kb = vm["simulate-checkpoint-kb"].as<double>();
    if (!(checkpoint_kb >= 0 && checkpoint_kb <= 1e6)) throw ConfigError("--simulate-checkpoint-kb must be 0 to 1e6");
    job.simulation.checkpoint_bytes = static_cast<std::size_t>(checkpoint_kb * 1024);
    const std::string suffix = job.simulation.workers > 0 ? "-simulated" : "";
    job.out = vm.count("out") ? vm["out"].as<std::string>() : "results/" + job.name + suffix + ".h5";
    job.dry_run = vm.count("dry-run") > 0;
    if (!job.dry_run) check_output_path(job.out, "--out", true);  // the results folder is made if missing
    job.resume = vm.count("resume") > 0;
    job.overwrite = vm.count("overwrite") > 0;
    if (job.resume && job.overwrite) throw ConfigError("--resume and --overwrite exclude each other");
    job.stop_after_trials = vm["stop-after-trials"].as<std::int64_t>();
    if (job.stop_after_trials < 0) throw ConfigError("--stop-after-trials must not be negative");
    if (job.synthetic_nodes < 2 || job.synthetic_days < 2) throw ConfigError("the synthetic city is too small");
    job.log_level = vm["log-level"].as<std::string>();
    setup_logging(job.log_level);  // validates the level now; set again with the rank once MPI is up
    return job;
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
}

std::string synthetic_path(const Job& job) {
  const auto folder = fs::path(job.out).parent_path();
  const std::string graph = job.synthetic_graph.empty() ? std::to_string(job.synthetic_nodes)
                                                        : fs::path(job.synthetic_graph).parent_path().filename().string() + "-" +
                                                              fs::path(job.synthetic_graph).stem().string();
  const std::string preset = job.synthetic_preset == "default" ? "" : "-" + job.synthetic_preset;
  return (folder / ("synthetic-" + graph + "x" + std::to_string(job.synthetic_days) + preset + "-seed" +
                    std::to_string(job.synthetic_seed) + ".h5"))
      .string();
}

void print_summary(const SearchSummary& s, const Job& job) {
  // Trials of real training take seconds each; the null objective runs thousands a second.
  const auto rate = s.trials_per_second >= 100.0 ? fmt::format("{:.0f} trials/s", s.trials_per_second)
                                                 : fmt::format("{:.3g} trials/s", s.trials_per_second);
  std::cout << fmt::format("\nsearch '{}': {} trials ({} failed) in {:.2f} s ({}), worker utilisation {:.1f}%\n",
                           job.name, s.completed, s.failed, s.wall_seconds, rate, 100.0 * s.utilisation);
  if (s.best_trial >= 0) {
    std::cout << fmt::format("best trial {}: validation {} {:.4f} ({})\n  {}\n", s.best_trial,
                             job.hit_rate.describe(), s.best_score, ranking_name(job.ranking), describe(s.best_config));
  }
  if (s.final) {
    const auto& f = *s.final;
    std::cout << fmt::format("retrained from scratch for {} epochs: {}{}\n", f.epochs, trial_status_name(f.status),
                             f.message.empty() ? "" : " (" + f.message + ")");
    std::cout << fmt::format("test {}:\n", f.hit_rate_description);
    std::cout << fmt::format("  GLDNet      {:.4f}  {}\n  naive       {:.4f}  {}\n  historical  {:.4f}  {}\n",
                             f.test_hit_rate, describe(f.test_interval), f.naive, describe(f.naive_interval),
                             f.historical, describe(f.historical_interval));
    if (f.oracle) std::cout << fmt::format("  oracle      {:.4f}  {}\n", *f.oracle, describe(f.oracle_interval));
    if (!f.best_baseline.empty()) {
      std::cout << fmt::format("  GLDNet - {}: {:+.4f}  {}  (paired; 95% intervals from a block bootstrap over weeks "
                               "of test days)\n",
                               f.best_baseline, f.gain, describe(f.gain_interval));
    }
  }
  double wait = 0, wait_cpu = 0;
  for (const auto& w : s.workers) {
    wait += w.waiting_seconds;
    wait_cpu += w.waiting_cpu_seconds;
  }
  if (wait > 0) {
    std::cout << fmt::format("workers waited {:.1f} s in all and used {:.2f} s of CPU doing so ({:.2f}%)\n", wait,
                             wait_cpu, 100.0 * wait_cpu / wait);
  }
  std::cout << "results: " << s.results_path << "\n";
}

// Workers beyond a node's cores wait instead of sharing the cores (--workers-per-node), and
// intra-op threads never oversubscribe a node: its training workers together run at most one thread a
// core, and the final retraining, during which every other worker waits, takes the cores of
// the workers on its node.
// Returns how many of the node's workers train.
int fit_workers_to_cores(Job& job, const NodeComm& node) {
  const int cores = node.node_cores();
  const int training = training_workers(job.workers_per_node, node.node_size(), cores, job.threads);
  if (node.leader() && training < node.node_size()) {
    spdlog::info("node {}: {} of its {} workers train ({} core(s), {} thread(s) each); the others wait "
                 "(--workers-per-node all uses them)", node.node(), training, node.node_size(), cores, job.threads);
  }
  const int fair = std::max(1, cores / training);
  if (job.threads > fair) {
    if (node.leader()) {
      spdlog::warn("node {}: {} workers x --threads {} would oversubscribe its {} core(s): each worker runs {} thread(s)",
                   node.node(), training, job.threads, cores, fair);
    }
    job.threads = fair;
  }
  if (job.final_threads == 0) {
    job.final_threads = std::max(job.threads, std::min(cores, job.threads * node.node_size()));
  } else if (job.final_threads > cores) {
    if (node.leader()) spdlog::warn("node {}: --final-threads {} is more than its {} core(s)", node.node(), job.final_threads, cores);
    job.final_threads = cores;
  }
  return training;
}

// The space's most memory-hungry configuration: every parameter at its largest value (what a
// trial holds grows with each of them).
Hyperparameters largest_configuration(Hyperparameters h, const SearchSpace& space) {
  for (const auto& p : space.parameters()) {
    h.set(p.name, p.largest());
  }
  return h;
}

// Warns when the space's largest configuration, trained by `workers` processes of a node at
// once on `nodes` segments with `inputs` summaries each, would not fit in its memory.
// `channel_bytes`: each worker's own copy of the channels, when trials recompute them (else 0).
void check_trial_memory(const Job& job, const SearchSpace& space, std::int64_t nodes, std::int64_t inputs, int workers,
                        int node, double channel_bytes) {
  const auto hp = largest_configuration(job.base, space);
  const double per_trial = static_cast<double>(training_memory_bytes(hp, nodes, inputs, job.threads)) + channel_bytes;
  const double usable = static_cast<double>(usable_memory_bytes());
  spdlog::debug("node {}: the space's largest configuration needs about {} per trial", node, describe_bytes(per_trial));
  if (usable <= 0 || per_trial * workers <= 0.8 * usable) return;
  spdlog::warn("node {}: the space's largest configuration (gated {}x{}, diffusion {}x{}, batch {}) needs about {} "
               "per trial; {} worker(s) training at once need {} of its {}: trials may run out of memory (fewer "
               "--workers-per-node, smaller layers in the space, or more memory)",
               node, hp.num_gated_relu_layers, hp.num_gated_relu_hidden_units, hp.num_ldn_layers, hp.num_ldn_hidden_units,
               hp.batch_size, describe_bytes(per_trial), workers, describe_bytes(per_trial * workers), describe_bytes(usable));
}

// Started by an MPI launcher (a Slurm batch script alone sets SLURM_PROCID but starts no job).
bool under_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

struct Prepared {
  Job job;
  SearchSpace space;
  std::string plan_text;       // the schedule for people and the results file
  std::int64_t planned = -1;   // trials, when the schedule fixes them
};

// The search as the job describes it, but for what only MPI's ranks know (workers, dataset).
SearchSettings search_settings(const Prepared& p) {
  const Job& job = p.job;
  SearchSettings settings;
  settings.algorithm = job.algorithm;
  settings.hyperband = job.hyperband;
  settings.asha = job.asha;
  settings.time_limit_seconds = job.time_limit;
  settings.space = p.space;
  settings.seed = job.seed;
  settings.ranking = job.ranking;
  settings.final_epochs = job.final_epochs;
  settings.progress_seconds = job.progress_seconds;
  settings.results_path = job.out;
  settings.stop_after_trials = job.stop_after_trials;
  settings.overwrite = job.overwrite;
  auto& m = settings.metadata;
  m.name = job.name;
  m.job_text = job.job_text;
  m.space_text = p.space.to_text();
  m.plan_text = p.plan_text;
  m.variant = job.algorithm == Algorithm::Asha ? "asha" : variant_name(job.hyperband.variant);
  m.ranking = ranking_name(job.ranking);
  m.objective = job.objective;
  m.hit_rate = job.hit_rate.describe();
  m.seed = job.seed;
  m.planned_trials = p.planned;
  return settings;
}

// --simulate: the search against virtual workers in simulated time, without MPI or training.
void simulate(const Prepared& p) {
  const Job& job = p.job;
  // Every rank would simulate the whole search and write the same file.
  if (under_mpi_launcher()) throw ConfigError("--simulate runs without MPI: start crimegraph-search without mpirun");
  SearchSettings settings = search_settings(p);
  settings.metadata.objective = "simulated";
  settings.metadata.workers = job.simulation.workers;
  settings.workers_description = "simulated workers";
  if (job.resume) settings.resume = fs::exists(partial_results_path(job.out));
  const TrialModel model(job.simulation, p.space);
  std::cout << p.plan_text << "simulating " << job.simulation.workers << " workers; trials: " << model.describe()
            << "\n" << std::flush;
  const auto r = simulate_search(settings, job.simulation);
  const auto& s = r.search;
  std::cout << fmt::format("\nsimulated search '{}': {} trials ({} failed) on {} workers\n", job.name, s.completed, s.failed,
                           job.simulation.workers);
  std::cout << fmt::format("  makespan {:.0f} s simulated ({:.2f} h), worker utilisation {:.1f}%{}\n", r.makespan_seconds,
                           r.makespan_seconds / 3600, 100.0 * s.utilisation,
                           s.time_limit_reached ? ", ended by the time limit" : "");
  if (s.best_trial >= 0) {
    std::cout << fmt::format("  best trial {}: validation hit rate {:.4f}\n    {}\n", s.best_trial, s.best_score,
                             describe(s.best_config));
  }
  if (!r.best_over_time.empty()) {
    std::cout << fmt::format("  best validation hit rate {:.4f}, first reached at {:.0f} s simulated\n",
                             r.best_over_time.back().second, r.best_over_time.back().first);
  }
  std::cout << "  best validation hit rate over simulated time:\n";
  const auto& best = r.best_over_time;
  for (int k = 1; k <= 10 && !best.empty(); ++k) {
    const double t = r.makespan_seconds * k / 10;
    const auto it = std::upper_bound(best.begin(), best.end(), t, [](double x, const auto& b) { return x < b.first; });
    if (it != best.begin()) std::cout << fmt::format("    {:>10.0f} s  {:.4f}\n", t, std::prev(it)->second);
  }
  std::cout << fmt::format("  real time {:.2f} s: scheduler {:.2f} us per decision, {:.1f} us per trial in all; peak "
                           "memory {}\n",
                           r.wall_seconds, r.decision_microseconds, r.loop_microseconds_per_trial,
                           describe_bytes(static_cast<double>(r.peak_rss_bytes)));
  std::cout << "results: " << s.results_path << "\n";
}

// Everything that needs no MPI: the options, the space and the plan. Empty when the run ends
// here (--help, --version, --dry-run, --simulate).
std::optional<Prepared> prepare(int argc, char** argv) {
  bool exit_now = false;
  Prepared p;
  p.job = parse_job(argc, argv, exit_now);
  if (exit_now) return std::nullopt;
  p.space = SearchSpace::from_file(p.job.space_path);
  if (p.job.objective == "gldnet") check_gldnet_space(p.space);
  for (const auto& q : p.space.parameters()) p.job.base.set(q.name, q.default_value);  // validated above
  if (p.job.algorithm == Algorithm::Asha) {
    p.plan_text = AshaScheduler(p.job.asha, p.space, p.job.seed).describe();
  } else {
    const auto plan = hyperband_plan(p.job.hyperband);
    p.plan_text = describe_plan(plan, p.job.hyperband);
    p.planned = plan_totals(plan).trials;
  }
  if (p.job.simulation.workers > 0) {
    simulate(p);
    return std::nullopt;
  }
  if (!p.job.dry_run) return p;
  const auto simd = describe_simd_target("");  // a CRIMEGRAPH_SIMD this CPU cannot run fails here
  std::cout << p.plan_text << "\nsearch space (" << p.job.space_path << "):\n"
            << p.space.to_text();
  std::cout << "ranking: " << ranking_name(p.job.ranking) << " validation " << p.job.hit_rate.describe() << "\n";
  std::cout << "GLDNet kernel here: " << simd << "\n";
  return std::nullopt;
}

// Every rank has prepared the job before MPI started. True when all accepted it. Otherwise
// rank 0 throws the refusal (its own, or the first another rank sends) and the others return
// false to end with status 0: a rank ending non-zero first would let the launcher kill rank 0
// before it reports, and MPI_Abort would bury the one-line error under pages of noise.
bool every_rank_accepts(const MpiSession& mpi, MpiTransport& transport, const std::exception_ptr& refused) {
  if (transport.max_over_ranks(refused ? 1 : 0) == 0) return true;
  if (mpi.rank() != 0) {
    if (refused) {
      try {
        std::rethrow_exception(refused);
      } catch (const Error& e) {
        transport.send(0, tag_number(Tag::Fatal), e.what());
      }
    }
    return false;
  }
  if (refused) std::rethrow_exception(refused);
  const auto m = transport.receive();
  throw ConfigError("rank " + std::to_string(m.source) + ": " + m.payload);
}

// Where rank 0's workers are when an error ends the job.
enum class Workers {
  Busy,           // training, or in a collective with rank 0: only MPI_Abort reaches them
  Listening,      // waiting for work (or for the end, having reported their own error)
  EndThemselves,  // they learnt of the error as rank 0 did
};

// Reports this rank's error and ends the job: with messages where the workers can hear them,
// with MPI_Abort (and its noise) where they cannot, so no rank is left waiting.
int end_on_error(const MpiSession& mpi, MpiTransport& transport, Workers workers, const char* kind,
                 const char* what, int status) {
  std::cerr << "crimegraph-search: " << kind << " (rank " << mpi.rank() << "): " << one_line(what) << "\n" << std::flush;
  if (mpi.size() == 1 || (mpi.rank() == 0 && workers == Workers::EndThemselves)) return status;
  if (mpi.rank() == 0 && workers == Workers::Listening) {
    make_mpi_worker_pool(transport, mpi.size() - 1)->shutdown();
    return status;
  }
  mpi.abort(status);
}

// A worker's error before the search: rank 0 reports it and ends the job. Ending first, or
// with a non-zero status, would let the launcher kill rank 0 before it has said why.
int report_to_coordinator(MpiTransport& transport, const std::string& what) {
  transport.send(0, tag_number(Tag::Fatal), what);
  while (transport.receive(0).tag != tag_number(Tag::Shutdown)) {
  }
  return 0;
}

int run(int argc, char** argv) {
  std::optional<Prepared> prepared;
  std::exception_ptr refused;
  try {
    prepared = prepare(argc, argv);
    if (!prepared) return 0;
  } catch (const Error&) {
    if (!under_mpi_launcher()) throw;
    refused = std::current_exception();
  }
  MpiSession mpi(&argc, &argv);
  MpiTransport transport;
  if (!every_rank_accepts(mpi, transport, refused)) return 0;
  Job& job = prepared->job;
  const SearchSpace& space = prepared->space;
  // Trials recompute their channels from the dataset's daily counts (their smoothing is set).
  const bool recompute_channels = job.objective == "gldnet" && needs_daily_counts(job.base, space);
  setup_logging(job.log_level, mpi.size() > 1 ? mpi.rank() : -1);
  // On every rank: a worker that died of the signal would make the launcher kill the
  // coordinator before it could flush; instead workers train on until the coordinator,
  // having flushed, aborts the job.
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGUSR1, on_drain_signal);
  std::unique_ptr<NodeComm> node;
  if (mpi.size() > 1) node = std::make_unique<NodeComm>(mpi);
  bool trains = true;  // a worker beyond its node's cores waits instead
  int training_on_node = 1;
  if (node && !node->coordinator()) {
    training_on_node = fit_workers_to_cores(job, *node);
    trains = node->node_rank() < training_on_node;
  } else if (job.final_threads == 0) {
    job.final_threads = job.threads;
  }
  const auto training_flags = mpi.size() > 1 ? transport.gather(trains ? 1 : 0) : std::vector<int>{};
  auto workers = Workers::Busy;  // until every worker waits for work
  try {
    // Per node, after MPI starts, so that a node whose CPU cannot run CRIMEGRAPH_SIMD says so.
    describe_simd_target("");
    std::string dataset = job.dataset;
    if (job.objective == "gldnet" && dataset == "synthetic") {
      dataset = synthetic_path(job);
      if (mpi.rank() == 0 && !fs::exists(dataset)) {
        spdlog::info("generating the synthetic city {} ({}, {} days)", dataset,
                     job.synthetic_graph.empty() ? std::to_string(job.synthetic_nodes) + "-segment grid" : job.synthetic_graph,
                     job.synthetic_days);
        fs::create_directories(fs::path(dataset).parent_path().empty() ? "." : fs::path(dataset).parent_path());
        StreetGridOptions grid;
        grid.nodes = job.synthetic_nodes;
        grid.seed = job.synthetic_seed;
        auto events = event_process_preset(job.synthetic_preset);
        events.days = job.synthetic_days;
        events.seed = job.synthetic_seed;
        auto city = simulate_city(job.synthetic_graph.empty() ? synthetic_street_grid(grid)
                                                              : read_street_graph(job.synthetic_graph),
                                  events);
        if (!job.synthetic_graph.empty()) city.provenance["graph_source"] = job.synthetic_graph;
        write_dataset(city, dataset);
      }
      if (mpi.size() > 1) transport.barrier();
    }

    // One copy of the training data per node, in memory its workers share.
    NodeData shared;
    if (node && job.objective == "gldnet") {
      NodeDataOptions n;
      n.dataset_path = dataset;
      n.broadcast = job.dataset_broadcast;
      n.lookback = static_cast<std::int32_t>(job.base.lookback);
      n.window_cache_bytes = static_cast<std::size_t>(job.window_cache_mb * 1e6);
      n.counts = recompute_channels;
      try {
        shared = share_training_data(*node, n);
      } catch (const DatasetRefused&) {
        if (mpi.rank() != 0) return 0;  // rank 0 says why
        workers = Workers::EndThemselves;
        throw;
      } catch (const Error& e) {
        if (mpi.rank() == 0) throw;
        return report_to_coordinator(transport, e.what());
      }
    }
    workers = Workers::Listening;
    // Where the trials run: on each node's leader, from the data its workers share (a node may
    // have no copy of the file); alone, from the file.
    if (job.objective == "gldnet" && shared.training && node->leader()) {
      check_trial_memory(job, space, shared.training->nodes(), shared.training->smoothed_width(), training_on_node,
                         node->node(), recompute_channels ? static_cast<double>(shared.training->channel_bytes()) : 0.0);
    } else if (job.objective == "gldnet" && mpi.size() == 1) {
      const auto extent = read_dataset_extent(dataset);
      check_trial_memory(job, space, extent.nodes, TrainingData::kSmoothingScales * extent.channels, 1, 0,
                         recompute_channels ? static_cast<double>(TrainingData::channel_bytes(
                                                  static_cast<std::int32_t>(extent.days), static_cast<std::int32_t>(extent.nodes),
                                                  static_cast<std::int32_t>(extent.channels)))
                                            : 0.0);
    }

    auto make_objective = [&] {
      if (job.objective == "null") return make_null_objective();
      GLDNetObjectiveOptions o;
      o.dataset = shared.training ? shared.source : DatasetSource{dataset};
      o.training = shared.training;
      o.base = job.base;
      o.threads = job.threads;
      o.final_threads = job.final_threads;
      o.window_cache_bytes = static_cast<std::size_t>(job.window_cache_mb * 1e6);
      o.keep_counts = recompute_channels;
      o.hit_rate = job.hit_rate;
      o.trial_timeout_seconds = job.trial_timeout;
      return make_gldnet_objective(o);
    };

    if (mpi.rank() != 0) {
      std::unique_ptr<Objective> objective;
      try {
        objective = make_objective();
      } catch (const std::exception& e) {
        return report_to_coordinator(transport, e.what());
      }
      run_worker(transport, mpi.rank(), *objective);
      return 0;
    }

    if (job.objective == "gldnet") {
      // Clear errors now, not one per trial: the graph reads, and the data is long enough for the
      // lookback (the smallest in the space, or the fixed one) to give every split its windows.
      read_street_graph(dataset);
      const auto days = read_day_count(dataset);
      double lookback = job.base.lookback;
      for (const auto& p : space.parameters())
        if (p.name == "lookback") lookback = p.smallest();
      if (recompute_channels) {
        const auto extent = read_dataset_extent(dataset);
        check_channels_are_smoothed_counts(extent.channel_names, extent.categories, "the dataset '" + dataset + "'");
      }
      WindowIndex windows(days, static_cast<std::int32_t>(lookback));
      for (auto split : {Split::Train, Split::Validation, Split::Test}) {
        if (windows.count(split) == 0) {
          throw ConfigError("the dataset '" + dataset + "' has " + std::to_string(days) + " days: too few for a lookback of " +
                            std::to_string(static_cast<int>(lookback)) + " days in its " + split_name(split) + " split");
        }
      }
    }
    SearchSettings settings = search_settings(*prepared);
    settings.workers_description = job.objective == "gldnet" ? "GLDNet kernel on " + describe_simd_target("")
                                                             : "null objective";
    auto& m = settings.metadata;
    m.dataset = job.objective == "gldnet" ? dataset : "";
    m.workers = mpi.size() == 1 ? 1 : static_cast<std::int32_t>(std::count(training_flags.begin() + 1, training_flags.end(), 1));
    if (job.resume) {
      const std::string partial = partial_results_path(job.out);
      if (fs::exists(partial)) {
        settings.resume = true;
      } else if (fs::exists(job.out)) {
        // A finished search: left alone if it is this one, refused if it records another.
        const ResultsReader finished(job.out);
        for (const auto& [name, value] : search_identity(m)) {
          if (finished.setting(name) != value) {
            throw ConfigError("--resume: '" + job.out + "' holds another, finished search (its " + name +
                              " differs from this job's)");
          }
        }
        std::cout << "nothing to resume: the search is complete: " << job.out << "\n";
        if (mpi.size() > 1) make_mpi_worker_pool(transport, mpi.size() - 1)->shutdown();
        return 0;
      } else {
        spdlog::info("nothing to resume at {}: starting the search", partial);
      }
    }
    std::cout << prepared->plan_text << std::flush;

    settings.stop_requested = &stop_requested;
    settings.drain_requested = &drain_requested;
    settings.deadline = job.deadline;
    SearchSummary summary;
    workers = Workers::Busy;
    if (mpi.size() == 1) {
      auto objective = make_objective();
      auto pool = make_in_process_pool(*objective);
      summary = run_search(settings, *pool);
    } else {
      std::vector<int> training;
      for (int r = 1; r < mpi.size(); ++r)
        if (training_flags[static_cast<std::size_t>(r)]) training.push_back(r);
      auto pool = make_mpi_worker_pool(transport, mpi.size() - 1, training);
      summary = run_search(settings, *pool);
    }
    if (summary.stopped()) {
      const bool on_request = summary.stop == SearchSummary::Stop::OnRequest;
      const char* why = on_request ? " on a signal"
                        : summary.stop == SearchSummary::Stop::Drained ? " before its time limit"
                                                                       : " as asked";
      const auto of = summary.planned >= 0 ? fmt::format(" of {}", summary.planned) : std::string();
      std::cout << fmt::format("\nsearch '{}' stopped after {}{} trials{}; resume it with --resume: {}\n",
                               job.name, summary.completed, of, why,
                               partial_results_path(summary.results_path))
                << std::flush;
      // The workers are being stopped too and cannot be waited for.
      if (on_request && mpi.size() > 1) mpi.abort(kExitStopped);
      return kExitStopped;
    }
    if (summary.resumed > 0) {
      std::cout << fmt::format("\nresumed: {} trials were finished before, {} ran now\n", summary.resumed,
                               summary.completed - summary.resumed);
    }
    print_summary(summary, job);
    std::string why;
    const int status = search_exit_status(summary, why);
    if (status != 0) std::cerr << "crimegraph-search: " << why << "\n";
    return status;
  } catch (const Error& e) {
    return end_on_error(mpi, transport, workers, "error", e.what(), 1);
  } catch (const std::exception& e) {
    // Not the project's own (a bug, or out of memory): the status of a bug.
    return end_on_error(mpi, transport, workers, "internal error", e.what(), 2);
  }
}

}  // namespace

// The rank a launcher gave this process, before MPI starts (0 when run alone).
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 0;
}

int main(int argc, char** argv) {
  // Every rank parses the same arguments: a bad one is reported once, by rank 0, not once a rank.
  if (launcher_rank() != 0) {
    try {
      return run(argc, argv);
    } catch (const Error&) {
      return 1;
    }
  }
  return run_guarded("crimegraph-search", [&] { return run(argc, argv); });
}
