"""How fast could a passive write path that follows the cells' states through a per-tile *linear response*
be, at best? A floor, against float per-sample SGD of the same network in the same process.

    python bench/passive_linear_floor.py [--samples 50] [--wire-resistance 1] [--write-scheme v2] [--threads 1]

The idea the eighth round left open (docs/passive.md): keep, per 64 x 64 tile, the matrix ``T`` (4096 cells x
128 line sources) of cell voltages as a linear function of the tile's sources in its current states; a write
pattern's cell voltages are then one product ``T s``, and a flip changes ``T`` by a rank-one update, which
needs the tile's response to the flipped cell (one more linear tile solve) and an outer product (or, kept
aside, a correction of every later product: Woodbury).

This script counts what one in-situ sample of ``bench/passive_step.py``'s network asks of the write circuit
(write patterns solved per tile, cells flipped), times the primitives on one tile of that network (``T s``
in float32 and float64 over all 128 sources, and over the lines a pattern drives away from its unselected
level, the rest being a cached product; the rank-one update; one linear tile solve of the line relaxation),
and adds up the products over those lines and one solve per flipped cell. The sum leaves out everything
else the step needs: the compensation's model solves, the reads, relinearising ``T`` for the bias-dependent
TMR (a pattern's selected and half-selected AP cells sit at other points of the TMR curve than the ones
``T`` was built at), building ``T`` (128 solves a tile), the hazards, the flip sampling and the network's
own work. So the step of such a path is *slower* than the floor printed here; where the floor is above 10x
float SGD, the path cannot reach the issue's 10x. For scale it also prints today's step split into its
circuit solves and the rest (as ``bench/passive_step.py`` does): the rest alone is what a path with free
solves would still cost.
Ends with ``bench <name> <value> <unit>`` lines.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch
from _data import bench_data
from passive_step import _config, _net, _per_sample_ms, _SolveClock
from scipy.linalg import blas

import mtjxbar.crossbar.passive.writes as passive_writes
from mtjxbar.crossbar.circuit import LineEnds, solve_tiles_cells
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.training import SoftwareMLP, train_insitu, train_software_epoch


class _WriteCounter:
    """Write-pattern tile solves (the array's own write circuit, not the compensation's model) and flips."""

    def __init__(self) -> None:
        self.patterns, self.lines, self.flips = 0, 0, 0
        solve, write = passive_writes.solve_tiles_cells, passive_writes.PassiveWrites.write

        def counted_solve(src_r, src_c, parallel, params, ends, row_starts, col_starts, **kw):
            src_r, src_c = np.atleast_2d(src_r), np.atleast_2d(src_c)
            jobs = (len(src_r), len(row_starts) - 1, len(col_starts) - 1)
            tiles = kw.get("tiles")
            tiles = np.ones(jobs, dtype=bool) if tiles is None else np.broadcast_to(tiles, jobs)
            for b in range(jobs[0]):
                # the lines away from the pattern's unselected level (its most common source): T s needs only
                # their columns of T, the rest is a cached T s_unselected
                rows, cols = _off_level(src_r[b]), _off_level(src_c[b])
                per_row_tile = np.add.reduceat(rows, row_starts[:-1])
                per_col_tile = np.add.reduceat(cols, col_starts[:-1])
                lines = per_row_tile[:, None] + per_col_tile[None, :]
                self.patterns += int(tiles[b].sum())
                self.lines += int(lines[tiles[b]].sum())
            return solve(src_r, src_c, parallel, params, ends, row_starts, col_starts, **kw)

        def counted_write(array, plan, gen):
            result = write(array, plan, gen)
            self.flips += int(result.flipped_cells.numel())
            return result

        passive_writes.solve_tiles_cells = counted_solve
        passive_writes.PassiveWrites.write = counted_write


def _off_level(sources: np.ndarray) -> np.ndarray:
    """Which lines sit away from the most common source value (the unselected lines' level), as 0/1."""
    values, counts = np.unique(sources, return_counts=True)
    if counts.max() == 1:  # no shared level: every line counts
        return np.ones(sources.size, dtype=np.int64)
    return (sources != values[counts.argmax()]).astype(np.int64)


def _best_us(fn, repeat: int = 7, number: int = 200) -> float:
    """Best of ``repeat`` timings of ``number`` calls, in microseconds a call."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return 1e6 * best


def _tile_primitives(array, lines: int, n: int = 64) -> dict[str, float]:
    """Times (us) of the linear-response primitives on the array's first ``n`` x ``n`` tile: ``T s`` over all
    ``2 n`` sources (float32, float64) and over ``lines`` of them (float32, a contiguous block of ``T``: the
    best case of picking a pattern's lines), the rank-one update of ``T`` (float32), and one linear tile solve
    of a unit source on one line (what a column of ``T``, or the response to one flipped cell, costs at
    least)."""
    rng = np.random.default_rng(0)
    cells, sources = n * n, 2 * n
    out = {}
    for name, dtype, k in (("matvec_f32", np.float32, sources), ("matvec_f64", np.float64, sources),
                           ("matvec_lines_f32", np.float32, max(lines, 1))):
        t, s = rng.random((cells, k)).astype(dtype), rng.random(k).astype(dtype)
        out[name] = _best_us(lambda t=t, s=s: t @ s)
    # the rank-one update in place by BLAS (sger on a Fortran-ordered T: no temporary outer product)
    t = np.asfortranarray(rng.random((cells, sources)).astype(np.float32))
    u, v = rng.random(cells).astype(np.float32), rng.random(sources).astype(np.float32)
    out["rank_one_f32"] = _best_us(lambda: blas.sger(-1.0, u, v, a=t, overwrite_a=True))
    full = array.line_ends("write")
    ends = LineEnds(full.end_r[:n], full.end_c[:n], full.far_r, full.far_c, full.w_r, full.w_c)
    params = {k: np.ascontiguousarray(v[:n, :n]) for k, v in array._params_np().items()}
    parallel = np.ascontiguousarray(array.parallel.cpu().numpy()[:n, :n])
    src_r, src_c = np.zeros((1, n)), np.zeros((1, n))
    src_r[0, n // 2] = 1.0
    settings = {**array.relaxation_settings("write"), "bias_dependent": False}
    starts = np.array([0, n], dtype=np.int64)
    out["tile_solve"] = _best_us(lambda: solve_tiles_cells(src_r, src_c, parallel, params, ends, starts, starts,
                                                           **settings), repeat=5, number=50)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--wire-resistance", type=float, default=1.0, help="ohm per segment (> 0)")
    parser.add_argument("--write-scheme", default="v2", choices=("v2", "v3"))
    parser.add_argument("--threads", type=int, default=1, help="torch, Numba and BLAS threads (0: defaults)")
    args = parser.parse_args()
    if args.wire_resistance <= 0:
        parser.error(f"--wire-resistance {args.wire_resistance:g}: must be > 0 (the floor is of a wired array)")
    if args.samples < 1:
        parser.error(f"--samples {args.samples}: must be at least 1")
    if args.threads:
        limit_threads(args.threads)

    x, y, source = bench_data(args.samples + 20)
    warm, order = torch.arange(20), torch.arange(20, 20 + args.samples)
    config = _config(args, "passive", "eager")
    arch, net, gens = _net(config, x)
    train_insitu(net, x, y, config.training, 0, warm, gens)
    clock = _SolveClock()  # first, so that the counter's wrapper calls the timed solve
    counter = _WriteCounter()
    step_ms = _per_sample_ms(partial(train_insitu, net, x, y, config.training, 0, order, gens), args.samples)
    rest_ms = step_ms - 1e3 * clock.seconds / args.samples
    patterns, flips = counter.patterns / args.samples, counter.flips / args.samples
    model = SoftwareMLP(arch, net.weights(), config.hardware.converters.input_range)
    train_software_epoch(model, x, y, warm, 0.01, clip=False)
    float_ms = min(_per_sample_ms(partial(train_software_epoch, model, x, y, order, 0.01, clip=False),
                                  args.samples) for _ in range(5))
    lines = counter.lines / max(counter.patterns, 1)
    prim = _tile_primitives(net.layers[0].crossbar, round(lines))

    products_ms = patterns * prim["matvec_lines_f32"] / 1e3
    # each flip needs at least the tile's response to that cell (one solve); folding it into T (the rank-one
    # update) or correcting every later product instead (Woodbury) adds to that, and is left out of the floor
    updates_ms = flips * prim["tile_solve"] / 1e3
    floor_ms = products_ms + updates_ms
    print(f"network {'-'.join(map(str, arch.sizes))} (differential pairs), {args.samples} per-sample steps on "
          f"{source}; passive: 64x64 tiles, {args.wire_resistance:g} ohm / segment, "
          f"{args.write_scheme.upper().replace('V', 'V/')}, fast write solver; {torch.get_num_threads()} threads")
    print(f"per sample: {patterns:.1f} write patterns solved on a tile, {flips:.1f} cells flipped; "
          f"the step itself {step_ms:.1f} ms, of which {rest_ms:.1f} ms outside the circuit solves; "
          f"float SGD {float_ms:.3f} ms")
    print(f"a pattern drives {lines:.1f} of a tile's 128 lines away from the unselected level")
    print(f"one 64 x 64 tile: T s {prim['matvec_f32']:.1f} us (float32), {prim['matvec_f64']:.1f} us (float64), "
          f"{prim['matvec_lines_f32']:.1f} us over {round(lines)} lines (float32); "
          f"rank-one update {prim['rank_one_f32']:.1f} us; one linear tile solve {prim['tile_solve']:.1f} us")
    print(f"floor: {products_ms:.2f} ms of products + {updates_ms:.2f} ms of flipped cells' responses = "
          f"{floor_ms:.2f} ms "
          f"a sample, against 10x float = {10 * float_ms:.2f} ms")
    print(f"bench linear_floor_products_ms {products_ms:.2f} ms")
    print(f"bench linear_floor_flip_responses_ms {updates_ms:.2f} ms")
    print(f"bench passive_step_ms {step_ms:.1f} ms")
    print(f"bench step_rest_vs_float_ratio {rest_ms / float_ms:.0f} x")
    print(f"bench linear_floor_vs_float_ratio {floor_ms / float_ms:.1f} x")


if __name__ == "__main__":
    main()
