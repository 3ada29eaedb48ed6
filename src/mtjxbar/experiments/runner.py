"""One experiment: in-situ MTJ training and the software baselines on the same data, net, epochs, seed."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from .. import __version__
from ..config import to_dict
from ..hardware import attach_meter
from ..periphery import SynapseMapping
from ..rng import generator
from ..training import InSituNetwork, SoftwareMLP, build_architecture, evaluate, train_insitu, train_software_epoch
from .config import ExperimentConfig
from .datasets import Dataset, load_dataset
from .progress import ProgressPrinter

__all__ = ["run_experiment", "epoch_order", "write_results"]


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The training-sample order of one epoch (the same for every method)."""
    return torch.randperm(n, generator=generator(seed, f"data.order.epoch{epoch}"))


def _load(config: ExperimentConfig) -> Dataset:
    d = config.data
    return load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)


def run_experiment(config: ExperimentConfig, progress: ProgressPrinter | None = None,
                   data: Dataset | None = None, meter: bool = True) -> dict:
    """Train every method of ``config`` and return the results record (see README for its keys).

    With ``meter`` the in-situ arrays report their events to the cost model (``mtjxbar.hardware``) and the
    record gets the hardware totals under ``"hardware"``.
    """
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda': no CUDA device is available here; use --device cpu")
    progress = progress or ProgressPrinter(quiet=True)
    data = data or _load(config)
    dev = torch.device(config.device)
    train_x, train_y = data.train_x.to(dev), data.train_y.to(dev)
    test_x, test_y = data.test_x.to(dev), data.test_y.to(dev)
    tcfg, hw = config.training, config.hardware
    arch = build_architecture(train_x, data.n_classes, config.hidden, tcfg)
    net = InSituNetwork(arch, hw, device=config.device)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(config.seed, f"init.layer{i}", device="cpu"))
    initial = net.weights()
    write_gens = [generator(config.seed, f"write.layer{i}", device=config.device) for i in range(len(net.layers))]
    hardware_meter = attach_meter(net, hw) if meter else None
    methods = ["insitu", *config.baselines.methods]
    history: dict[str, list[float]] = {m: [] for m in methods}
    train_hist: dict[str, list[float]] = {m: [] for m in methods if m != "exsitu"}
    seconds = {m: 0.0 for m in methods if m != "exsitu"}
    insitu_stats = []
    levels = SynapseMapping(1, hw.mapping).levels
    # Software baselines start from shadow weights uniform in [-1, 1] (BinaryConnect's shadow weights
    # must not start saturated at +-1, or no sign can change for many steps); the same start for both.
    shadow = [torch.rand(w.shape, generator=generator(config.seed, f"init.shadow{i}")) * 2.0 - 1.0
              for i, w in enumerate(initial)]
    software = {
        "float": SoftwareMLP(arch, shadow, hw.converters.input_range).to(dev),
        "binary_software": SoftwareMLP(arch, shadow, hw.converters.input_range, quantizer=levels).to(dev),
    }
    exsitu_net = InSituNetwork(arch, hw, device=config.device) if "exsitu" in methods else None
    n_train = len(train_x)
    for epoch in range(tcfg.epochs):
        order = epoch_order(config.seed, epoch, n_train).to(dev)
        tag = f"epoch {epoch + 1}/{tcfg.epochs}"
        progress.start(f"{tag} insitu")
        t0 = time.perf_counter()
        if hardware_meter is not None:
            with hardware_meter.epoch():
                stats = train_insitu(net, train_x, train_y, tcfg, epoch, order, write_gens, progress.update)
        else:
            stats = train_insitu(net, train_x, train_y, tcfg, epoch, order, write_gens, progress.update)
        seconds["insitu"] += time.perf_counter() - t0
        history["insitu"].append(evaluate(net.predict, test_x, test_y, tcfg.eval_batch))
        train_hist["insitu"].append(stats.train_accuracy)
        insitu_stats.append({"updates": stats.updates, "flips": stats.flips, "phases": stats.phases,
                             "flips_per_layer": stats.flips_per_layer})
        progress.finish(f"test {history['insitu'][-1]:.4f}, train {stats.train_accuracy:.4f}, "
                        f"{stats.flips:,} flips")
        for name, lr, clip in (("float", config.baselines.float_lr, False),
                               ("binary_software", config.baselines.binary_lr, True)):
            if name not in methods:
                continue
            progress.start(f"{tag} {name}")
            t0 = time.perf_counter()
            acc = train_software_epoch(software[name], train_x, train_y, order, lr * tcfg.lr_decay**epoch, clip,
                                       progress.update)
            seconds[name] += time.perf_counter() - t0
            history[name].append(evaluate(software[name].predict, test_x, test_y, tcfg.eval_batch))
            train_hist[name].append(acc)
            progress.finish(f"test {history[name][-1]:.4f}, train {acc:.4f}")
        if exsitu_net is not None:
            for layer, w in zip(exsitu_net.layers, software["binary_software"].quantized_weights(), strict=True):
                layer.program(w)
            history["exsitu"].append(evaluate(exsitu_net.predict, test_x, test_y, tcfg.eval_batch))
            progress.start(f"{tag} exsitu")
            progress.finish(f"test {history['exsitu'][-1]:.4f} (binary_software weights programmed)")
    results = {
        "dataset": data.name,
        "seed": config.seed,
        "epochs": tcfg.epochs,
        "hidden": list(config.hidden),
        "sizes": list(arch.sizes),
        "gains": list(arch.gains),
        "config": to_dict(config),
        "accuracy": {m: h[-1] for m, h in history.items()},
        "history": history,
        "train_accuracy": train_hist,
        "train_seconds": seconds,
        "samples_per_second": {m: tcfg.epochs * n_train / s for m, s in seconds.items() if s > 0},
        "insitu_epochs": insitu_stats,
        "n_train": n_train,
        "n_test": len(test_x),
        "version": __version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if hardware_meter is not None:
        results["hardware"] = hardware_meter.summary()
    return results


def write_results(results: dict, out_dir: Path) -> Path:
    """Write ``results.json`` atomically (temporary file, fsync, rename) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = out_dir / ".results.json.tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
