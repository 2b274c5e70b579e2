#include "crimegraph/model/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/model/gldnet.hpp"

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
}  // namespace

struct Trainer::Impl {
  std::shared_ptr<const TrainingData> data;
  Hyperparameters hp;
  TrainerOptions options;
  WindowIndex index;
  BatchIterator batches;
  std::vector<float> smoothing_weights;  // [scales][lookback]
  GLDNet model{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer;
  std::int32_t epoch = 0;
  std::int64_t step = 0;
  TrialStatus status = TrialStatus::Ok;
  std::string message;
  std::vector<EpochRecord> history;

  Impl(std::shared_ptr<const TrainingData> d, Hyperparameters h, TrainerOptions o)
      : data(std::move(d)),
        hp(h),
        options(o),
        index(data->days(), h.lookback),
        batches(index, Split::Train, h.batch_size, o.seed) {
    if (index.count(Split::Train) == 0 || index.count(Split::Validation) == 0) {
      throw ConfigError("lookback " + std::to_string(h.lookback) + " leaves no training or validation windows in " +
                        std::to_string(data->days()) + " days");
    }
    if (options.threads < 1) throw ConfigError("--threads must be at least 1");
    torch::set_num_threads(options.threads);
    // Smoothed counts decay geometrically between events, so the inputs are full of denormal
    // floats; arithmetic on them is microcoded and was two thirds of the epoch time.
    at::globalContext().setFlushDenormal(true);
    torch::manual_seed(options.seed);
    GLDNetShape shape;
    shape.inputs = data->smoothed_width();
    shape.prior_rate = data->mean_label(index.days_of(Split::Train).end);
    shape.gated_layers = h.num_gated_relu_layers;
    shape.gated_units = h.num_gated_relu_hidden_units;
    shape.ldn_layers = h.num_ldn_layers;
    shape.ldn_units = h.num_ldn_hidden_units;
    model = GLDNet(shape, std::make_shared<const GraphDiffusion>(data->adjacency()));
    smoothing_weights = TrainingData::smoothing_weights(h.lookback);
    optimizer = std::make_unique<torch::optim::Adam>(model->parameters(),
                                                     torch::optim::AdamOptions(h.initial_learning_rate));
  }

  double learning_rate() const {
    // Exponential decay, continuous in the step count: one factor of `learning_rate_decay` per epoch.
    return hp.initial_learning_rate *
           std::pow(hp.learning_rate_decay, static_cast<double>(step) / std::max(1, batches.batches_per_epoch()));
  }

  // The smoothed windows [nodes, batch, scales x channels], read in place from the day-major
  // tensor: per window, each scale is a weighted sum of L contiguous day slices (vectorised
  // over nodes x channels), then scattered into the node-major batch.
  torch::Tensor windows_tensor(const std::vector<std::int32_t>& days) const {
    const std::int64_t b = static_cast<std::int64_t>(days.size()), n = data->nodes(), c = data->channels();
    const std::int64_t s = TrainingData::kSmoothingScales, width = n * c, lookback = hp.lookback;
    auto x = torch::empty({n, b, s * c});
    float* out = x.data_ptr<float>();
    std::vector<float> scale(static_cast<std::size_t>(s * width));
    for (std::int64_t k = 0; k < b; ++k) {
      const float* window = data->window_begin(days[static_cast<std::size_t>(k)], hp.lookback);
      // Blocks of 256 values so the four accumulators stay in L1 while the L days stream by;
      // a whole-row accumulation spills them and runs ten times slower.
      static_assert(TrainingData::kSmoothingScales == 4);
      constexpr std::int64_t kBlock = 256;
      for (std::int64_t j0 = 0; j0 < width; j0 += kBlock) {
        const std::int64_t len = std::min(kBlock, width - j0);
        float a0[kBlock] = {}, a1[kBlock] = {}, a2[kBlock] = {}, a3[kBlock] = {};
        for (std::int64_t l = 0; l < lookback; ++l) {
          const float w0 = smoothing_weights[static_cast<std::size_t>(l)];
          const float w1 = smoothing_weights[static_cast<std::size_t>(lookback + l)];
          const float w2 = smoothing_weights[static_cast<std::size_t>(2 * lookback + l)];
          const float w3 = smoothing_weights[static_cast<std::size_t>(3 * lookback + l)];
          const float* __restrict day = window + l * width + j0;
          for (std::int64_t j = 0; j < len; ++j) {
            const float v = day[j];
            a0[j] += w0 * v;
            a1[j] += w1 * v;
            a2[j] += w2 * v;
            a3[j] += w3 * v;
          }
        }
        std::copy_n(a0, len, scale.data() + j0);
        std::copy_n(a1, len, scale.data() + width + j0);
        std::copy_n(a2, len, scale.data() + 2 * width + j0);
        std::copy_n(a3, len, scale.data() + 3 * width + j0);
      }
      for (std::int64_t i = 0; i < n; ++i) {
        float* o = out + (i * b + k) * s * c;
        for (std::int64_t sc = 0; sc < s; ++sc)
          for (std::int64_t ch = 0; ch < c; ++ch) o[sc * c + ch] = scale[static_cast<std::size_t>(sc * width + i * c + ch)];
      }
    }
    return x;
  }

  torch::Tensor labels_tensor(const std::vector<std::int32_t>& days) const {
    auto y = torch::empty({data->nodes(), static_cast<std::int64_t>(days.size())});
    data->gather_labels(days, y.data_ptr<float>());
    return y;
  }

  // One epoch of training; returns the mean loss, NaN if it diverged.
  double train_epoch() {
    model->train();
    batches.start_epoch(epoch);
    std::vector<std::int32_t> days;
    double sum = 0.0;
    std::int64_t windows = 0;
    while (batches.next(days)) {
      for (auto& group : optimizer->param_groups()) {
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(learning_rate());
      }
      optimizer->zero_grad();
      const auto loss = weighted_squared_error(model->forward(windows_tensor(days)), labels_tensor(days), hp.loss_rho);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) return value;
      loss.backward();
      optimizer->step();
      ++step;
      sum += value * static_cast<double>(days.size());
      windows += static_cast<std::int64_t>(days.size());
    }
    return sum / static_cast<double>(std::max<std::int64_t>(1, windows));
  }

