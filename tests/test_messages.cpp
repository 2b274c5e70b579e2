#include <gtest/gtest.h>

#include "crimegraph/cluster/messages.hpp"
#include "crimegraph/error.hpp"

using namespace crimegraph;

TEST(Messages, TrialSpecRoundTrip) {
  TrialSpec s;
  s.id = 42;
  s.parent_id = 7;
  s.config_id = 3;
  s.iteration = 1;
  s.bracket = 4;
  s.round = 2;
  s.slot = 9;
  s.start_epoch = 4;
  s.end_epoch = 7;
  s.seed = 0xDEADBEEFCAFEULL;
  s.config = {{"loss_rho", 0.015}, {"num_ldn_layers", 3}};
  s.parent_checkpoint = std::string("\0binary\xff", 8);
  const auto back = decode_trial_spec(encode(s));
  EXPECT_EQ(back.id, 42);
  EXPECT_EQ(back.parent_id, 7);
  EXPECT_EQ(back.slot, 9);
  EXPECT_EQ(back.end_epoch, 7);
  EXPECT_EQ(back.seed, s.seed);
  EXPECT_EQ(back.config, s.config);
  EXPECT_EQ(back.parent_checkpoint, s.parent_checkpoint);
}

TEST(Messages, OutcomesRoundTrip) {
  TrialOutcome o;
  o.id = 5;
  o.status = TrialStatus::Diverged;
  o.message = "loss became NaN";
  o.epochs = {{1, 0.5, 0.4, 0.61, 0.03, 1.0, 0.1}, {2, 0.4, 0.3, 0.65, 0.028, 1.1, 0.1}};
  o.checkpoint = "xyz";
  o.worker = 3;
  o.wall_seconds = 2.5;
  const auto back = decode_trial_outcome(encode(o));
  EXPECT_EQ(back.status, TrialStatus::Diverged);
  EXPECT_EQ(back.message, o.message);
  ASSERT_EQ(back.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(back.epochs[1].validation_hit_rate, 0.65);
  EXPECT_DOUBLE_EQ(back.best_hit_rate(), 0.65);
  EXPECT_DOUBLE_EQ(back.last_hit_rate(), 0.65);
  FinalOutcome f;
  f.test_hit_rate = 0.6;
  f.oracle = 0.7;
  f.hit_rate_description = "hit rate";
  const auto fb = decode_final_outcome(encode(f));
  EXPECT_DOUBLE_EQ(fb.test_hit_rate, 0.6);
  ASSERT_TRUE(fb.oracle);
  EXPECT_DOUBLE_EQ(*fb.oracle, 0.7);
  WorkerStats w{3, 10, 1.5, 2.5, 0.01};
  EXPECT_EQ(decode_worker_stats(encode(w)).trials, 10);
}

TEST(Messages, MalformedBytesAreErrors) {
  TrialSpec s;
  auto bytes = encode(s);
  EXPECT_THROW(decode_trial_spec(bytes.substr(0, bytes.size() - 3)), Error);
  EXPECT_THROW(decode_trial_spec(bytes + "x"), Error);
  EXPECT_THROW(decode_trial_outcome(""), Error);
}
