#!/usr/bin/python3
"""Read CrimeGraph Search results files and draw their figures.

    import sys; sys.path.insert(0, "python")
    import crimegraph_results as cr
    r = cr.load("results/demo.h5")       # a running search's .partial file is read safely
    r.trials, r.curves, r.final_curves   # pandas DataFrames
    r.settings, r.best, r.final          # dicts of the file's attributes
    cr.plot_all(r, "results/demo-plots") # the PNG figures; returns their paths

From the shell (Debian's /usr/bin/python3 with python3-h5py, python3-pandas, python3-matplotlib):

    python/crimegraph_results.py plots results/demo.h5 results/demo-plots
    python/crimegraph_results.py map ranking.geojson map.png

The file's layout is docs/results-format.md; crimegraph-report --schema prints it.
"""
import io
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import pandas as pd

FORMAT = "crimegraph-results"
MAX_VERSION = 3


class Results:
    """One search's results: DataFrames of trials and curves, dicts of settings."""

    def __init__(self, path, settings, hyperparameters, trials, curves, best, final, final_curves):
        self.path = path
        self.settings = settings
        self.hyperparameters = hyperparameters
        self.trials = trials
        self.curves = curves
        self.best = best
        self.final = final
        self.final_curves = final_curves

    @property
    def complete(self):
        return self.settings.get("status") == "complete"

    def __repr__(self):
        return "<crimegraph results %s: %d trials, %s>" % (
            self.path, len(self.trials), "complete" if self.complete else "partial")


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _attributes(group):
    return {name: _text(value) for name, value in group.attrs.items()}


def _column(dataset, rows):
    values = dataset[:rows]
    if h5py.check_string_dtype(dataset.dtype) is not None:
        values = dataset.asstr()[:rows]
    return values


def _table(group, rows, names=None):
    names = list(group.keys()) if names is None else names
    return pd.DataFrame({name: _column(group[name], rows) for name in names if name in group})


def _whole_trials(trials, curves):
    """Rows of whole trials: every column written, and their epochs in /curves (a running
    search may be caught between its writes; a resume would drop the same rows)."""
    rows = min(trials[name].shape[0] for name in trials.keys())
    curve_rows = min(curves[name].shape[0] for name in curves.keys()) if len(curves.keys()) else 0
    epochs = np.cumsum(trials["epochs_trained"][:rows].astype(np.int64))
    whole = int(np.searchsorted(epochs, curve_rows, side="right"))
    rows = min(rows, whole)
    return rows, int(epochs[rows - 1]) if rows else 0


def _read(path, data):
    with h5py.File(io.BytesIO(data), "r") as f:
        settings = _attributes(f)
        if settings.get("format") != FORMAT:
            raise ValueError("%s is not a crimegraph results file" % path)
        if not 1 <= int(settings.get("format_version", 0)) <= MAX_VERSION:
            raise ValueError("%s has format version %s; this module reads 1 to %d"
                             % (path, settings.get("format_version"), MAX_VERSION))
        rows, curve_rows = _whole_trials(f["trials"], f["curves"])
        trials = _table(f["trials"], rows)
        curves = _table(f["curves"], curve_rows)
        if "run" not in trials:  # version 1
            trials["run"] = 0
        space = settings.get("search_space", "")
        schema = {"trial_id", "parent_id", "config_id", "iteration", "bracket", "round", "start_epoch",
                  "end_epoch", "epochs_trained", "worker", "run", "dispatch_order", "dispatched_at_report", "val_hit_rate_best", "val_hit_rate_last",
                  "train_loss", "val_loss", "score", "wall_seconds", "train_seconds", "start_seconds",
                  "end_seconds", "status", "message"}
        hyperparameters = [c for c in trials.columns if c not in schema]
        hyperparameters.sort(key=lambda name: (space.find("\n" + name), name))
        best = _attributes(f["best"]) if "best" in f else {}
        final = _attributes(f["final"]) if "final" in f else {}
        final_curves = pd.DataFrame()
        if "final" in f and "curves" in f["final"]:
            group = f["final"]["curves"]
            final_curves = _table(group, min(group[n].shape[0] for n in group.keys()))
    return Results(path, settings, hyperparameters, trials, curves, best, final, final_curves)


