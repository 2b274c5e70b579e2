#pragma once
// One copy of the training data per node. The coordinator checks that every node reads the
// same dataset file (SHA-256) and sends its own copy to nodes that cannot read it; on each
// node the leader reads the dataset into memory the node's workers share, the workers build
// the table of smoothed windows together, and every worker trains from both in place.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crimegraph/cluster/mpi_node.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/training_data.hpp"

namespace crimegraph {

/// When the coordinator sends its dataset file to a node instead of the node reading its own.
enum class DatasetBroadcast {
  Auto,    ///< to nodes that cannot open the file (node-local disks, input staged on one node)
  Always,  ///< to every node (the other nodes' copies are not read)
  Never,   ///< a node that cannot open the file is an error
};
DatasetBroadcast parse_dataset_broadcast(const std::string& text);
const char* dataset_broadcast_name(DatasetBroadcast mode);

struct NodeDataOptions {
  std::string dataset_path;
  DatasetBroadcast broadcast = DatasetBroadcast::Auto;
  std::int32_t lookback = 14;        ///< the smoothed windows are kept for this lookback
  std::size_t window_cache_bytes = 0;  ///< per node: the table is kept when it fits (0: never)
  /// The node also keeps the dataset's daily counts, for trials that recompute the channels
  /// with their own smoothing factor; a dataset whose channels are not its smoothed counts is
  /// then an error.
  bool counts = false;
  /// Test hook: node i opens node_paths[i] instead of dataset_path ("" as if it had no file).
  /// From CRIMEGRAPH_TEST_NODE_DATASETS (comma-separated) when empty.
  std::vector<std::string> node_paths;
};

/// What a worker trains from: where it reads the dataset file (the node's copy of it in shared
/// memory when it was sent), and the training data in the node's shared memory.
struct NodeData {
  DatasetSource source;
  std::shared_ptr<const TrainingData> training;
};

/// Collective over every rank of the job. On a worker: its node's data. On the coordinator:
/// nothing (it checks and sends). A node whose file differs from the coordinator's, or that
/// cannot read it under DatasetBroadcast::Never, is a DatasetRefused on every rank (the
/// coordinator's says why); a node whose leader fails to read the data fails on every rank of
/// that node with the leader's error.
NodeData share_training_data(NodeComm& comm, const NodeDataOptions& options);

/// Thrown on every rank when the coordinator refused the job's dataset (its message says why).
class DatasetRefused : public DataError {
 public:
  using DataError::DataError;
};

}  // namespace crimegraph
