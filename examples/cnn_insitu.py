"""A LeNet-style CNN trained in situ on MTJ crossbars with the torch API, against float and ex-situ training.

    OMP_NUM_THREADS=1 python examples/cnn_insitu.py [--datasets mnist fashion-mnist] [--train 2000]
        [--test 2000] [--epochs 1] [--seeds 0 1 2] [--lr 0.02] [--insitu-lr LR] [--conv-scale 1]
        [--headroom 1] [--rule flips|transfer] [--mtjs 4] [--sweep 8] [--buffer-mtjs 2]
        [--init random|program] [--float-sweep LR ...] [--out docs/results/cnn_insitu]

The network (``build``): Conv2d(1, 4, 5) - tanh - max-pool 2 - Conv2d(4, 8, 5) - tanh - max-pool 2 -
Linear(128, 32) - tanh - Linear(32, 10), biases included, on 28x28 images with pixels in [0, 1]. Every
method sees the same first ``--train`` training images in the same shuffled order per epoch (seeded), one
sample per step, and is tested on the first ``--test`` test images:

* **float**: ``torch.optim.SGD(lr=--lr)`` on the float model;
* **ex situ**: the float-trained model converted with ``init="program"`` (nearest representable weights,
  ideal write-verify), not trained further;
* **in situ**: ``mtjxbar.convert(float model at its initialisation, headroom=--headroom)``: each layer's
  gain is ``--headroom`` times the one that maps its largest initial weight to the end of the logical
  range, so training can grow weights that far; the states start random (``--init random``) or programmed
  to the float model's initial weights (``--init program``), and :class:`mtjxbar.optim.InSituSGD` trains
  all four crossbar layers in situ (the convolutions one rank-1 write per output position). Each crossbar
  layer gets its own param group with ``lr = --insitu-lr / (gain / input_range)**2`` (times
  ``--conv-scale`` for the convolutions): a request ``dW`` on the logical weights moves the effective float
  weight ``gain * W / input_range`` by ``(gain / input_range) * dW``, so that lr asks of every layer, in
  expectation, the float step of ``--insitu-lr`` (before the synapse's bounds). The float biases get plain
  SGD at ``--insitu-lr`` in the same optimizer (``--insitu-lr`` defaults to ``--lr``).

Hardware: the default ``HardwareConfig`` (1T1MTJ, default device, ideal converters) with ``--rule flips``:
``--mtjs`` MTJs per synapse flipping independently (``mtjs_per_synapse``, reference scheme); ``--rule
transfer``: the buffer-and-counter synapse (``--buffer-mtjs`` buffer MTJs, a 6-bit counter, ``--sweep``
samples between two transfers of a column; the convolutions' buffers integrate all positions of the
samples in between). Progress goes to stderr; ``runs.json``, ``runs.csv`` and ``table.md`` (mean and
spread of the test accuracy over seeds, with the command and sizes) go to ``--out`` after every seed, and a
run started again with the same settings and ``--out`` goes on from the seeds already there.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import mtjxbar
from mtjxbar.experiments.datasets import load_dataset
from mtjxbar.nn import InSituLayer
from mtjxbar.optim import InSituSGD
from mtjxbar.periphery import MappingConfig, TransferConfig

DATA_DIRS = {"mnist": str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-train10k"),
             "fashion-mnist": None}  # None: Debian's folder
METHODS = ("float", "ex situ", "in situ")


def build(seed: int) -> nn.Sequential:
    """The float LeNet-style network with torch's default initialisation under ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 5), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128, 32), nn.Tanh(), nn.Linear(32, 10))


def crossbar_layers(model: nn.Module) -> list[InSituLayer]:
    """The trainable crossbar layers of a converted model (not the tiles inside a convolution)."""
    return [m for m in model.modules() if isinstance(m, InSituLayer) and m.handle.requires_grad]


