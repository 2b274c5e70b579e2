#include "crimegraph/search/report.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <tuple>

#include "crimegraph/error.hpp"
#include "crimegraph/model/bootstrap.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

// Row accessors for the trials table.
struct Trials {
  const Table& t;
  std::int64_t integer(const char* name, std::size_t row) const { return t.column(name).integers[row]; }
  double real(const char* name, std::size_t row) const { return t.column(name).reals[row]; }
  const std::string& text(const char* name, std::size_t row) const { return t.column(name).texts[row]; }
};

std::string score_text(double v) { return std::isnan(v) ? "-" : fmt::format("{:.4f}", v); }

std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "-";
  if (s >= 3600) return fmt::format("{}h{:02}m", static_cast<long>(s) / 3600, static_cast<long>(s) / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", static_cast<long>(s) / 60, static_cast<long>(s) % 60);
  return fmt::format("{:.1f}s", s);
}

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string json_attributes(const Attributes& attributes) {
  std::string out = "{";
  for (const auto& [name, a] : attributes) {
    if (out.size() > 1) out += ", ";
    out += json_string(name) + ": ";
    if (a.type == ValueType::String) out += json_string(a.text);
    else if (a.type == ValueType::Float64) out += json_number(a.real);
    else out += std::to_string(a.integer);
  }
  return out + "}";
}

std::string configuration_of(const ResultsReader& r, std::size_t row) {
  std::string out;
  for (const auto& p : r.hyperparameters()) {
    if (!out.empty()) out += ' ';
    out += p + "=" + fmt::format("{:.10g}", r.trials().column(p).reals[row]);  // grid values print as written
  }
  return out;
}

// "5 of 6", or "5" when the results decide how many trials there are (ASHA).
std::string of_planned(const ReportSummary& s) {
  return s.planned >= 0 ? fmt::format("{} of {}", s.finished, s.planned) : std::to_string(s.finished);
}

}  // namespace

ReportSummary summarize(const ResultsReader& r, std::size_t top) {
  const Trials t{r.trials()};
  const std::size_t rows = r.trials().rows();
  ReportSummary s;
  s.planned = static_cast<std::int64_t>(attribute_number(r.settings(), "planned_trials"));
  s.finished = static_cast<std::int64_t>(rows);
  for (const char* status : {"ok", "diverged", "failed"}) s.by_status[status] = 0;
  std::set<std::int64_t> parents;
  for (std::size_t i = 0; i < rows; ++i) {
    ++s.by_status[t.text("status", i)];
    s.epochs_trained += t.integer("epochs_trained", i);
    if (t.integer("parent_id", i) >= 0) parents.insert(t.integer("parent_id", i));
    s.run = std::max(s.run, static_cast<std::int32_t>(t.integer("run", i)));
  }

  std::vector<std::size_t> ranked;
  for (std::size_t i = 0; i < rows; ++i)
    if (!std::isnan(t.real("score", i))) ranked.push_back(i);
  std::sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) {
    const double sa = t.real("score", a), sb = t.real("score", b);
    return sa != sb ? sa > sb : t.integer("trial_id", a) < t.integer("trial_id", b);
  });
  // A promoted configuration appears once per round it ran: list each configuration once, by
  // its best trial.
  std::set<std::int64_t> listed;
  for (const auto i : ranked) {
    if (s.top.size() == top) break;
    if (listed.insert(t.integer("config_id", i)).second) s.top.push_back(i);
  }

  std::map<std::tuple<std::int32_t, std::int32_t, std::int32_t>, RoundSummary> rounds;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto key = std::make_tuple(static_cast<std::int32_t>(t.integer("iteration", i)),
                                     static_cast<std::int32_t>(t.integer("bracket", i)),
                                     static_cast<std::int32_t>(t.integer("round", i)));
    auto& round = rounds[key];
    if (round.trials == 0) {
      std::tie(round.iteration, round.bracket, round.round) = key;
      round.best_score = round.cutoff = std::nan("");
    }
    ++round.trials;
    round.end_epoch = std::max(round.end_epoch, static_cast<std::int32_t>(t.integer("end_epoch", i)));
    const double score = t.real("score", i);
    if (std::isnan(score)) continue;
    ++round.ok;
    if (std::isnan(round.best_score) || score > round.best_score) round.best_score = score;
    if (parents.count(t.integer("trial_id", i))) {
      ++round.promoted;
      if (std::isnan(round.cutoff) || score < round.cutoff) round.cutoff = score;
    }
  }
  // Brackets print largest first, as the plan does (bracket s_max starts with the most trials).
  for (auto it = rounds.rbegin(); it != rounds.rend(); ++it) s.rounds.push_back(it->second);
  std::stable_sort(s.rounds.begin(), s.rounds.end(), [](const RoundSummary& a, const RoundSummary& b) {
    return std::make_tuple(a.iteration, -a.bracket, a.round) < std::make_tuple(b.iteration, -b.bracket, b.round);
  });

  std::map<std::int32_t, WorkerTime> workers;
  double last_end = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    if (t.integer("run", i) != s.run) continue;
    auto& w = workers[static_cast<std::int32_t>(t.integer("worker", i))];
    w.worker = static_cast<std::int32_t>(t.integer("worker", i));
    ++w.trials;
    w.busy_seconds += t.real("wall_seconds", i);
    if (std::isfinite(t.real("end_seconds", i))) last_end = std::max(last_end, t.real("end_seconds", i));
  }
  const double recorded_wall = attribute_number(r.settings(), "wall_seconds");
  s.wall_seconds = r.complete() && std::isfinite(recorded_wall) ? recorded_wall : last_end;
  for (auto& [rank, w] : workers) {
    w.idle_seconds = std::max(0.0, s.wall_seconds - w.busy_seconds);
    s.workers.push_back(w);
  }
  return s;
}

