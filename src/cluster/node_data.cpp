#include "crimegraph/cluster/node_data.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/checksum.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

namespace fs = std::filesystem;

// A node's shared memory, held by everything that reads it and freed when the last holder
// goes: in the same order on every rank of the node, as freeing a window is collective.
struct NodeMemory {
  std::shared_ptr<SharedMemory> file_image, arrays;
};

std::vector<std::string> node_paths(const NodeDataOptions& options) {
  if (!options.node_paths.empty()) return options.node_paths;
  const char* text = std::getenv("CRIMEGRAPH_TEST_NODE_DATASETS");
  if (!text || !*text) return {};
  std::vector<std::string> paths;
  std::string path;
  std::istringstream in(text);
  while (std::getline(in, path, ',')) paths.push_back(path);
  if (std::string(text).back() == ',') paths.push_back("");
  return paths;
}

std::string path_on_node(const NodeDataOptions& options, int node) {
  const auto paths = node_paths(options);
  return node < static_cast<int>(paths.size()) ? paths[static_cast<std::size_t>(node)] : options.dataset_path;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// A leader's report to the coordinator: "have\nHOST\nSHA", "none\nHOST\nWHY" or "send\nHOST".
std::string leader_report(const NodeComm& comm, const NodeDataOptions& options) {
  if (options.broadcast == DatasetBroadcast::Always) return "send\n" + comm.host();
  const auto path = path_on_node(options, comm.node());
  if (path.empty()) return "none\n" + comm.host() + "\nno file is there";
  try {
    if (!fs::is_regular_file(path)) return "none\n" + comm.host() + "\nthe file does not exist there";
    return "have\n" + comm.host() + "\n" + file_sha256(path);
  } catch (const std::exception& e) {
    return "none\n" + comm.host() + "\n" + e.what();
  }
}

// The coordinator's verdict on the leaders' reports: "ok\nSIZE\nMODES", one mode a node ('f':
// read your file, 'i': receive the coordinator's image), or "error\nMESSAGE".
std::string verdict(const std::vector<std::string>& reports, const NodeDataOptions& options,
                    const std::optional<std::string>& own_sha, const std::string& own_problem, std::size_t size) {
  const auto& path = options.dataset_path;
  if (!own_sha) return "error\nrank 0 cannot read the dataset file '" + path + "': " + own_problem;
  std::string modes;
  for (std::size_t node = 0; node < reports.size(); ++node) {
    const auto r = lines_of(reports[node]);
    const std::string where = "node " + std::to_string(node) + " (" + (r.size() > 1 ? r[1] : "?") + ")";
    if (r.at(0) == "send") {
      modes += 'i';
    } else if (r.at(0) == "have" && r.size() > 2 && r[2] == *own_sha) {
      modes += 'f';
    } else if (r.at(0) == "have") {
      return "error\n" + where + " has a different dataset file at '" + path + "' (SHA-256 " +
             (r.size() > 2 ? r[2].substr(0, 12) : "?") + "... there, " + own_sha->substr(0, 12) +
             "... on rank 0): give every node the same file, or remove it there to have rank 0 send its copy";
    } else if (options.broadcast == DatasetBroadcast::Never) {
      return "error\n" + where + " cannot read the dataset file '" + path + "' (" + (r.size() > 2 ? r[2] : "?") +
             "), and --dataset-broadcast is never: stage the file on every node, or let rank 0 send it (auto)";
    } else {
      modes += 'i';
    }
  }
  return "ok\n" + std::to_string(size) + "\n" + modes;
}

std::vector<char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "'");
  std::vector<char> bytes(static_cast<std::size_t>(fs::file_size(path)));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw IoError("error reading '" + path + "'");
  return bytes;
}