def insitu_optimizer(model: nn.Module, lr: float, seed: int, conv_scale: float = 1.0) -> InSituSGD:
    """One param group per crossbar layer at ``lr / (gain / input_range)**2`` (times ``conv_scale`` for a
    convolution), the float parameters at ``lr``."""
    groups, handles = [], set()
    for layer in crossbar_layers(model):
        ratio = layer.gain / layer.hardware.converters.input_range
        scale = conv_scale if isinstance(layer, mtjxbar.nn.MTJConv2d) else 1.0
        groups.append({"params": [layer.handle], "lr": scale * lr / ratio**2})
        handles.add(id(layer.handle))
    floats = [p for p in model.parameters() if id(p) not in handles and p.requires_grad]
    groups.append({"params": floats, "lr": lr})
    return InSituSGD(groups, lr=lr, seed=seed)


def train(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int,
          label: str) -> float:
    """Per-sample training; returns seconds per sample."""
    g = torch.Generator().manual_seed(seed)
    n, t0, done = len(x), time.perf_counter(), 0
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g).tolist()
        for k, i in enumerate(order):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
            opt.step()
            done += 1
            if (k + 1) % 500 == 0 or k + 1 == n:
                rate = done / (time.perf_counter() - t0)
                print(f"    {label}: epoch {epoch + 1}/{epochs}, {k + 1}/{n} samples, {rate:.1f} samples/s",
                      file=sys.stderr, flush=True)
    return (time.perf_counter() - t0) / max(done, 1)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 500) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum()) for i in range(0, len(x), chunk))
    model.train()
    return hits / len(x)


def run_one(dataset: str, seed: int, x, y, xt, yt, args, hardware) -> list[dict]:
    rows = []
    fmodel = build(seed)
    insitu = mtjxbar.convert(fmodel, hardware, init=args.init, seed=seed, headroom=args.headroom)  # gains: float init
    s_float = train(fmodel, torch.optim.SGD(fmodel.parameters(), lr=args.lr), x, y, args.epochs, seed,
                    f"{dataset} seed {seed} float")
    rows.append({"method": "float", "accuracy": accuracy(fmodel, xt, yt), "s_per_sample": s_float})
    exsitu = mtjxbar.convert(fmodel, hardware, init="program", seed=seed)
    rows.append({"method": "ex situ", "accuracy": accuracy(exsitu, xt, yt), "s_per_sample": 0.0})
    opt = insitu_optimizer(insitu, args.insitu_lr if args.insitu_lr is not None else args.lr, seed, args.conv_scale)
    s_insitu = train(insitu, opt, x, y, args.epochs, seed, f"{dataset} seed {seed} in situ")
    for layer in crossbar_layers(insitu):  # progress: each transfer layer's counts and weights at the bound
        counts = opt.state[layer.handle].get("transfer")
        if counts is not None:
            w = layer.weights()
            print(f"    {type(layer).__name__} {tuple(w.shape)}: transfers {counts}; |W| > 0.97: "
                  f"{float((w.abs() > 0.97).float().mean()):.3f}", file=sys.stderr, flush=True)
    rows.append({"method": "in situ", "accuracy": accuracy(insitu, xt, yt), "s_per_sample": s_insitu,
                 "writes": opt.counts["writes"], "flips": opt.counts["flips"]})
    for row in rows:
        row.update(dataset=dataset, seed=seed)
        print(f"  {dataset} seed {seed} {row['method']}: test accuracy {row['accuracy']:.4f}", file=sys.stderr,
              flush=True)
    return rows


def float_sweep(dataset: str, seed: int, x, y, xt, yt, args, hardware) -> list[dict]:
    """Float SGD of the same model at every lr of ``--float-sweep`` (method ``"float lr <lr>"``), and each
    trained model programmed ex situ (``"ex_situ"``): the float baseline at its own best lr, so that in situ is
    not compared with an untuned float run."""
    rows = []
    for lr in args.float_sweep:
        model = build(seed)
        s = train(model, torch.optim.SGD(model.parameters(), lr=lr), x, y, args.epochs, seed,
                  f"{dataset} seed {seed} float lr {lr:g}")
        exsitu = mtjxbar.convert(model, hardware, init="program", seed=seed)
        rows.append({"method": f"float lr {lr:g}", "lr": lr, "accuracy": accuracy(model, xt, yt), "s_per_sample": s,
                     "ex_situ": accuracy(exsitu, xt, yt), "dataset": dataset, "seed": seed})
        print(f"  {dataset} seed {seed} float lr {lr:g}: test accuracy {rows[-1]['accuracy']:.4f}", file=sys.stderr,
              flush=True)
    return rows


