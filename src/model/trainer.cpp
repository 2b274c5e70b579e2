#include "crimegraph/model/trainer.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/model/gldnet_parameters.hpp"

namespace crimegraph {

const char* trial_status_name(TrialStatus status) {
  switch (status) {
    case TrialStatus::Ok: return "ok";
    case TrialStatus::Diverged: return "diverged";
    case TrialStatus::Failed: return "failed";
  }
  return "?";
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The model's layers as the hyperparameters give them, over `inputs` summaries per segment.
GLDNetShape shape_of(const Hyperparameters& h, std::int64_t inputs) {
  GLDNetShape shape;
  shape.inputs = inputs;
  shape.gated_layers = h.num_gated_relu_layers;
  shape.gated_units = h.num_gated_relu_hidden_units;
  shape.ldn_layers = h.num_ldn_layers;
  shape.ldn_units = h.num_ldn_hidden_units;
  return shape;
}
}  // namespace

struct Trainer::Impl {
  std::optional<std::chrono::steady_clock::time_point> deadline;  // of the running fit()
  bool timed_out = false;
  std::shared_ptr<const TrainingData> data;
  Hyperparameters hp;
  TrainerOptions options;
  WindowIndex index;
  BatchIterator batches;
  std::vector<float> smoothing_weights;  // [scales][lookback]
  SparseAdjacency adjacency, adjacency_t;
  std::unique_ptr<GLDNetParameters> model;
  std::unique_ptr<Adam> optimizer;
  std::int32_t epoch = 0;
  std::int64_t step = 0;
  TrialStatus status = TrialStatus::Ok;
  std::string message;
  std::vector<EpochRecord> history;

  Impl(std::shared_ptr<const TrainingData> d, Hyperparameters h, TrainerOptions o)
      : data(TrainingData::with_smoothing(std::move(d), h.smoothing)),  // no-op when the caller made it so
        hp(h),
        options(o),
        index(data->days(), h.lookback),
        batches(index, Split::Train, h.batch_size, o.seed) {
    if (index.count(Split::Train) == 0 || index.count(Split::Validation) == 0) {
      throw ConfigError("lookback " + std::to_string(h.lookback) + " leaves no training or validation windows in " +
                        std::to_string(data->days()) + " days");
    }
    if (options.threads < 1) throw ConfigError("--threads must be at least 1");
    GLDNetShape shape = shape_of(h, data->smoothed_width());
    shape.prior_rate = data->mean_label(index.days_of(Split::Train).end);
    adjacency = data->adjacency();
    adjacency_t = transposed(adjacency);
    model = std::make_unique<GLDNetParameters>(shape, options.seed);
    smoothing_weights = TrainingData::smoothing_weights(h.lookback);
    AdamOptions adam;
    adam.learning_rate = h.initial_learning_rate;
    optimizer = std::make_unique<Adam>(model->tensors(), adam);
  }

  double learning_rate() const {
    // Exponential decay, continuous in the step count: one factor of `learning_rate_decay` per epoch.
    return hp.initial_learning_rate *
           std::pow(hp.learning_rate_decay, static_cast<double>(step) / std::max(1, batches.batches_per_epoch()));
  }

  // A batch runs as groups of kLanes windows spread over the intra-op threads. Each thread has
  // one kernel (activations) reused for all its groups, which keeps the working set in cache;
  // each group has its own gradient sums, added in group order, so results do not depend on
  // --threads.
  struct Workspace {
    GLDNetKernel kernel;
    std::vector<float> labels, grad;  // [node][lane]
  };
  std::vector<Workspace> workspaces;
  std::vector<GLDNetGradients> gradients;  // per group of the batch
  std::vector<char> thread_seen;           // per workspace: has its thread run a group

  // Gradient sums only for groups that go backward: prediction needs none, and they are the
  // largest buffers (a lane vector per parameter).
  void prepare_groups(std::size_t groups, std::size_t threads, bool backward) {
    const auto lanes = static_cast<std::size_t>(data->nodes()) * GLDNetKernel::kLanes;
    while (workspaces.size() < threads) {
      thread_seen.push_back(0);
      workspaces.push_back({GLDNetKernel(model->shape(), adjacency, adjacency_t), std::vector<float>(lanes),
                            std::vector<float>(lanes)});
    }
    while (backward && gradients.size() < groups) gradients.emplace_back(model->shape());
  }

  static std::size_t group_count(std::size_t windows) {
    return (windows + GLDNetKernel::kLanes - 1) / GLDNetKernel::kLanes;
  }
  static int lanes_in_group(std::size_t windows, std::size_t group) {
    return static_cast<int>(std::min<std::size_t>(GLDNetKernel::kLanes, windows - group * GLDNetKernel::kLanes));
  }

