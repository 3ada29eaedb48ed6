"""The benchmarks' data: the first ``n`` training samples of ../shared/data/mnist-train10k (784 inputs).

Where that folder is missing, the embedded digits set upsampled to 28x28 (repeated to ``n`` samples), so
the networks keep their 784-input shape. Imported by the scripts of this folder (``from _data import
bench_data``: they run as ``python bench/<script>.py``, which puts ``bench/`` on the import path).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from mtjxbar.experiments.datasets import load_dataset

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-train10k"

__all__ = ["MNIST", "bench_data"]


def bench_data(n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Inputs (n, 784) in [0, 1], labels (n,), and a word on where they came from."""
    if MNIST.is_dir():
        d = load_dataset("mnist", MNIST, max_train=n, max_test=1)
        return d.train_x, d.train_y, "mnist-train10k"
    d = load_dataset("digits")
    x = F.interpolate(d.train_x.view(-1, 1, 8, 8), size=(28, 28), mode="bilinear").flatten(1)
    reps = -(-n // len(x))
    return x.repeat(reps, 1)[:n], d.train_y.repeat(reps)[:n], "digits upsampled to 28x28"