def best_float(runs: list[dict], dataset: str) -> tuple[float, list[float], list[float]] | None:
    """The ``--float-sweep`` lr with the best mean test accuracy over seeds, its accuracies and those of its
    models programmed ex situ (None without a sweep)."""
    by_lr: dict[float, list[dict]] = {}
    for r in runs:
        if r["dataset"] == dataset and "lr" in r:
            by_lr.setdefault(r["lr"], []).append(r)
    if not by_lr:
        return None
    lr = max(by_lr, key=lambda k: statistics.mean(r["accuracy"] for r in by_lr[k]))
    return lr, [r["accuracy"] for r in by_lr[lr]], [r["ex_situ"] for r in by_lr[lr]]


def rule_words(args) -> str:
    if args.rule == "transfer":
        return (f"buffer + counter ({args.buffer_mtjs} + 6 MTJs per synapse, a column transfer every {args.sweep} "
                "samples)")
    return f"independent flips, {args.mtjs} MTJs per synapse"


def hardware_for(args) -> mtjxbar.HardwareConfig:
    if args.rule == "transfer":
        return mtjxbar.HardwareConfig(transfer=TransferConfig(counter_bits=6, buffer_mtjs=args.buffer_mtjs,
                                                              samples_per_sweep=args.sweep))
    return mtjxbar.HardwareConfig(mapping=MappingConfig(mtjs_per_synapse=args.mtjs))


def spread(acc: list[float]) -> str:
    """Mean ± standard deviation (over seeds) of test accuracies, in percent."""
    sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
    return f"{100 * statistics.mean(acc):.1f} ± {100 * sd:.1f} %"


