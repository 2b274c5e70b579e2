#include "crimegraph/search/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* ranking_name(Ranking ranking) { return ranking == Ranking::BestEpoch ? "best-epoch" : "last-epoch"; }

Ranking parse_ranking(const std::string& text) {
  if (text == "best-epoch" || text == "best") return Ranking::BestEpoch;
  if (text == "last-epoch" || text == "last") return Ranking::LastEpoch;
  throw ConfigError("unknown ranking '" + text + "' (use best-epoch or last-epoch)");
}

namespace {
std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

HyperbandScheduler::HyperbandScheduler(const HyperbandOptions& options, SearchSpace space, std::uint64_t seed,
                                       Ranking ranking)
    : plan_(hyperband_plan(options)), seed_(seed), ranking_(ranking) {
  space.validate();
  // All first-round configurations are drawn up front, in plan order, so they do not depend
  // on the order in which workers ask for work. Repeats are redrawn, as Keras Tuner does.
  std::mt19937_64 rng(mix(seed));
  std::set<Configuration> seen;
  bool exhausted = false;  // once 100 redraws find nothing new, more would only cost time
  std::int64_t id_base = 0;
  for (const auto& bp : plan_) {
    Bracket b;
    b.plan = bp;
    b.id_base = id_base;
    b.config_base = static_cast<std::int64_t>(configs_.size());
    b.first_size = bp.rounds.front().trials;
    std::int32_t previous_epochs = 0;
    for (const auto& rp : bp.rounds) {
      Round r;
      r.size = rp.trials;
      r.epochs = rp.epochs;
      b.rounds.push_back(r);
      planned_ += rp.trials;
      epochs_planned_ += static_cast<std::int64_t>(rp.trials) * (rp.epochs - previous_epochs);
      previous_epochs = rp.epochs;
    }
    for (std::int32_t slot = 0; slot < b.first_size; ++slot) {
      Configuration c = space.sample(rng);
      for (int attempt = 0; !exhausted && attempt < 100 && seen.count(c); ++attempt) c = space.sample(rng);
      exhausted = exhausted || !seen.insert(c).second;
      configs_.push_back(c);
      Member m;
      m.slot = slot;
      b.rounds[0].members.push_back(m);
      b.rounds[0].ready.push_back(static_cast<std::size_t>(slot));
    }
    id_base += static_cast<std::int64_t>(b.first_size) * static_cast<std::int64_t>(bp.rounds.size());
    brackets_.push_back(std::move(b));
  }
}

TrialSpec HyperbandScheduler::spec_for(const Bracket& b, std::size_t round, const Member& m) const {
  TrialSpec s;
  s.id = b.id_base + static_cast<std::int64_t>(round) * b.first_size + m.slot;
  s.parent_id = m.parent_id;
  s.config_id = b.config_base + m.slot;
  s.iteration = b.plan.iteration;
  s.bracket = b.plan.bracket;
  s.round = static_cast<std::int32_t>(round);
  s.slot = m.slot;
  s.start_epoch = round == 0 ? 0 : b.rounds[round - 1].epochs;
  s.end_epoch = b.rounds[round].epochs;
  s.seed = mix(seed_ ^ mix(static_cast<std::uint64_t>(s.config_id)));
  s.config = configs_[static_cast<std::size_t>(s.config_id)];
  s.parent_checkpoint = m.parent_checkpoint;
  return s;
}

std::optional<TrialSpec> HyperbandScheduler::next() {
  // Earliest bracket first; within it the deepest round, which finishes the bracket soonest.
  for (auto& b : brackets_) {
    for (std::size_t r = b.rounds.size(); r-- > 0;) {
      auto& round = b.rounds[r];
      if (round.next_ready < round.ready.size()) {
        auto& m = round.members[round.ready[round.next_ready++]];
        m.state = Member::State::Running;
        ++dispatched_;
        auto spec = spec_for(b, r, m);
        m.parent_checkpoint.clear();  // handed over; no need to keep it
        return spec;
      }
    }
  }
  return std::nullopt;
}

bool HyperbandScheduler::better(const Member& a, const Member& b) const {
  if (a.ok != b.ok) return a.ok;
  if (a.ok && a.score != b.score) return a.score > b.score;
  return a.slot < b.slot;
}

void HyperbandScheduler::promote_certain(Bracket& b, std::size_t r) {
  if (r + 1 >= b.rounds.size()) return;
  auto& round = b.rounds[r];
  auto& next = b.rounds[r + 1];
  const auto k = static_cast<std::size_t>(next.size);
  if (next.members.size() >= k) return;
  const auto unfinished = static_cast<std::size_t>(round.size - round.done);
  // Candidates in rank order, so the ready queue is in rank order too.
  std::vector<std::size_t> done;
  for (std::size_t i = 0; i < round.members.size(); ++i) {
    if (round.members[i].state == Member::State::Done) done.push_back(i);
  }
  std::sort(done.begin(), done.end(), [&](auto x, auto y) { return better(round.members[x], round.members[y]); });
  for (std::size_t rank = 0; rank < done.size() && next.members.size() < k; ++rank) {
    auto& m = round.members[done[rank]];
    // `rank` finished trials are ahead of m; at most `unfinished` more may overtake it.
    if (rank + unfinished >= k) break;
    if (m.promoted) continue;
    m.promoted = true;
    Member child;
    child.slot = m.slot;
    child.parent_id = b.id_base + static_cast<std::int64_t>(r) * b.first_size + m.slot;
    child.parent_checkpoint = std::move(m.checkpoint);
    next.members.push_back(std::move(child));
    next.ready.push_back(next.members.size() - 1);
  }
  if (round.done == round.size) {
    for (auto& m : round.members) std::string().swap(m.checkpoint);  // no longer needed
  }
}

void HyperbandScheduler::report(const TrialReport& rep) {
  for (auto& b : brackets_) {
    const std::int64_t span = static_cast<std::int64_t>(b.first_size) * static_cast<std::int64_t>(b.rounds.size());
    if (rep.id < b.id_base || rep.id >= b.id_base + span) continue;
    const auto r = static_cast<std::size_t>((rep.id - b.id_base) / b.first_size);
    const auto slot = static_cast<std::int32_t>((rep.id - b.id_base) % b.first_size);
    auto& round = b.rounds[r];
    for (auto& m : round.members) {
      if (m.slot != slot) continue;
      if (m.state != Member::State::Running) {
        throw Error("trial " + std::to_string(rep.id) + " reported " +
                    (m.state == Member::State::Done ? "twice" : "before it was dispatched"));
      }
      m.state = Member::State::Done;
      m.ok = rep.ok && std::isfinite(rep.best_score) && std::isfinite(rep.last_score);
      m.score = ranking_ == Ranking::BestEpoch ? rep.best_score : rep.last_score;
      m.checkpoint = rep.checkpoint;
      ++round.done;
      ++completed_;
      if (!m.ok) ++failed_;
      epochs_completed_ += round.epochs - (r == 0 ? 0 : b.rounds[r - 1].epochs);
      promote_certain(b, r);
      return;
    }
  }
  throw Error("result for unknown trial " + std::to_string(rep.id));
}

}  // namespace crimegraph