// The coordinator's part: check every node's file against its own, send it where needed.
void coordinate(NodeComm& comm, const NodeDataOptions& options) {
  std::optional<std::string> sha;
  std::string problem;
  std::size_t size = 0;
  try {
    sha = file_sha256(options.dataset_path);
    size = static_cast<std::size_t>(fs::file_size(options.dataset_path));
  } catch (const std::exception& e) {
    problem = e.what();
  }
  auto decision = verdict(comm.leaders_gather(""), options, sha, problem, size);
  comm.leaders_broadcast(decision);
  const auto lines = lines_of(decision);
  if (lines.at(0) == "error") throw DatasetRefused(lines.at(1));
  const auto& modes = lines.at(2);
  if (modes.find('i') == std::string::npos) return;
  const auto bytes = read_file_bytes(options.dataset_path);
  if (bytes.size() != size) throw IoError("dataset file '" + options.dataset_path + "' changed while it was being sent");
  for (std::size_t node = 0; node < modes.size(); ++node) {
    if (modes[node] == 'i') comm.send_to_leader(static_cast<int>(node), bytes.data(), bytes.size());
  }
  spdlog::info("sent the dataset file ({:.1f} MB) to {} node(s) that read no copy of their own", size / 1e6,
               std::count(modes.begin(), modes.end(), 'i'));
}

// A worker's part: learn the verdict, and where this node reads the dataset from.
DatasetSource node_source(NodeComm& comm, const NodeDataOptions& options, NodeMemory& memory) {
  std::string decision;
  if (comm.leader()) {
    comm.leaders_gather(leader_report(comm, options));
    comm.leaders_broadcast(decision);
  }
  comm.node_broadcast(decision);
  const auto lines = lines_of(decision);
  if (lines.at(0) == "error") throw DatasetRefused(lines.at(1));
  const auto mode = lines.at(2).at(static_cast<std::size_t>(comm.node()));
  DatasetSource source;
  source.path = mode == 'f' ? path_on_node(options, comm.node()) : options.dataset_path;
  if (mode == 'i') {
    const auto size = static_cast<std::size_t>(std::stoull(lines.at(1)));
    memory.file_image = comm.allocate_shared(size);
    if (comm.leader()) comm.receive_from_coordinator(memory.file_image->data(), size);
    memory.file_image->publish();
    source.image = memory.file_image->data();
    source.image_size = size;
  }
  return source;
}

// The node's shared arrays, in this order: features, label, counts (int32, as many values as
// the features, when kept), the table of smoothed windows (when kept). All 4-byte values.
struct Header {
  std::int32_t days = 0, nodes = 0, channels = 0;
  bool counts = false;  // the daily counts are kept
  bool table = false;  // the smoothed windows are kept
  std::size_t feature_values() const { return static_cast<std::size_t>(days) * nodes * channels; }
  std::size_t label_values() const { return static_cast<std::size_t>(days) * nodes; }
  std::size_t count_values() const { return counts ? feature_values() : 0; }
  std::size_t whole_table_bytes() const { return TrainingData::smoothed_table_bytes(days, nodes, channels); }
  std::size_t bytes() const {
    return (feature_values() + label_values() + count_values()) * sizeof(float) + (table ? whole_table_bytes() : 0);
  }
};
static_assert(sizeof(float) == sizeof(std::int32_t), "the shared arrays are laid out in 4-byte values");

void raise_if(const std::optional<std::string>& failure) {
  if (failure) throw DataError(*failure);
}

