#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/events.hpp"
#include "crimegraph/data/gis_graph.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/checksum.hpp"
#include "fixtures.hpp"
#include "process.hpp"

using namespace crimegraph;

namespace {

// Three east-west streets 0.01 degrees apart (about 1.1 km), in EPSG:26985.
StreetGraph three_streets(const fixture::TempDir& dir) {
  std::ofstream(dir.file("streets.geojson")) << fixture::kThreeStreetsGeoJson;
  GisGraphOptions o;
  o.path = dir.file("streets.geojson");
  return read_gis_street_graph(o);
}

EventImportOptions options_for(const std::string& file, const std::string& preset) {
  EventImportOptions o;
  o.inputs = {file};
  o.columns = csv_preset(preset);
  o.bbox = parse_bbox("39.29,-76.63,39.33,-76.60");
  return o;
}

std::int32_t count(const CrimeDataset& ds, const std::string& date, int node, const std::string& category) {
  const auto t = parse_iso_date(date) - ds.day_number.front();
  const auto c = std::find(ds.categories.begin(), ds.categories.end(), category) - ds.categories.begin();
  return ds.counts[(static_cast<std::size_t>(t) * ds.nodes() + node) * ds.category_count() + c];
}

}  // namespace

TEST(Events, DatesInCommonFormats) {
  std::int32_t d = 0;
  EXPECT_TRUE(parse_date("2019-01-02 10:00:00", "%Y-%m-%d", d));
  EXPECT_EQ(iso_date(d), "2019-01-02");
  EXPECT_TRUE(parse_date("03/15/2018 11:30:00 PM", "%m/%d/%Y %I:%M:%S %p", d));
  EXPECT_EQ(iso_date(d), "2018-03-15");
  EXPECT_TRUE(parse_date("2021/07/04 05:00:00+00", "%Y/%m/%d %H:%M:%S", d));
  EXPECT_EQ(iso_date(d), "2021-07-04");
  EXPECT_FALSE(parse_date("2019-02-30", "%Y-%m-%d", d));
  EXPECT_FALSE(parse_date("13/01/2019", "%m/%d/%Y", d));
  EXPECT_FALSE(parse_date("yesterday", "%Y-%m-%d", d));
  EXPECT_FALSE(parse_date("03/15/2018 11:30:00 XM", "%m/%d/%Y %I:%M:%S %p", d));
}

TEST(Events, CategoriesByKeyword) {
  auto m = CategoryMap::original_study();
  EXPECT_EQ(m.categories(), (std::vector<std::string>{"Arrest", "Property", "Violent"}));
  EXPECT_EQ(m.classify("Assault"), 2);
  EXPECT_EQ(m.classify("AGG. ASSAULT"), 2);
  EXPECT_EQ(m.classify("robbery - street"), 2);
  EXPECT_EQ(m.classify("Theft"), 1);
  EXPECT_EQ(m.classify("Arrest"), 0);
  EXPECT_EQ(m.classify("Other"), -1);
  EXPECT_EQ(m.classify("Assaultive"), -1);  // a word, not a substring
  EXPECT_THROW(CategoryMap::parse("[categories]\nProperty = Theft\n", "x"), ConfigError);  // no Violent label
}

TEST(Events, SpotCrimeCountsAndSmoothing) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::ofstream(dir.file("spot.csv")) << "Date,Type,Latitude,Longitude,Address\n"
                                         "2019-01-01 10:00:00,Assault,39.3001,-76.615,\"1 South St, Baltimore\"\n"
                                         "2019-01-01 11:00:00,Robbery,39.3001,-76.615,x\n"
                                         "2019-01-03 09:00:00,Theft,39.3199,-76.615,x\n"
                                         "2019-01-03 09:30:00,Other,39.3199,-76.615,x\n"
                                         "2019-01-04 23:00:00,Shooting,39.3101,-76.612,x\n";
  ImportReport report;
  const auto ds = import_events(graph, CategoryMap::original_study(), options_for(dir.file("spot.csv"), "spotcrime"), report);
  EXPECT_EQ(report.rows, 5);
  EXPECT_EQ(report.kept, 4);
  EXPECT_EQ(report.dropped.at("category not mapped"), 1);
  // A zero-filled calendar from the first to the last event day.
  ASSERT_EQ(ds.days(), 4);
  EXPECT_EQ(iso_date(ds.day_number.front()), "2019-01-01");
  EXPECT_EQ(count(ds, "2019-01-01", 0, "Violent"), 2);
  EXPECT_EQ(count(ds, "2019-01-03", 2, "Property"), 1);
  EXPECT_EQ(count(ds, "2019-01-04", 1, "Violent"), 1);
  EXPECT_EQ(ds.label[0 * 3 + 0], 2);
  // Smoothing over every calendar day, alpha 0.5: 1.0, 0.5, 0.25, 0.125 for node 0.
  const auto v = ds.channel_index("ViolentSmoothed");
  const float expect[] = {1.0f, 0.5f, 0.25f, 0.125f};
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(ds.features[(static_cast<std::size_t>(t) * 3 + 0) * 3 + v], expect[t]) << t;
  EXPECT_EQ(ds.provenance.at("rows_read"), "5");
  EXPECT_NE(ds.provenance.at("input_sha256").find(dir.file("spot.csv")), std::string::npos);
  EXPECT_EQ(ds.provenance.at("snap"), "nearest segment centroid");
}