  // Runs `body(group, workspace)` for every group of `windows` on the intra-op threads, each
  // thread a contiguous run of groups. The first exception a thread meets is rethrown here.
  template <typename Body>
  void for_each_group(std::size_t windows, bool backward, Body body) {
    const auto groups = group_count(windows);
    const auto threads = std::min<std::size_t>(static_cast<std::size_t>(options.threads), std::max<std::size_t>(1, groups));
    prepare_groups(groups, threads, backward);  // allocate outside the parallel region
    std::exception_ptr failure;
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
      const auto thread = static_cast<std::size_t>(omp_get_thread_num());
      const auto team = static_cast<std::size_t>(omp_get_num_threads());
      const auto per = (groups + team - 1) / team;
      thread_seen[thread] = 1;  // each thread writes its own element
      try {
        for (auto g = thread * per; g < std::min(groups, (thread + 1) * per); ++g) body(g, workspaces[thread]);
      } catch (...) {
#pragma omp critical(crimegraph_trainer_failure)
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  }

  // Forward pass of one group: loads its windows and labels, returns the predictions.
  const float* forward_group(std::size_t g, Workspace& w, const std::vector<std::int32_t>& days,
                             const GLDNetParams& params) {
    const int count = lanes_in_group(days.size(), g);
    const std::int32_t* first = days.data() + g * GLDNetKernel::kLanes;
    w.kernel.load_windows(*data, first, count, hp.lookback, smoothing_weights);
    load_labels(*data, first, count, w.labels.data());
    return w.kernel.forward(params);
  }

  // One epoch of training; returns the mean loss, NaN if it diverged.
  double train_epoch() {
    batches.start_epoch(epoch);
    std::vector<std::int32_t> days;
    double sum = 0.0;
    std::int64_t windows = 0;
    std::vector<double> group_loss;
    while (batches.next(days)) {
      if (deadline && std::chrono::steady_clock::now() > *deadline) {
        timed_out = true;
        return std::nan("");
      }
      optimizer->set_learning_rate(learning_rate());
      const auto params = model->bind();
      // The loss is the mean over nodes and windows: scale the per-element gradients by that.
      const float scale = 1.0f / (static_cast<float>(data->nodes()) * static_cast<float>(days.size()));
      group_loss.assign(group_count(days.size()), 0.0);
      for_each_group(days.size(), true, [&](std::size_t g, Workspace& w) {
        const float* p = forward_group(g, w, days, params);
        group_loss[g] = weighted_squared_error_sum(p, w.labels.data(), data->nodes(), lanes_in_group(days.size(), g),
                                                   hp.loss_rho, scale, w.grad.data());
        w.kernel.backward(params, w.grad.data(), gradients[g]);
      });
      double batch_sum = 0.0;
      for (std::size_t g = 0; g < group_loss.size(); ++g) {
        batch_sum += group_loss[g];
        gradients[g].write(params, g > 0);
      }
      const double value = batch_sum * static_cast<double>(scale);
      if (!std::isfinite(value)) return value;
      optimizer->step(model->tensors());
      ++step;
      sum += value * static_cast<double>(days.size());
      windows += static_cast<std::int64_t>(days.size());
    }
    return sum / static_cast<double>(std::max<std::int64_t>(1, windows));
  }

  // Predictions [day][node] for `days`, with their summed loss.
  double predict_days(const std::vector<std::int32_t>& days, std::vector<float>& out) {
    const auto params = model->bind();
    const std::int64_t n = data->nodes();
    out.resize(days.size() * static_cast<std::size_t>(n));
    std::vector<double> group_loss(group_count(days.size()), 0.0);
    for_each_group(days.size(), false, [&](std::size_t g, Workspace& w) {
      const float* p = forward_group(g, w, days, params);
      const int count = lanes_in_group(days.size(), g);
      group_loss[g] = weighted_squared_error_sum(p, w.labels.data(), data->nodes(), count, hp.loss_rho, 1.0f, nullptr);
      for (int k = 0; k < count; ++k) {
        float* row = out.data() + (g * GLDNetKernel::kLanes + static_cast<std::size_t>(k)) * static_cast<std::size_t>(n);
        for (std::int64_t i = 0; i < n; ++i) row[i] = p[i * GLDNetKernel::kLanes + k];
      }
    });
    double loss = 0.0;
    for (double l : group_loss) loss += l;
    return loss;
  }

  Evaluation evaluate(Split split) {
    HitRate hit(options.hit_rate, data->lengths());
    BatchIterator it(index, split, options.eval_batch_size, 0, false);
    std::vector<std::int32_t> days;
    std::vector<float> prediction;
    double loss = 0.0;
    std::int64_t windows = 0;
    while (it.next(days)) {
      loss += predict_days(days, prediction) / static_cast<double>(data->nodes());
      windows += static_cast<std::int64_t>(days.size());
      for (std::size_t k = 0; k < days.size(); ++k) {
        hit.add_day(prediction.data() + k * static_cast<std::size_t>(data->nodes()), data->label_of_day(days[k]),
                    data->nodes());
      }
    }
    return {windows ? loss / static_cast<double>(windows) : 0.0, hit.value(), hit.days_scored(), hit.interval(),
            hit.days()};
  }
};

std::size_t training_memory_bytes(const Hyperparameters& hp, std::int64_t nodes, std::int64_t inputs,
                                  std::int32_t threads) {
  const auto shape = shape_of(hp, inputs);
  const auto params = static_cast<std::size_t>(gldnet_parameter_count(shape));
  // Values, gradients, Adam's two moments, and a checkpoint (values and moments) held twice
  // while a worker sends it.
  const std::size_t parameter_floats = params * (4 + 2 * 3);
  const auto groups = static_cast<std::size_t>((hp.batch_size + GLDNetKernel::kLanes - 1) / GLDNetKernel::kLanes);
  const auto workspaces = static_cast<std::size_t>(std::max(1, threads));
  const std::size_t per_workspace = GLDNetKernel::memory_bytes(shape, nodes) +
                                    2 * static_cast<std::size_t>(nodes) * GLDNetKernel::kLanes * sizeof(float);
  return parameter_floats * sizeof(float) + groups * GLDNetGradients::memory_bytes(shape) + workspaces * per_workspace;
}

Trainer::Trainer(std::shared_ptr<const TrainingData> data, Hyperparameters hyperparameters, TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(data), hyperparameters, options)) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

TrialStatus Trainer::fit(std::int32_t epochs, const std::function<void(const EpochRecord&)>& on_epoch) {
  auto& m = *impl_;
  m.deadline.reset();
  m.timed_out = false;
  if (m.options.time_limit_seconds > 0) {
    m.deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(m.options.time_limit_seconds));
  }
  while (m.status == TrialStatus::Ok && m.epoch < epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    double loss;
    try {
      loss = m.train_epoch();
    } catch (const std::bad_alloc&) {
      m.status = TrialStatus::Failed;
      m.message = "out of memory in epoch " + std::to_string(m.epoch + 1);
      break;
    }
    if (m.timed_out) {
      m.status = TrialStatus::Failed;
      m.message = "stopped by the time limit (" + std::to_string(static_cast<long>(m.options.time_limit_seconds)) +
                  " s) in epoch " + std::to_string(m.epoch + 1);
      break;
    }
    if (!std::isfinite(loss)) {
      m.status = TrialStatus::Diverged;
      m.message = "training loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " in epoch " +
                  std::to_string(m.epoch + 1);
      break;
    }
    EpochRecord r;
    r.train_seconds = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const auto val = m.evaluate(Split::Validation);
    r.eval_seconds = seconds_since(t1);
    ++m.epoch;
    r.epoch = m.epoch;
    r.train_loss = loss;
    r.validation_loss = val.loss;
    r.validation_hit_rate = val.hit_rate;
    r.validation_low = val.interval.low;
    r.validation_high = val.interval.high;
    r.learning_rate = m.learning_rate();
    m.history.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  return m.status;
}

Evaluation Trainer::evaluate(Split split) { return impl_->evaluate(split); }

std::vector<float> Trainer::predict(const std::vector<std::int32_t>& target_days) {
  for (auto day : target_days) impl_->data->check_window(day, impl_->hp.lookback);
  std::vector<float> out;
  impl_->predict_days(target_days, out);
  return out;
}

std::int32_t Trainer::epoch() const { return impl_->epoch; }
TrialStatus Trainer::status() const { return impl_->status; }
const std::string& Trainer::message() const { return impl_->message; }
const std::vector<EpochRecord>& Trainer::history() const { return impl_->history; }
const Hyperparameters& Trainer::hyperparameters() const { return impl_->hp; }
const WindowIndex& Trainer::windows() const { return impl_->index; }

int Trainer::threads_used() const {
  const auto& seen = impl_->thread_seen;
  return static_cast<int>(std::count(seen.begin(), seen.end(), 1));
}

std::int64_t Trainer::parameter_count() const { return impl_->model->count(); }

namespace {

// The checkpoint format: a magic line, then little-endian fields, tensors in the model's order,
// each with its name and size so that a checkpoint of another shape is refused, not misread.
constexpr char kCheckpointMagic[] = "crimegraph-trainer-checkpoint 1\n";

class Writer {
 public:
  template <typename T>
  void put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::string& s) {
    put<std::uint64_t>(s.size());
    out_ += s;
  }
  void put(const std::vector<float>& v) {
    put<std::uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_ = kCheckpointMagic;
};

class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {
    const std::size_t n = sizeof kCheckpointMagic - 1;
    if (bytes.compare(0, n, kCheckpointMagic) != 0) {
      fail(bytes.compare(0, 2, "PK") == 0 ? "it is a LibTorch archive of an earlier version" : "it is not a checkpoint");
    }
    at_ = n;
  }
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    return std::string(take(n), n);
  }
  void get_floats(std::vector<float>& out, const std::string& what) {
    const auto n = get<std::uint64_t>();
    if (n != out.size()) fail(what + " has " + std::to_string(n) + " values, the model " + std::to_string(out.size()));
    std::memcpy(out.data(), take(n * sizeof(float)), n * sizeof(float));
  }
  void finish() const {
    if (at_ != bytes_.size()) fail("it has " + std::to_string(bytes_.size() - at_) + " bytes past its end");
  }
  [[noreturn]] static void fail(const std::string& why) { throw DataError("cannot restore checkpoint: " + why); }

