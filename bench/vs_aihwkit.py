"""Per-sample training throughput: float PyTorch SGD, aihwkit analog SGD and mtjxbar in-situ, same process.

    OMP_NUM_THREADS=1 python bench/vs_aihwkit.py [--samples 2000] [--threads 1] [--repeats 3]

Same data (the first ``--samples`` of ../shared/data/mnist-train10k, see ``_data.py``), same 784-256-10
network without biases, batch size 1, every method over the same samples in the same order:

* float: ``nn.Sequential(Linear(784, 256), Tanh, Linear(256, 10))``, ``CrossEntropyLoss``, ``torch.optim.SGD``;
* aihwkit (optional, benchmark-only; see README.md): the same layers as ``AnalogLinear`` in an
  ``AnalogSequential``, ``SingleRPUConfig(device=ConstantStepDevice())``, ``AnalogSGD``;
* mtjxbar in-situ, 1T1MTJ, default device and training config (as ``train_throughput.py``). Its default
  codes each class on 8 output neurons (a 784-256-80 physical network), so it is also timed with
  ``training.outputs_per_class = 1`` (784-256-10): that figure is the one the ratios use.

Each is warmed up over the first 100 samples, then timed over all of them ``--repeats`` times (training
goes on across passes); the median pass gives samples/s. Progress goes to stderr. Ends with one line per
headline figure: ``bench <name> <value> <unit>``; without aihwkit its ratio is ``nan``.
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

from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, build_architecture, train_insitu

HIDDEN, CLASSES, LR = 256, 10, 0.01
Runner = Callable[[torch.Tensor], None]  # trains over the given sample indices
Accuracy = Callable[[], float]  # accuracy on the training samples, an untimed sanity check


def _torch_sgd(x: torch.Tensor, y: torch.Tensor, analog: bool) -> tuple[Runner, Accuracy]:
    """Per-sample SGD of the float network, or of its aihwkit analog twin (raises ImportError without it)."""
    if analog:
        from aihwkit.nn import AnalogLinear, AnalogSequential
        from aihwkit.optim import AnalogSGD
        from aihwkit.simulator.configs import ConstantStepDevice, SingleRPUConfig

        rpu = SingleRPUConfig(device=ConstantStepDevice())
        model = AnalogSequential(AnalogLinear(x.shape[1], HIDDEN, bias=False, rpu_config=rpu), nn.Tanh(),
                                 AnalogLinear(HIDDEN, CLASSES, bias=False, rpu_config=rpu))
        optimizer = AnalogSGD(model.parameters(), lr=LR)
        optimizer.regroup_param_groups(model)
    else:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(x.shape[1], HIDDEN, bias=False), nn.Tanh(),
                              nn.Linear(HIDDEN, CLASSES, bias=False))
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = x.unsqueeze(1), y.unsqueeze(1)  # (n, 1, 784) and (n, 1): one batch-1 view per sample

    def run(order: torch.Tensor) -> None:
        for i in order.tolist():
            optimizer.zero_grad()
            loss_fn(model(xs[i]), ys[i]).backward()
            optimizer.step()

    def accuracy() -> float:
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean())

    return run, accuracy


def _insitu(x: torch.Tensor, y: torch.Tensor, outputs_per_class: int | None) -> tuple[Runner, Accuracy, str]:
    """mtjxbar in-situ training as bench/train_throughput.py builds it (k = 1)."""
    config = ExperimentConfig()
    if outputs_per_class is not None:
        config = replace_path(config, "training.outputs_per_class", outputs_per_class)
    arch = build_architecture(x, CLASSES, (HIDDEN,), config.training)
    net = InSituNetwork(arch, config.hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    gens = [generator(0, f"write.layer{i}") for i in range(len(net.layers))]
    last = {"accuracy": float("nan")}

    def run(order: torch.Tensor) -> None:
        last["accuracy"] = train_insitu(net, x, y, config.training, 0, order, gens).train_accuracy

    return run, lambda: last["accuracy"], "-".join(map(str, arch.sizes))


def _rate(name: str, run: Runner, n: int, repeats: int) -> float:
    """Median samples/s over ``repeats`` passes of the first ``n`` samples, after a 100-sample warm-up."""
    order = torch.arange(n)
    run(order[: min(100, n)])
    rates = []
    for k in range(repeats):
        t0 = time.perf_counter()
        run(order)
        rates.append(n / (time.perf_counter() - t0))
        print(f"  {name}: pass {k + 1}/{repeats}: {rates[-1]:.0f} samples/s", file=sys.stderr, flush=True)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set OMP_NUM_THREADS to match)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y, source = bench_data(args.samples)
    n = len(x)
    results = {}  # label -> (samples/s, accuracy on the samples after training)

    run, acc = _torch_sgd(x, y, analog=False)
    results["float PyTorch SGD, 784-256-10"] = (_rate("float", run, n, args.repeats), acc())
    aihwkit_note = ""
    try:
        run, acc = _torch_sgd(x, y, analog=True)
    except ImportError as error:
        aihwkit_note = f"aihwkit not available ({error}); see bench/README.md to install it"
        print(aihwkit_note, file=sys.stderr)
    else:
        import aihwkit

        label = f"aihwkit {aihwkit.__version__} AnalogSGD, ConstantStepDevice, 784-256-10"
        results[label] = (_rate("aihwkit", run, n, args.repeats), acc())
    for per_class in (None, 1):
        run, acc, sizes = _insitu(x, y, per_class)
        note = "default: 8 output neurons per class" if per_class is None else "outputs_per_class = 1"
        results[f"mtjxbar in-situ 1T1MTJ, {sizes} ({note})"] = (_rate(f"mtjxbar {sizes}", run, n, args.repeats),
                                                               acc())

    print(f"per-sample training (batch 1), {n} samples of {source}, median of {args.repeats} passes, "
          f"{torch.get_num_threads()} torch thread(s)")
    width = max(map(len, results))
    for label, (rate, accuracy) in results.items():
        print(f"  {label:<{width}} {rate:8.0f} samples/s   accuracy {accuracy:.3f}")
    print("  (accuracy on the training samples, a sanity check: PyTorch and aihwkit evaluated after the last pass, "
          "mtjxbar online during it)")
    rates = [rate for rate, _ in results.values()]
    float_rate, insitu_rate = rates[0], rates[-1]
    aihwkit_rate = rates[1] if len(rates) == 4 else float("nan")
    print(f"ratios use the 784-256-10 in-situ figure ({insitu_rate:.0f} samples/s)")
    if aihwkit_note:
        print(f"note: {aihwkit_note}")
    print(f"bench float_samples_per_s {float_rate:.0f} samples/s")
    print(f"bench aihwkit_samples_per_s {aihwkit_rate:.0f} samples/s")
    print(f"bench insitu_samples_per_s {insitu_rate:.0f} samples/s")
    print(f"bench insitu_vs_float_ratio {insitu_rate / float_rate:.3f} x")
    print(f"bench insitu_vs_aihwkit_ratio {insitu_rate / aihwkit_rate:.3f} x")


if __name__ == "__main__":
    main()
