"""How fast could a passive write path that follows the cells' states through a per-tile *linear response*
be, at best? Two floors, against float per-sample SGD of the same network in the same process.

    python bench/passive_linear_floor.py [--samples 50] [--wire-resistance 1] [--write-scheme v2] [--threads 1]

The idea the eighth round left open (docs/passive.md): keep, per 64 x 64 tile, the matrix ``T`` (4096 cells x
128 line sources) of cell voltages as a linear function of the tile's sources in its current states; a write
pattern's cell voltages are then products with ``T``, and a flip changes ``T`` through the tile's response
to the flipped cell (one more linear tile solve; then a rank-one update of ``T``, or a correction of every
later product, Woodbury, neither counted).

The script counts what one in-situ sample of ``bench/passive_step.py``'s network asks of the write circuit:
the write patterns solved per tile, the lines each drives away from its unselected level (the unselected
level's share is a cached product), the selected cells of the held patterns, and the flips, phase by phase.
It times the primitives on one tile of that network and adds up two floors:

* every cell: every cell of every pattern from its lines (a contiguous block of ``T``, the best case of
  picking them), what a metered run needs for the power; the flips of a phase solved in one call;
* selected cells: only the selected cells of the held patterns (a selected row's cells, row by row; the flip
  sampler bounds the other cells' hazards and evaluates a few candidates, which is not counted), the flips
  of a phase solved in one call.

Both leave out everything else the step needs: the compensation's model solves, the reads, resolving the
bias-dependent TMR (a pattern's AP cells sit at other points of the TMR curve than the ones ``T`` was built
at), building ``T`` (128 solves a tile), the hazards, the flip sampling and the network's own work. Such a
step is therefore slower than either floor. For scale the script also prints today's step split into its
circuit solves and the rest, as ``bench/passive_step.py`` does; the rest alone is what a path with free
solves would still cost. The counting's own time is taken out of the step. Ends with
``bench <name> <value> <unit>`` lines.
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial

import numpy as np
import torch
from _data import bench_data
from numba import njit
from passive_step import _config, _net, _per_sample_ms, _SolveClock
from scipy.linalg import blas

import mtjxbar.crossbar.passive.writes as passive_writes
from mtjxbar.crossbar.circuit import LineEnds, solve_tiles_cells
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.training import SoftwareMLP, train_insitu, train_software_epoch


class _WriteCounter:
    """What the write circuit is asked per sample: tile patterns solved (the array's own write circuit, not the
    compensation's model), the lines each drives away from its unselected level, the selected cells of the held
    patterns, and the flips, phase by phase. Its own time (``seconds``) is kept apart, to leave it out of the
    step's."""

    def __init__(self) -> None:
        self.patterns, self.lines, self.held, self.selected, self.selected_rows = 0, 0, 0, 0, 0
        self.flips, self.flip_phases = 0, 0
        self.seconds = 0.0
        solve, sample = passive_writes.solve_tiles_cells, passive_writes.sample_phase_flips

        def counted_solve(src_r, src_c, parallel, params, ends, row_starts, col_starts, **kw):
            t0 = time.perf_counter()
            self._count(np.atleast_2d(src_r), np.atleast_2d(src_c), row_starts, col_starts, kw.get("tiles"))
            self.seconds += time.perf_counter() - t0
            return solve(src_r, src_c, parallel, params, ends, row_starts, col_starts, **kw)

        def counted_sample(*args, **kw):
            out = sample(*args, **kw)
            self.flips += int(out[0].size)
            self.flip_phases += int(out[0].size > 0)
            return out

        passive_writes.solve_tiles_cells = counted_solve
        passive_writes.sample_phase_flips = counted_sample

    def _count(self, src_r, src_c, row_starts, col_starts, tiles) -> None:
        jobs = (len(src_r), len(row_starts) - 1, len(col_starts) - 1)
        tiles = np.ones(jobs, dtype=bool) if tiles is None else np.broadcast_to(tiles, jobs)
        for b in range(jobs[0]):  # b = 0: the held pattern, 1: the released one (writes.py's _solve_write)
            # the lines away from the pattern's unselected level (its most common source): T s needs only
            # their columns of T, the rest is a cached T s_unselected
            rows = np.add.reduceat(_off_level(src_r[b]), row_starts[:-1])
            cols = np.add.reduceat(_off_level(src_c[b]), col_starts[:-1])
            lines = (rows[:, None] + cols[None, :])[tiles[b]]
            self.patterns += int((lines > 0).sum())  # a tile with every line at the level needs no product
            self.lines += int(lines.sum())
            if b == 0:  # the selected cells: a selected row's cells on the selected columns
                on = np.broadcast_to(rows[:, None], tiles[b].shape)[tiles[b]]
                cells = on * np.broadcast_to(cols[None, :], tiles[b].shape)[tiles[b]]
                self.held += int((cells > 0).sum())
                self.selected += int(cells.sum())
                self.selected_rows += int(on[cells > 0].sum())


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


@njit(cache=True)
def _row_products(t, rows, lines, s, out):
    """``out[r] = sum_l t[lines[l], rows[r]] s[l]`` for ``t`` laid out as (line, row, column): the voltages of
    the cells on some rows from some lines' sources, each row's cells a contiguous, vectorised update."""
    for r in range(rows.size):
        acc = out[r]
        acc[:] = 0.0
        for i in range(lines.size):
            src, w = t[lines[i], rows[r]], s[i]
            for j in range(acc.size):
                acc[j] += src[j] * w


def _tile_primitives(array, lines: int, selected: int, batch: int, n: int = 64) -> dict[str, float]:
    """Times (us) of the linear-response primitives on the array's first ``n`` x ``n`` tile:

    * ``T s`` over all ``2 n`` sources (float32, float64) and over ``lines`` of them (float32, a contiguous
      block of ``T``: the best case of picking a pattern's lines);
    * the voltages of every cell on ``selected`` rows from ``lines`` sources (float32; the selected cells are
      those of the selected rows on the selected columns);
    * the rank-one update of ``T`` (float32, BLAS sger in place);
    * one linear tile solve of a unit source on one line (what a column of ``T``, or the response to one
      flipped cell, costs at least), alone and per source set of ``batch`` in one call."""
    rng = np.random.default_rng(0)
    cells, sources = n * n, 2 * n
    out = {}
    for name, dtype, k in (("matvec_f32", np.float32, sources), ("matvec_f64", np.float64, sources),
                           ("matvec_lines_f32", np.float32, max(lines, 1))):
        t, s = rng.random((cells, k)).astype(dtype), rng.random(k).astype(dtype)
        out[name] = _best_us(lambda t=t, s=s: t @ s)
    t = rng.random((sources, n, n)).astype(np.float32)
    idx = np.sort(rng.choice(n, max(selected, 1), replace=False))
    cols = np.sort(rng.choice(sources, max(lines, 1), replace=False))
    s, v_sel = rng.random(cols.size).astype(np.float32), np.empty((idx.size, n), dtype=np.float32)
    out["selected_f32"] = _best_us(lambda: _row_products(t, idx, cols, s, v_sel))
    # sger updates a Fortran-ordered T in place (no temporary outer product)
    t = np.asfortranarray(rng.random((cells, sources)).astype(np.float32))
    u, v = rng.random(cells).astype(np.float32), rng.random(sources).astype(np.float32)
    out["rank_one_f32"] = _best_us(lambda: blas.sger(-1.0, u, v, a=t, overwrite_a=True))
    full = array.line_ends("write")
    ends = LineEnds(full.end_r[:n], full.end_c[:n], full.far_r, full.far_c, full.w_r, full.w_c)
    params = {k: np.ascontiguousarray(v[:n, :n]) for k, v in array._params_np().items()}
    parallel = np.ascontiguousarray(array.parallel.cpu().numpy()[:n, :n])
    settings = {**array.relaxation_settings("write"), "bias_dependent": False}
    starts = np.array([0, n], dtype=np.int64)
    for name, b in (("tile_solve", 1), ("tile_solve_batched", max(batch, 1))):
        src_r, src_c = np.zeros((b, n)), np.zeros((b, n))
        src_r[np.arange(b), (n // 2 + np.arange(b)) % n] = 1.0  # a unit source on another line in each set
        out[name] = _best_us(lambda r=src_r, c=src_c: solve_tiles_cells(r, c, parallel, params, ends, starts, starts,
                                                                        **settings), repeat=5, number=50) / b
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--wire-resistance", type=float, default=1.0, help="ohm per segment (> 0)")
    parser.add_argument("--write-scheme", default="v2", choices=("v2", "v3"))
    parser.add_argument("--threads", type=int, default=1, help="torch, Numba and BLAS threads (0: defaults)")
    args = parser.parse_args()
    if not (args.wire_resistance > 0 and math.isfinite(args.wire_resistance)):
        parser.error(f"--wire-resistance {args.wire_resistance:g}: must be finite and > 0 (the floor is of a wired "
                     "array)")
    if args.samples < 1:
        parser.error(f"--samples {args.samples}: must be at least 1")
    if args.threads < 0:
        parser.error(f"--threads {args.threads}: must be >= 0 (0: the libraries' defaults)")
    if args.threads:
        limit_threads(args.threads)

    x, y, source = bench_data(args.samples + 20)
    warm, order = torch.arange(20), torch.arange(20, 20 + args.samples)
    config = _config(args, "passive", "eager")
    arch, net, gens = _net(config, x)
    train_insitu(net, x, y, config.training, 0, warm, gens)
    clock = _SolveClock()  # first, so that the counter's wrapper calls the timed solve
    c = _WriteCounter()
    step_ms = _per_sample_ms(partial(train_insitu, net, x, y, config.training, 0, order, gens), args.samples)
    step_ms -= 1e3 * c.seconds / args.samples  # the counting is not part of the step
    rest_ms = step_ms - 1e3 * clock.seconds / args.samples
    model = SoftwareMLP(arch, net.weights(), config.hardware.converters.input_range)
    train_software_epoch(model, x, y, warm, 0.01, clip=False)
    # the median of 5 float passes (the best of 5 would raise every ratio below)
    float_ms = float(np.median([_per_sample_ms(partial(train_software_epoch, model, x, y, order, 0.01, clip=False),
                                               args.samples) for _ in range(5)]))
    if not (c.patterns and c.held and c.flip_phases):  # the counter no longer sees the writes: no floor
        raise SystemExit(f"passive_linear_floor: counted {c.patterns} write patterns, {c.held} held ones with "
                         f"selected cells and {c.flip_phases} phases with flips in {args.samples} samples: the "
                         "writes no longer go through passive_writes.solve_tiles_cells / sample_phase_flips")
    per = 1.0 / args.samples
    patterns, held, flips = c.patterns * per, c.held * per, c.flips * per
    lines, selected = c.lines / max(c.patterns, 1), c.selected / max(c.held, 1)
    sel_rows, batch = c.selected_rows / max(c.held, 1), c.flips / max(c.flip_phases, 1)
    prim = _tile_primitives(net.layers[0].crossbar, round(lines), round(sel_rows), round(batch))

    # every cell of every pattern from its lines, a solve per flipped cell (its response; folding it into T,
    # rank-one, or correcting every later product instead, Woodbury, adds to that and is left out), the flips
    # of a phase in one call
    all_ms = (patterns * prim["matvec_lines_f32"] + flips * prim["tile_solve_batched"]) / 1e3
    # the selected cells of the held patterns alone (the sampler bounds the others' hazards and evaluates a
    # few candidates: left out), the flips of a phase solved in one call
    sel_ms = (held * prim["selected_f32"] + flips * prim["tile_solve_batched"]) / 1e3
    print(f"network {'-'.join(map(str, arch.sizes))} (differential pairs), {args.samples} per-sample steps on "
          f"{source}; passive: 64x64 tiles, {args.wire_resistance:g} ohm / segment, "
          f"{args.write_scheme.upper().replace('V', 'V/')}, fast write solver; {torch.get_num_threads()} threads")
    print(f"per sample: {patterns:.1f} write patterns on a tile, driving {lines:.1f} of its 128 lines away from "
          f"the unselected level; {held:.1f} held patterns with {selected:.0f} selected cells on {sel_rows:.1f} rows; "
          f"{flips:.1f} cells "
          f"flipped, {batch:.1f} a phase that flips any")
    print(f"the step {step_ms:.1f} ms, of which {rest_ms:.1f} ms outside the circuit solves; float SGD "
          f"{float_ms:.3f} ms (median of 5)")
    print(f"one 64 x 64 tile: T s {prim['matvec_f32']:.1f} us (float32), {prim['matvec_f64']:.1f} us (float64), "
          f"{prim['matvec_lines_f32']:.1f} us over {round(lines)} lines; the cells of {round(sel_rows)} rows "
          f"{prim['selected_f32']:.1f} us; rank-one update {prim['rank_one_f32']:.1f} us; one linear tile solve "
          f"{prim['tile_solve']:.1f} us, {prim['tile_solve_batched']:.1f} us each of {round(batch)} in one call")
    print(f"floor, every cell: {all_ms:.2f} ms a sample; selected cells only: {sel_ms:.2f} ms; "
          f"10x float SGD: {10 * float_ms:.2f} ms")
    print(f"bench passive_step_ms {step_ms:.1f} ms")
    print(f"bench step_rest_vs_float_ratio {rest_ms / float_ms:.0f} x")
    print(f"bench linear_floor_every_cell_vs_float_ratio {all_ms / float_ms:.1f} x")
    print(f"bench linear_floor_selected_cells_vs_float_ratio {sel_ms / float_ms:.1f} x")


if __name__ == "__main__":
    main()
