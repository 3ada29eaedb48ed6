"""The in-situ learning study on MNIST of docs/mnist.md: the recipe, each ingredient removed, k rows, one layer.

    python examples/mnist_study.py --data-dir ../shared/data/mnist-train10k [--seeds 0 1 2]
        [--variants recipe no-centring ...] [--epochs N] [--out docs/results/mnist_study] [--jobs 2]

Every variant is ``examples/mnist_independent.toml`` (the recipe) with a few fields changed (``VARIANTS``);
each (variant, seed) point is one ``run_experiment`` in one of ``--jobs`` worker processes (one torch
thread each) and is saved as ``OUT/runs/<variant>_seed<s>.json`` as soon as it finishes, so a rerun
(or a run killed halfway) only computes what is missing. Writes ``OUT/study.csv`` (one row per variant,
method and seed), ``OUT/study.md`` (mean and standard deviation over seeds, and the gap to float of the
same network) and ``OUT/curves.png`` (mean test accuracy per epoch).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RECIPE = str(Path(__file__).with_name("mnist_independent.toml"))
INSITU_ONLY = {"baselines.methods": []}
# name -> (what the row shows, field overrides on the recipe)
VARIANTS: dict[str, tuple[str, dict]] = {
    "recipe": ("the recipe (examples/mnist_independent.toml), with its float baseline", {}),
    "no-population": ("one output neuron per class instead of 16", {"training.outputs_per_class": 1,
                                                                   **INSITU_ONLY}),
    "no-centring": ("raw inputs in [0, 1] instead of centred ones", {"training.center_inputs": False,
                                                                      **INSITU_ONLY}),
    "no-decay": ("constant learning rate (no per-epoch decay)", {"training.lr_decay": 1.0, **INSITU_ONLY}),
    "no-output-gain": ("output-layer gain scale 1 instead of 4", {"training.gain_scales": [1.0, 1.0],
                                                                  **INSITU_ONLY}),
    "k2": ("k = 2 MTJs per synapse", {"hardware.mapping.mtjs_per_synapse": 2, **INSITU_ONLY}),
    "k4": ("k = 4 MTJs per synapse", {"hardware.mapping.mtjs_per_synapse": 4, **INSITU_ONLY}),
    "k8": ("k = 8 MTJs per synapse", {"hardware.mapping.mtjs_per_synapse": 8, **INSITU_ONLY}),
    "single-layer": ("one layer, 784-10 x 16 outputs, in-situ lr 1.0 (from 0.1-3), with its float baseline",
                     {"hidden": [], "training.lr": 1.0, "baselines.methods": ["float"]}),
    "meanfield": ("k -> infinity: the rule's expected update on float weights (training/meanfield.py)",
                  {"meanfield": True}),
    "meanfield-single-layer": ("k -> infinity, one layer", {"meanfield": True, "hidden": []}),
    "meanfield-counter": ("hypothetical: flip rate independent of the synapse's state (mean field, clipped)",
                          {"meanfield": "counter"}),
    "hidden-256": ("256 hidden units instead of 512; float at 256 included (it must reach 94 %)",
                   {"hidden": [256], "baselines.methods": ["float"]}),
}
METHODS = ("insitu", "float", "binary_software", "exsitu")


def _point(args: tuple[str, str, int, int | None, str]) -> dict:
    variant, data_dir, seed, epochs, out = args
    import torch

    torch.set_num_threads(1)
    from mtjxbar.config import replace_path
    from mtjxbar.experiments.config import load_config
    from mtjxbar.experiments.files import write_json
    from mtjxbar.experiments.runner import run_experiment

    config = load_config(RECIPE)
    overrides = {"data.data_dir": data_dir, "seed": seed, **VARIANTS[variant][1]}
    meanfield = overrides.pop("meanfield", False)
    if epochs is not None:
        overrides["training.epochs"] = epochs
    for path, value in overrides.items():
        config = replace_path(config, path, tuple(value) if isinstance(value, list) else value)
    results = run_meanfield(config, soft_bound=meanfield != "counter") if meanfield \
        else run_experiment(config, meter=False)
    results["variant"] = variant
    write_json(Path(out), f"{variant}_seed{seed}.json", results)
    print(f"{variant} seed={seed}: " + ", ".join(f"{m} {a:.4f}" for m, a in results["accuracy"].items()),
          flush=True)
    return results


def run_meanfield(config, soft_bound: bool = True) -> dict:
    """The mean-field (k -> infinity) limit of the config's in-situ rule, recorded like run_experiment's
    in-situ method (from the float baseline's initial weights: all-zero weights would never break symmetry)."""
    import time

    import torch

    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.experiments.runner import epoch_order
    from mtjxbar.rng import generator
    from mtjxbar.training import SoftwareMLP, build_architecture, evaluate
    from mtjxbar.training.meanfield import train_meanfield_epoch

    d, tcfg = config.data, config.training
    data = load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)
    arch = build_architecture(data.train_x, data.n_classes, config.hidden, tcfg)
    shapes = list(zip(arch.sizes[:-1], arch.sizes[1:], strict=True))
    init = [torch.rand(s, generator=generator(config.seed, f"init.shadow{i}")) * 2.0 - 1.0
            for i, s in enumerate(shapes)]
    model = SoftwareMLP(arch, init, config.hardware.converters.input_range)
    history, train_acc, t0 = [], [], time.perf_counter()
    for epoch in range(tcfg.epochs):
        order = epoch_order(config.seed, epoch, len(data.train_x))
        train_acc.append(train_meanfield_epoch(model, data.train_x, data.train_y, order,
                                               tcfg.lr * tcfg.lr_decay**epoch, tcfg, config.hardware.encoder.p_max,
                                               soft_bound))
        history.append(evaluate(model.predict, data.test_x, data.test_y, tcfg.eval_batch))
        print(f"  meanfield seed {config.seed} epoch {epoch + 1}: test {history[-1]:.4f}", flush=True)
    return {"seed": config.seed, "epochs": tcfg.epochs, "sizes": list(arch.sizes), "accuracy": {"insitu": history[-1]},
            "history": {"insitu": history}, "train_accuracy": {"insitu": train_acc},
            "train_seconds": {"insitu": time.perf_counter() - t0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="V")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs (every variant)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/mnist_study"))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if not Path(args.data_dir).is_dir():
        sys.exit(f"--data-dir {args.data_dir}: no such directory (the MNIST IDX files)")
    runs = args.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = [(v, args.data_dir, s, args.epochs, str(runs)) for v in args.variants for s in args.seeds
            if not (runs / f"{v}_seed{s}.json").exists()]
    print(f"{len(todo)} points to run, {len(args.variants) * len(args.seeds) - len(todo)} already done", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(_point, todo))
    results = {(v, s): json.loads((runs / f"{v}_seed{s}.json").read_text())
               for v in args.variants for s in args.seeds if (runs / f"{v}_seed{s}.json").exists()}
    write_tables(results, args.variants, args.seeds, args.out)


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def write_tables(results: dict, variants: list[str], seeds: list[int], out: Path) -> None:
    with open(out / "study.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "method", "seed", "accuracy", "network", "epochs", "train_seconds"])
        for (v, s), r in sorted(results.items()):
            for m in METHODS:
                if m in r["accuracy"]:
                    w.writerow([v, m, s, f"{r['accuracy'][m]:.4f}", "-".join(map(str, r["sizes"])), r["epochs"],
                                f"{r['train_seconds'].get(m, 0.0):.1f}"])
    lines = ["Test accuracy (%), mean ± standard deviation over seeds " + str(seeds) + "; 10,000 training and "
             "10,000 test images (../shared/data/mnist-train10k).", "",
             "| variant | what changes | network | epochs | in-situ | float (same network) | gap (pp) |",
             "|---|---|---|---|---|---|---|"]
    for v in variants:
        rs = [results[(v, s)] for s in seeds if (v, s) in results]
        if not rs:
            continue
        insitu = [100 * r["accuracy"]["insitu"] for r in rs if "insitu" in r["accuracy"]]
        flt = [100 * r["accuracy"]["float"] for r in rs if "float" in r["accuracy"]]
        gap = f"{statistics.mean(flt) - statistics.mean(insitu):.1f}" if flt and insitu else "-"
        lines.append(f"| {v} | {VARIANTS[v][0]} | {'-'.join(map(str, rs[0]['sizes']))} | {rs[0]['epochs']} | "
                     f"{_mean_sd(insitu)} | {_mean_sd(flt)} | {gap} |")
    (out / "study.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(results, variants, seeds, out / "curves.png")


def _plot(results: dict, variants: list[str], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = plt.get_cmap("tab20").colors
    for n, v in enumerate(variants):
        hists = [results[(v, s)]["history"]["insitu"] for s in seeds if (v, s) in results]
        if hists:
            mean = [100 * statistics.mean(e) for e in zip(*hists, strict=True)]
            ax.plot(range(1, len(mean) + 1), mean, marker="o", ms=2.5, color=colors[(2 * n) % 20 + (n >= 10)],
                    ls=":" if "single-layer" in v else "-", label=f"in-situ: {v}")
    for v in ("recipe", "single-layer"):
        hists = [results[(v, s)]["history"]["float"] for s in seeds
                 if (v, s) in results and "float" in results[(v, s)]["history"]]
        if hists:
            mean = [100 * statistics.mean(e) for e in zip(*hists, strict=True)]
            ax.plot(range(1, len(mean) + 1), mean, ls="--", color="k" if v == "recipe" else "grey",
                    label=f"float SGD: {v}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
