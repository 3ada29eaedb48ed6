"""The passive step's circuit solves alone: record every line-relaxation call of some bench samples, then replay
them, by kind (reads, the compensation's model, the write patterns), with tile solves, sweeps and time.

    python bench/passive_solve_replay.py [--samples 10] [--wire-resistance 1] [--write-scheme v2]
                                         [--against OLD.py]

The network and arrays are ``bench/passive_step.py``'s (784-64-80, differential pairs, 64 x 64 tiles, the
fast write solver). Replaying the same recorded calls takes the training loop, the sampler and the machine's
other jobs out of the comparison, so a kernel change shows where the whole step's noise hides it.
``--against`` loads another version of ``crossbar/circuit/line_relaxation.py`` (for example
``git show REV:src/mtjxbar/crossbar/circuit/line_relaxation.py > /tmp/old.py``) next to this checkout's and
replays the calls through both, interleaved, best of ``--repeats``; it prints the largest difference of their
cell voltages. One Numba thread. Ends with ``bench <name> <value> <unit>`` lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _data import bench_data
from passive_step import _config, _net

import mtjxbar.crossbar.circuit.line_relaxation as line_relaxation
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.training import train_insitu


def _load(path: Path):
    """A line_relaxation module from another file (its package-relative import made absolute)."""
    source = path.read_text().replace("from ...device import physics", "from mtjxbar.device import physics")
    source = source.replace("cache=True", "cache=False")  # Numba caches only functions of importable modules
    name = f"_replayed_{path.stem}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - a file the user names
    return module


def _record(args) -> list[tuple[tuple, dict]]:
    x, y, _ = bench_data(args.samples + 5)
    config = _config(args, "passive", "eager", "fast")
    _, net, gens = _net(config, x)
    train_insitu(net, x, y, config.training, 0, torch.arange(5), gens)  # warm-up (and Numba's compilation)
    calls, run = [], line_relaxation._run

    def recorded(*a, **kw):
        calls.append((a, kw))
        return run(*a, **kw)

    line_relaxation._run = recorded
    try:
        train_insitu(net, x, y, config.training, 0, torch.arange(5, 5 + args.samples), gens)
    finally:
        line_relaxation._run = run
    return calls


def _kind(a: tuple) -> str:
    """reads (line currents), the compensation's model (fixed conductances) or the write patterns."""
    return "write" if a[10] and a[7] else ("compensation" if a[10] else "read")


def _replay(module, calls, kinds=None) -> list:
    """Every call through ``module``; with ``kinds``, also count tile solves and sweeps per kind."""
    out = []
    for a, kw in calls:
        a = list(a)
        e = a[4]
        a[4] = module.LineEnds(e.end_r, e.end_c, e.far_r, e.far_c, e.w_r, e.w_c)
        if kw.get("start") is not None:
            kw = {**kw, "start": module.TileNodes(*kw["start"])}
        t0 = time.perf_counter()
        out.append(module._run(*a, **kw)[0])
        if kinds is not None:
            k = kinds.setdefault(_kind(a), [0.0, 0, 0])
            k[0] += time.perf_counter() - t0
            opts = {"tiles": kw.get("tiles"), "over_relax": kw.get("over_relax", False)}
            nodes = module.solve_tiles_nodes(*a[:7], bias_dependent=a[7], tolerance=a[8], max_sweeps=a[9], **opts)
            k[1] += int(nodes.solved.sum())
            k[2] += nodes.sweeps
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--wire-resistance", type=float, default=1.0, help="ohm per segment (> 0)")
    parser.add_argument("--write-scheme", default="v2", choices=("v2", "v3"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another line_relaxation.py to replay the calls through")
    args = parser.parse_args()
    if args.wire_resistance <= 0:
        parser.error("--wire-resistance must be > 0 (ideal wires take no line relaxation)")
    if args.against is not None and not args.against.is_file():
        parser.error(f"--against {args.against}: no such file")
    limit_threads(1)
    calls = _record(args)
    kinds: dict[str, list] = {}
    mine = _replay(line_relaxation, calls, kinds)
    print(f"{len(calls)} solve calls from {args.samples} samples, {args.wire_resistance:g} ohm, {args.write_scheme}")
    for kind, (seconds, tiles, sweeps) in kinds.items():
        print(f"{kind:>12}: {tiles / args.samples:6.0f} tile solves / sample, "
              f"{sweeps / max(tiles, 1):.2f} sweeps each, {1e3 * seconds / args.samples:6.1f} ms / sample")
    modules = {"this checkout": line_relaxation}
    if args.against is not None:
        modules["--against"] = _load(args.against)
        theirs = _replay(modules["--against"], calls)
        worst = max(float(np.abs(p - q).max()) for p, q in zip(mine, theirs, strict=True))
        print(f"largest difference of a cell voltage (or a line current): {worst:.3g}")
    best = {name: float("inf") for name in modules}
    for _ in range(args.repeats):
        for name, module in modules.items():
            t0 = time.perf_counter()
            _replay(module, calls)
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, seconds in best.items():
        print(f"{name}: {1e3 * seconds / args.samples:.1f} ms of solves / sample (best of {args.repeats})")
    print(f"bench passive_replayed_solves_ms {1e3 * best['this checkout'] / args.samples:.1f} ms")
    if args.against is not None:
        print(f"bench passive_replay_speedup {best['--against'] / best['this checkout']:.2f} x")


if __name__ == "__main__":
    sys.exit(main())
