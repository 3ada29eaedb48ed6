"""The fast passive write path's levers, each taken out in turn, same process (docs/passive.md's table).

    python bench/passive_levers.py [--samples 8] [--rounds 3]

Records the writes (the states before each and its plan) of ``--samples`` in-situ steps of
``bench/passive_step.py``'s network (784-64-80, 64x64 tiles, 1 ohm, V/2, fast solver, after 20 warm-up
steps), then replays them (same generator seed each time) with the exact solver, the fast one, and the
fast one without each lever: padded scratch planes, over-relaxation, the released-pattern tile skip, the
compensation model's tile skip, and all four at once. Prints the median write time per sample of
``--rounds`` interleaved rounds and, from one more replay each, the tile solves and line sweeps per sample
(deterministic). Monkeypatches the solver's internals to take the levers out: a measurement, not an API.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numba
import numpy as np
import torch
from _data import bench_data
from passive_step import _config, _net

import mtjxbar.crossbar.circuit.line_relaxation as relaxation
import mtjxbar.crossbar.passive.writes as writes
import mtjxbar.periphery.passive_compensation as compensation
from mtjxbar.crossbar.passive import PassiveCrossbar
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.training import train_insitu

LEVERS = ("exact", "fast", "-all", "-pad", "-sor", "-skip_released", "-skip_model")
PADDED, SETTINGS = relaxation._scratch, PassiveCrossbar.relaxation_settings
SOLVE_W, SOLVE_C, KERNEL = writes.solve_tiles_cells, compensation.solve_tiles_cells, relaxation._tiles_kernel


def _unpadded(rows, cols):
    size, threads = max(rows, cols), numba.config.NUMBA_NUM_THREADS
    return (np.empty((threads, 17, size, size)), np.empty((threads, size, size)), np.empty((threads, size, size)),
            np.empty((threads, 2, size)))


def _plain(self, purpose="read"):
    return {**SETTINGS(self, purpose), "over_relax": False}


def _all_tiles(fn):
    def solve(*a, **kw):
        kw.pop("tiles", None)
        return fn(*a, **kw)
    return solve


def _configure(arrays, name: str) -> None:
    every = name == "-all"
    relaxation._scratch = _unpadded if name == "-pad" or every else PADDED
    PassiveCrossbar.relaxation_settings = _plain if name == "-sor" or every else SETTINGS
    writes.solve_tiles_cells = _all_tiles(SOLVE_W) if name == "-skip_released" or every else SOLVE_W
    compensation.solve_tiles_cells = _all_tiles(SOLVE_C) if name == "-skip_model" or every else SOLVE_C
    for xb in arrays:
        xb.circuit_solver = dataclasses.replace(xb.circuit_solver, write_solver="exact" if name == "exact" else "fast")


def _record(samples: int):
    class Args:
        wire_resistance, write_scheme = 1.0, "v2"
    x, y, _ = bench_data(20 + samples)
    config = _config(Args, "passive", "eager")
    _, net, gens = _net(config, x)
    train_insitu(net, x, y, config.training, 0, torch.arange(20), gens)
    arrays, recorded = [layer.crossbar for layer in net.layers], []
    for xb in arrays:
        def write(plan, gen, xb=xb, original=xb.write):
            recorded.append((xb, xb.parallel.clone(), plan))
            return original(plan, gen)
        xb.write = write
    train_insitu(net, x, y, config.training, 0, torch.arange(20, 20 + samples), gens)
    for xb in arrays:
        del xb.write
    return arrays, recorded


def _replay(recorded, samples: int) -> float:
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for xb, states, plan in recorded:
        xb.set_states(states)
        xb.write(plan, gen)
    return 1e3 * (time.perf_counter() - t0) / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    limit_threads(1)
    arrays, recorded = _record(args.samples)
    times = {name: [] for name in LEVERS}
    for _ in range(args.rounds):
        for name in LEVERS:
            _configure(arrays, name)
            times[name].append(_replay(recorded, args.samples))
    counts = {"solves": 0, "sweeps": 0}

    def counted(*a):
        out = KERNEL(*a)
        counts["solves"] += int((a[-2] > 0).sum())  # sweeps_of: the sweeps of each job, 0 if skipped
        counts["sweeps"] += int(a[-2].sum())
        return out

    relaxation._tiles_kernel = counted
    fast = statistics.median(times["fast"])
    for name in LEVERS:
        _configure(arrays, name)
        counts.update(solves=0, sweeps=0)
        _replay(recorded, args.samples)
        ms = statistics.median(times[name])
        print(f"{name:>15}: {ms:7.1f} ms / sample ({ms / fast:.3f} x fast), {counts['solves'] / args.samples:6.1f} "
              f"tile solves, {counts['sweeps'] / args.samples:7.1f} sweeps ({counts['sweeps'] / counts['solves']:.2f}"
              f" per solve); rounds {[round(t, 1) for t in times[name]]}")
    relaxation._tiles_kernel = KERNEL
    _configure(arrays, "fast")


if __name__ == "__main__":
    main()