  Evaluation evaluate(Split split) {
    torch::NoGradGuard no_grad;
    model->eval();
    HitRate hit(options.hit_rate, data->lengths());
    BatchIterator it(index, split, options.eval_batch_size, 0, false);
    std::vector<std::int32_t> days;
    double loss = 0.0;
    std::int64_t windows = 0;
    while (it.next(days)) {
      const auto labels = labels_tensor(days);
      const auto prediction = model->forward(windows_tensor(days));
      loss += weighted_squared_error(prediction, labels, hp.loss_rho).item<double>() * static_cast<double>(days.size());
      windows += static_cast<std::int64_t>(days.size());
      const auto by_day = prediction.t().contiguous();
      for (std::size_t k = 0; k < days.size(); ++k) {
        hit.add_day(by_day[static_cast<std::int64_t>(k)].data_ptr<float>(), data->label_of_day(days[k]), data->nodes());
      }
    }
    return {windows ? loss / static_cast<double>(windows) : 0.0, hit.value(), hit.days_scored()};
  }
};

Trainer::Trainer(std::shared_ptr<const TrainingData> data, Hyperparameters hyperparameters, TrainerOptions options)
    : impl_(std::make_unique<Impl>(std::move(data), hyperparameters, options)) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

TrialStatus Trainer::fit(std::int32_t epochs, const std::function<void(const EpochRecord&)>& on_epoch) {
  auto& m = *impl_;
  while (m.status == TrialStatus::Ok && m.epoch < epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    double loss;
    try {
      loss = m.train_epoch();
    } catch (const c10::Error& e) {
      m.status = TrialStatus::Failed;
      m.message = std::string("LibTorch error in epoch ") + std::to_string(m.epoch + 1) + ": " + e.what_without_backtrace();
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
    r.learning_rate = m.learning_rate();
    m.history.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  return m.status;
}

Evaluation Trainer::evaluate(Split split) { return impl_->evaluate(split); }

std::vector<float> Trainer::predict(const std::vector<std::int32_t>& target_days) {
  torch::NoGradGuard no_grad;
  impl_->model->eval();
  const auto p = impl_->model->forward(impl_->windows_tensor(target_days)).t().contiguous();
  return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}

std::int32_t Trainer::epoch() const { return impl_->epoch; }
TrialStatus Trainer::status() const { return impl_->status; }
const std::string& Trainer::message() const { return impl_->message; }
const std::vector<EpochRecord>& Trainer::history() const { return impl_->history; }
const Hyperparameters& Trainer::hyperparameters() const { return impl_->hp; }
const WindowIndex& Trainer::windows() const { return impl_->index; }

std::int64_t Trainer::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : impl_->model->parameters()) n += p.numel();
  return n;
}

std::string Trainer::checkpoint() const {
  const auto& m = *impl_;
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  m.model->save(model_archive);
  m.optimizer->save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("epoch", torch::tensor(static_cast<std::int64_t>(m.epoch)));
  archive.write("step", torch::tensor(m.step));
  archive.write("seed", torch::tensor(static_cast<std::int64_t>(m.options.seed)));
  archive.write("hyperparameters", c10::IValue(m.hp.describe()));
  std::ostringstream os;
  archive.save_to(os);
  return os.str();
}

void Trainer::restore(const std::string& bytes) {
  auto& m = *impl_;
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  try {
    std::istringstream is(bytes);
    archive.load_from(is);
    c10::IValue hp;
    archive.read("hyperparameters", hp);
    if (hp.toStringRef() != m.hp.describe()) {
      throw ConfigError("checkpoint was made with other hyperparameters (" + hp.toStringRef() + ")");
    }
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    m.model->load(model_archive);
    m.optimizer->load(optimizer_archive);
    torch::Tensor epoch, step, seed;
    archive.read("epoch", epoch);
    archive.read("step", step);
    archive.read("seed", seed);
    m.epoch = static_cast<std::int32_t>(epoch.item<std::int64_t>());
    m.step = step.item<std::int64_t>();
    m.options.seed = static_cast<std::uint64_t>(seed.item<std::int64_t>());
    m.batches = BatchIterator(m.index, Split::Train, m.hp.batch_size, m.options.seed);
  } catch (const c10::Error& e) {
    throw DataError(std::string("cannot restore checkpoint: ") + e.what_without_backtrace());
  }
  m.status = TrialStatus::Ok;
  m.message.clear();
}

void Trainer::save(const std::string& path) const {
  const auto bytes = checkpoint();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw IoError("cannot write '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

}  // namespace crimegraph
