"""Per-sample training throughput of a LeNet-style CNN: float PyTorch SGD, aihwkit AnalogSGD, mtjxbar InSituSGD.

    OMP_NUM_THREADS=1 python bench/vs_aihwkit_cnn.py [--samples 500] [--repeats 3] [--threads 1]
        [--data-dir ../shared/data/mnist-train10k]

Same data (the first ``--samples`` training images, see ``_data.py``; ``--data-dir``: that MNIST folder
instead), same network as ``examples/cnn_insitu.py``: Conv2d(1, 4, 5) - tanh - max-pool 2 - Conv2d(4, 8, 5) -
tanh - max-pool 2 - Linear(128, 32) - tanh - Linear(32, 10), biases included, batch size 1, CPU, every
method over the same samples in the same order:

* float: the torch model, ``CrossEntropyLoss``, ``torch.optim.SGD``;
* aihwkit (optional, benchmark-only; see README.md): ``convert_to_analog(model, SingleRPUConfig(device=
  ConstantStepDevice()))`` (AnalogConv2d and AnalogLinear), ``AnalogSGD``;
* mtjxbar: ``mtjxbar.convert(model, HardwareConfig(), init="random")`` (1T1MTJ, one MTJ per synapse, default
  device) and ``InSituSGD`` (``engine="auto"``): every conv output position whose patch and error are
  nonzero is one rank-1 write through the pulse encoder and the device physics, a sample's positions
  encoded together and written in raster order by one compiled loop (the linear layers' one write per
  sample through the same stream).

Alike in all three: the network and its float initial weights (aihwkit's tiles take them; mtjxbar draws
random states, which costs nothing per sample), batch size 1, the loss, ``lr``, one thread, the data and
its order, and what a step does (forward, ``loss.backward()``, ``optimizer.step()``, each layer's update
from that sample). Not alike, by design: what the update is (aihwkit: ConstantStepDevice's stochastic pulse
trains, default ``UpdateParameters``; mtjxbar: MTJ switching physics) and the default read periphery of
each (aihwkit's IO noise and bound management; mtjxbar's DAC, bias-dependent cells, ADC).

Each is warmed up over the first 20 samples, then timed over all of them ``--repeats`` times (training goes
on across passes), the methods' passes interleaved (a load change on a shared machine then hits all of
them alike); the median pass gives samples/s. Progress goes to stderr. Ends with one line per
headline figure, ``bench <name> <value> <unit>``; without aihwkit its figures are ``nan``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from _data import bench_data
from torch import nn

import mtjxbar
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.optim import InSituSGD

LR = 0.05
Runner = Callable[[torch.Tensor], None]


def lenet(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 5), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128, 32), nn.Tanh(), nn.Linear(32, 10))


def _method(name: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The model and optimizer of one method (raises ImportError for aihwkit without it)."""
    model = lenet()
    if name == "aihwkit":
        from aihwkit.nn.conversion import convert_to_analog
        from aihwkit.optim import AnalogSGD
        from aihwkit.simulator.configs import ConstantStepDevice, SingleRPUConfig

        model = convert_to_analog(model, SingleRPUConfig(device=ConstantStepDevice()))
        optimizer = AnalogSGD(model.parameters(), lr=LR)
        optimizer.regroup_param_groups(model)
        return model, optimizer
    if name == "mtjxbar":
        model = mtjxbar.convert(model, mtjxbar.HardwareConfig(), init="random", seed=0)
        return model, InSituSGD(model, lr=LR, seed=0)
    return model, torch.optim.SGD(model.parameters(), lr=LR)


def _runner(model: nn.Module, optimizer, x: torch.Tensor, y: torch.Tensor) -> Runner:
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = x.unsqueeze(1), y.unsqueeze(1)  # (n, 1, 1, 28, 28) and (n, 1): one batch-1 view per sample

    def run(order: torch.Tensor) -> None:
        for i in order.tolist():
            optimizer.zero_grad()
            loss_fn(model(xs[i]), ys[i]).backward()
            optimizer.step()

    return run


def _rates(runners: dict[str, Runner], n: int, repeats: int) -> dict[str, float]:
    """Median samples/s of each runner over ``repeats`` passes of the first ``n`` samples, after a 20-sample
    warm-up each. The passes are interleaved (float, aihwkit, mtjxbar, float, ...) so that a change in the
    machine's load between passes hits every method alike instead of one method's block."""
    order = torch.arange(n)
    for run in runners.values():
        run(order[: min(20, n)])
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for k in range(repeats):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(order)
            rates[name].append(n / (time.perf_counter() - t0))
            print(f"  {name}: pass {k + 1}/{repeats}: {rates[name][-1]:.1f} samples/s", file=sys.stderr, flush=True)
    return {name: statistics.median(r) for name, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set OMP_NUM_THREADS to match)")
    parser.add_argument("--data-dir", default=None, help="an MNIST folder (default: _data.py's choice)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.data_dir:
        d = load_dataset("mnist", args.data_dir, max_train=args.samples, max_test=1)
        x, y, source = d.train_x, d.train_y, args.data_dir
    else:
        x, y, source = bench_data(args.samples)
    x = x.view(-1, 1, 28, 28)
    n = len(x)
    rates, notes, runners, optimizers = {}, [], {}, {}
    for name in ("float", "aihwkit", "mtjxbar"):
        try:
            model, optimizers[name] = _method(name)
        except ImportError as error:
            notes.append(f"aihwkit not available ({error}); see bench/README.md to install it")
            print(notes[-1], file=sys.stderr)
            rates[name] = float("nan")
            continue
        runners[name] = _runner(model, optimizers[name], x, y)
    rates.update(_rates(runners, n, args.repeats))
    rates = {name: rates[name] for name in ("float", "aihwkit", "mtjxbar")}
    writes = optimizers["mtjxbar"].counts["writes"] / (args.repeats * n + min(20, n))
    notes.append(f"mtjxbar: {writes:.0f} rank-1 writes per sample (all four layers)")

    print(f"LeNet-style CNN, per-sample training (batch 1) on CPU, {n} samples of {source}, median of "
          f"{args.repeats} passes, {torch.get_num_threads()} torch thread(s)")
    for name, rate in rates.items():
        print(f"  {name:<8} {rate:8.1f} samples/s   ({1e3 / rate:.1f} ms per sample)")
    for note in notes:
        print(f"note: {note}")
    print(f"bench api_cnn_float_samples_per_s {rates['float']:.1f} samples/s")
    print(f"bench api_cnn_aihwkit_samples_per_s {rates['aihwkit']:.1f} samples/s")
    print(f"bench api_cnn_insitu_samples_per_s {rates['mtjxbar']:.1f} samples/s")
    print(f"bench api_cnn_vs_float_ratio {rates['mtjxbar'] / rates['float']:.4f} x")
    print(f"bench api_cnn_vs_aihwkit_ratio {rates['mtjxbar'] / rates['aihwkit']:.3f} x")


if __name__ == "__main__":
    main()