 private:
  const char* take(std::uint64_t n) {
    if (n > bytes_.size() - at_) fail("it is truncated");
    const char* p = bytes_.data() + at_;
    at_ += static_cast<std::size_t>(n);
    return p;
  }
  const std::string& bytes_;
  std::size_t at_ = 0;
};

}  // namespace

std::string Trainer::checkpoint() const {
  const auto& m = *impl_;
  Writer w;
  w.put(m.hp.describe());
  w.put<std::int64_t>(m.epoch);
  w.put<std::int64_t>(m.step);
  w.put<std::uint64_t>(m.options.seed);
  w.put<std::int64_t>(m.optimizer->steps());
  const auto& tensors = m.model->tensors();
  w.put<std::uint64_t>(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    w.put(tensors[t].name);
    w.put(tensors[t].value);
    w.put(m.optimizer->first_moments()[t]);
    w.put(m.optimizer->second_moments()[t]);
  }
  return w.take();
}

Hyperparameters Trainer::checkpoint_hyperparameters(const std::string& bytes) {
  Reader r(bytes);
  std::istringstream words(r.get_string());
  std::vector<std::string> assignments;
  for (std::string w; words >> w;) assignments.push_back(w);
  Hyperparameters hp;
  try {
    hp.apply(assignments);
  } catch (const ConfigError& e) {
    Reader::fail(std::string("its hyperparameters do not parse: ") + e.what());
  }
  return hp;
}