def table(runs: list[dict], args, command: str) -> str:
    sweep = bool(args.float_sweep)
    lines = ["| data set | seeds | float SGD | ex situ (float, then programmed) | in situ (InSituSGD) "
             "| in-situ s/sample |" + (" float SGD at its best lr of the sweep | its ex situ |" if sweep else ""),
             "| --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if sweep else "")]
    for dataset in args.datasets:
        seeds = sorted({r["seed"] for r in runs if r["dataset"] == dataset})
        if not seeds:
            continue
        cells = [str(len(seeds))]
        for method in METHODS:
            cells.append(spread([r["accuracy"] for r in runs if r["dataset"] == dataset and r["method"] == method]))
        per = [r["s_per_sample"] for r in runs if r["dataset"] == dataset and r["method"] == "in situ"]
        best = best_float(runs, dataset) if sweep else None
        extra = "" if not sweep else " - | - |" if best is None else \
            f" {spread(best[1])} (lr {best[0]:g}) | {spread(best[2])} |"
        lines.append(f"| {dataset} | " + " | ".join(cells) + f" | {statistics.mean(per) * 1e3:.0f} ms |" + extra)
    sizes = (f"{args.train} training images, {args.epochs} epoch(s), batch 1, tested on the first {args.test} test "
             f"images; seeds {', '.join(map(str, args.seeds))} (mean ± standard deviation over seeds); "
             f"{rule_words(args)}, default device, 1T1MTJ, in-situ init {args.init}, headroom {args.headroom:g}; "
             f"float SGD lr {args.lr:g}, in-situ lr {args.lr if args.insitu_lr is None else args.insitu_lr:g} "
             f"(the crossbar layers' float equivalent, the convolutions' x {args.conv_scale:g})")
    return "\n".join(["Test accuracy of the LeNet-style CNN (examples/cnn_insitu.py)", "", *lines, "",
                      f"Sizes: {sizes}.", "", f"Command: `{command}`", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=list(DATA_DIRS))
    parser.add_argument("--train", type=int, default=2000, help="training images (the first N)")
    parser.add_argument("--test", type=int, default=2000, help="test images (the first N)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lr", type=float, default=0.02, help="float SGD's lr (and the in-situ lr by default)")
    parser.add_argument("--insitu-lr", type=float, default=None, help="the in-situ layers' float-equivalent lr "
                        "and the in-situ model's float biases' lr (default: --lr)")
    parser.add_argument("--conv-scale", type=float, default=1.0, help="extra factor on the convolutions' in-situ lr")
    parser.add_argument("--headroom", type=float, default=1.0, help="in-situ layers' gain: this x the float init's "
                        "(mtjxbar.convert's headroom: the initial weights take 1/headroom of the range)")
    parser.add_argument("--buffer-mtjs", type=int, default=2, help="buffer MTJs per synapse (--rule transfer)")
    parser.add_argument("--float-sweep", type=float, nargs="*", default=[], metavar="LR",
                        help="also train float SGD at each of these lrs; the table adds the best one's accuracy")
    parser.add_argument("--rule", choices=["flips", "transfer"], default="flips")
    parser.add_argument("--mtjs", type=int, default=4, help="MTJs per synapse (--rule flips)")
    parser.add_argument("--sweep", type=int, default=8, help="samples between transfers of a column (transfer)")
    parser.add_argument("--init", choices=["random", "program"], default="random", help="in-situ start")
    parser.add_argument("--out", default="docs/results/cnn_insitu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = "OMP_NUM_THREADS=1 python examples/cnn_insitu.py " + " ".join(sys.argv[1:])
    hardware = hardware_for(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = resume(out, vars(args))
    for dataset in args.datasets:
        data = load_dataset(dataset, DATA_DIRS[dataset], max_train=args.train, max_test=args.test)
        x, xt = (t.view(-1, 1, *data.image_shape) for t in (data.train_x, data.test_x))
        print(f"{dataset}: {len(x)} training, {len(xt)} test images", file=sys.stderr, flush=True)
        for seed in args.seeds:
            mine = [r for r in runs if r["dataset"] == dataset and r["seed"] == seed]
            if not any(r["method"] == "in situ" for r in mine):
                runs.extend(run_one(dataset, seed, x, data.train_y, xt, data.test_y, args, hardware))
            else:
                print(f"  {dataset} seed {seed}: already in {out / 'runs.json'}", file=sys.stderr)
            swept = {r["lr"] for r in mine if "ex_situ" in r}
            if args.float_sweep and swept != set(args.float_sweep):  # a sweep added to saved seeds runs alone
                runs = [r for r in runs if not (r["dataset"] == dataset and r["seed"] == seed and "lr" in r)]
                runs.extend(float_sweep(dataset, seed, x, data.train_y, xt, data.test_y, args, hardware))
            save(out, command, args, runs)
    save(out, command, args, runs)
    print((out / "table.md").read_text())


def resume(out: Path, args: dict) -> list[dict]:
    """The runs already saved in ``out`` by the same settings (seeds and data sets aside), so a cut run goes on."""
    path = out / "runs.json"
    if not path.exists():
        return []
    saved = json.loads(path.read_text())
    same = ("train", "test", "epochs", "lr", "insitu_lr", "conv_scale", "headroom", "buffer_mtjs", "rule", "mtjs",
            "sweep", "init")
    if any(saved["args"].get(k) != args[k] for k in same):
        raise SystemExit(f"error: {path} holds runs of other settings; choose another --out or delete it")
    return [r for r in saved["runs"] if "lr" not in r or "ex_situ" in r]  # sweeps saved without ex situ: again


def save(out: Path, command: str, args, runs: list[dict]) -> None:
    """runs.json, runs.csv and table.md of the runs so far (written after every seed)."""
    (out / "runs.json").write_text(json.dumps({"command": command, "args": vars(args), "runs": runs}, indent=1))
    with open(out / "runs.csv", "w", newline="") as f:
        keys = ["dataset", "seed", "method", "lr", "accuracy", "ex_situ", "s_per_sample", "writes", "flips"]
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in keys} for r in runs)
    (out / "table.md").write_text(table(runs, args, command))

if __name__ == "__main__":
    main()
