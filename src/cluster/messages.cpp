#include "crimegraph/cluster/messages.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* tag_name(Tag tag) {
  switch (tag) {
    case Tag::Work: return "work";
    case Tag::Result: return "result";
    case Tag::FinalWork: return "final-work";
    case Tag::FinalResult: return "final-result";
    case Tag::Shutdown: return "shutdown";
    case Tag::Stats: return "stats";
    case Tag::Fatal: return "fatal";
  }
  return "?";
}

namespace {

// Little binary writer/reader: fixed-size values as bytes, strings length-prefixed.
// Both ends are the same build of the same program, so byte order and layout agree.
class Writer {
 public:
  template <class T>
  Writer& put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Writer& put(const std::string& s) {
    put(static_cast<std::uint64_t>(s.size()));
    out_.append(s);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void done() const {
    if (pos_ != in_.size()) throw Error("malformed message: " + std::to_string(in_.size() - pos_) + " trailing bytes");
  }

 private:
  void need(std::uint64_t n) const {
    if (n > in_.size() - pos_) throw Error("malformed message: truncated");
  }
  const std::string& in_;
  std::size_t pos_ = 0;
};

void put_epochs(Writer& w, const std::vector<EpochRecord>& epochs) {
  w.put(static_cast<std::uint64_t>(epochs.size()));
  for (const auto& e : epochs) w.put(e);
}

std::vector<EpochRecord> get_epochs(Reader& r) {
  std::vector<EpochRecord> epochs(r.get<std::uint64_t>());
  for (auto& e : epochs) e = r.get<EpochRecord>();
  return epochs;
}

}  // namespace

std::string encode(const TrialSpec& s) {
  Writer w;
  w.put(s.id).put(s.parent_id).put(s.config_id).put(s.iteration).put(s.bracket).put(s.round).put(s.slot);
  w.put(s.start_epoch).put(s.end_epoch).put(s.seed);
  w.put(static_cast<std::uint64_t>(s.config.size()));
  for (const auto& [k, v] : s.config) w.put(k).put(v);
  w.put(s.parent_checkpoint);
  return w.take();
}

TrialSpec decode_trial_spec(const std::string& bytes) {
  Reader r(bytes);
  TrialSpec s;
  s.id = r.get<std::int64_t>();
  s.parent_id = r.get<std::int64_t>();
  s.config_id = r.get<std::int64_t>();
  s.iteration = r.get<std::int32_t>();
  s.bracket = r.get<std::int32_t>();
  s.round = r.get<std::int32_t>();
  s.slot = r.get<std::int32_t>();
  s.start_epoch = r.get<std::int32_t>();
  s.end_epoch = r.get<std::int32_t>();
  s.seed = r.get<std::uint64_t>();
  const auto n = r.get<std::uint64_t>();
  for (std::uint64_t i = 0; i < n; ++i) {
    auto k = r.get_string();
    s.config[k] = r.get<double>();
  }
  s.parent_checkpoint = r.get_string();
  r.done();
  return s;
}

std::string encode(const TrialOutcome& o) {
  Writer w;
  w.put(o.id).put(static_cast<std::int32_t>(o.status)).put(o.message);
  put_epochs(w, o.epochs);
  w.put(o.checkpoint).put(o.worker).put(o.wall_seconds);
  return w.take();
}

TrialOutcome decode_trial_outcome(const std::string& bytes) {
  Reader r(bytes);
  TrialOutcome o;
  o.id = r.get<std::int64_t>();
  o.status = static_cast<TrialStatus>(r.get<std::int32_t>());
  o.message = r.get_string();
  o.epochs = get_epochs(r);
  o.checkpoint = r.get_string();
  o.worker = r.get<std::int32_t>();
  o.wall_seconds = r.get<double>();
  r.done();
  return o;
}

std::string encode(const FinalOutcome& o) {
  Writer w;
  w.put(static_cast<std::int32_t>(o.status)).put(o.message).put(o.epochs).put(o.best_validation_hit_rate);
  w.put(o.test_hit_rate).put(o.naive).put(o.historical).put(static_cast<std::uint8_t>(o.oracle.has_value()));
  w.put(o.oracle.value_or(0.0)).put(o.hit_rate_description).put(o.checkpoint);
  for (const auto* i : {&o.test_interval, &o.naive_interval, &o.historical_interval, &o.oracle_interval, &o.gain_interval}) {
    w.put(i->low).put(i->high);
  }
  w.put(o.best_baseline).put(o.gain);
  put_epochs(w, o.history);
  return w.take();
}

FinalOutcome decode_final_outcome(const std::string& bytes) {
  Reader r(bytes);
  FinalOutcome o;
  o.status = static_cast<TrialStatus>(r.get<std::int32_t>());
  o.message = r.get_string();
  o.epochs = r.get<std::int32_t>();
  o.best_validation_hit_rate = r.get<double>();
  o.test_hit_rate = r.get<double>();
  o.naive = r.get<double>();
  o.historical = r.get<double>();
  const bool has_oracle = r.get<std::uint8_t>() != 0;
  const double oracle = r.get<double>();
  if (has_oracle) o.oracle = oracle;
  o.hit_rate_description = r.get_string();
  o.checkpoint = r.get_string();
  for (auto* i : {&o.test_interval, &o.naive_interval, &o.historical_interval, &o.oracle_interval, &o.gain_interval}) {
    i->low = r.get<double>();
    i->high = r.get<double>();
  }
  o.best_baseline = r.get_string();
  o.gain = r.get<double>();
  o.history = get_epochs(r);
  r.done();
  return o;
}

std::string encode(const WorkerStats& s) {
  Writer w;
  w.put(s);
  return w.take();
}

WorkerStats decode_worker_stats(const std::string& bytes) {
  Reader r(bytes);
  const auto s = r.get<WorkerStats>();
  r.done();
  return s;
}

}  // namespace crimegraph
