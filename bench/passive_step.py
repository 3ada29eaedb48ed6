"""Time of an in-situ training step on passive (0T1MTJ) arrays, against the same network on 1T1MTJ arrays and
float per-sample PyTorch SGD, same process.

    python bench/passive_step.py [--samples 200] [--wire-resistance 1] [--write-scheme v2] [--threads N]

Network: the issue-4 table's 784-64-10 with 8 outputs per class as differential pairs (arrays of 784 x 128
and 64 x 160 cells), 64 x 64 tiles (26 + 3), exact circuit reads and writes (line relaxation, bias-dependent
TMR), write compensation 2 steps, per-tile read calibration. Data: the first samples of
../shared/data/mnist-train10k (else digits upsampled to 28x28). Each method runs the same samples after a
warm-up (the Numba kernels compile there); float SGD, whose pass is short, is timed as the best of 5
passes. The passive step is split into the time inside the circuit solves (reads, write patterns, the
compensation's model solves) and the rest. ``--threads``: torch, Numba
and BLAS threads (0: the libraries' defaults; a passive array's tiles are solved in parallel).
The passive step runs twice, with the exact write solver (the reference, ``write_solver = exact``) and with
the fast one (the default); ``solves`` counts tile solves per sample (one source set on one tile; all-zero
tiles, skipped by the solver, included; tiles a solve was told to skip, as the fast path's released
patterns and the compensation model's tiles without a selected cell, left out). Ends with
``bench <name> <value> <unit>`` lines; the ratio lines use the default (fast) solver. ``passive_response``:
the fast solver with the compensation's model taken from its response table
(``write_compensation_model = "response"``) instead of solved per phase.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch
from _data import bench_data

import mtjxbar.crossbar.passive.array as passive_reads
import mtjxbar.crossbar.passive.writes as passive_writes
import mtjxbar.periphery.passive_calibration as calibration
import mtjxbar.periphery.passive_compensation as compensation
from mtjxbar.config import replace_path
from mtjxbar.experiments.config import ExperimentConfig
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, SoftwareMLP, build_architecture, train_insitu, train_software_epoch


def _config(args, kind: str, engine: str, write_solver: str = "fast", model: str = "solve") -> ExperimentConfig:
    config = ExperimentConfig()
    for path, value in (("hardware.mapping.scheme", "differential"), ("training.outputs_per_class", 8),
                        ("training.center_inputs", True), ("training.gain_scales", (1.0, 4.0)),
                        ("training.engine", engine), ("hardware.array.kind", kind)):
        config = replace_path(config, path, value)
    if kind == "passive":
        wires = {"r_wire_row": args.wire_resistance, "r_wire_col": args.wire_resistance}
        for path, value in (("hardware.array.tile_rows", 64), ("hardware.array.tile_cols", 64),
                            ("hardware.array.circuit", wires), ("hardware.array.write_scheme", args.write_scheme),
                            ("hardware.circuit_solver.write_solver", write_solver),
                            ("hardware.array.write_compensation_model", model)):
            config = replace_path(config, path, value)
    return config


def _net(config: ExperimentConfig, x: torch.Tensor):
    arch = build_architecture(x, 10, (64,), config.training)
    net = InSituNetwork(arch, config.hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(0, f"init.layer{i}"))
    return arch, net, [generator(0, f"write.layer{i}") for i in range(len(net.layers))]


class _SolveClock:
    """Wall time spent inside the passive arrays' circuit solves (the relaxation's two entry points, where the
    array and the periphery's calibration and compensation call them)."""

    def __init__(self) -> None:
        self.seconds, self.solves = 0.0, 0
        for module in (passive_reads, passive_writes, calibration, compensation):
            for name in ("solve_tiles_cells", "solve_tiles_currents", "solve_tiles_nodes"):
                if hasattr(module, name):
                    setattr(module, name, self._timed(getattr(module, name)))

    def _timed(self, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                out = fn(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0
            # (src_r, src_c, parallel, params, ends, row_starts, col_starts): source sets x tiles
            jobs = (len(np.atleast_2d(a[0])), len(a[5]) - 1, len(a[6]) - 1)
            solved = getattr(out, "solved", kw.get("tiles"))
            self.solves += int(np.broadcast_to(solved, jobs).sum()) if solved is not None else int(np.prod(jobs))
            return out
        return wrapper


def _per_sample_ms(run, samples: int) -> float:
    t0 = time.perf_counter()
    run()
    return 1e3 * (time.perf_counter() - t0) / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--wire-resistance", type=float, default=1.0, help="ohm per segment (> 0)")
    parser.add_argument("--write-scheme", default="v2", choices=("v2", "v3"))
    parser.add_argument("--threads", type=int, default=0, help="torch, Numba and BLAS threads (0: defaults)")
    args = parser.parse_args()
    if args.threads:
        limit_threads(args.threads)
    import numba

    x, y, source = bench_data(args.samples + 20)
    warm, order = torch.arange(20), torch.arange(20, 20 + args.samples)
    clock = _SolveClock()
    results = {}
    solves = {}
    for name, kind, engine in (("passive_exact", "passive", "eager"), ("passive", "passive", "eager"),
                               ("passive_response", "passive", "eager"), ("1t1mtj_eager", "1t1mtj", "eager"),
                               ("1t1mtj_fused", "1t1mtj", "fused")):
        config = _config(args, kind, engine, "exact" if name == "passive_exact" else "fast",
                         "response" if name == "passive_response" else "solve")
        arch, net, gens = _net(config, x)
        train_insitu(net, x, y, config.training, 0, warm, gens)
        clock.seconds, clock.solves = 0.0, 0
        results[name] = _per_sample_ms(partial(train_insitu, net, x, y, config.training, 0, order, gens),
                                       args.samples)
        if kind == "passive":
            solves[name] = (1e3 * clock.seconds / args.samples, clock.solves / args.samples)
    model = SoftwareMLP(arch, net.weights(), config.hardware.converters.input_range)
    train_software_epoch(model, x, y, warm, 0.01, clip=False)
    # a float pass lasts milliseconds, at the mercy of any other job on the machine: the best of 5 (which
    # can only raise the passive ratios)
    results["float"] = min(_per_sample_ms(partial(train_software_epoch, model, x, y, order, 0.01, clip=False),
                                          args.samples) for _ in range(5))
    print(f"network {'-'.join(map(str, arch.sizes))} (differential pairs), {args.samples} per-sample steps on "
          f"{source}; passive: 64x64 tiles, {args.wire_resistance:g} ohm / segment, "
          f"{args.write_scheme.upper().replace('V', 'V/')}; {torch.get_num_threads()} torch, "
          f"{numba.get_num_threads()} Numba threads")
    for name, ms in results.items():
        print(f"{name:>13}: {ms:9.3f} ms / sample")
    for name, (ms, count) in solves.items():
        print(f"{name} step: {ms:.1f} ms in circuit solves ({count:.0f} tile solves / sample), "
              f"{results[name] - ms:.1f} ms the rest")
    print(f"bench passive_exact_step_ms {results['passive_exact']:.1f} ms")
    print(f"bench passive_fast_vs_exact_speedup {results['passive_exact'] / results['passive']:.2f} x")
    print(f"bench passive_step_ms {results['passive']:.1f} ms")
    print(f"bench passive_solves_ms {solves['passive'][0]:.1f} ms")
    print(f"bench passive_tile_solves_per_sample {solves['passive'][1]:.0f} 1")
    print(f"bench passive_vs_1t1mtj_eager_ratio {results['passive'] / results['1t1mtj_eager']:.1f} x")
    print(f"bench passive_response_step_ms {results['passive_response']:.1f} ms")
    print(f"bench passive_response_vs_solve_speedup {results['passive'] / results['passive_response']:.2f} x")
    print(f"bench passive_vs_float_ratio {results['passive'] / results['float']:.0f} x")


if __name__ == "__main__":
    main()