// The leader reads the dataset and tells the node its shape; the node allocates the arrays.
std::optional<CrimeDataset> read_on_leader(NodeComm& comm, const DatasetSource& source, const NodeDataOptions& options,
                                           Header& header) {
  std::optional<CrimeDataset> dataset;
  std::optional<std::string> failure;
  std::string text;
  if (comm.leader()) {
    try {
      dataset = read_dataset(source, options.counts ? DatasetParts::TrainingAndCounts : DatasetParts::Training);
      if (options.counts) {
        check_channels_are_smoothed_counts(dataset->channels, dataset->categories, "the dataset '" + source.path + "'");
      }
      header.days = dataset->days();
      header.nodes = dataset->nodes();
      header.channels = dataset->channel_count();
      header.counts = options.counts;
      header.table = header.whole_table_bytes() <= options.window_cache_bytes;
      text = std::to_string(header.days) + " " + std::to_string(header.nodes) + " " + std::to_string(header.channels) +
             " " + std::to_string(header.counts ? 1 : 0) + " " + std::to_string(header.table ? 1 : 0);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  raise_if(comm.node_agree(failure));
  comm.node_broadcast(text);
  int counts = 0, table = 0;
  std::istringstream(text) >> header.days >> header.nodes >> header.channels >> counts >> table;
  header.counts = counts != 0;
  header.table = table != 0;
  return dataset;
}

void log_node(const NodeComm& comm, const Header& h, const NodeMemory& memory, const NodeDataOptions& options) {
  const double arrays = (h.feature_values() + h.label_values()) * sizeof(float) / 1e6;
  std::string what = fmt::format("the dataset's features and labels {:.1f} MB", arrays);
  if (h.counts) what += fmt::format(", daily counts {:.1f} MB", h.count_values() * sizeof(std::int32_t) / 1e6);
  if (h.table) {
    what += fmt::format(", smoothed windows (lookback {}) {:.1f} MB", options.lookback, h.whole_table_bytes() / 1e6);
  }
  if (memory.file_image) what += fmt::format(", the dataset file sent by rank 0 {:.1f} MB", memory.file_image->size() / 1e6);
  const double total = (h.bytes() + (memory.file_image ? memory.file_image->size() : 0)) / 1e6;
  spdlog::info("node {} of {} ({}): {} worker(s) share {:.1f} MB: {}", comm.node(), comm.nodes(), comm.host(),
               comm.node_size(), total, what);
  if (!h.table) {
    spdlog::info("node {}: windows are smoothed from raw days: their table would take {:.1f} MB, over the node's "
                 "--window-cache-mb of {:.0f}",
                 comm.node(), h.whole_table_bytes() / 1e6, options.window_cache_bytes / 1e6);
  }
}

NodeData share_on_node(NodeComm& comm, const NodeDataOptions& options) {
  auto memory = std::make_shared<NodeMemory>();
  NodeData out;
  out.source = node_source(comm, options, *memory);
  out.source.keep_alive = memory;
  Header header;
  auto dataset = read_on_leader(comm, out.source, options, header);

  memory->arrays = comm.allocate_shared(header.bytes());
  auto* features = reinterpret_cast<float*>(memory->arrays->data());
  auto* label = features + header.feature_values();
  auto* counts = reinterpret_cast<std::int32_t*>(label + header.label_values());
  auto* table = reinterpret_cast<float*>(counts + header.count_values());
  StreetGraph graph;
  if (dataset) {
    TrainingData::prepare_features(*dataset, features);
    TrainingData::prepare_label(*dataset, label);
    if (header.counts) std::copy(dataset->counts.begin(), dataset->counts.end(), counts);
    graph = std::move(dataset->graph);
    dataset.reset();
  }
  memory->arrays->publish();

  std::shared_ptr<TrainingData> data;
  std::optional<std::string> failure;
  try {
    if (!comm.leader()) graph = read_street_graph(out.source);  // small: every rank reads its own
    data = std::make_shared<TrainingData>(graph, header.days, header.channels,
                                          TrainingData::BorrowedArrays{features, label, header.counts ? counts : nullptr, memory});
  } catch (const std::exception& e) {
    failure = e.what();
  }
  raise_if(comm.node_agree(failure));
  if (header.table) {
    // Each rank smooths its share of the days; rows are independent, so any split gives the same table.
    const auto share = [&](int r) { return static_cast<std::int32_t>(static_cast<std::int64_t>(header.days) * r / comm.node_size()); };
    data->smooth_windows_into(options.lookback, share(comm.node_rank()), share(comm.node_rank() + 1), table);
    memory->arrays->publish();
    data->use_smoothed_windows(options.lookback, table, memory);
  }
  if (comm.leader()) log_node(comm, header, *memory, options);
  out.training = std::move(data);
  return out;
}

}  // namespace

DatasetBroadcast parse_dataset_broadcast(const std::string& text) {
  const auto t = to_lower(text);
  if (t == "auto") return DatasetBroadcast::Auto;
  if (t == "always") return DatasetBroadcast::Always;
  if (t == "never") return DatasetBroadcast::Never;
  throw ConfigError("unknown --dataset-broadcast '" + text + "' (use auto, always or never)");
}

const char* dataset_broadcast_name(DatasetBroadcast mode) {
  switch (mode) {
    case DatasetBroadcast::Auto: return "auto";
    case DatasetBroadcast::Always: return "always";
    case DatasetBroadcast::Never: return "never";
  }
  return "?";
}

NodeData share_training_data(NodeComm& comm, const NodeDataOptions& options) {
  if (comm.coordinator()) {
    coordinate(comm, options);
    return {};
  }
  return share_on_node(comm, options);
}

}  // namespace crimegraph