def load(path):
    """Reads a results file, or the .partial file of the search still writing `path`, from a
    snapshot of its bytes: the running search is not disturbed (HDF5's file lock is not taken)."""
    if not os.path.exists(path) and os.path.exists(path + ".partial"):
        path = path + ".partial"
    attempts = 20 if path.endswith(".partial") else 1
    for attempt in range(attempts):
        with open(path, "rb") as f:
            data = f.read()
        try:
            return _read(path, data)
        except (OSError, KeyError):
            if attempt + 1 == attempts:
                raise
            time.sleep(0.1)  # caught in the middle of a flush: the next snapshot is whole


# --- figures -------------------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _bracket_colours(trials):
    plt = _pyplot()
    keys = sorted({(int(i), int(b)) for i, b in zip(trials["iteration"], trials["bracket"])})
    cmap = plt.get_cmap("tab10")
    return {key: cmap(k % 10) for k, key in enumerate(keys)}, len({k[0] for k in keys}) > 1


def _bracket_label(key, several_iterations):
    return ("iteration %d, bracket %d" % key) if several_iterations else ("bracket %d" % key[1])


def _search_time(trials):
    """Each trial's end on one clock over every run of a resumed search (runs laid end to end)."""
    offset, ends, starts = 0.0, pd.Series(np.nan, index=trials.index), pd.Series(np.nan, index=trials.index)
    for run in sorted(trials["run"].unique()):
        rows = trials["run"] == run
        starts[rows] = trials.loc[rows, "start_seconds"] + offset
        ends[rows] = trials.loc[rows, "end_seconds"] + offset
        offset = float(np.nanmax(ends[rows])) if rows.any() and np.isfinite(ends[rows]).any() else offset
    return starts, ends


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_curves(r, path):
    """Validation hit rate after every epoch of every trial; a promoted trial's line starts at
    its parent's last epoch, so a configuration reads as one line through its rounds."""
    plt = _pyplot()
    t, c = r.trials, r.curves
    colours, several = _bracket_colours(t)
    fig, ax = plt.subplots(figsize=(8, 5))
    last = c.groupby("trial_id").tail(1).set_index("trial_id")
    by_id = t.set_index("trial_id")
    for trial_id, epochs in c.groupby("trial_id"):
        row = by_id.loc[trial_id]
        x, y = list(epochs["epoch"]), list(epochs["val_hit_rate"])
        if row["parent_id"] >= 0 and row["parent_id"] in last.index:
            x.insert(0, last.loc[row["parent_id"], "epoch"])
            y.insert(0, last.loc[row["parent_id"], "val_hit_rate"])
        key = (int(row["iteration"]), int(row["bracket"]))
        ax.plot(x, y, color=colours[key], alpha=0.7, linewidth=1.2, marker="." if len(x) < 3 else None)
    if r.best:
        best = c[c["trial_id"] == int(r.best["trial_id"])]
        ax.plot(best["epoch"], best["val_hit_rate"], color="black", linewidth=2.5,
                label="best trial %d (%.4f)" % (int(r.best["trial_id"]), float(r.best["score"])))
    for key, colour in colours.items():
        ax.plot([], [], color=colour, label=_bracket_label(key, several))
    ax.set_xlabel("epoch (counting the epochs a promoted trial continued from)")
    ax.set_ylabel("validation hit rate")
    ax.set_title("Learning curves of every trial (%s)" % r.settings.get("hit_rate", ""))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_best_so_far(r, path):
    plt = _pyplot()
    t = r.trials.copy()
    _, t["search_time"] = _search_time(t)
    t = t.sort_values("search_time")
    ok = t[np.isfinite(t["score"])]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.scatter(ok["search_time"], ok["score"], s=12, color="0.6", label="each finished trial")
    ax.step(ok["search_time"], ok["score"].cummax(), where="post", color="C3", linewidth=2,
            label="best so far")
    ax.set_xlabel("search time (s)%s" % (", resumed runs laid end to end" if t["run"].max() > 0 else ""))
    ax.set_ylabel("validation score (%s)" % r.settings.get("ranking", ""))
    ax.set_title("Best score so far")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_hyperparameters(r, path):
    """Each hyperparameter against score; colour is the trial's epochs, since a short trial's
    score is not comparable with a long one's."""
    plt = _pyplot()
    t = r.trials[np.isfinite(r.trials["score"])]
    names = r.hyperparameters or ["end_epoch"]
    cols = min(3, len(names))
    rows = int(math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    rng = np.random.default_rng(0)
    scatter = None
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        values = t[name].to_numpy(dtype=float)
        distinct = np.unique(values)
        spread = np.min(np.diff(distinct)) * 0.15 if len(distinct) > 1 else 0.0
        jitter = rng.uniform(-spread, spread, len(values)) if len(distinct) <= 12 else 0.0
        scatter = ax.scatter(values + jitter, t["score"], c=t["end_epoch"], cmap="viridis", s=14)
        ax.set_xlabel(name)
        ax.set_ylabel("score")
        ax.grid(alpha=0.3)
        if len(distinct) <= 12:
            ax.set_xticks(distinct)
            ax.tick_params(axis="x", labelrotation=45 if len(distinct) > 5 else 0)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].axis("off")
    if scatter is not None:
        fig.colorbar(scatter, ax=axes.ravel().tolist(), label="epochs trained")
    fig.suptitle("Each hyperparameter against score (values jittered sideways)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_waterfall(r, path):
    """Successive halving: trials in each round of each bracket, with the epochs each trial of
    the round has trained by its end."""
    plt = _pyplot()
    t = r.trials
    colours, several = _bracket_colours(t)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    keys = sorted(colours, key=lambda k: (k[0], -k[1]))
    width = 0.8 / max(1, len(keys))
    for n, key in enumerate(keys):
        rows = t[(t["iteration"] == key[0]) & (t["bracket"] == key[1])]
        rounds = rows.groupby("round").agg(trials=("trial_id", "size"), epochs=("end_epoch", "max"))
        x = rounds.index.to_numpy() + (n - (len(keys) - 1) / 2) * width
        bars = ax.bar(x, rounds["trials"], width=width, color=colours[key], label=_bracket_label(key, several))
        for bar, epochs in zip(bars, rounds["epochs"]):
            ax.annotate("%d ep" % epochs, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("round")
    ax.set_ylabel("trials")
    ax.set_xticks(sorted(t["round"].unique()))
    ax.set_title("Successive halving: trials per round (labels: epochs per trial by the round's end)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def plot_timeline(r, path):
    plt = _pyplot()
    t = r.trials.copy()
    t["start"], t["end"] = _search_time(t)
    t = t[np.isfinite(t["start"]) & np.isfinite(t["end"])]
    colours, several = _bracket_colours(r.trials)
    workers = sorted(t["worker"].unique())
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.35 * len(workers) + 1.5)))
    for key, colour in colours.items():
        rows = t[(t["iteration"] == key[0]) & (t["bracket"] == key[1])]
        ax.barh(rows["worker"], rows["end"] - rows["start"], left=rows["start"], height=0.7, color=colour,
                edgecolor="white", linewidth=0.5, label=_bracket_label(key, several))
    failed = t[t["status"] != "ok"]
    if len(failed):
        ax.barh(failed["worker"], failed["end"] - failed["start"], left=failed["start"], height=0.7,
                color="none", edgecolor="red", hatch="//", label="diverged or failed")
    ax.set_yticks(workers)
    ax.set_ylabel("worker rank")
    ax.set_xlabel("search time (s): from dispatch to result")
    ax.set_title("Which worker trained which trial when")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_final(r, path):
    plt = _pyplot()
    c = r.final_curves
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(c["epoch"], c["train_loss"], color="C0", marker=".", label="training loss")
    ax.plot(c["epoch"], c["val_loss"], color="C1", marker=".", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    right = ax.twinx()
    right.plot(c["epoch"], c["val_hit_rate"], color="C2", marker="o", label="validation hit rate")
    test = r.final.get("test_hit_rate")
    if test is not None:
        right.axhline(float(test), color="C2", linestyle="--", label="test hit rate %.4f" % float(test))
    naive = r.final.get("naive_test_hit_rate")
    if naive is not None:
        right.axhline(float(naive), color="0.5", linestyle=":", label="naive baseline (test) %.4f" % float(naive))
    right.set_ylabel("hit rate")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
    import textwrap
    ax.set_title("Final retraining, %s epochs\n%s" % (r.final.get("epochs", "?"), "\n".join(
        textwrap.wrap(str(r.final.get("configuration", "")), 90))), fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_all(r, folder):
    """Every figure of a search into `folder`; returns the files written."""
    os.makedirs(folder, exist_ok=True)
    out = []
    if len(r.trials) == 0:
        return out
    out.append(plot_curves(r, os.path.join(folder, "curves.png")))
    out.append(plot_best_so_far(r, os.path.join(folder, "best_so_far.png")))
    out.append(plot_hyperparameters(r, os.path.join(folder, "hyperparameters.png")))
    out.append(plot_waterfall(r, os.path.join(folder, "waterfall.png")))
    out.append(plot_timeline(r, os.path.join(folder, "timeline.png")))
    if len(r.final_curves):
        out.append(plot_final(r, os.path.join(folder, "final.png")))
    return out


def plot_map(geojson_path, png_path):
    """The street network coloured by predicted risk, the flagged segments drawn thick, and a
    past day's events marked (crimegraph-predict's GeoJSON)."""
    plt = _pyplot()
    from matplotlib.collections import LineCollection
    with open(geojson_path) as f:
        data = json.load(f)
    props = [feature["properties"] for feature in data["features"]]
    risk = np.array([p["risk"] for p in props], dtype=float)
    norm = plt.Normalize(np.quantile(risk, 0.02), np.quantile(risk, 0.98))
    cmap = plt.get_cmap("YlOrRd")
    fig, ax = plt.subplots(figsize=(8, 8))
    segments, colours, widths, points = [], [], [], []
    for feature, p in zip(data["features"], props):
        g = feature["geometry"]
        lines = g["coordinates"] if g["type"] == "MultiLineString" else (
            [g["coordinates"]] if g["type"] == "LineString" else [])
        if g["type"] == "Point":
            points.append((g["coordinates"], p))
        for line in lines:
            segments.append(line)
            colours.append(cmap(norm(p["risk"])))
            widths.append(2.6 if p["flagged"] else 0.7)
    if segments:
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths))
    if points:
        xy = np.array([c for c, _ in points])
        ax.scatter(xy[:, 0], xy[:, 1], c=[cmap(norm(p["risk"])) for _, p in points],
                   s=[28 if p["flagged"] else 6 for _, p in points], edgecolors="none")
    events = [(p["lon"], p["lat"], p["events"]) for p in props if p.get("events")]
    if events:
        ev = np.array(events, dtype=float)
        found = sum(1 for p in props if p.get("events") and p["flagged"])
        ax.scatter(ev[:, 0], ev[:, 1], s=70 * ev[:, 2], marker="X", color="#1f3fff", edgecolors="white",
                   linewidths=0.8, zorder=3,
                   label="violent events that day: %d on %d segments, %d of them flagged"
                         % (int(ev[:, 2].sum()), len(events), found))
        ax.legend(loc="lower left", fontsize=8)
    ax.autoscale()
    ax.set_aspect(1.0 / math.cos(math.radians(float(np.mean([p["lat"] for p in props])))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    meta = data.get("crimegraph", {})
    ax.set_title("Predicted violent-crime risk for %s\n(thick: the %d flagged segments, %.0f%% coverage)"
                 % (meta.get("day", "?"), sum(1 for p in props if p["flagged"]),
                    100 * float(meta.get("coverage", 0))), fontsize=10)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7, label="predicted risk")
    return _save(fig, png_path)


def main(argv):
    if len(argv) == 4 and argv[1] == "plots":
        for path in plot_all(load(argv[2]), argv[3]):
            print(path)
        return 0
    if len(argv) == 4 and argv[1] == "map":
        print("map: " + plot_map(argv[2], argv[3]))
        return 0
    if len(argv) == 3 and argv[1] == "summary":
        r = load(argv[2])
        print(r)
        print(r.trials.sort_values("score", ascending=False).head(10).to_string())
        return 0
    sys.stderr.write("usage: crimegraph_results.py plots RESULTS.h5 DIR | map RANKING.geojson MAP.png"
                     " | summary RESULTS.h5\n")
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("crimegraph_results.py: %s\n" % e)
        sys.exit(1)