void print_report(const ResultsReader& r, const ReportSummary& s, std::ostream& out) {
  const Trials t{r.trials()};
  out << fmt::format("{}: search '{}', {}{}\n", r.path(), r.setting("name"),
                     r.complete() ? "complete" : "running or stopped (partial file)",
                     s.run > 0 ? fmt::format(", resumed {} time(s)", s.run) : "");
  out << fmt::format("  crimegraph-search {}, started {}{}\n", r.setting("software_version"), r.setting("created_utc"),
                     r.complete() ? ", finished " + r.setting("finished_utc") : "");
  out << fmt::format("  objective {}, dataset {}\n", r.setting("objective"), r.setting("dataset"));
  const auto variant = r.setting("variant");
  out << fmt::format("  {}, ranking {}, seed {}, {} worker(s)\n",
                     variant == "asha" ? std::string("ASHA") : "Hyperband (" + variant + " variant)", r.setting("ranking"),
                     r.setting("seed"), r.setting("workers"));
  out << fmt::format("  scoring: {}\n", r.setting("hit_rate"));
  out << fmt::format("  search space: {}\n\n", fmt::join(r.hyperparameters(), ", "));

  out << fmt::format("trials: {} finished ({} ok, {} diverged, {} failed), {} epochs trained\n\n", of_planned(s),
                     s.by_status.at("ok"), s.by_status.at("diverged"), s.by_status.at("failed"),
                     s.epochs_trained);

  out << fmt::format("top {} configurations by score (each by its best trial):\n", s.top.size());
  out << fmt::format("  {:>4} {:>6} {:>6} {:>7} {:>6} {:>7} {:>5}  {}\n", "rank", "trial", "config", "score",
                     "epochs", "bracket", "round", "configuration");
  for (std::size_t k = 0; k < s.top.size(); ++k) {
    const auto i = s.top[k];
    out << fmt::format("  {:>4} {:>6} {:>6} {:>7} {:>6} {:>7} {:>5}  {}\n", k + 1, t.integer("trial_id", i),
                       t.integer("config_id", i), score_text(t.real("score", i)), t.integer("end_epoch", i),
                       t.integer("bracket", i), t.integer("round", i), configuration_of(r, i));
  }

  out << "\nsuccessive halving, by bracket and round:\n";
  out << fmt::format("  {:>9} {:>7} {:>5} {:>6} {:>6} {:>7} {:>8} {:>8}\n", "iteration", "bracket", "round", "trials",
                     "epochs", "best", "promoted", "cut-off");
  for (const auto& round : s.rounds) {
    out << fmt::format("  {:>9} {:>7} {:>5} {:>6} {:>6} {:>7} {:>8} {:>8}\n", round.iteration, round.bracket,
                       round.round, round.trials, round.end_epoch, score_text(round.best_score), round.promoted,
                       score_text(round.cutoff));
  }

  const auto& f = r.final_result();
  out << "\nfinal retraining: ";
  if (f.empty()) {
    out << "not run (yet)\n";
  } else {
    const auto text = [&](const char* name) { return f.count(name) ? f.at(name).text : std::string(); };
    out << fmt::format("{} for {} epochs, {}\n", text("status"), text("epochs"), text("configuration"));
    if (!text("message").empty()) out << "  " << text("message") << "\n";
    out << fmt::format("  test {}:\n", text("hit_rate"));
    // A value and, when the file has it, its interval.
    const auto scored = [&](const std::string& name) {
      const Interval i{attribute_number(f, name + "_low"), attribute_number(f, name + "_high")};
      return score_text(attribute_number(f, name)) + (i.known() ? "  " + describe(i) : std::string());
    };
    out << fmt::format("    GLDNet      {}\n", scored("test_hit_rate"));
    out << fmt::format("    naive       {}\n", scored("naive_test_hit_rate"));
    out << fmt::format("    historical  {}\n", scored("historical_test_hit_rate"));
    if (f.count("oracle_test_hit_rate")) out << fmt::format("    oracle      {}\n", scored("oracle_test_hit_rate"));
    if (f.count("best_baseline")) {
      const Interval gain{attribute_number(f, "gain_low"), attribute_number(f, "gain_high")};
      out << fmt::format("    GLDNet - {}: {:+.4f}  {}  (paired; 95% block-bootstrap intervals)\n", text("best_baseline"),
                         attribute_number(f, "gain"), describe(gain));
    }
    out << fmt::format("  model kept in the file: {}\n",
                       r.final_checkpoint().empty() ? "no" : fmt::format("yes ({} bytes)", r.final_checkpoint().size()));
  }

  double busy = 0.0;
  for (const auto& w : s.workers) busy += w.busy_seconds;
  out << fmt::format("\ntime{}: search {}, {} worker(s) busy {} in all ({:.1f}%)\n",
                     s.run > 0 ? " (latest run)" : "", seconds_text(s.wall_seconds), s.workers.size(),
                     seconds_text(busy),
                     s.wall_seconds > 0 && !s.workers.empty()
                         ? 100.0 * busy / (s.wall_seconds * static_cast<double>(s.workers.size()))
                         : 0.0);
  // A few workers are a table; thousands (a simulation) are summed up above (--json lists each).
  constexpr std::size_t kWorkersListed = 64;
  if (s.workers.size() > kWorkersListed) return;
  out << fmt::format("  {:>6} {:>6} {:>9} {:>9}\n", "worker", "trials", "busy", "idle");
  for (const auto& w : s.workers) {
    out << fmt::format("  {:>6} {:>6} {:>9} {:>9}\n", w.worker, w.trials, seconds_text(w.busy_seconds),
                       seconds_text(w.idle_seconds));
  }
}

