#!/usr/bin/python3
"""The PyTorch reference for bench_train_epoch: the same GLDNet, trained the plain way.

Same shapes as the project's default (12 inputs = 4 smoothing scales x 3 channels, 2 gated
ReLU layers of 8 units, 5 localised diffusion layers of 4 units, a sigmoid output), the same
row-normalised sparse street adjacency, the same loss (squared error weighted by the day's
count, rho elsewhere), Adam with learning rate 0.03, batches of 30 training windows, on one
thread. The smoothed windows are computed once for every day beforehand (the kernel's benchmark
smooths them per group), so the reference's time is training alone.

    bench/reference_gldnet.py --dataset /tmp/crimegraph-bench-city.h5 [--batches 20] [--repeats 5]

Prints the median seconds per epoch (a few batches timed, scaled to the epoch's batch count).
Needs Debian's python3-torch, python3-h5py and python3-numpy.
"""
import argparse
import math
import statistics
import time

import h5py
import numpy as np
import torch

LOOKBACK = 14
GAMMAS = (0.0, 0.5, 0.8, 1.0)  # TrainingData::kSmoothingGammas


def smoothing_weights(lookback):
    """[scale][day] weights, day 0 the oldest, each scale summing to 1 (TrainingData::smoothing_weights)."""
    w = np.zeros((len(GAMMAS), lookback), dtype=np.float32)
    for s, gamma in enumerate(GAMMAS):
        raw = np.array([gamma**back if back else 1.0 for back in range(lookback)], dtype=np.float64)
        w[s, ::-1] = raw / raw.sum()
    return w


def load(path):
    with h5py.File(path, "r") as f:
        features = f["tensor/features"][:]  # (D, N, C)
        label = f["tensor/label"][:].astype(np.float32)  # (D, N)
        edges = f["graph/edges"][:]
        weight = f["graph/edge_weight"][:]
    days, nodes, channels = features.shape
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    vals = np.concatenate([weight, weight])
    row_sum = np.bincount(rows, weights=vals, minlength=nodes)
    vals = vals / np.where(row_sum[rows] > 0, row_sum[rows], 1.0)
    adjacency = torch.sparse_coo_tensor(np.stack([rows, cols]), vals.astype(np.float32), (nodes, nodes)).coalesce()
    # Every window's input, [day][node][scale x channel], as the kernel's smoothed-window table.
    w = smoothing_weights(LOOKBACK)
    table = np.zeros((days, nodes, len(GAMMAS) * channels), dtype=np.float32)
    for t in range(LOOKBACK, days):
        window = features[t - LOOKBACK : t]  # (L, N, C)
        table[t] = np.einsum("sl,lnc->nsc", w, window).reshape(nodes, -1)
    return torch.from_numpy(table), torch.from_numpy(label), adjacency, days


class GLDNet(torch.nn.Module):
    def __init__(self, adjacency, inputs=12, gated=(8, 8), ldn=(4, 4, 4, 4, 4), prior=0.01):
        super().__init__()
        self.adjacency = adjacency
        self.gated = torch.nn.ModuleList()
        width = inputs
        for units in gated:
            self.gated.append(torch.nn.Linear(width, 2 * units))  # fused [W; U]
            width = units
        self.ldn_self = torch.nn.ModuleList()
        self.ldn_local = torch.nn.ModuleList()
        for units in ldn:
            self.ldn_self.append(torch.nn.Linear(width, units))
            self.ldn_local.append(torch.nn.Linear(width, units, bias=False))
            width = units
        self.output = torch.nn.Linear(width, 1)
        for name, p in self.named_parameters():
            torch.nn.init.zeros_(p) if "bias" in name else torch.nn.init.xavier_uniform_(p)
        with torch.no_grad():
            self.output.bias.fill_(math.log(prior / (1 - prior)))

    def forward(self, x):  # x: [nodes, batch, inputs]
        for layer in self.gated:
            a, b = layer(x).chunk(2, dim=-1)
            x = torch.relu(a) * torch.sigmoid(b)
        nodes, batch = x.shape[0], x.shape[1]
        for self_map, local_map in zip(self.ldn_self, self.ldn_local):
            local = local_map(x)  # [nodes, batch, units]
            diffused = torch.sparse.mm(self.adjacency, local.reshape(nodes, -1)).view_as(local)
            x = torch.relu(self_map(x) + diffused)
        return torch.sigmoid(self.output(x)).squeeze(-1)  # [nodes, batch]


def weighted_squared_error(prediction, label, rho):
    weight = torch.where(label > 0, label, torch.full_like(label, rho))
    return (weight * (prediction - label).square()).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="/tmp/crimegraph-bench-city.h5")
    parser.add_argument("--batches", type=int, default=20, help="batches timed per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    table, label, adjacency, days = load(args.dataset)
    train_end = int(0.70 * days)
    train_days = torch.arange(LOOKBACK, train_end)
    batch = 30
    batches_per_epoch = math.ceil(len(train_days) / batch)
    prior = float(label[:train_end].mean())
    model = GLDNet(adjacency, inputs=table.shape[2], prior=min(max(prior, 1e-6), 0.5))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    order = train_days[torch.randperm(len(train_days))]

    def step(k):
        days_k = order[(k * batch) % (len(order) - batch) :][:batch]
        x = table[days_k].permute(1, 0, 2)  # [nodes, batch, inputs]
        y = label[days_k].t()
        optimizer.zero_grad()
        loss = weighted_squared_error(model(x), y, 0.03)
        loss.backward()
        optimizer.step()

    for k in range(3):  # warm-up: allocations, first-touch
        step(k)
    per_epoch = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        for k in range(args.batches):
            step(r * args.batches + k)
        per_epoch.append((time.perf_counter() - t0) / args.batches * batches_per_epoch)
    print(f"pytorch {torch.__version__}, {args.threads} thread(s): {len(train_days)} training windows, "
          f"{batches_per_epoch} batches of {batch} an epoch")
    print(f"median train seconds/epoch {statistics.median(per_epoch):.3f} "
          f"(runs {', '.join(f'{t:.3f}' for t in sorted(per_epoch))})")


if __name__ == "__main__":
    main()
