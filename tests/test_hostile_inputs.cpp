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
    write(streets, kStreets);
    must(kPrepare + " graph " + streets + " --out " + graph + " --bbox 39.29,-76.63,39.33,-76.60 --log-level warn");
    write(events, kEvents());
    write(graphml, kGraphMl);
    write(nodes, "id,name,x,y,length_m\na,Main,0,0,100\nb,Side,100,0,80\nc,Far,900,0,50\n");
    write(edges, "u,v,distance_m\na,b,50\nb,a,50\n");
    write(space, "[space]\nnum_ldn_layers = int 1 2 default=1\nnum_ldn_hidden_units = choice 2,4 ordered default=2\n");
    write(job, "name = good\ndataset = " + city + "\nspace = " + space +
                   "\nmax-epochs = 2\nfactor = 2\niterations = 1\nfinal-epochs = 0\nseed = 1\nlog-level = warn\n");
    must(kSearch + " --job " + job + " --out " + finished);
    const auto stop = must(kSearch + " --job " + job + " --out " + stopped + " --stop-after-trials 1", 75);
    must(kSearch + " --job " + job + " --seed 2 --out " + other_stopped + " --stop-after-trials 1", 75);
  }

  static std::string must(const std::string& command, int status = 0) {
    const auto r = fixture::run_command(command);
    if (r.exit_code != status) throw std::runtime_error("fixture command failed: " + command + "\n" + r.output);
    return r.output;
  }

  // Three east-west streets 0.01 degrees apart in lon/lat.
  static constexpr const char* kStreets = R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"OBJECTID": 1, "ROAD_NAME": "South"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.300], [-76.610, 39.300]]}},
    {"type": "Feature", "properties": {"OBJECTID": 2, "ROAD_NAME": "Middle"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.310], [-76.610, 39.310]]}},
    {"type": "Feature", "properties": {"OBJECTID": 3, "ROAD_NAME": "North"},
     "geometry": {"type": "LineString", "coordinates": [[-76.620, 39.320], [-76.610, 39.320]]}}]})";

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

  // A networkx-style T of three segments meeting at node 2.
  static constexpr const char* kGraphMl = R"(<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="d0" for="graph" attr.name="crs" attr.type="string"/>
  <key id="d1" for="node" attr.name="y" attr.type="double"/>
  <key id="d2" for="node" attr.name="x" attr.type="double"/>
  <key id="d3" for="edge" attr.name="name" attr.type="string"/>
  <key id="d4" for="edge" attr.name="osmid" attr.type="string"/>
  <graph edgedefault="directed">
    <data key="d0">epsg:4326</data>
    <node id="1"><data key="d1">39.310</data><data key="d2">-76.620</data></node>
    <node id="2"><data key="d1">39.310</data><data key="d2">-76.615</data></node>
    <node id="3"><data key="d1">39.310</data><data key="d2">-76.610</data></node>
    <node id="4"><data key="d1">39.315</data><data key="d2">-76.615</data></node>
    <edge source="1" target="2"><data key="d3">North Ave</data><data key="d4">100</data></edge>
    <edge source="2" target="3"><data key="d3">North Ave</data><data key="d4">101</data></edge>
    <edge source="2" target="4"><data key="d3">Charles St</data><data key="d4">102</data></edge>
  </graph>
</graphml>)";
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
      {"SearchUnknownObjective", kDryRun + "--objective foo", "foo"},
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
      {"LineWithoutEquals", kSpaceSearch, "space.ini", 1, space_file("[space]\nnum_ldn_layers int 1 4\n")},
      {"BinaryGarbage", kSpaceSearch, "space.ini", 1, space_file(garbage(2000, 2))},
      {"IsADirectory", "{search} --job {job} --space . --out out.h5", "folder"},
      {"Missing", "{search} --job {job} --space missing.ini --out out.h5", "missing.ini"},
  };
}

INSTANTIATE_TEST_SUITE_P(Options, HostileInput, ::testing::ValuesIn(option_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(JobFiles, HostileInput, ::testing::ValuesIn(job_file_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Spaces, HostileInput, ::testing::ValuesIn(space_cases()), case_name);

}  // namespace
