"""K chips trained in one batch (training/chips.py) against K sequential single-chip runs, same process.

    python bench/batched_chips.py [--chips 8] [--samples 500] [--spread 0.0] [--stuck 0.05] [--threads 1]
                                  [--device cpu|cuda]

Data: the first ``--samples`` training samples of ../shared/data/mnist-train10k (784 inputs; the embedded
digits set upsampled to 28x28 where that folder is missing), the default 784-256-80 network
(``ExperimentConfig`` defaults, 8 output neurons per class). Both sides train K chips (seeds 0..K-1, each
manufactured with ``--spread`` relative device-to-device spread on R_P, TMR0 and Ic0 and ``--stuck`` stuck
cells, half at P and half at AP) for one epoch over the same samples in the same order; the sequential side
is the per-sample loop (``train_insitu``) run K times with the eager engine, the same PyTorch operations the
batched side runs K-wide, so the ratio is the gain of batching. Each side is timed after a short warm-up on
other chips. On the CPU the K sequential runs are also timed with the fused engine (compiled loop, where it
applies: uniform chips with stuck cells here) and reported against the batched chips. The final line is the
headline: ``bench batched_vs_sequential_ratio <x> x`` (batched against sequential eager).

Since the fused loop (docs/speed.md), K sequential fused runs can beat K batched eager chips on the CPU;
this script prints both ratios, and docs/variation.md reports them, so Monte Carlo sweeps on the CPU run
fused single-chip runs. Batched chips are the way to fill a GPU (``--device cuda``).

With device-to-device spread (``--spread``) the step is no longer latency-bound: the sparse sampler's
per-column bound is set by each column's weakest cell, so both paths thin many candidate events (or fall
back to the dense formula) and the gain of batching shrinks (figures: docs/variation.md); a tighter
(row-block) bound would help both.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from _data import bench_data as _data

from mtjxbar.device import VariationConfig
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.nn import manufacture_layers
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, build_architecture, train_insitu
from mtjxbar.training.chips import ChipNetwork, train_chips


def _sequential(arch, config, seeds, x, y, order, device: str, engine: str) -> float:
    training = replace(config.training, engine=engine)
    _sync(device)
    t0 = time.perf_counter()
    for seed in seeds:
        net = InSituNetwork(arch, config.hardware, device=device)
        for i, layer in enumerate(net.layers):
            layer.randomize(generator(seed, f"init.layer{i}", device))
        manufacture_layers(net.layers, seed)
        gens = [generator(seed, f"write.layer{i}", device) for i in range(len(net.layers))]
        train_insitu(net, x, y, training, 0, order, gens)
    _sync(device)
    return time.perf_counter() - t0


def _batched(arch, config, seeds, x, y, order, device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    net = ChipNetwork(arch, config.hardware, seeds, device=device)
    train_chips(net, x, y, config.training, 0, order)
    _sync(device)
    return time.perf_counter() - t0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=8)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--spread", type=float, default=0.0, help="relative d2d spread of R_P, TMR0, Ic0")
    parser.add_argument("--stuck", type=float, default=0.05, help="fraction of stuck cells (half P, half AP)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    dev = args.device
    x, y, source = _data(args.samples)
    x, y = x.to(dev), y.to(dev)
    s = args.spread
    variation = VariationConfig(r_p_dtod=s, tmr0_dtod=s, ic0_p2ap_dtod=s, ic0_ap2p_dtod=s,
                                stuck_p_rate=args.stuck / 2, stuck_ap_rate=args.stuck / 2)
    config = ExperimentConfig()
    config = replace(config, hardware=replace(config.hardware, variation=variation))
    arch = build_architecture(x, 10, (256,), config.training)
    order = torch.arange(len(x), device=dev)
    seeds = list(range(args.chips))
    warm = order[:20]
    _sequential(arch, config, [1000], x, y, warm, dev, "eager")
    _batched(arch, config, [1000 + k for k in seeds], x, y, warm, dev)
    seq = _sequential(arch, config, seeds, x, y, order, dev, "eager")
    bat = _batched(arch, config, seeds, x, y, order, dev)
    fused = None
    if dev == "cpu":
        _sequential(arch, config, [1000], x, y, warm, dev, "fused")
        fused = _sequential(arch, config, seeds, x, y, order, dev, "fused")
    sizes = "-".join(map(str, arch.sizes))
    chip_samples = args.chips * len(order)
    print(f"network {sizes}, {args.chips} chips, {len(order)} samples of {source}, spread {s:g}, stuck "
          f"{args.stuck:g}, {torch.get_num_threads()} torch threads, device {dev}")
    print(f"sequential (eager): {seq:8.2f} s ({chip_samples / seq:8.0f} chip-samples/s)")
    if fused is not None:
        print(f"sequential (fused): {fused:8.2f} s ({chip_samples / fused:8.0f} chip-samples/s)")
    print(f"batched:            {bat:8.2f} s ({chip_samples / bat:8.0f} chip-samples/s)")
    if fused is not None:
        print(f"bench fused_sequential_vs_batched_ratio {bat / fused:.2f} x")
    print(f"bench batched_vs_sequential_ratio {seq / bat:.2f} x")


if __name__ == "__main__":
    main()