void print_comparison(const ResultsReader& a, const ReportSummary& sa, const ResultsReader& b,
                      const ReportSummary& sb, std::ostream& out) {
  out << fmt::format("{:<32} {:>28} {:>28}\n", "", a.setting("name"), b.setting("name"));
  const auto row = [&](const std::string& what, const std::string& x, const std::string& y) {
    out << fmt::format("{:<32} {:>28} {:>28}\n", what, x, y);
  };
  row("file", a.path().substr(a.path().find_last_of('/') + 1), b.path().substr(b.path().find_last_of('/') + 1));
  row("status", a.setting("status"), b.setting("status"));
  for (const char* name : {"variant", "ranking", "objective", "seed", "workers", "hit_rate", "dataset"}) {
    const auto x = a.setting(name), y = b.setting(name);
    row(x == y ? name : std::string(name) + " (differs)", x.substr(0, 28), y.substr(0, 28));
  }
  row("search space", a.setting("search_space") == b.setting("search_space") ? "same" : "differs", "");
  row("trials finished", of_planned(sa), of_planned(sb));
  row("ok / diverged / failed",
      fmt::format("{} / {} / {}", sa.by_status.at("ok"), sa.by_status.at("diverged"), sa.by_status.at("failed")),
      fmt::format("{} / {} / {}", sb.by_status.at("ok"), sb.by_status.at("diverged"), sb.by_status.at("failed")));
  row("epochs trained", std::to_string(sa.epochs_trained), std::to_string(sb.epochs_trained));
  const auto best = [](const ResultsReader& r, const ReportSummary& s) {
    if (s.top.empty()) return std::string("-");
    const auto i = s.top.front();
    return fmt::format("{} (trial {})", score_text(r.trials().column("score").reals[i]),
                       r.trials().column("trial_id").integers[i]);
  };
  row("best validation score", best(a, sa), best(b, sb));
  for (const char* name : {"test_hit_rate", "naive_test_hit_rate", "historical_test_hit_rate", "oracle_test_hit_rate"}) {
    row(std::string("final ") + name, score_text(attribute_number(a.final_result(), name)),
        score_text(attribute_number(b.final_result(), name)));
  }
  row("search time", seconds_text(sa.wall_seconds), seconds_text(sb.wall_seconds));
  const auto percent = [](double v) { return std::isfinite(v) ? fmt::format("{:.1f}%", 100.0 * v) : std::string("-"); };
  row("worker utilisation", percent(attribute_number(a.settings(), "worker_utilisation")),
      percent(attribute_number(b.settings(), "worker_utilisation")));
}

