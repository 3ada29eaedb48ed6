"""The earlier MNIST table of docs/mnist.md: every method for k = 1, 2, 4, 8 MTJs per synapse over several seeds.

    python examples/mnist_k_table.py --data-dir ../shared/data/mnist-train10k [--seeds 0 1 2]
        [--k 1 2 4 8] [--config examples/mnist_independent.toml] [--out docs/results] [--jobs 2]

Each (k, seed) point is one ``run_experiment`` of the config with ``mtjs_per_synapse = k``; points run in
``--jobs`` worker processes (one torch thread each), and each finished point is saved as
``OUT/mnist_k_runs/k{k}_seed{s}.json`` so a rerun skips it. Writes ``OUT/mnist_k_table.csv`` (one row per
method, k and seed), ``OUT/mnist_k_table.md`` (mean and standard deviation over seeds) and
``OUT/mnist_k_curves.png`` (mean test accuracy per epoch).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

METHODS = ("insitu", "float", "binary_software", "exsitu")
LABELS = {"insitu": "in-situ MTJ", "float": "float SGD", "binary_software": "binary (software)",
          "exsitu": "ex-situ (programmed)"}


def _point(args: tuple[str, str, int, int, str]) -> dict:
    config_path, data_dir, k, seed, out = args
    import torch

    torch.set_num_threads(1)
    from mtjxbar.config import replace_path
    from mtjxbar.experiments.config import load_config
    from mtjxbar.experiments.files import write_json
    from mtjxbar.experiments.runner import run_experiment

    config = load_config(config_path)
    config = replace_path(config, "data.data_dir", data_dir)
    config = replace_path(config, "hardware.mapping.mtjs_per_synapse", k)
    config = replace_path(config, "seed", seed)
    results = run_experiment(config)
    write_json(Path(out), f"k{k}_seed{seed}.json", results)
    print(f"k={k} seed={seed}: " + ", ".join(f"{m} {a:.4f}" for m, a in results["accuracy"].items()),
          flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config", default=str(Path(__file__).with_name("mnist_independent.toml")))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    runs = args.out / "mnist_k_runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = [(args.config, args.data_dir, k, s, str(runs)) for k in args.k for s in args.seeds
            if not (runs / f"k{k}_seed{s}.json").exists()]
    # largest k first: the slowest points start early
    todo.sort(key=lambda t: -t[2])
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(_point, todo))
    results = {(k, s): json.loads((runs / f"k{k}_seed{s}.json").read_text()) for k in args.k for s in args.seeds}
    write_tables(results, args.k, args.seeds, args.out)


def write_tables(results: dict, ks: list[int], seeds: list[int], out: Path) -> None:
    with open(out / "mnist_k_table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "k", "seed", "accuracy", "epochs", "train_seconds"])
        for (k, s), r in sorted(results.items()):
            for m in METHODS:
                if m in r["accuracy"]:
                    w.writerow([m, k, s, f"{r['accuracy'][m]:.4f}", r["epochs"],
                                f"{r['train_seconds'].get(m, 0.0):.1f}"])
    any_r = next(iter(results.values()))
    lines = [f"MLP {'-'.join(map(str, any_r['sizes']))}, {any_r['epochs']} epochs, "
             f"{any_r['n_train']} training / {any_r['n_test']} test images, seeds {seeds}: "
             "test accuracy, mean ± standard deviation (%)", "",
             "| k | " + " | ".join(LABELS[m] for m in METHODS) + " | in-situ s/epoch |",
             "|---|" + "---|" * (len(METHODS) + 1)]
    for k in ks:
        cells = []
        for m in METHODS:
            accs = [100 * results[(k, s)]["accuracy"][m] for s in seeds if m in results[(k, s)]["accuracy"]]
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            cells.append(f"{statistics.mean(accs):.1f} ± {sd:.1f}" if accs else "-")
        secs = statistics.mean(results[(k, s)]["train_seconds"]["insitu"] / results[(k, s)]["epochs"]
                               for s in seeds)
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {secs:.0f} |")
    (out / "mnist_k_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(results, ks, seeds, out / "mnist_k_curves.png")


def _plot(results: dict, ks: list[int], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ks), figsize=(3.2 * len(ks), 3.4), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], ks, strict=True):
        for m in METHODS:
            hists = [results[(k, s)]["history"][m] for s in seeds if m in results[(k, s)]["history"]]
            if not hists:
                continue
            mean = [100 * statistics.mean(v) for v in zip(*hists, strict=True)]
            ax.plot(range(1, len(mean) + 1), mean, marker="o", ms=3, label=LABELS[m])
        ax.set_title(f"k = {k}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
