"""Accuracy with the fused loop against the eager loop: same config, same seeds, in-situ only.

    python bench/fused_accuracy.py [--config examples/mnist_simple_rule.toml] [--seeds 0 1 2 3 4]
                                   [--engines fused eager] [--threads 1]

MNIST from ../shared/data/mnist-train10k (10k training, 10k test images). Each run is ``run_experiment``
without the cost meter (the fused loop does not feed it). Prints each run's test accuracy and in-situ
training time, the mean ± sd per engine, and ends with ``bench <name> <value> <unit>`` lines: each
engine's mean accuracy and the difference of the means in units of the eager runs' standard deviation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from _data import MNIST

from mtjxbar.config import replace_path
from mtjxbar.experiments.config import load_config
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.experiments.runner import run_experiment

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "examples" / "mnist_simple_rule.toml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--engines", nargs="+", default=["fused", "eager"], choices=("fused", "eager"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not MNIST.is_dir():
        raise SystemExit(f"bench/fused_accuracy.py needs MNIST in {MNIST}")
    data = load_dataset("mnist", MNIST)
    base = replace_path(load_config(args.config), "baselines.methods", ())
    acc: dict[str, list[float]] = {e: [] for e in args.engines}
    for engine in args.engines:
        for seed in args.seeds:
            config = replace_path(replace_path(base, "training.engine", engine), "seed", seed)
            t0 = time.perf_counter()
            r = run_experiment(config, data=data, meter=False)
            acc[engine].append(100 * r["accuracy"]["insitu"])
            print(f"{engine:6s} seed {seed}: {acc[engine][-1]:5.2f} %  (in-situ training "
                  f"{r['train_seconds']['insitu']:.1f} s, run {time.perf_counter() - t0:.1f} s)", flush=True)
    for engine, values in acc.items():
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{engine}: {statistics.mean(values):.2f} ± {sd:.2f} % over seeds {args.seeds}")
    for engine, values in acc.items():
        print(f"bench {engine}_accuracy {statistics.mean(values):.2f} %")
    if {"fused", "eager"} <= acc.keys() and len(acc["eager"]) > 1:
        sd = statistics.stdev(acc["eager"])
        diff = (statistics.mean(acc["fused"]) - statistics.mean(acc["eager"])) / max(sd, 1e-9)
        print(f"bench fused_minus_eager_in_eager_sd {diff:.2f} sd")


if __name__ == "__main__":
    main()