void write_csv(const Table& table, const std::vector<std::string>& columns, std::ostream& out) {
  std::vector<const Column*> chosen;
  if (columns.empty()) {
    for (const auto& c : table.columns()) chosen.push_back(&c);
  } else {
    for (const auto& name : columns) {
      if (!table.has(name)) throw ConfigError("no column '" + name + "' in the trials table");
      chosen.push_back(&table.column(name));
    }
  }
  for (std::size_t k = 0; k < chosen.size(); ++k) out << (k ? "," : "") << csv_field(chosen[k]->name);
  out << "\n";
  for (std::size_t i = 0; i < table.rows(); ++i) {
    for (std::size_t k = 0; k < chosen.size(); ++k) out << (k ? "," : "") << csv_field(chosen[k]->text(i));
    out << "\n";
  }
}

std::string summary_json(const ResultsReader& r, const ReportSummary& s) {
  const Trials t{r.trials()};
  std::string out = "{\n";
  out += "  \"file\": " + json_string(r.path()) + ",\n";
  out += fmt::format("  \"complete\": {},\n", r.complete() ? "true" : "false");
  out += "  \"settings\": " + json_attributes(r.settings()) + ",\n";
  out += fmt::format("  \"planned\": {}, \"finished\": {}, \"epochs_trained\": {},\n", s.planned, s.finished,
                     s.epochs_trained);
  out += fmt::format("  \"by_status\": {{\"ok\": {}, \"diverged\": {}, \"failed\": {}}},\n", s.by_status.at("ok"),
                     s.by_status.at("diverged"), s.by_status.at("failed"));
  out += "  \"top\": [";
  for (std::size_t k = 0; k < s.top.size(); ++k) {
    const auto i = s.top[k];
    out += k ? ",\n    " : "\n    ";
    out += fmt::format("{{\"trial_id\": {}, \"config_id\": {}, \"score\": {}, \"end_epoch\": {}, \"bracket\": {}, "
                       "\"round\": {}, \"configuration\": {{",
                       t.integer("trial_id", i), t.integer("config_id", i), json_number(t.real("score", i)),
                       t.integer("end_epoch", i), t.integer("bracket", i), t.integer("round", i));
    for (std::size_t p = 0; p < r.hyperparameters().size(); ++p) {
      const auto& name = r.hyperparameters()[p];
      out += (p ? ", " : "") + json_string(name) + ": " + json_number(r.trials().column(name).reals[i]);
    }
    out += "}}";
  }
  out += "\n  ],\n  \"rounds\": [";
  for (std::size_t k = 0; k < s.rounds.size(); ++k) {
    const auto& x = s.rounds[k];
    out += k ? ",\n    " : "\n    ";
    out += fmt::format("{{\"iteration\": {}, \"bracket\": {}, \"round\": {}, \"trials\": {}, \"ok\": {}, "
                       "\"end_epoch\": {}, \"best_score\": {}, \"promoted\": {}, \"cutoff\": {}}}",
                       x.iteration, x.bracket, x.round, x.trials, x.ok, x.end_epoch, json_number(x.best_score),
                       x.promoted, json_number(x.cutoff));
  }
  out += "\n  ],\n";
  out += "  \"best\": " + json_attributes(r.best()) + ",\n";
  out += "  \"final\": " + json_attributes(r.final_result()) + ",\n";
  out += fmt::format("  \"run\": {}, \"wall_seconds\": {},\n", s.run, json_number(s.wall_seconds));
  out += "  \"workers\": [";
  for (std::size_t k = 0; k < s.workers.size(); ++k) {
    const auto& w = s.workers[k];
    out += fmt::format("{}{{\"worker\": {}, \"trials\": {}, \"busy_seconds\": {}, \"idle_seconds\": {}}}",
                       k ? ", " : "", w.worker, w.trials, json_number(w.busy_seconds), json_number(w.idle_seconds));
  }
  out += "]\n}\n";
  return out;
}

std::string schema_markdown() {
  std::string out = "| column of /trials | type | meaning |\n|---|---|---|\n";
  for (const auto& c : kTrialColumns) out += fmt::format("| `{}` | {} | {} |\n", c.name, value_type_name(c.type), c.meaning);
  out += "| one per hyperparameter | float64 | its value in the trial's configuration |\n";
  out += "\n| column of /curves and /final/curves | type | meaning |\n|---|---|---|\n";
  for (const auto& c : kCurveColumns) out += fmt::format("| `{}` | {} | {} |\n", c.name, value_type_name(c.type), c.meaning);
  out += "\n| attribute | type | always | meaning |\n|---|---|---|---|\n";
  for (const auto& a : kResultsAttributes) {
    out += fmt::format("| `/{}` @`{}` | {} | {} | {} |\n", a.object, a.name, value_type_name(a.type),
                       a.always ? "yes" : "no", a.meaning);
  }
  return out;
}

}  // namespace crimegraph
