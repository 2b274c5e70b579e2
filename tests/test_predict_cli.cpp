// The winning model put to use: crimegraph-predict ranks a synthetic city's segments (above
// chance against the true intensity, GeoJSON that parses, the day after the data by default),
// and crimegraph-train --from retrains or evaluates what a results file holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/model/forecast.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/search/results_file.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;
using fixture::run_command;

namespace {

const std::string kPredict = CRIMEGRAPH_PREDICT_EXE;
const std::string kTrain = CRIMEGRAPH_TRAIN_EXE;

// A city, a model trained on it, and a results file holding that model as the search's final
// one (a one-trial "search" written the way the coordinator writes it).
struct TrainedCity {
  CrimeDataset city;
  std::string dataset, results;
  double test_hit_rate = 0.0;
};

TrainedCity trained_city(const fixture::TempDir& dir) {
  TrainedCity t;
  t.city = fixture::small_city(100, 400, 11);
  t.dataset = dir.file("city.h5");
  t.results = dir.file("results.h5");
  write_dataset(t.city, t.dataset);
  Hyperparameters hp;
  hp.num_ldn_layers = 2;
  hp.num_gated_relu_hidden_units = 4;
  hp.batch_size = 8;  // enough steps for a small city to learn in a few epochs
  Trainer trainer(std::make_shared<const TrainingData>(t.city), hp);
  trainer.fit(8);
  t.test_hit_rate = trainer.evaluate(Split::Test).hit_rate;

  const auto space = SearchSpace::parse("[space]\nnum_ldn_layers = int 1 3 default=2\n");
  SearchMetadata m;
  m.name = "city";
  m.space_text = space.to_text();
  m.dataset = t.dataset;
  m.objective = "gldnet";
  m.planned_trials = 1;
  ResultsWriter w(t.results, m, space);
  TrialSpec spec;
  spec.end_epoch = 8;
  spec.config = {{"num_ldn_layers", 2.0}};
  TrialOutcome o;
  o.epochs = trainer.history();
  o.checkpoint = trainer.checkpoint();
  w.add_trial(spec, o, o.best_hit_rate(), {0.0, 1.0});
  w.set_best(spec, o.best_hit_rate(), o.checkpoint);
  FinalOutcome f;
  f.epochs = 8;
  f.test_hit_rate = t.test_hit_rate;
  f.checkpoint = trainer.checkpoint();
  f.history = trainer.history();
  w.set_final(f, spec.config);
  w.finish(1.0, 1.0);
  return t;
}

std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream h(line);
  for (std::string f; std::getline(h, f, ',');) header.push_back(f);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::map<std::string, std::string> row;
    std::size_t k = 0;
    for (std::string f; std::getline(fields, f, ',') && k < header.size(); ++k) row[header[k]] = f;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST(PredictCli, RanksTheTrueHotspotsAboveChance) {
  fixture::TempDir dir;
  const auto t = trained_city(dir);
  // Over the last 10 days of the data: how many of the flagged segments are in the top 20% of
  // the true intensity that day. Chance is 20%.
  double overlap = 0.0;
  const int days = 10;
  for (int k = 1; k <= days; ++k) {
    const auto day = t.city.days() - k;
    const auto out = run_command(kPredict + " --results " + t.results + " --dataset " + t.dataset + " --day " +
                                 iso_date(t.city.day_number[day]) + " --out " + dir.file("past") + " --log-level warn");
    ASSERT_EQ(out.exit_code, 0) << out.output;
    ASSERT_NE(out.output.find("that day: "), std::string::npos) << out.output;
    const auto rows = read_csv(dir.file("past.csv"));
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(t.city.nodes()));
    std::map<std::int64_t, std::int32_t> node_of;
    for (std::int32_t i = 0; i < t.city.nodes(); ++i) node_of[t.city.graph.source_id[i]] = i;
    const float* intensity = t.city.intensity.data() + static_cast<std::size_t>(day) * t.city.nodes();
    std::vector<float> sorted(intensity, intensity + t.city.nodes());
    std::sort(sorted.rbegin(), sorted.rend());
    const auto flagged_count = static_cast<std::size_t>(0.2 * t.city.nodes());
    const float threshold = sorted[flagged_count - 1];
    std::size_t flagged = 0, hot = 0;
    for (const auto& row : rows) {
      if (row.at("flagged") != "1") continue;
      ++flagged;
      hot += intensity[node_of.at(std::stoll(row.at("segment_id")))] >= threshold;
    }
    ASSERT_EQ(flagged, flagged_count);
    overlap += static_cast<double>(hot) / static_cast<double>(flagged) / days;
  }
  EXPECT_GT(overlap, 0.5) << "the flagged segments are no better than chance (0.2) at finding the true hotspots";
}

