"""The buffer-and-counter study on MNIST: the rule against float, its ablations, and MTJ budgets.

    python examples/transfer_study.py --data-dir ../shared/data/mnist-train10k [--seeds 0 1 2]
        [--variants recipe float ...] [--extra NAME:PATH=VALUE,PATH=VALUE ...] [--out docs/results/transfer_study]
        [--jobs 1] [--table-only]

Every variant is ``examples/mnist_insitu.toml`` (the recipe) with a few fields changed (``VARIANTS``, or
``--extra`` for an ad-hoc one); each (variant, seed) point is one ``run_experiment`` (fused engine, one torch
thread) in one of ``--jobs`` worker processes, saved as ``OUT/runs/<variant>_seed<s>.json`` as soon as it
finishes, so a rerun (or a run killed halfway) only computes what is missing. Writes ``OUT/study.csv`` (one
row per variant, method and seed), ``OUT/study.md`` (mean ± sd over seeds, MTJs per synapse, the gap to the
float run of the same network) and ``OUT/curves.png`` (mean test accuracy per epoch).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RECIPE = str(Path(__file__).with_name("mnist_insitu.toml"))
NONE = {"baselines.methods": []}
PLAIN = {"hardware.transfer.counter_bits": 0}
# the first recipe (weights in [-1, 1] at the float baseline's gains); the ablations are measured on it
GAIN1 = {"training.gain_scales": [1.0, 4.0], "training.lr": 3.17}
# name -> (what the row shows, field overrides on the recipe)
VARIANTS: dict[str, tuple[str, dict]] = {
    "recipe": ("2-MTJ buffer + 6-bit counter, V 64, weight range x2 (gains 2 and 8), lr 1.585, decay 0.85 "
               "(8 MTJs)", NONE),
    "float": ("float SGD of the same network at gains 1 and 4, lr 10 (the same runs train the independent-flip "
              "rule, BinaryConnect and ex-situ)",
              {**PLAIN, **GAIN1, "baselines.methods": ["float", "binary_software", "exsitu"],
               "baselines.float_lr": 10.0}),
    "gain1": ("first recipe: gains 1 and 4 (weights in [-1, 1] where float's are), lr 3.17", {**NONE, **GAIN1}),
    "meanfield": ("noise-free limit of gain1: buffer probabilities and expected transfers (training/meanfield.py)",
                  {**GAIN1, "meanfield": True}),
    "gamma0": ("gain1, buffer not read (gamma 0)", {**NONE, **GAIN1, "hardware.transfer.gamma": 0.0}),
    "lr6d80": ("gain1, lr 6.35, decay 0.80", {**NONE, **GAIN1, "training.lr": 6.35, "training.lr_decay": 0.8}),
    "v128": ("gain1, every column every 128 samples", {**NONE, **GAIN1, "hardware.transfer.samples_per_sweep": 128}),
    "step2": ("gain1, 2 LSB per transfer", {**NONE, **GAIN1, "hardware.transfer.step": 2}),
    "k1b7": ("gain1, one-MTJ buffer (alternating reference) + 7-bit counter",
             {**NONE, **GAIN1, "hardware.transfer.buffer_mtjs": 1, "hardware.transfer.counter_bits": 7}),
    "b8v16": ("gain1, 8-bit counter, every 16 samples (10 MTJs)",
              {**NONE, **GAIN1, "hardware.transfer.counter_bits": 8, "hardware.transfer.samples_per_sweep": 16}),
    "min11": ("gain1, the minimal 1 + 1: one-MTJ buffer + one-bit counter (2 MTJs)",
              {**NONE, **GAIN1, "hardware.transfer.buffer_mtjs": 1, "hardware.transfer.counter_bits": 1}),
    "proto6": ("gain1 at the prototype's 6 epochs, decay 0.7",
               {**NONE, **GAIN1, "training.epochs": 6, "training.lr_decay": 0.7}),
    "b8g2v16": ("recipe with an 8-bit counter, every 16 samples (10 MTJs)",
                {**NONE, "hardware.transfer.counter_bits": 8, "hardware.transfer.samples_per_sweep": 16}),
}
METHODS = ("insitu", "float", "binary_software", "exsitu")
# what a variant's in-situ row is, where its name does not say it (the float variant's in-situ run is the
# plain independent-flip rule, the transfer switched off)
ROW_NAMES = {"float": "independent flips, k = 1 (transfer off, gains 1 and 4)"}
# the learning curves drawn (the others are in study.csv)
CURVES = ("recipe", "gain1", "float", "meanfield", "min11")


def parse_extra(text: str) -> tuple[str, tuple[str, dict]]:
    """``NAME:PATH=VALUE,PATH=VALUE`` -> (name, (description, overrides)); values parsed as TOML scalars."""
    from mtjxbar.config import parse_value

    name, _, body = text.partition(":")
    overrides = {}
    for item in filter(None, re.split(r",(?![^\[]*\])", body)):  # commas inside [...] belong to a list
        path, _, value = item.partition("=")
        overrides[path.strip()] = parse_value(value.strip())
    return name, (body, {**NONE, **overrides})


def _point(args: tuple) -> dict:
    variant, spec, data_dir, seed, out = args
    import torch

    torch.set_num_threads(1)
    from mtjxbar.config import replace_path
    from mtjxbar.experiments.config import load_config
    from mtjxbar.experiments.files import write_json
    from mtjxbar.experiments.runner import run_experiment

    config = load_config(RECIPE)
    overrides = {"data.data_dir": data_dir, "seed": seed, **spec[1]}
    meanfield = overrides.pop("meanfield", False)
    for path, value in overrides.items():
        config = replace_path(config, path, tuple(value) if isinstance(value, list) else value)
    results = run_meanfield(config) if meanfield else run_experiment(config, meter=False)
    results["variant"] = variant
    results["mtjs_per_synapse"] = config.hardware.transfer.mtjs_per_synapse if config.hardware.transfer.enabled \
        else config.hardware.mapping.mtjs_per_synapse
    write_json(Path(out), f"{variant}_seed{seed}.json", results)
    print(f"{variant} seed={seed}: " + ", ".join(f"{m} {a:.4f}" for m, a in results["accuracy"].items()) +
          f" ({results['train_seconds'].get('insitu', 0):.0f} s)", flush=True)
    return results


def run_meanfield(config) -> dict:
    """The noise-free limit of the config's buffer-and-counter rule (:class:`TransferMeanField`), recorded
    like run_experiment's in-situ method; counters start where the in-situ run's do (random levels)."""
    import time

    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.experiments.runner import epoch_order
    from mtjxbar.experiments.state import RunState
    from mtjxbar.training import SoftwareMLP, evaluate
    from mtjxbar.training.meanfield import TransferMeanField, train_transfer_meanfield_epoch

    d, tcfg = config.data, config.training
    data = load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)
    state = RunState(config, data.train_x, data.n_classes, meter=False)  # the in-situ run's initial counters
    layers = [TransferMeanField(layer.counter_weights().clone(), layer.config, layer.request_scale)
              for layer in state.net.layers]
    model = SoftwareMLP(state.arch, [layer.weights() for layer in layers], config.hardware.converters.input_range)
    history, train_acc, t0 = [], [], time.perf_counter()
    n = len(data.train_x)
    for epoch in range(tcfg.epochs):
        order = epoch_order(config.seed, epoch, n)
        train_acc.append(train_transfer_meanfield_epoch(model, layers, data.train_x, data.train_y, order,
                                                        tcfg.lr * tcfg.lr_decay**epoch, tcfg,
                                                        config.hardware.encoder.p_max, epoch * n))
        history.append(evaluate(model.predict, data.test_x, data.test_y, tcfg.eval_batch))
        print(f"  meanfield seed {config.seed} epoch {epoch + 1}: test {history[-1]:.4f}", flush=True)
    return {"seed": config.seed, "epochs": tcfg.epochs, "sizes": list(state.arch.sizes),
            "accuracy": {"insitu": history[-1]}, "history": {"insitu": history},
            "train_accuracy": {"insitu": train_acc}, "train_seconds": {"insitu": time.perf_counter() - t0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), metavar="V")
    parser.add_argument("--extra", nargs="*", default=[], metavar="NAME:PATH=VALUE,...")
    parser.add_argument("--out", type=Path, default=Path("docs/results/transfer_study"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--table-only", action="store_true", help="only rebuild the tables from OUT/runs")
    args = parser.parse_args()
    if not Path(args.data_dir).is_dir():
        sys.exit(f"--data-dir {args.data_dir}: no such directory (the MNIST IDX files)")
    variants = {v: VARIANTS[v] for v in args.variants if v in VARIANTS}
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"--variants: unknown {unknown}; known: {list(VARIANTS)} (ad-hoc ones: --extra)")
    variants.update(dict(parse_extra(e) for e in args.extra))
    runs = args.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = [(v, spec, args.data_dir, s, str(runs)) for v, spec in variants.items() for s in args.seeds
            if not (runs / f"{v}_seed{s}.json").exists()]
    if not args.table_only:
        print(f"{len(todo)} points to run, {len(variants) * len(args.seeds) - len(todo)} already done", flush=True)
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(_point, todo))
    write_tables(runs, args.out)


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def write_tables(runs: Path, out: Path) -> None:
    """study.csv / study.md / curves.png from every run in ``runs`` (grouped by variant)."""
    results: dict[str, list[dict]] = {}
    for path in sorted(runs.glob("*_seed*.json")):
        r = json.loads(path.read_text())
        results.setdefault(r["variant"], []).append(r)
    with open(out / "study.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "method", "seed", "accuracy", "train_accuracy", "network", "epochs", "mtjs",
                    "train_seconds"])
        for v, rs in sorted(results.items()):
            for r in rs:
                for m in METHODS:
                    if m in r["accuracy"]:
                        train = r["train_accuracy"].get(m, [None])[-1] if m in r["train_accuracy"] else None
                        w.writerow([v, m, r["seed"], f"{r['accuracy'][m]:.4f}",
                                    "" if train is None else f"{train:.4f}", "-".join(map(str, r["sizes"])),
                                    r["epochs"], r.get("mtjs_per_synapse", ""),
                                    f"{r['train_seconds'].get(m, 0.0):.1f}"])
    flt = [100 * r["accuracy"]["float"] for r in results.get("float", [])]
    lines = ["Test accuracy (%), mean ± sd over the seeds run; MNIST, 10,000 training and 10,000 test images "
             "(../shared/data/mnist-train10k); gap = float (variant `float`) - in-situ, in points.", "",
             "| variant | MTJs / synapse | network | epochs | seeds | in-situ test | in-situ train | gap to float |",
             "|---|---|---|---|---|---|---|---|"]
    for v, rs in sorted(results.items()):
        if "insitu" not in rs[0]["accuracy"]:
            continue
        test = [100 * r["accuracy"]["insitu"] for r in rs]
        train = [100 * r["train_accuracy"]["insitu"][-1] for r in rs]
        gap = f"{statistics.mean(flt) - statistics.mean(test):.2f}" if flt else "-"
        name = ROW_NAMES.get(v) or (f"{v}: {VARIANTS[v][0]}" if v in VARIANTS else v)
        lines.append(f"| {name} | {rs[0].get('mtjs_per_synapse', '')} | "
                     f"{'-'.join(map(str, rs[0]['sizes']))} | "
                     f"{rs[0]['epochs']} | {len(rs)} | {_mean_sd(test)} | {_mean_sd(train)} | {gap} |")
    for m in ("float", "binary_software", "exsitu"):
        vals = [100 * r["accuracy"][m] for r in results.get("float", []) if m in r["accuracy"]]
        if vals:
            lines.append(f"| {m} (software / ex-situ) | - | {'-'.join(map(str, results['float'][0]['sizes']))} | "
                         f"{results['float'][0]['epochs']} | {len(vals)} | {_mean_sd(vals)} | - | - |")
    (out / "study.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(results, out / "curves.png")


def _plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for v, rs in sorted(results.items()):
        if v not in CURVES:
            continue
        for m, style in (("insitu", "-"), ("float", "--")):
            hists = [r["history"][m] for r in rs if m in r["history"]]
            if not hists or (m == "float" and v != "float"):
                continue
            mean = [100 * statistics.mean(e) for e in zip(*hists, strict=True)]
            label = "float SGD" if m == "float" else f"in-situ: {ROW_NAMES.get(v, v)}"
            ax.plot(range(1, len(mean) + 1), mean, ls=style, marker="o", ms=2.5, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(80, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
