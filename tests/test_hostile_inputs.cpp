// The hostile-input suite: every surface a user feeds the tools (options, job files, search
// spaces, dataset files, results and checkpoints files given to --resume or read afterwards,
// crime CSVs, GIS layers, GraphML) through bad data. Each case runs a real executable in a
// directory of its own and must end with the status it documents, one one-line error, no sign
// of a crash, and every file in its directory and among the good inputs as it was: nothing
// half-written or complete-looking is left behind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crimegraph/io/hdf5.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;
namespace fs = std::filesystem;

namespace {

const std::string kPrepare = CRIMEGRAPH_PREPARE_EXE;
const std::string kTrain = CRIMEGRAPH_TRAIN_EXE;
const std::string kReport = CRIMEGRAPH_REPORT_EXE;
const std::string kPredict = CRIMEGRAPH_PREDICT_EXE;
// A single search process is its own MPI job of one rank (it trains in process).
const std::string kSearch =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp " CRIMEGRAPH_SEARCH_EXE;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

void copy(const std::string& from, const fs::path& to) { fs::copy_file(from, to, fs::copy_options::overwrite_existing); }

// The first `keep` of the file's bytes (a copy cut off by a full disk or a killed writer).
void truncated_copy(const std::string& from, const fs::path& to, double keep = 0.5) {
  const auto text = read_all(from);
  write(to, text.substr(0, static_cast<std::size_t>(static_cast<double>(text.size()) * keep)));
}

std::string garbage(std::size_t bytes, std::uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::string s(bytes, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("fixture text has no '" + from + "'");
  return text.replace(at, from.size(), to);
}

// Every regular file under `dir` with its contents, to see that a failed command changed none.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = read_all(e.path());
    else if (e.is_directory()) files[fs::relative(e.path(), dir).string() + "/"] = "";
  }
  return files;
}

