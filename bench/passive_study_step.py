"""Time of an in-situ step on the network of the passive study table (``examples/passive_study_table.py``):
784-512-160 with a reference column (``examples/mnist_independent.toml``), metered as the table's runs are,
on each of the table's array settings, against float per-sample SGD of the same network, same process; each
passive step split into its circuit solves by kind (reads, the write compensation's model, the write
patterns) and the rest.

    python bench/passive_study_step.py [--samples 30] [--settings 1t1mtj 0:v2 1:v3 ...] [--no-meter]
                                       [--compensation-model solve|response]

Each setting trains the same MNIST samples after 5 of warm-up (Numba compiles there), one thread. The
projected core-hours are what the table's 3 seeds x 6 epochs x 10,000 samples of that setting would take
at this step time (the test passes and the ex-situ baseline not counted). Ends with
``bench <name> <value> <unit>`` lines.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _data import bench_data

import mtjxbar.crossbar.passive.array as passive_reads
import mtjxbar.crossbar.passive.writes as passive_writes
import mtjxbar.periphery.passive_compensation as compensation
from mtjxbar.config import replace_path
from mtjxbar.experiments.config import load_config
from mtjxbar.experiments.state import RunState
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.training import train_insitu, train_software_epoch

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("1t1mtj", "0:v2", "0:v3", "1:v2", "1:v3", "2.5:v2", "2.5:v3")


def _config(setting: str, compensation_model: str = "solve"):
    config = load_config(ROOT / "examples" / "mnist_independent.toml")
    if setting == "1t1mtj":
        return config
    ohm, scheme = setting.split(":")
    for path, value in (("hardware.array.kind", "passive"), ("hardware.array.tile_rows", 64),
                        ("hardware.array.tile_cols", 64), ("hardware.array.fidelity", "exact"),
                        ("hardware.array.write_compensation", 2), ("hardware.array.write_scheme", scheme),
                        ("hardware.array.circuit", {"r_wire_row": float(ohm), "r_wire_col": float(ohm)}),
                        ("hardware.array.write_compensation_model", compensation_model)):
        config = replace_path(config, path, value)
    return config


class _SolveSplit:
    """Wall time inside the passive arrays' circuit solves, by kind, while open: the reads (forward and
    transposed), the cell voltages of a read the meter asks for, the write compensation's model, and the write
    patterns."""

    KINDS = (("reads", passive_reads, "solve_tiles_currents"),
             ("the meter's read voltages", passive_reads, "solve_tiles_cells"),
             ("compensation model", compensation, "solve_tiles_cells"),
             ("write patterns", passive_writes, "solve_tiles_cells"))

    def __init__(self) -> None:
        self.seconds = {kind: 0.0 for kind, _, _ in self.KINDS}

    def __enter__(self) -> _SolveSplit:
        self._originals = []
        for kind, module, name in self.KINDS:
            self._originals.append((module, name, getattr(module, name)))
            setattr(module, name, self._timed(kind, getattr(module, name)))
        return self

    def __exit__(self, *exc) -> None:
        for module, name, fn in self._originals:
            setattr(module, name, fn)

    def _timed(self, kind: str, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[kind] += time.perf_counter() - t0
        return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--no-meter", action="store_true", help="without the cost meter (the table meters)")
    parser.add_argument("--compensation-model", default="solve", choices=("solve", "response"),
                        help="how the write compensation evaluates its model (the table's runs: solve)")
    args = parser.parse_args()
    limit_threads(1)
    x, y, source = bench_data(args.samples + 5)
    warm, order = torch.arange(5), torch.arange(5, 5 + args.samples)
    results = {}
    for setting in args.settings:
        config = _config(setting, args.compensation_model)
        state = RunState(config, x, 10, meter=not args.no_meter)
        tcfg = config.training
        train_insitu(state.net, x, y, tcfg, 0, warm, state.write_gens)
        with _SolveSplit() as split:
            t0 = time.perf_counter()
            train_insitu(state.net, x, y, tcfg, 0, order, state.write_gens)
            results[setting] = 1e3 * (time.perf_counter() - t0) / args.samples
        parts = {kind: 1e3 * sec / args.samples for kind, sec in split.seconds.items()}
        rest = results[setting] - sum(parts.values())
        shown = ", ".join(f"{kind} {ms:.1f}" for kind, ms in parts.items() if ms > 0)
        print(f"{setting:>7}: {results[setting]:8.1f} ms / sample" + (f" (circuit solves: {shown}; the rest {rest:.1f})"
                                                                       if shown else ""), flush=True)
    model = state.software["float"]
    train_software_epoch(model, x, y, warm, config.baselines.float_lr, clip=False)
    floats = []
    for _ in range(5):
        t0 = time.perf_counter()
        train_software_epoch(model, x, y, order, config.baselines.float_lr, clip=False)
        floats.append(1e3 * (time.perf_counter() - t0) / args.samples)
    results["float"] = min(floats)
    print(f"network {'-'.join(map(str, state.arch.sizes))}, {args.samples} samples of {source}, "
          f"{'no meter' if args.no_meter else 'metered'}; float SGD {results['float']:.3f} ms / sample")
    total = 0.0
    for setting in args.settings:
        hours = results[setting] * 1e-3 * 3 * 6 * 10_000 / 3600
        total += hours if setting != "1t1mtj" else 0.0
        print(f"{setting:>7}: {results[setting] / results['float']:7.0f} x float, {hours:5.1f} core-hours for "
              f"3 seeds x 6 epochs")
        name = setting.replace(":", "ohm_").replace(".", "p")
        print(f"bench study_step_{name}_ms {results[setting]:.1f} ms")
    print(f"bench study_passive_core_hours {total:.1f} h")


if __name__ == "__main__":
    main()