void Trainer::restore(const std::string& bytes) {
  auto& m = *impl_;
  Reader r(bytes);
  const auto hp = r.get_string();
  if (hp != m.hp.describe()) throw ConfigError("checkpoint was made with other hyperparameters (" + hp + ")");
  // Into copies first: a checkpoint refused halfway leaves this trainer as it was.
  auto model = *m.model;
  auto optimizer = *m.optimizer;
  const auto epoch = r.get<std::int64_t>();
  const auto step = r.get<std::int64_t>();
  const auto seed = r.get<std::uint64_t>();
  optimizer.set_steps(r.get<std::int64_t>());
  auto& tensors = model.tensors();
  if (r.get<std::uint64_t>() != tensors.size()) Reader::fail("it has another number of parameter tensors");
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const auto name = r.get_string();
    if (name != tensors[t].name) Reader::fail("tensor " + std::to_string(t) + " is '" + name + "', not '" + tensors[t].name + "'");
    r.get_floats(tensors[t].value, name);
    r.get_floats(optimizer.first_moments()[t], name + "'s first moment");
    r.get_floats(optimizer.second_moments()[t], name + "'s second moment");
  }
  r.finish();
  *m.model = std::move(model);
  *m.optimizer = std::move(optimizer);
  m.epoch = static_cast<std::int32_t>(epoch);
  m.step = step;
  m.options.seed = seed;
  m.batches = BatchIterator(m.index, Split::Train, m.hp.batch_size, m.options.seed);
  m.status = TrialStatus::Ok;
  m.message.clear();
}

void Trainer::save(const std::string& path) const {
  const auto bytes = checkpoint();
  write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace crimegraph