TEST(Events, ChicagoAndBaltimorePresetsAndGzip) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::ofstream(dir.file("chicago.csv")) << "ID,Date,Primary Type,Description,Latitude,Longitude\n"
                                            "1,03/15/2018 11:30:00 PM,BATTERY,SIMPLE,39.30,-76.615\n"
                                            "2,03/16/2018 01:00:00 AM,ROBBERY,ARMED,39.31,-76.615\n"
                                            "3,03/16/2018 02:00:00 AM,THEFT,$500 AND UNDER,39.32,-76.615\n";
  ImportReport r1;
  const auto chicago = import_events(graph, CategoryMap::original_study(), options_for(dir.file("chicago.csv"), "chicago"), r1);
  EXPECT_EQ(r1.kept, 2);  // BATTERY is not in the original mapping
  EXPECT_EQ(count(chicago, "2018-03-16", 1, "Violent"), 1);
  {
    gzFile gz = gzopen(dir.file("baltimore.csv.gz").c_str(), "wb");
    const std::string text = "CrimeDateTime,CrimeCode,Description,Latitude,Longitude\n"
                             "2021/07/04 05:00:00+00,4E,COMMON ASSAULT,39.3201,-76.611\n"
                             "2021/07/05 05:00:00+00,6D,LARCENY FROM AUTO,39.3001,-76.611\n"
                             "2021/07/05 06:00:00+00,5A,BURGLARY,39.3001,-76.611\n";
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  ImportReport r2;
  const auto balt = import_events(graph, CategoryMap::original_study(), options_for(dir.file("baltimore.csv.gz"), "baltimore"), r2);
  EXPECT_EQ(r2.kept, 2);  // larceny is not "theft" in the original mapping
  EXPECT_EQ(count(balt, "2021-07-04", 2, "Violent"), 1);
  EXPECT_EQ(count(balt, "2021-07-05", 0, "Property"), 1);
}