std::vector<std::string> keys(const std::map<std::string, std::string>& m) {
  std::vector<std::string> k;
  for (const auto& [name, _] : m) k.push_back(name);
  return k;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The good inputs every case starts from, made once for the whole suite.
struct Good {
  fixture::TempDir dir;
  std::string city, streets, graph, events, graphml, nodes, edges, space, job, finished, stopped, other_stopped;

  Good() {
    city = dir.file("city.h5");
    streets = dir.file("streets.geojson");
    graph = dir.file("graph.h5");
    events = dir.file("events.csv");
    graphml = dir.file("streets.graphml");
    nodes = dir.file("nodes.csv");
    edges = dir.file("edges.csv");
    space = dir.file("space.ini");
    job = dir.file("job.ini");
    finished = dir.file("finished.h5");
    stopped = dir.file("stopped.h5");
    other_stopped = dir.file("other-stopped.h5");
    must(kPrepare + " synth --out " + city + " --nodes 30 --days 150 --seed 2 --log-level warn");
    write(streets, fixture::kThreeStreetsGeoJson);
    must(kPrepare + " graph " + streets + " --out " + graph + " --bbox 39.29,-76.63,39.33,-76.60 --log-level warn");
    write(events, kEvents());
    write(graphml, fixture::kTeeGraphMl);
    write(nodes, "id,name,x,y,length_m\na,Main,0,0,100\nb,Side,100,0,80\nc,Far,900,0,50\n");
    write(edges, "u,v,distance_m\na,b,50\nb,a,50\n");
    write(space, "[space]\nnum_ldn_layers = int 1 2 default=1\nnum_ldn_hidden_units = choice 2,4 ordered default=2\n");
    write(job, "name = good\ndataset = " + city + "\nspace = " + space +
                   "\nmax-epochs = 2\nfactor = 2\niterations = 1\nfinal-epochs = 0\nseed = 1\nlog-level = warn\n");
    must(kSearch + " --job " + job + " --out " + finished);
    must(kSearch + " --job " + job + " --out " + stopped + " --stop-after-trials 1", 75);
    must(kSearch + " --job " + job + " --seed 2 --out " + other_stopped + " --stop-after-trials 1", 75);
  }

  static std::string must(const std::string& command, int status = 0) {
    const auto r = fixture::run_command(command);
    if (r.exit_code != status) throw std::runtime_error("fixture command failed: " + command + "\n" + r.output);
    return r.output;
  }

  // Sixty days of reports on the three streets.
  static std::string kEvents() {
    std::string s = "Date,Type,Latitude,Longitude\n";
    const char* types[] = {"Assault", "Burglary", "Arrest"};
    const char* lats[] = {"39.300", "39.310", "39.320"};
    for (int d = 0; d < 60; ++d) {
      const int month = 3 + d / 30, day = 1 + d % 30;
      s += "2019-0" + std::to_string(month) + "-" + (day < 10 ? "0" : "") + std::to_string(day) + "," + types[d % 3] +
           "," + lats[(d / 3) % 3] + ",-76.615\n";
    }
    return s;
  }
};

Good& good() {
  static Good g;
  return g;
}

// A bad input and what it must lead to. The command runs in the case's own directory (its
// outputs go to names starting with "out"); {name} stands for a good input or an executable
// (see expand); `setup`, when given, first writes the case's own bad inputs there.
struct Case {
  std::string name;
  std::string command;
  std::string message;  // the error line names this: the file, object, option or value at fault
  int status = 1;       // README "Exit statuses": 1 is bad input
  std::function<void(const fs::path& dir)> setup = {};
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

std::string expand(std::string command) {
  const auto& g = good();
  const std::map<std::string, std::string> values = {
      {"prepare", kPrepare}, {"train", kTrain}, {"report", kReport}, {"predict", kPredict},
      {"search", kSearch}, {"city", g.city}, {"streets", g.streets}, {"graph", g.graph},
      {"events", g.events}, {"graphml", g.graphml}, {"nodes", g.nodes}, {"edges", g.edges},
      {"space", g.space}, {"job", g.job}, {"finished", g.finished}, {"stopped", g.stopped},
      {"other_stopped", g.other_stopped}};
  for (std::size_t at; (at = command.find('{')) != std::string::npos;) {
    const auto close = command.find('}', at);
    const auto it = values.find(command.substr(at + 1, close - at - 1));
    if (close == std::string::npos || it == values.end()) throw std::logic_error("bad placeholder in " + command);
    command.replace(at, close - at + 1, it->second);
  }
  return command;
}

std::vector<std::string> error_lines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("crimegraph-", 0) == 0 && line.find(": error") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

class HostileInput : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() { good(); }
};

TEST_P(HostileInput, OneLineErrorAndNothingLeftBehind) {
  const Case& c = GetParam();
  fixture::TempDir dir;
  if (c.setup) c.setup(dir.path());
  const std::string command = expand(c.command);
  const auto before = snapshot(dir.path());
  const auto good_before = snapshot(good().dir.path());
  const auto r = fixture::run_command("cd " + dir.path().string() + " && " + command);
  const std::string context = command + "\n" + r.output;
  EXPECT_EQ(r.exit_code, c.status) << context;
  const auto errors = error_lines(r.output);
  ASSERT_EQ(errors.size(), 1u) << "one error line expected: " << context;
  EXPECT_NE(errors[0].find(c.message), std::string::npos) << "the error should name '" << c.message << "': " << context;
  for (const char* crash : {"internal error", "terminate called", "Sanitizer", "Segmentation", "core dumped",
                            "MPI_ABORT", "bad_alloc", "Assertion", "HDF5-DIAG", "Traceback"}) {
    EXPECT_EQ(r.output.find(crash), std::string::npos) << "'" << crash << "' in " << context;
  }
  const auto after = snapshot(dir.path());
  EXPECT_EQ(keys(after), keys(before)) << "files before: " << joined(keys(before)) << "; after: " << joined(keys(after));
  for (const auto& [name, text] : before) {
    const auto it = after.find(name);
    if (it != after.end()) EXPECT_TRUE(it->second == text) << name << " was changed by the failed command";
  }
  EXPECT_TRUE(snapshot(good().dir.path()) == good_before) << "a good input was changed by " << command;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

// --- cases, by surface -------------------------------------------------------------------------

// --- cases, by surface -------------------------------------------------------------------------

const std::string kDryRun = "{search} --dry-run --space {space} ";
const std::string kRunSearch = "{search} --job {job} --out out.h5 ";
const std::string kSynth = "{prepare} synth --out out.h5 --nodes 20 --days 100 ";
const std::string kEventsCmd = "{prepare} events --graph {graph} {events} --out out.h5 ";
const std::string kGraphCmd = "{prepare} graph {streets} --out out.h5 ";
const std::string kTrainCmd = "{train} --dataset {city} --epochs 1 ";

std::vector<Case> option_cases() {
  return {
      {"SearchMaxEpochsNotANumber", kDryRun + "--max-epochs abc", "max-epochs"},
      {"SearchMaxEpochsNegative", kDryRun + "--max-epochs -5", "max-epochs"},
      {"SearchMaxEpochsZero", kDryRun + "--max-epochs 0", "max-epochs"},
      {"SearchMaxEpochsOverflowsInt", kDryRun + "--max-epochs 99999999999", "max-epochs"},
      {"SearchFactorOne", kDryRun + "--factor 1", "factor"},
      {"SearchFactorZero", kDryRun + "--factor 0", "factor"},
      {"SearchIterationsZero", kDryRun + "--iterations 0", "iterations"},
      {"SearchRunawayPlan", kDryRun + "--objective null --max-epochs 2147483647 --factor 3", "max-planned-trials"},
      {"SearchRunawayIterations", kDryRun + "--iterations 1000000000", "max-planned-trials"},
      {"SearchThreadsZero", kDryRun + "--threads 0", "--threads"},
      {"SearchThreadsNegative", kDryRun + "--threads -1", "--threads"},
      {"SearchCoverageAboveOne", kDryRun + "--coverage 1.5", "coverage"},
      {"SearchCoverageNan", kDryRun + "--coverage nan", "coverage"},
      {"SearchProgressSecondsZero", kDryRun + "--progress-seconds 0", "--progress-seconds"},
      {"SearchTrialTimeoutNegative", kDryRun + "--trial-timeout -1", "--trial-timeout"},
      {"SearchTrialTimeoutNan", kDryRun + "--trial-timeout nan", "--trial-timeout"},
      {"SearchDeadlineGarbage", kDryRun + "--deadline soon", "--deadline"},
      {"SearchDeadlineOverflow", kDryRun + "--deadline @1e30", "--deadline"},
      {"SearchUnknownVariant", kDryRun + "--variant bohb", "bohb"},
      {"SearchUnknownAlgorithm", kDryRun + "--algorithm random", "random"},
      {"SearchAshaWithoutBudget", kDryRun + "--algorithm asha", "budget"},
      {"SearchAshaTooManyBrackets", kDryRun + "--algorithm asha --max-trials 9 --brackets 9", "brackets"},
      {"SearchAshaMinEpochsAboveMax", kDryRun + "--algorithm asha --max-trials 9 --min-epochs 99", "min-epochs"},
      {"SearchAshaNegativeBudget", kDryRun + "--algorithm asha --max-total-epochs -5", "budget"},
      {"SearchTimeLimitNegative", kDryRun + "--time-limit -1", "--time-limit"},
      {"SearchTimeLimitNan", kDryRun + "--time-limit nan", "--time-limit"},
      {"SearchSimulateNegative", kDryRun + "--simulate -4", "--simulate"},
      {"SearchSimulateEpochSecondsZero", kDryRun + "--simulate 4 --simulate-epoch-seconds 0", "--simulate-epoch-seconds"},
      {"SearchSimulateStragglersAboveOne", kDryRun + "--simulate 4 --simulate-stragglers 2", "--simulate-stragglers"},
      {"SearchSimulateFromMissingFile", kDryRun + "--simulate 4 --simulate-from /nonexistent/r.h5", "/nonexistent/r.h5"},
      {"SearchUnknownObjective", kDryRun + "--objective foo", "foo"},
      {"SearchUnknownSyntheticPreset", kDryRun + "--synthetic-preset chicago-like", "chicago-like"},
      {"SearchUnknownRanking", kDryRun + "--ranking worst", "worst"},
      {"SearchUnknownHitRate", kDryRun + "--hit-rate foo", "foo"},
      {"SearchUnknownOption", kDryRun + "--colour red", "colour"},
      {"SearchMissingValue", kDryRun + "--max-epochs", "max-epochs"},
      {"SearchStrayArgument", kDryRun + "jobs/demo.ini", "jobs/demo.ini"},
      {"SearchResumeAndOverwrite", kRunSearch + "--resume --overwrite", "--overwrite"},
      {"SearchNameIsAPath", kDryRun + "--name ../../x", "--name"},
      {"SearchWorkersPerNodeZero", kDryRun + "--workers-per-node 0", "workers-per-node"},
      {"SearchWindowCacheNegative", kDryRun + "--window-cache-mb -1", "--window-cache-mb"},
      {"SearchFinalEpochsNegative", kDryRun + "--final-epochs -1", "--final-epochs"},
      {"SearchLogLevelUnknown", kDryRun + "--log-level loud", "loud"},
      {"SearchSetUnknownHyperparameter", kDryRun + "--set num_ldn_layrs=2", "num_ldn_layrs"},
      {"SearchSetNotANumber", kDryRun + "--set num_ldn_layers=abc", "num_ldn_layers"},
      {"SearchSetWithoutValue", kDryRun + "--set num_ldn_layers", "num_ldn_layers"},
      {"SearchDatasetBroadcastUnknown", kDryRun + "--dataset-broadcast maybe", "maybe"},
      {"SearchStopAfterNegative", kDryRun + "--stop-after-trials -1", "--stop-after-trials"},
      {"SearchSeedNegative", kDryRun + "--seed -1", "seed"},
      {"SearchMissingJob", kDryRun + "--job /nonexistent/job.ini", "/nonexistent/job.ini"},
      {"SearchOutIsADirectory", "{search} --job {job} --out out.h5", "out.h5", 1,
       [](const fs::path& d) { fs::create_directory(d / "out.h5"); }},
      {"SearchOutInsideAFile", "{search} --job {job} --out out/results.h5", "out/results.h5", 1,
       [](const fs::path& d) { write(d / "out", "a file, not a folder"); }},
      {"PrepareUnknownCommand", "{prepare} synthesise --out out.h5", "synthesise"},
      {"PrepareNoCommand", "{prepare}", "command"},
      {"SynthOneNode", kSynth + "--nodes 1", "--nodes"},
      {"SynthNegativeDays", kSynth + "--days -3", "days"},
      {"SynthTooFewDays", kSynth + "--days 10", "days"},
      {"SynthSmoothingZero", kSynth + "--smoothing 0", "smoothing"},
      {"SynthSmoothingAboveOne", kSynth + "--smoothing 2", "smoothing"},
      {"SynthAlphaNegative", kSynth + "--alpha -1", "alpha"},
      {"SynthBadStartDate", kSynth + "--start-date 2019-13-45", "2019-13-45"},
      {"SynthNoOut", "{prepare} synth --nodes 20", "out"},
      {"SynthUnknownPreset", kSynth + "--preset chicago-like", "chicago-like"},
      {"SynthBaseRatesTwo", kSynth + "--base-rates 0.01,0.02", "--base-rates"},
      {"SynthBaseRatesWords", kSynth + "--base-rates a,b,c", "--base-rates"},
      {"SynthBaseRateNegative", kSynth + "--base-rates 0.01,-0.02,0.003", "--base-rates"},
      {"SynthExcitationExplosive", kSynth + "--excitation-scale 50", "explosive"},
      {"SynthHiddenRiskTooLarge", kSynth + "--hidden-risk 5", "hidden risk"},
      {"SynthHiddenRiskPersistenceOne", kSynth + "--hidden-risk 1 --hidden-risk-persistence 1", "persistence"},
      {"SynthSharedHotspotsAboveOne", kSynth + "--shared-hotspots 1.5", "--shared-hotspots"},
      {"SynthGraphMissing", kSynth + "--graph /nonexistent/g.h5", "/nonexistent/g.h5"},
      {"GraphAlphaZero", kGraphCmd + "--alpha 0", "--alpha"},
      {"GraphGeographicCrs", kGraphCmd + "--crs EPSG:4326", "4326"},
      {"GraphCrsNotEpsg", kGraphCmd + "--crs mercator", "mercator"},
      {"GraphUnknownEpsg", kGraphCmd + "--crs EPSG:999999", "999999"},
      {"GraphBboxThreeNumbers", kGraphCmd + "--bbox 1,2,3", "bbox"},
      {"GraphBboxLatitudeOutOfRange", kGraphCmd + "--bbox 95,-76.68,96,-76.61", "bbox"},
      {"GraphBboxInverted", kGraphCmd + "--bbox 39.33,-76.60,39.29,-76.63", "bbox"},
      {"GraphLayerMissing", kGraphCmd + "--layer roads", "roads"},
      {"EventsUnknownSnap", kEventsCmd + "--snap nearest", "--snap"},
      {"EventsMaxSnapZero", kEventsCmd + "--max-snap-m 0", "--max-snap-m"},
      {"EventsSmoothingAboveOne", kEventsCmd + "--smoothing 1.5", "--smoothing"},
      {"EventsUnknownPreset", kEventsCmd + "--preset nyc", "nyc"},
      {"EventsUnknownColumnOverride", kEventsCmd + "--columns colour=Red", "colour"},
      {"EventsBadStartDate", kEventsCmd + "--start-date 1st-of-May", "1st-of-May"},
      {"EventsEndBeforeStart", kEventsCmd + "--start-date 2019-04-01 --end-date 2019-03-01", "date"},
      {"EventsCategoriesMissing", kEventsCmd + "--categories /nonexistent/cats.txt", "/nonexistent/cats.txt"},
      {"EventsGraphMissing", "{prepare} events --graph /nonexistent/g.h5 {events} --out out.h5", "/nonexistent/g.h5"},
      {"InspectCoverageZero", "{prepare} inspect {city} --coverage 0", "coverage"},
      {"InspectUnknownHitRate", "{prepare} inspect {city} --hit-rate foo", "foo"},
      {"InspectLookbackZero", "{prepare} inspect {city} --lookback 0", "lookback"},
      {"InspectLookbackTooLong", "{prepare} inspect {city} --lookback 200", "lookback"},
      {"TrainEpochsZero", kTrainCmd + "--epochs 0", "--epochs"},
      {"TrainThreadsZero", kTrainCmd + "--threads 0", "--threads"},
      {"TrainUnknownHyperparameter", kTrainCmd + "--set num_ldn_layrs=2", "num_ldn_layrs"},
      {"TrainHyperparameterOutOfRange", kTrainCmd + "--set loss_rho=2", "loss_rho"},
      {"TrainLookbackTooLong", kTrainCmd + "--set lookback=200", "lookback"},
      {"TrainSaveIntoMissingFolder", kTrainCmd + "--save no/such/folder/out.ckpt", "no/such/folder"},
      {"TrainConfigMissing", kTrainCmd + "--config /nonexistent/train.ini", "/nonexistent/train.ini"},
      {"TrainNoDataset", "{train} --epochs 1", "dataset"},
      {"ReportUnknownColumn", "{report} {finished} --csv out.csv --columns trial_id,colour", "colour"},
      {"ReportTopNegative", "{report} {finished} --top -1", "top"},
      {"ReportCsvIntoMissingFolder", "{report} {finished} --csv no/such/out.csv", "no/such"},
      {"PredictDayGarbage", "{predict} --results {finished} --model best --dataset {city} --day tomorrow --out out.csv", "tomorrow"},
      {"PredictOutIntoMissingFolder", "{predict} --results {finished} --model best --dataset {city} --out no/such/out.csv", "no/such"},
  };
}

// The good job file changed by `change`, written as the case's job.ini.
std::function<void(const fs::path&)> job_file(std::function<std::string(std::string)> change) {
  return [change](const fs::path& d) { write(d / "job.ini", change(read_all(good().job))); };
}
std::function<std::string(std::string)> plus(const std::string& extra) {
  return [extra](std::string text) { return text + extra; };
}
std::function<std::string(std::string)> swap(const std::string& from, const std::string& to) {
  return [from, to](std::string text) { return replace(text, from, to); };
}
std::function<std::string(std::string)> whole(const std::string& text) {
  return [text](std::string) { return text; };
}

const std::string kJobSearch = "{search} --job job.ini --out out.h5";

std::vector<Case> job_file_cases() {
  return {
      {"UnknownKey", kJobSearch, "colour", 1, job_file(plus("colour = red\n"))},
      {"NotANumber", kJobSearch, "max-epochs", 1, job_file(swap("max-epochs = 2", "max-epochs = two"))},
      {"EmptyValue", kJobSearch, "max-epochs", 1, job_file(swap("max-epochs = 2", "max-epochs ="))},
      {"TwoValues", kJobSearch, "max-epochs", 1, job_file(swap("max-epochs = 2", "max-epochs = 2 3"))},
      {"NegativeValue", kJobSearch, "max-epochs", 1, job_file(swap("max-epochs = 2", "max-epochs = -2"))},
      {"LineWithoutEquals", kJobSearch, "job.ini", 1, job_file(plus("just some words\n"))},
      {"BinaryGarbage", kJobSearch, "job.ini", 1, job_file(whole(garbage(2000)))},
      {"NulByte", kJobSearch, "job.ini", 1, job_file(swap("name = good", std::string("name = go\0od", 12)))},
      {"KeyTwice", kJobSearch, "factor", 1, job_file(plus("factor = 3\n"))},
      {"UnknownSection", kJobSearch, "num_ldn_layrs", 1, job_file(plus("[model]\nnum_ldn_layrs = 2\n"))},
      {"NameIsAPath", kJobSearch, "--name", 1, job_file(swap("name = good", "name = ../../x"))},
      {"NameTooLong", kJobSearch, "--name", 1, job_file(swap("name = good", "name = " + std::string(100000, 'a')))},
      {"SpaceMissing", kJobSearch, "/nonexistent/space.ini", 1, job_file(swap("space = ", "space = /nonexistent/space.ini\n#"))},
      {"DatasetMissing", kJobSearch, "/nonexistent/city.h5", 1, job_file(swap("dataset = ", "dataset = /nonexistent/city.h5\n#"))},
      {"DatasetIsADirectory", kJobSearch, "folder", 1, [](const fs::path& d) {
         fs::create_directory(d / "folder");
         job_file(swap("dataset = ", "dataset = " + (d / "folder").string() + "\n#"))(d);
       }},
      {"SyntheticGraphMissing", kJobSearch, "/nonexistent/g.h5", 1,
       job_file(swap("dataset = ", "dataset = synthetic\nsynthetic-graph = /nonexistent/g.h5\n#"))},
      {"SyntheticCityTooSmall", kJobSearch, "synthetic", 1,
       job_file(swap("dataset = ", "dataset = synthetic\nsynthetic-nodes = 1\n#"))},
      {"UnknownVariant", kJobSearch, "bohb", 1, job_file(plus("variant = bohb\n"))},
      {"IterationsNegative", kJobSearch, "iterations", 1, job_file(plus("iterations = -1\n"))},
      {"DeadlineGarbage", kJobSearch, "deadline", 1, job_file(plus("deadline = next tuesday\n"))},
      {"FinalEpochsNegative", kJobSearch, "final-epochs", 1, job_file(swap("final-epochs = 0", "final-epochs = -2"))},
      {"SeedNegative", kJobSearch, "seed", 1, job_file(swap("seed = 1", "seed = -1"))},
      {"NamesAnotherJob", kJobSearch, "job", 1, job_file(plus("job = other.ini\n"))},
      {"JobIsADirectory", "{search} --job . --out out.h5", "folder"},
      {"JobMissing", "{search} --job missing.ini --out out.h5", "missing.ini"},
      {"HyperparameterOutOfRange", kJobSearch, "num_ldn_layers", 1, job_file(plus("set = num_ldn_layers=0\n"))},
      {"LookbackLongerThanTheData", kJobSearch, "lookback", 1, job_file(plus("set = lookback=200\n"))},
  };
}

// The case's own space file, with the good job.
std::function<void(const fs::path&)> space_file(const std::string& text) {
  return [text](const fs::path& d) { write(d / "space.ini", text); };
}
const std::string kSpaceSearch = "{search} --job {job} --space space.ini --out out.h5";

std::vector<Case> space_cases() {
  const auto one = [](const std::string& line) { return space_file("[space]\n" + line + "\n"); };
  return {
      {"Empty", kSpaceSearch, "space.ini", 1, space_file("")},
      {"HeaderOnly", kSpaceSearch, "space.ini", 1, space_file("[space]\n")},
      {"UnknownHyperparameter", kSpaceSearch, "colour", 1, one("colour = int 1 3")},
      {"MinAboveMax", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 5 1")},
      {"StepZero", kSpaceSearch, "step", 1, one("num_ldn_layers = int 1 4 step=0")},
      {"StepNegative", kSpaceSearch, "step", 1, one("num_ldn_layers = int 1 4 step=-1")},
      {"FloatStepZero", kSpaceSearch, "step", 1, one("loss_rho = float 0.005 0.035 step=0")},
      {"LogFromZero", kSpaceSearch, "loss_rho", 1, one("loss_rho = float 0 0.03 log")},
      {"LogNegative", kSpaceSearch, "loss_rho", 1, one("loss_rho = float -0.01 0.03 log")},
      {"NanBound", kSpaceSearch, "space.ini:2", 1, one("loss_rho = float nan 0.03")},
      {"InfiniteBound", kSpaceSearch, "space.ini:2", 1, one("loss_rho = float 0.005 inf")},
      {"BoundOverflowsDouble", kSpaceSearch, "space.ini:2", 1, one("loss_rho = float 0.005 1e400")},
      {"BoundOverflowsInt", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 1 99999999999")},
      {"FractionForAnInt", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 1.5 4")},
      {"ChoiceOfNothing", kSpaceSearch, "num_ldn_hidden_units", 1, one("num_ldn_hidden_units = choice")},
      {"ChoiceOfCommas", kSpaceSearch, "num_ldn_hidden_units", 1, one("num_ldn_hidden_units = choice ,,")},
      {"ChoiceOfWords", kSpaceSearch, "space.ini:2", 1, one("num_ldn_hidden_units = choice a,b")},
      {"DefaultNotAChoice", kSpaceSearch, "default", 1, one("num_ldn_hidden_units = choice 2,4 default=3")},
      {"DefaultOutOfRange", kSpaceSearch, "default", 1, one("num_ldn_layers = int 1 4 default=9")},
      {"UnknownFlag", kSpaceSearch, "bogus", 1, one("num_ldn_layers = int 1 4 bogus=1")},
      {"UnknownType", kSpaceSearch, "magic", 1, one("num_ldn_layers = magic 1 4")},
      {"MissingBounds", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 1")},
      {"NameTwice", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 1 2\nnum_ldn_layers = int 3 4")},
      {"OutsideTheModelsRange", kSpaceSearch, "loss_rho", 1, one("loss_rho = float 2 3")},
      {"ZeroLayers", kSpaceSearch, "num_ldn_layers", 1, one("num_ldn_layers = int 0 2")},
      {"LookbackLongerThanTheData", kSpaceSearch, "lookback", 1, one("lookback = int 100 200")},
      {"LookbackChoicesLongerThanTheData", kSpaceSearch, "lookback of 100", 1, one("lookback = choice 200,100")},
      {"SmoothingAboveOne", kSpaceSearch, "smoothing", 1, one("smoothing = float 0.5 2")},
      {"SmoothingNegative", kSpaceSearch, "smoothing", 1, one("smoothing = choice -0.5,0.5")},
      {"LineWithoutEquals", kSpaceSearch, "space.ini", 1, space_file("[space]\nnum_ldn_layers int 1 4\n")},
      {"BinaryGarbage", kSpaceSearch, "space.ini", 1, space_file(garbage(2000, 2))},
      {"IsADirectory", "{search} --job {job} --space . --out out.h5", "folder"},
      {"Missing", "{search} --job {job} --space missing.ini --out out.h5", "missing.ini"},
  };
}

// A copy of the good city as the case's bad.h5, with element `index` of `object` set to `value`.
template <class T>
std::function<void(const fs::path&)> poked(const std::string& object, std::size_t index, T value) {
  return [object, index, value](const fs::path& d) {
    copy(good().city, d / "bad.h5");
    auto f = h5::File::open_read_write((d / "bad.h5").string());
    h5::Dims dims;
    auto data = f.read<T>(object, &dims);
    data.at(index) = value;
    f.remove(object);
    f.write(object, data.data(), dims);
  };
}

// A copy of the good city changed by `change` through the HDF5 adapter.
std::function<void(const fs::path&)> edited(std::function<void(h5::File&)> change) {
  return [change](const fs::path& d) {
    copy(good().city, d / "bad.h5");
    auto f = h5::File::open_read_write((d / "bad.h5").string());
    change(f);
  };
}

std::function<void(const fs::path&)> bytes(const std::string& name, std::function<std::string()> make) {
  return [name, make](const fs::path& d) { write(d / name, make()); };
}

struct Mutation {
  std::string name, message;
  std::function<void(const fs::path&)> setup;
};

// Every way the dataset can be bad, given to every tool that reads one.
std::vector<Case> dataset_cases() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Mutation> mutations = {
      {"NotHdf5", "bad.h5", bytes("bad.h5", [] { return std::string("date,count\n2019-01-01,3\n"); })},
      {"Empty", "bad.h5", bytes("bad.h5", [] { return std::string(); })},
      {"Truncated", "bad.h5", [](const fs::path& d) { truncated_copy(good().city, d / "bad.h5"); }},
      {"GarbageAfterTheSignature", "bad.h5",
       bytes("bad.h5", [] { return std::string("\x89HDF\r\n\x1a\n", 8) + garbage(4096, 3); })},
      {"IsADirectory", "bad.h5", [](const fs::path& d) { fs::create_directory(d / "bad.h5"); }},
      {"Missing", "bad.h5", {}},
      {"NanFeature", "tensor/features", poked<float>("/tensor/features", 1234, nan)},
      {"InfiniteFeature", "tensor/features", poked<float>("/tensor/features", 77, std::numeric_limits<float>::infinity())},
      {"NegativeFeature", "tensor/features", poked<float>("/tensor/features", 5, -3.0f)},
      {"NegativeLabel", "tensor/label", poked<std::int32_t>("/tensor/label", 100, -1)},
      {"NegativeCount", "tensor/counts", poked<std::int32_t>("/tensor/counts", 100, -4)},
      {"NanEdgeWeight", "weight nan", poked<double>("/graph/edge_weight", 0, std::nan(""))},
      {"NegativeEdgeWeight", "weight -0.5", poked<double>("/graph/edge_weight", 1, -0.5)},
      {"HugeEdgeWeight", "weight 1e+300", poked<double>("/graph/edge_weight", 2, 1e300)},
      {"EdgeToAMissingNode", "edge (0, 30)", poked<std::int32_t>("/graph/edges", 1, 30)},
      {"EdgeToANegativeNode", "edge (-7, 1)", poked<std::int32_t>("/graph/edges", 0, -7)},
      {"NanCoordinate", "node 3", poked<double>("/graph/x_m", 3, std::nan(""))},
      {"NoFeatures", "tensor/features", edited([](h5::File& f) { f.remove("/tensor/features"); })},
      {"NoLabel", "tensor/label", edited([](h5::File& f) { f.remove("/tensor/label"); })},
      {"NoGraph", "graph", edited([](h5::File& f) { f.remove("/graph"); })},
      {"FeaturesOfTwoAxes", "tensor/features", edited([](h5::File& f) {
         h5::Dims dims;
         const auto x = f.read<float>("/tensor/features", &dims);
         f.remove("/tensor/features");
         f.write("/tensor/features", x.data(), {dims[0], dims[1] * dims[2]});
       })},
      {"LabelOfTooFewDays", "tensor/label", edited([](h5::File& f) {
         h5::Dims dims;
         const auto y = f.read<std::int32_t>("/tensor/label", &dims);
         f.remove("/tensor/label");
         f.write("/tensor/label", y.data(), {dims[0] - 1, dims[1]});
       })},
      {"NodeCountDisagrees", "shape", edited([](h5::File& f) { f.set_attribute("/graph", "nodes", std::int64_t{31}); })},
      {"AnotherFormat", "format", edited([](h5::File& f) { f.set_attribute("", "format", std::string("netcdf")); })},
      {"FutureFormatVersion", "format version 99",
       edited([](h5::File& f) { f.set_attribute("", "format_version", std::int64_t{99}); })},
      {"CalendarWithAGap", "calendar", [](const fs::path& d) {
         copy(good().city, d / "bad.h5");
         auto f = h5::File::open_read_write((d / "bad.h5").string());
         auto days = f.read<std::int32_t>("/calendar/day_number");
         for (std::size_t i = 50; i < days.size(); ++i) days[i] += 3;
         f.remove("/calendar/day_number");
         f.write("/calendar/day_number", days);
       }},
      {"ResultsFileInstead", "format", [](const fs::path& d) { copy(good().finished, d / "bad.h5"); }},
  };
  const std::vector<std::pair<std::string, std::string>> tools = {
      {"Inspect", "{prepare} inspect bad.h5"},
      {"Train", "{train} --dataset bad.h5 --epochs 1 --save out.ckpt"},
      {"Search", "{search} --job {job} --dataset bad.h5 --out out.h5"},
      {"Predict", "{predict} --results {finished} --model best --dataset bad.h5 --out out"},
      {"SynthOnItsGraph", "{prepare} synth --graph bad.h5 --days 100 --out out.h5"},
  };
  std::vector<Case> cases;
  // Channels that are not the smoothed counts of the categories cannot be smoothed again.
  const auto foreign_channels = [](const fs::path& d) {
    edited([](h5::File& f) {
      f.remove("/tensor/channels");
      f.write_strings("/tensor/channels", {"Temperature", "PropertySmoothed", "ViolentSmoothed"});
    })(d);
    write(d / "smoothing.ini", "[space]\nsmoothing = float 0.2 0.8 step=0.3\n");
  };
  cases.push_back({"ForeignChannelsToASmoothingSearch", "{search} --job {job} --dataset bad.h5 --space smoothing.ini --out out.h5",
                   "Temperature", 1, foreign_channels});
  cases.push_back({"ForeignChannelsToASmoothingTraining",
                   "{train} --dataset bad.h5 --epochs 1 --set smoothing=0.3 --save out.ckpt", "Temperature", 1,
                   foreign_channels});
  for (const auto& m : mutations) {
    for (const auto& [tool, command] : tools) {
      // The synthetic city takes only the street graph: the tensor's faults are not its input.
      const bool tensor_only = m.message.rfind("tensor", 0) == 0 || m.message.rfind("calendar", 0) == 0;
      if (tool == "SynthOnItsGraph" && tensor_only) continue;
      // A search loads only the model's inputs and labels, never the raw counts.
      if (tool == "Search" && m.message == "tensor/counts") continue;
      cases.push_back({m.name + "To" + tool, command, m.message, 1, m.setup});
    }
  }
  return cases;
}

// --- results and checkpoints files given to --resume, crimegraph-report and -train ---

std::function<void(const fs::path&)> partial(std::function<void(const fs::path&)> results,
                                             std::function<void(const fs::path&)> checkpoints) {
  return [results, checkpoints](const fs::path& d) {
    if (results) results(d / "out.h5.partial");
    if (checkpoints) checkpoints(d / "out.h5.checkpoints");
  };
}
std::function<void(const fs::path&)> copy_of(const std::string& which) {
  return [which](const fs::path& to) { copy(expand(which), to); };
}
std::function<void(const fs::path&)> half_of(const std::string& which) {
  return [which](const fs::path& to) { truncated_copy(expand(which), to); };
}
std::function<void(const fs::path&)> text_of(const std::string& text) {
  return [text](const fs::path& to) { write(to, text); };
}
std::function<void(const fs::path&)> folder() {
  return [](const fs::path& to) { fs::create_directory(to); };
}
std::function<void(const fs::path&)> as(const std::string& name, std::function<void(const fs::path&)> make) {
  return [name, make](const fs::path& d) { make(d / name); };
}

const std::string kResume = "{search} --job {job} --out out.h5 --resume";

std::vector<Case> results_cases() {
  const auto good_partial = copy_of("{stopped}.partial");
  const auto good_checkpoints = copy_of("{stopped}.checkpoints");
  return {
      {"ResumeGarbageResults", kResume, "out.h5.partial", 1, partial(text_of(garbage(5000, 4)), good_checkpoints)},
      {"ResumeEmptyResults", kResume, "out.h5.partial", 1, partial(text_of(""), good_checkpoints)},
      {"ResumeTruncatedResults", kResume, "out.h5.partial", 1, partial(half_of("{stopped}.partial"), good_checkpoints)},
      {"ResumeResultsIsAFolder", kResume, "out.h5.partial", 1, partial(folder(), good_checkpoints)},
      {"ResumeDatasetAsResults", kResume, "out.h5.partial", 1, partial(copy_of("{city}"), good_checkpoints)},
      {"ResumeGarbageCheckpoints", kResume, "out.h5.checkpoints", 1, partial(good_partial, text_of(garbage(5000, 5)))},
      {"ResumeTruncatedCheckpoints", kResume, "out.h5.checkpoints", 1,
       partial(good_partial, half_of("{stopped}.checkpoints"))},
      {"ResumeMissingCheckpoints", kResume, "out.h5.checkpoints", 1, partial(good_partial, {})},
      {"ResumeCheckpointsOfAnotherSearch", kResume, "search_id", 1,
       partial(good_partial, copy_of("{other_stopped}.checkpoints"))},
      {"ResumeWithAnotherSeed", kResume + " --seed 5", "seed", 1, partial(good_partial, good_checkpoints)},
      {"ResumeWithAnotherSpace", kResume + " --space space.ini", "space", 1, [](const fs::path& d) {
         partial(copy_of("{stopped}.partial"), copy_of("{stopped}.checkpoints"))(d);
         write(d / "space.ini", "[space]\nnum_ldn_layers = int 1 3\n");
       }},
      {"ResumeFinishedOfAnotherSearch", kResume + " --seed 5", "seed", 1, as("out.h5", copy_of("{finished}"))},
      {"NewSearchOverAFinishedOne", "{search} --job {job} --out out.h5", "--overwrite", 1,
       as("out.h5", copy_of("{finished}"))},
      {"NewSearchOverAnUnfinishedOne", "{search} --job {job} --out out.h5", "--resume", 1,
       partial(good_partial, good_checkpoints)},
      {"ReportGarbage", "{report} bad.h5", "bad.h5", 1, as("bad.h5", text_of(garbage(3000, 6)))},
      {"ReportEmpty", "{report} bad.h5", "bad.h5", 1, as("bad.h5", text_of(""))},
      {"ReportTruncated", "{report} bad.h5", "bad.h5", 1, as("bad.h5", half_of("{finished}"))},
      {"ReportDataset", "{report} {city}", "city.h5", 1},
      {"ReportFolder", "{report} bad.h5", "bad.h5", 1, as("bad.h5", folder())},
      {"ReportMissing", "{report} bad.h5", "bad.h5", 1},
      {"ReportFutureVersion", "{report} bad.h5", "format version 99", 1, [](const fs::path& d) {
         copy(good().finished, d / "bad.h5");
         h5::File::open_read_write((d / "bad.h5").string()).set_attribute("", "format_version", std::int64_t{99});
       }},
      {"ReportCompareWithGarbage", "{report} --compare {finished} bad.h5", "bad.h5", 1,
       as("bad.h5", text_of(garbage(3000, 7)))},
      {"TrainFromGarbage", "{train} --dataset {city} --from bad.h5 --trial 0 --epochs 1", "bad.h5", 1,
       as("bad.h5", text_of(garbage(3000, 8)))},
      {"TrainFromAMissingTrial", "{train} --dataset {city} --from {finished} --trial 99999 --epochs 1", "99999"},
      {"PredictFromGarbage", "{predict} --results bad.h5 --dataset {city} --out out", "bad.h5", 1,
       as("bad.h5", text_of(garbage(3000, 9)))},
  };
}

// --- crime report CSVs, node/edge CSVs, GIS layers and GraphML ---------------------------------

std::string events_header() { return "Date,Type,Latitude,Longitude\n"; }

std::string gzipped(const std::string& text) {
  // A gzip stream through the system's gzip, as a user's file would be made.
  const auto dir = fs::temp_directory_path() / ("crimegraph-gz-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  write(dir / "x.csv", text);
  fixture::run_command("gzip -n " + (dir / "x.csv").string());
  auto z = read_all(dir / "x.csv.gz");
  fs::remove_all(dir);
  return z;
}

const std::string kImport = "{prepare} events --graph {graph} bad.csv --out out.h5";
std::function<void(const fs::path&)> csv(std::function<std::string()> make) { return bytes("bad.csv", make); }
std::function<std::string()> text(const std::string& t) {
  return [t] { return t; };
}
std::function<std::string()> good_events_plus(const std::string& extra) {
  return [extra] { return read_all(good().events) + extra; };
}

std::vector<Case> csv_cases() {
  return {
      {"Empty", kImport, "bad.csv", 1, csv(text(""))},
      {"HeaderOnly", kImport, "no rows", 1, csv(text(events_header()))},
      {"NoDateColumn", kImport, "Date", 1, csv(text("When,Type,Latitude,Longitude\n2019-03-01,Assault,39.3,-76.615\n"))},
      {"NoLatitudeColumn", kImport, "Latitude", 1, csv(text("Date,Type,Lat,Longitude\n2019-03-01,Assault,39.3,-76.615\n"))},
      {"SemicolonSeparated", kImport, "Date", 1, csv(text("Date;Type;Latitude;Longitude\n2019-03-01;Assault;39.3;-76.615\n"))},
      {"NoDateParses", kImport, "no events", 1,
       csv(text(events_header() + "yesterday,Assault,39.30,-76.615\nthe 3rd,Assault,39.31,-76.615\n"))},
      {"NoCoordinateParses", kImport, "no events", 1,
       csv(text(events_header() + "2019-03-01,Assault,north,west\n2019-03-02,Assault,,\n"))},
      {"NanCoordinates", kImport, "no events", 1,
       csv(text(events_header() + "2019-03-01,Assault,nan,nan\n2019-03-02,Assault,inf,-inf\n"))},
      {"AllOutsideTheBox", kImport, "no events", 1,
       csv(text(events_header() + "2019-03-01,Assault,40.5,-75.0\n2019-03-02,Assault,40.5,-75.0\n"))},
      {"OneRow", kImport, "days", 1, csv(text(events_header() + "2019-03-01,Assault,39.30,-76.615\n"))},
      {"TooFewDays", kImport, "days", 1, [](const fs::path& d) {
         std::string s = events_header();
         for (int i = 1; i <= 5; ++i) s += "2019-03-0" + std::to_string(i) + ",Assault,39.30,-76.615\n";
         write(d / "bad.csv", s);
       }},
      {"OneEventCenturiesLater", kImport, "2200", 1, csv(good_events_plus("2200-01-01,Assault,39.30,-76.615\n"))},
      {"BinaryGarbage", kImport, "bad.csv", 1, csv([] { return garbage(20000, 10); })},
      {"UnclosedQuote", kImport, "no events", 1, csv(text(events_header() + "\"2019-03-01,Assault,39.30,-76.615\n"))},
      {"OneHugeLine", kImport, "bad.csv", 1, csv([] { return events_header() + std::string(30 << 20, 'x') + "\n"; })},
      {"TruncatedGzip", "{prepare} events --graph {graph} bad.csv.gz --out out.h5", "bad.csv.gz", 1,
       bytes("bad.csv.gz", [] {
         const auto z = gzipped(read_all(good().events));
         return z.substr(0, z.size() / 2);
       })},
      {"GzipOfGarbage", "{prepare} events --graph {graph} bad.csv.gz --out out.h5", "bad.csv.gz", 1,
       bytes("bad.csv.gz", [] { return gzipped(garbage(5000, 11)); })},
      {"StrictWithABadRow", kImport + " --strict", "bad.csv:3", 1,
       csv([] { return events_header() + "2019-03-01,Assault,39.30,-76.615\n2019-03-02,Assault,north,west\n"; })},
      {"IsADirectory", kImport, "bad.csv", 1, [](const fs::path& d) { fs::create_directory(d / "bad.csv"); }},
      {"Missing", kImport, "bad.csv"},
      {"CategoriesGarbage", "{prepare} events --graph {graph} {events} --categories cats.txt --out out.h5", "cats.txt",
       1, bytes("cats.txt", [] { return garbage(500, 12); })},
      {"CategoryNamedTwice", "{prepare} events --graph {graph} {events} --categories cats.txt --out out.h5", "Violent",
       1, bytes("cats.txt", [] { return std::string("[categories]\nViolent = assault\nViolent = robbery\n"); })},
      {"CategoriesEmpty", "{prepare} events --graph {graph} {events} --categories cats.txt --out out.h5", "cats.txt", 1,
       bytes("cats.txt", [] { return std::string(); })},
      {"NodesWithoutX", "{prepare} graph bad.csv --edges {edges} --out out.h5", "x", 1,
       csv(text("id,name,y,length_m\na,Main,0,100\nb,Side,0,80\n"))},
      {"NodesWithWordsForX", "{prepare} graph bad.csv --edges {edges} --out out.h5", "bad.csv", 1,
       csv(text("id,name,x,y,length_m\na,Main,zero,0,100\nb,Side,100,0,80\n"))},
      {"NodesWithNanLength", "{prepare} graph bad.csv --edges {edges} --out out.h5", "bad.csv", 1,
       csv(text("id,name,x,y,length_m\na,Main,0,0,nan\nb,Side,100,0,80\n"))},
      {"NodeIdTwice", "{prepare} graph bad.csv --edges {edges} --out out.h5", "a", 1,
       csv(text("id,name,x,y,length_m\na,Main,0,0,100\na,Side,100,0,80\n"))},
      {"NodesEmpty", "{prepare} graph bad.csv --edges {edges} --out out.h5", "bad.csv", 1, csv(text(""))},
      {"EdgeToAnUnknownNode", "{prepare} graph {nodes} --edges bad.csv --out out.h5", "z", 1,
       csv(text("u,v,distance_m\na,z,50\n"))},
      {"EdgeWithNegativeDistance", "{prepare} graph {nodes} --edges bad.csv --out out.h5", "bad.csv", 1,
       csv(text("u,v,distance_m\na,b,-50\n"))},
      {"EdgeWithoutDistance", "{prepare} graph {nodes} --edges bad.csv --out out.h5", "distance_m", 1,
       csv(text("u,v\na,b\n"))},
      {"EdgesMissing", "{prepare} graph {nodes} --edges missing.csv --out out.h5", "missing.csv"},
  };
}

const std::string kGis = "{prepare} graph bad.geojson --out out.h5";
std::function<void(const fs::path&)> geojson(const std::string& t) {
  return bytes("bad.geojson", [t] { return t; });
}
std::string feature(const std::string& geometry, const std::string& properties = R"({"OBJECTID": 1})") {
  return R"({"type": "Feature", "properties": )" + properties + R"(, "geometry": )" + geometry + "}";
}
std::string collection(const std::string& features) {
  return R"({"type": "FeatureCollection", "features": [)" + features + "]}";
}

std::vector<Case> gis_cases() {
  const std::string line = R"({"type": "LineString", "coordinates": [[-76.620, 39.300], [-76.610, 39.300]]})";
  return {
      {"Empty", kGis, "bad.geojson", 1, geojson("")},
      {"NotJson", kGis, "bad.geojson", 1, geojson("streets: North Ave, Charles St\n")},
      {"TruncatedJson", kGis, "bad.geojson", 1,
       bytes("bad.geojson", [] { const std::string s = fixture::kThreeStreetsGeoJson; return s.substr(0, s.size() / 2); })},
      {"NoFeatures", kGis, "bad.geojson", 1, geojson(collection(""))},
      {"PointsOnly", kGis, "bad.geojson", 1,
       geojson(collection(feature(R"({"type": "Point", "coordinates": [-76.615, 39.30]})")))},
      {"LineOfOnePoint", kGis, "bad.geojson", 1,
       geojson(collection(feature(R"({"type": "LineString", "coordinates": [[-76.615, 39.30]]})")))},
      {"CoordinatesFarOutOfRange", kGis, "bad.geojson", 1,
       geojson(collection(feature(R"({"type": "LineString", "coordinates": [[1e300, 39.30], [-1e300, 39.31]]})")))},
      {"OnlyNullGeometries", kGis, "bad.geojson", 1, geojson(collection(feature("null")))},
      {"BinaryGarbage", kGis, "bad.geojson", 1, bytes("bad.geojson", [] { return garbage(3000, 13); })},
      {"GarbageShapefile", "{prepare} graph bad.shp --out out.h5", "bad.shp", 1,
       bytes("bad.shp", [] { return garbage(3000, 14); })},
      {"BoxAroundNothing", "{prepare} graph {streets} --bbox 10,10,11,11 --out out.h5", "no line segments"},
      {"IdFieldMissing", "{prepare} graph {streets} --id-field SEGMENT_ID --out out.h5", "SEGMENT_ID"},
      {"NameFieldMissing", "{prepare} graph {streets} --name-field STREET --out out.h5", "STREET"},
      {"IsADirectory", "{prepare} graph bad.geojson --out out.h5", "bad.geojson", 1,
       [](const fs::path& d) { fs::create_directory(d / "bad.geojson"); }},
      {"Missing", kGis, "bad.geojson"},
  };
}

const std::string kGraphMlCmd = "{prepare} graph bad.graphml --out out.h5";
std::function<void(const fs::path&)> graphml(std::function<std::string(std::string)> change) {
  return bytes("bad.graphml", [change] { return change(fixture::kTeeGraphMl); });
}

std::vector<Case> graphml_cases() {
  return {
      {"Empty", kGraphMlCmd, "bad.graphml", 1, graphml(whole(""))},
      {"NotXml", kGraphMlCmd, "bad.graphml", 1, graphml(whole("nodes: 1 2 3\n"))},
      {"Truncated", kGraphMlCmd, "bad.graphml", 1, graphml([](std::string s) { return s.substr(0, s.size() / 2); })},
      {"NoGraphElement", kGraphMlCmd, "bad.graphml", 1,
       graphml(whole(R"(<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns"></graphml>)"))},
      {"EdgeToAMissingNode", kGraphMlCmd, "9", 1, graphml(swap(R"(<edge source="2" target="4">)", R"(<edge source="2" target="9">)"))},
      {"NodeWithoutCoordinates", kGraphMlCmd, "2", 1,
       graphml(swap(R"(<node id="2"><data key="d1">39.310</data><data key="d2">-76.615</data></node>)", R"(<node id="2"/>)"))},
      {"WordsForACoordinate", kGraphMlCmd, "north", 1, graphml(swap("<data key=\"d1\">39.315</data>", "<data key=\"d1\">north</data>"))},
      {"NanCoordinate", kGraphMlCmd, "bad.graphml", 1, graphml(swap("<data key=\"d1\">39.315</data>", "<data key=\"d1\">nan</data>"))},
      {"NodeIdTwice", kGraphMlCmd, "3", 1, graphml(swap(R"(<node id="4">)", R"(<node id="3">)"))},
      {"NoEdges", kGraphMlCmd, "bad.graphml", 1, graphml([](std::string s) {
         while (s.find("<edge ") != std::string::npos) {
           const auto at = s.find("<edge "), end = s.find("</edge>", at) + 7;
           s.erase(at, end - at);
         }
         return s;
       })},
      {"UnknownCrs", kGraphMlCmd, "999999", 1, graphml(swap("epsg:4326", "epsg:999999"))},
      {"BinaryGarbage", kGraphMlCmd, "bad.graphml", 1, bytes("bad.graphml", [] { return garbage(3000, 15); })},
      {"IsADirectory", kGraphMlCmd, "bad.graphml", 1, [](const fs::path& d) { fs::create_directory(d / "bad.graphml"); }},
      {"Missing", kGraphMlCmd, "bad.graphml"},
  };
}

INSTANTIATE_TEST_SUITE_P(Options, HostileInput, ::testing::ValuesIn(option_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(JobFiles, HostileInput, ::testing::ValuesIn(job_file_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Spaces, HostileInput, ::testing::ValuesIn(space_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(DatasetFiles, HostileInput, ::testing::ValuesIn(dataset_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(ResultsFiles, HostileInput, ::testing::ValuesIn(results_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(CrimeCsv, HostileInput, ::testing::ValuesIn(csv_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(GisLayers, HostileInput, ::testing::ValuesIn(gis_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(GraphMl, HostileInput, ::testing::ValuesIn(graphml_cases()), case_name);

}  // namespace
