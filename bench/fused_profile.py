"""Where the fused per-sample step spends its time (784-256-80, MNIST, 1T1MTJ, k = 1).

    python bench/fused_profile.py [--samples 2000]

The network is first trained on ``--samples`` samples (so states and error sizes are typical), then the
same samples are run again (from a copy of the states) as: the whole step (``train_chunk``); forward and
error only (a stop-learning margin every sample meets); and each compiled stage alone, called from Python
over the same samples (each such call includes the Python-to-Numba dispatch, measured with an empty call and
subtracted; the figures are reported in docs/speed.md). Ends with ``bench <stage>_us <value> us`` lines (per sample).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from _data import bench_data
from numba import njit

from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, build_architecture, train_insitu
from mtjxbar.training.fused import FusedNetwork
from mtjxbar.training.fused import kernels as K


@njit(cache=True)
def _empty(a, b, c):
    return 0


def _per_sample(fn, n: int, repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y, source = bench_data(args.samples)
    config = ExperimentConfig()
    arch = build_architecture(x, 10, (256,), config.training)
    net = InSituNetwork(arch, config.hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    gens = [generator(0, f"write.layer{i}") for i in range(2)]
    train_insitu(net, x, y, config.training, 0, torch.arange(len(x)), gens)
    fused = FusedNetwork(net, config.training.layer_lr_scales)
    start = fused.layer_arrays()
    n = len(x)
    x0 = np.ascontiguousarray(arch.prepare(x).numpy().astype(np.float32))
    labels = y.numpy().astype(np.int64)
    seeds = np.arange(1, 2 * n + 1, dtype=np.uint64).reshape(2, n)
    lr = config.training.lr

    def copies():
        return tuple(L._replace(states=L.states.copy(), parallel=L.parallel.copy()) for L in start)

    def chunk(margin):
        def run():
            out = [np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)] + \
                [np.zeros((n, 2), dtype=np.int64) for _ in range(3)]
            K.train_chunk(x0, labels, seeds, lr, copies(), fused.lps, fused.ep, 10, 8, margin, *out)
        return run

    copy_us = _per_sample(copies, n)
    full = _per_sample(chunk(math.nan), n) - copy_us
    fwd = _per_sample(chunk(-1e30), n) - copy_us
    call = _per_sample(lambda: [_empty(x0, start[0].states, fused.ep) for _ in range(n)], n)

    # stage by stage, from Python, over the same samples and the states after training
    h = np.zeros(256)
    z0, z1, w = np.zeros(256), np.zeros(80), np.zeros(1)
    cols0, cols1 = np.zeros(256, dtype=np.float32), np.zeros(80, dtype=np.float32)
    d1, err = np.zeros(80), np.zeros(256)
    xs = x0.astype(np.float64)
    L0, L1 = start
    stage = {}
    stage["forward_layer0"] = _per_sample(lambda: [K.layer_forward(xs[s], L0, fused.lps[0], fused.ep, cols0, w, z0)
                                                   for s in range(n)], n) - call
    np.tanh(z0, out=h)
    stage["forward_layer1"] = _per_sample(lambda: [K.layer_forward(h, L1, fused.lps[1], fused.ep, cols1, w, z1)
                                                   for _ in range(n)], n) - call
    stage["output_error"] = _per_sample(lambda: [K.output_error(z1, labels[s], 10, 8, math.nan, d1, np.zeros(10))
                                                 for s in range(n)], n) - call
    w_cols = np.zeros((1, 80), dtype=np.float32)
    stage["backward_layer1"] = _per_sample(lambda: [K.layer_backward(d1, L1, fused.lps[1], fused.ep,
                                                                     cols1, w_cols, w, err)
                                                    for _ in range(n)], n) - call
    c_layer = ((err * (1 - h * h)) * lr * fused.lps[0, K.LP_LR_FACTOR], d1 * lr * fused.lps[1, K.LP_LR_FACTOR])
    for ly in range(2):
        rows, cols = (784, 256)[ly], start[ly].sign.shape[0]
        buf = (np.zeros(rows), np.zeros(rows), np.zeros(cols), np.zeros((2, cols)))
        stage[f"encode_layer{ly}"] = _per_sample(lambda ly=ly, buf=buf: [
            K.encode(xs[s] if ly == 0 else h, c_layer[ly], start[ly].sign, fused.lps[ly], fused.ep, *buf)
            for s in range(n)], n) - call
    print(f"network 784-256-80, {n} samples of {source}, 1 thread; per sample (us):")
    print(f"  whole step          {full:7.2f}")
    print(f"  forward + error     {fwd:7.2f}   (no update)")
    print(f"  backward + writes   {full - fwd:7.2f}   (encode, sample and apply flips, both layers)")
    for name, value in stage.items():
        print(f"  {name:18s}  {value:7.2f}")
    print(f"  (Python-to-Numba call: {call:.2f} us, subtracted from the per-stage figures)")
    print(f"bench fused_step_us {full:.2f} us")
    print(f"bench fused_forward_error_us {fwd:.2f} us")
    for name, value in stage.items():
        print(f"bench {name}_us {value:.2f} us")


if __name__ == "__main__":
    main()
