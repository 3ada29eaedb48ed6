"""In-situ training throughput against float per-sample PyTorch SGD of the same network, same process.

    python bench/train_throughput.py [--samples 2000] [--hidden 256] [-k 1] [--threads N] [--meter]

Data: the first samples of ../shared/data/mnist-train10k when present (784 inputs), else the embedded
digits set upsampled to 28x28 so the network keeps its 784-256-10 shape (8 output neurons per class
by default: 784-256-80 arrays). Both methods see the same
samples in the same order; each is timed over the same number of per-sample steps after a warm-up.
Ends with one line per headline figure: ``bench <name> <value> <unit>``. ``--meter`` attaches the hardware
cost meter to the in-situ network, as ``mtjxbar train`` does by default (the fused loop feeds it too).
"""

from __future__ import annotations

import argparse
import time

import torch
from _data import bench_data

from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.hardware import attach_meter
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, SoftwareMLP, build_architecture, train_insitu, train_software_epoch
from mtjxbar.training.insitu import fused_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("-k", "--mtjs-per-synapse", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where both networks run (the fused loop is CPU-only: cuda runs the eager loop)")
    parser.add_argument("--engine", default="auto", choices=("auto", "fused", "eager"), help="training.engine")
    parser.add_argument("--meter", action="store_true", help="time the in-situ loop with the cost meter attached")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, source = bench_data(args.samples)
    config = ExperimentConfig()
    from mtjxbar.config import replace_path

    config = replace_path(config, "hardware.mapping.mtjs_per_synapse", args.mtjs_per_synapse)
    config = replace_path(config, "training.engine", args.engine)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    x, y = x.to(args.device), y.to(args.device)
    arch = build_architecture(x, 10, (args.hidden,), config.training)
    net = InSituNetwork(arch, config.hardware, device=args.device)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}", args.device))
    gens = [generator(0, f"write.layer{i}", args.device) for i in range(len(net.layers))]
    meter = attach_meter(net, config.hardware) if args.meter else None
    model = SoftwareMLP(arch, net.weights(), config.hardware.converters.input_range).to(args.device)
    order = torch.arange(len(x), device=args.device)
    warm = order[: min(100, len(x))]
    train_insitu(net, x, y, config.training, 0, warm, gens)
    train_software_epoch(model, x, y, warm, 0.01, clip=False)
    engine = "fused" if fused_network(net, config.training) is not None else "eager"

    _sync(args.device)
    t0 = time.perf_counter()
    train_software_epoch(model, x, y, order, 0.01, clip=False)
    _sync(args.device)
    float_rate = len(order) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    if meter is not None:
        with meter.epoch():
            train_insitu(net, x, y, config.training, 0, order, gens)
    else:
        train_insitu(net, x, y, config.training, 0, order, gens)
    _sync(args.device)
    insitu_rate = len(order) / (time.perf_counter() - t0)

    sizes = "-".join(map(str, arch.sizes))
    print(f"network {sizes}, k = {args.mtjs_per_synapse}, {len(order)} per-sample steps on {source}, "
          f"{torch.get_num_threads()} torch threads, device {args.device}, in-situ engine {engine}"
          + (", cost meter attached" if meter is not None else ""))
    print(f"float PyTorch SGD (batch 1): {float_rate:10.0f} samples/s")
    print(f"in-situ MTJ (1T1MTJ, {engine}):{insitu_rate:10.0f} samples/s")
    print(f"bench float_samples_per_s {float_rate:.0f} samples/s")
    print(f"bench insitu_samples_per_s {insitu_rate:.0f} samples/s")
    print(f"bench insitu_vs_float_ratio {insitu_rate / float_rate:.3f} x")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
