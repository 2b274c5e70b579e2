#include "crimegraph/search/hyperband/hyperband.hpp"

#include <algorithm>
#include <cmath>

#include "crimegraph/error.hpp"

namespace crimegraph {

HyperbandScheduler::HyperbandScheduler(const HyperbandOptions& options, SearchSpace space, std::uint64_t seed,
                                       Ranking ranking)
    : options_(options), plan_(hyperband_plan(options)), sampler_(std::move(space), seed), seed_(seed),
      ranking_(ranking) {
  counts_.planned = counts_.epochs_planned = 0;
  // All first-round configurations are drawn up front, in plan order, so they do not depend
  // on the order in which workers ask for work.
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
      r.member_of_slot.assign(static_cast<std::size_t>(b.first_size), -1);
      b.rounds.push_back(std::move(r));
      counts_.planned += rp.trials;
      counts_.epochs_planned += static_cast<std::int64_t>(rp.trials) * (rp.epochs - previous_epochs);
      previous_epochs = rp.epochs;
    }
    for (std::int32_t slot = 0; slot < b.first_size; ++slot) {
      configs_.push_back(sampler_.draw());
      Member m;
      m.slot = slot;
      b.rounds[0].member_of_slot[static_cast<std::size_t>(slot)] = slot;
      b.rounds[0].members.push_back(m);
      b.rounds[0].ready.push_back(static_cast<std::size_t>(slot));
    }
    id_base += static_cast<std::int64_t>(b.first_size) * static_cast<std::int64_t>(bp.rounds.size());
    with_ready_.insert(brackets_.size());
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
  s.seed = trial_seed(seed_, s.config_id);
  s.config = configs_[static_cast<std::size_t>(s.config_id)];
  s.parent_checkpoint = m.parent_checkpoint;
  return s;
}

std::optional<TrialSpec> HyperbandScheduler::next() {
  // Earliest bracket first; within it the deepest round, which finishes the bracket soonest.
  while (!with_ready_.empty()) {
    const auto bi = *with_ready_.begin();
    auto& b = brackets_[bi];
    for (std::size_t r = b.rounds.size(); r-- > 0;) {
      auto& round = b.rounds[r];
      if (!round.has_ready()) continue;
      auto& m = round.members[round.ready[round.next_ready++]];
      m.state = Member::State::Running;
      ++counts_.dispatched;
      auto spec = spec_for(b, r, m);
      m.parent_checkpoint.clear();  // handed over; no need to keep it
      return spec;
    }
    with_ready_.erase(with_ready_.begin());
  }
  return std::nullopt;
}

bool HyperbandScheduler::better(const Member& a, const Member& b) const {
  if (a.ok != b.ok) return a.ok;
  if (a.ok && a.score != b.score) return a.score > b.score;
  return a.slot < b.slot;
}

void HyperbandScheduler::promote_certain(std::size_t bi, std::size_t r) {
  auto& b = brackets_[bi];
  if (r + 1 >= b.rounds.size()) return;
  auto& round = b.rounds[r];
  auto& next = b.rounds[r + 1];
  const auto k = static_cast<std::size_t>(next.size);
  if (next.members.size() >= k) return;
  const auto unfinished = static_cast<std::size_t>(round.size - round.done);
  // Candidates in rank order, so the ready queue is in rank order too. A round holds at most
  // one bracket's first-round size of trials.
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
    next.member_of_slot[static_cast<std::size_t>(m.slot)] = static_cast<std::int32_t>(next.members.size());
    next.members.push_back(std::move(child));
    next.ready.push_back(next.members.size() - 1);
    with_ready_.insert(bi);
  }
  if (round.done == round.size) {
    for (auto& m : round.members) std::string().swap(m.checkpoint);  // no longer needed
  }
}

void HyperbandScheduler::report(const TrialReport& rep) {
  // The bracket whose id range holds the trial: the last with id_base <= id.
  const auto after = std::upper_bound(brackets_.begin(), brackets_.end(), rep.id,
                                      [](std::int64_t id, const Bracket& b) { return id < b.id_base; });
  if (after == brackets_.begin()) throw Error("result for unknown trial " + std::to_string(rep.id));
  const auto bi = static_cast<std::size_t>(after - brackets_.begin() - 1);
  auto& b = brackets_[bi];
  const std::int64_t offset = rep.id - b.id_base;
  const auto r = static_cast<std::size_t>(offset / b.first_size);
  if (r >= b.rounds.size()) throw Error("result for unknown trial " + std::to_string(rep.id));
  auto& round = b.rounds[r];
  const auto index = round.member_of_slot[static_cast<std::size_t>(offset % b.first_size)];
  if (index < 0) throw Error("trial " + std::to_string(rep.id) + " reported before it was dispatched");
  auto& m = round.members[static_cast<std::size_t>(index)];
  if (m.state != Member::State::Running) {
    throw Error("trial " + std::to_string(rep.id) + " reported " +
                (m.state == Member::State::Done ? "twice" : "before it was dispatched"));
  }
  m.state = Member::State::Done;
  m.ok = rep.ok && std::isfinite(rep.best_score) && std::isfinite(rep.last_score);
  m.score = ranking_ == Ranking::BestEpoch ? rep.best_score : rep.last_score;
  m.checkpoint = rep.checkpoint;
  ++round.done;
  ++counts_.completed;
  if (!m.ok) ++counts_.failed;
  counts_.epochs_completed += round.epochs - (r == 0 ? 0 : b.rounds[r - 1].epochs);
  promote_certain(bi, r);
}

}  // namespace crimegraph