// A compressed input cut short (a partial download) is an error naming the file, not half the rows.
TEST(Events, ATruncatedGzipIsAnError) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::string text = "CrimeDateTime,CrimeCode,Description,Latitude,Longitude\n";
  for (int i = 0; i < 20000; ++i) text += "2021/07/04 05:00:00+00,4E,COMMON ASSAULT,39.3201,-76.611\n";
  const auto path = dir.file("cut.csv.gz");
  {
    gzFile gz = gzopen(path.c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  ImportReport report;
  try {
    import_events(graph, CategoryMap::original_study(), options_for(path, "baltimore"), report);
    FAIL() << "a truncated gzip was imported (" << report.kept << " events)";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

// An event far from every street (a geocoding error: 100 km off) was snapped to the nearest
// segment however far: dropped and counted instead.
TEST(Events, EventsFarFromTheStreetsAreDroppedAndCounted) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::ofstream(dir.file("far.csv")) << "CrimeDateTime,CrimeCode,Description,Latitude,Longitude\n"
                                        "2021/07/04 05:00:00+00,4E,COMMON ASSAULT,39.3201,-76.611\n"
                                        "2021/07/04 06:00:00+00,4E,COMMON ASSAULT,40.2201,-76.611\n"
                                        "2021/07/05 05:00:00+00,4E,COMMON ASSAULT,39.3001,-76.611\n";
  auto options = options_for(dir.file("far.csv"), "baltimore");
  options.bbox.reset();  // as for a graph that records no box
  ImportReport report;
  const auto ds = import_events(graph, CategoryMap::original_study(), options, report);
  EXPECT_EQ(report.kept, 2);
  EXPECT_EQ(report.dropped["more than 500 m from any street segment"], 1);
  std::int64_t total = 0;
  for (auto c : ds.counts) total += c;
  EXPECT_EQ(total, 2);
  EXPECT_EQ(ds.provenance.at("max_snap_m"), "500");
}

// One mistyped year made a 65,000-day calendar; a category named twice made two channels of one name.
TEST(Events, AnAbsurdCalendarAndATwiceNamedCategoryAreRefused) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::ofstream(dir.file("2200.csv")) << "CrimeDateTime,CrimeCode,Description,Latitude,Longitude\n"
                                         "2021/07/04 05:00:00+00,4E,COMMON ASSAULT,39.3201,-76.611\n"
                                         "2200/07/04 05:00:00+00,4E,COMMON ASSAULT,39.3201,-76.611\n";
  ImportReport report;
  try {
    import_events(graph, CategoryMap::original_study(), options_for(dir.file("2200.csv"), "baltimore"), report);
    FAIL() << "a calendar from 2021 to 2200 was made";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2200-07-04"), std::string::npos) << e.what();
  }
  auto bounded = options_for(dir.file("2200.csv"), "baltimore");
  bounded.first_day = parse_iso_date("2021-07-01");
  bounded.last_day = parse_iso_date("2021-07-31");
  ImportReport kept;
  EXPECT_EQ(import_events(graph, CategoryMap::original_study(), bounded, kept).days(), 31);
  EXPECT_EQ(kept.dropped["outside the calendar"], 1);

  try {
    CategoryMap::parse("[categories]\nViolent = assault\nProperty = theft\nViolent = robbery\n", "cats.ini");
    FAIL() << "a category named twice was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cats.ini:4: category 'Violent' is named twice"), std::string::npos) << e.what();
  }
}

TEST(Events, SnapToNearestCentroidOrLine) {
  fixture::TempDir dir;
  // A long street (centroid 860 m from the event, line 110 m) and a short one (centroid 445 m).
  std::ofstream(dir.file("two.geojson")) << R"({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"OBJECTID": 1},
     "geometry": {"type": "LineString", "coordinates": [[-76.640, 39.300], [-76.600, 39.300]]}},
    {"type": "Feature", "properties": {"OBJECTID": 2},
     "geometry": {"type": "LineString", "coordinates": [[-76.6105, 39.305], [-76.6095, 39.305]]}}]})";
  GisGraphOptions g;
  g.path = dir.file("two.geojson");
  const auto graph = read_gis_street_graph(g);
  std::ofstream(dir.file("e.csv")) << "Date,Type,Latitude,Longitude\n2020-01-01,Assault,39.3010,-76.6100\n";
  auto o = options_for(dir.file("e.csv"), "spotcrime");
  ImportReport report;
  const auto by_centroid = import_events(graph, CategoryMap::original_study(), o, report);
  EXPECT_EQ(count(by_centroid, "2020-01-01", 1, "Violent"), 1);
  o.snap = SnapMode::Segment;
  const auto by_line = import_events(graph, CategoryMap::original_study(), o, report);
  EXPECT_EQ(count(by_line, "2020-01-01", 0, "Violent"), 1);
  EXPECT_EQ(by_line.provenance.at("snap"), "nearest segment line");
}

TEST(Events, BadRowsAreCountedWithLineNumbers) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  std::ofstream(dir.file("bad.csv")) << "Date,Type,Latitude,Longitude\n"
                                        "2019-01-01,Assault,39.30,-76.615\n"
                                        "2019-01-01,Assault\n"                     // line 3: malformed
                                        "not a date,Assault,39.30,-76.615\n"       // line 4
                                        "2019-01-02,Assault,,-76.615\n"            // line 5: missing
                                        "2019-01-02,Assault,139.30,-76.615\n"      // line 6: out of range
                                        "2019-01-02,Assault\xff\xfe,39.30,-76.615\n"  // line 7: not UTF-8
                                        "2019-01-02,Assault,\"39.30,-76.615\n"     // line 8: unterminated quote
                                        "2019-01-03,Assault,40.30,-76.615\n";      // line 9: outside the box
  ImportReport report;
  auto o = options_for(dir.file("bad.csv"), "spotcrime");
  const auto ds = import_events(graph, CategoryMap::original_study(), o, report);
  EXPECT_EQ(report.rows, 8);
  EXPECT_EQ(report.kept, 1);
  EXPECT_EQ(report.dropped.at("malformed line"), 2);
  EXPECT_EQ(report.dropped.at("unparseable date"), 1);
  EXPECT_EQ(report.dropped.at("missing or unparseable coordinates"), 1);
  EXPECT_EQ(report.dropped.at("coordinates out of range"), 1);
  EXPECT_EQ(report.dropped.at("not UTF-8"), 1);
  EXPECT_EQ(report.dropped.at("outside the box"), 1);
  ASSERT_GE(report.examples.size(), 2u);
  EXPECT_NE(report.examples[0].find("bad.csv:3: malformed line"), std::string::npos) << report.examples[0];
  EXPECT_NE(report.examples[1].find("bad.csv:4: unparseable date"), std::string::npos) << report.examples[1];
  o.strict = true;
  try {
    import_events(graph, CategoryMap::original_study(), o, report);
    FAIL() << "strict mode should stop";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3: malformed line"), std::string::npos) << e.what();
  }
}