TEST(PredictCli, ForecastsTheDayAfterTheDataAsGeoJson) {
  fixture::TempDir dir;
  const auto t = trained_city(dir);
  const auto next = iso_date(t.city.day_number.back() + 1);
  const auto out = run_command(kPredict + " --results " + t.results + " --dataset " + t.dataset + " --out " + dir.file("next"));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find(next + ": 20 of 100 segments flagged"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("that day"), std::string::npos) << "a forecast has no events to score\n" << out.output;
  if (run_command("/usr/bin/python3 -c 'import json'").exit_code != 0) GTEST_SKIP() << "no python3 to parse the GeoJSON";
  const auto parsed = run_command("/usr/bin/python3 -c \"import json; d = json.load(open('" + dir.file("next.geojson") +
                                  "')); f = d['features']; print(d['type'], len(f), d['crimegraph']['day'], "
                                  "sum(x['properties']['flagged'] for x in f), sorted(x['properties']['rank'] for x in f)"
                                  " == list(range(1, len(f) + 1)), f[0]['geometry']['type'])\"");
  ASSERT_EQ(parsed.exit_code, 0) << parsed.output;
  EXPECT_EQ(parsed.output, "FeatureCollection 100 " + next + " 20 True Point\n");
}

TEST(PredictCli, RefusesADayItCannotRank) {
  fixture::TempDir dir;
  const auto t = trained_city(dir);
  for (const auto& day : {iso_date(t.city.day_number.back() + 5), iso_date(t.city.day_number.front() + 3)}) {
    const auto out = run_command(kPredict + " --results " + t.results + " --dataset " + t.dataset + " --day " + day +
                                 " --out " + dir.file("x"));
    EXPECT_EQ(out.exit_code, 1) << out.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.csv")));
  }
}

TEST(TrainCli, EvaluatesAndRetrainsFromAResultsFile) {
  fixture::TempDir dir;
  const auto t = trained_city(dir);
  const auto evaluated = run_command(kTrain + " --from " + t.results + " --evaluate");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_EQ(evaluated.output.find("epoch "), std::string::npos) << evaluated.output;
  char expected[32];
  std::snprintf(expected, sizeof expected, "GLDNet      %.4f", t.test_hit_rate);
  EXPECT_NE(evaluated.output.find(expected), std::string::npos) << expected << "\n" << evaluated.output;

  const auto retrained = run_command(kTrain + " --from " + t.results + " --trial 0 --epochs 2");
  ASSERT_EQ(retrained.exit_code, 0) << retrained.output;
  EXPECT_NE(retrained.output.find("num_ldn_layers=2 num_ldn_hidden_units=4"), std::string::npos) << retrained.output;
  EXPECT_NE(retrained.output.find("num_gated_relu_hidden_units=4"), std::string::npos) << retrained.output;
  EXPECT_NE(retrained.output.find("epoch   2/2"), std::string::npos) << retrained.output;

  const auto missing = run_command(kTrain + " --from " + t.results + " --trial 99");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("no trial 99"), std::string::npos) << missing.output;
}