TEST(Events, WholeFileProblemsAreErrors) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  ImportReport report;
  auto run = [&](const std::string& text) {
    std::ofstream(dir.file("x.csv")) << text;
    return import_events(graph, CategoryMap::original_study(), options_for(dir.file("x.csv"), "spotcrime"), report);
  };
  EXPECT_THROW(run(""), DataError);
  EXPECT_THROW(run("Date,Type,Latitude,Longitude\n"), DataError);
  try {
    run("Date,Kind,Latitude,Longitude\n2019-01-01,Assault,39.30,-76.615\n");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no type column 'Type'"), std::string::npos) << e.what();
  }
  auto o = options_for(dir.file("absent.csv"), "spotcrime");
  EXPECT_THROW(import_events(graph, CategoryMap::original_study(), o, report), IoError);
  // A graph without an EPSG CRS cannot place lon/lat events.
  auto synthetic = synthetic_street_grid({});
  o = options_for(dir.file("x.csv"), "spotcrime");
  std::ofstream(dir.file("x.csv")) << "Date,Type,Latitude,Longitude\n2019-01-01,Assault,39.30,-76.615\n";
  EXPECT_THROW(import_events(synthetic, CategoryMap::original_study(), o, report), ConfigError);
  EXPECT_THROW(csv_preset("nypd"), ConfigError);
  CsvColumns c = csv_preset("spotcrime");
  apply_column_overrides(c, "type=Offense,lat=Y");
  EXPECT_EQ(c.type, "Offense");
  EXPECT_EQ(c.lat, "Y");
  EXPECT_THROW(apply_column_overrides(c, "colour=Red"), ConfigError);
}

TEST(Events, CommandLineFromShapefileToDataset) {
  fixture::TempDir dir;
  const auto graph = three_streets(dir);
  const std::string exe = CRIMEGRAPH_PREPARE_EXE;
  auto r = fixture::run_command(exe + " graph " + dir.file("streets.geojson") + " --out " + dir.file("g.h5") +
                                " --bbox 39.29,-76.63,39.33,-76.60 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 nodes, 0 edges"), std::string::npos) << r.output;
  {
    std::ofstream out(dir.file("e.csv"));
    out << "Date,Type,Latitude,Longitude\n";
    for (int d = 1; d <= 28; ++d) out << "2019-02-" << (d < 10 ? "0" : "") << d << ",Assault,39.30,-76.615\n";
  }
  r = fixture::run_command(exe + " events --graph " + dir.file("g.h5") + " " + dir.file("e.csv") + " --out " +
                           dir.file("d.h5") + " --lookback 3 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("28 rows read, 28 events kept"), std::string::npos) << r.output;
  EXPECT_EQ(read_dataset(dir.file("d.h5")).days(), 28);
  // A bad file leaves no dataset behind.
  std::ofstream(dir.file("empty.csv")) << "";
  r = fixture::run_command(exe + " events --graph " + dir.file("g.h5") + " " + dir.file("empty.csv") + " --out " +
                           dir.file("bad.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("is empty"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.h5")));
  r = fixture::run_command(exe + " graph " + dir.file("streets.geojson") + " --out " + dir.file("g2.h5") + " --crs EPSG:999999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("EPSG:999999"), std::string::npos) << r.output;
}

TEST(Events, InputFingerprintIsTheFileSha256) {
  fixture::TempDir dir;
  std::ofstream(dir.file("abc.txt")) << "abc";
  EXPECT_EQ(file_sha256(dir.file("abc.txt")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(file_sha256(dir.file("none.txt")), IoError);
}
