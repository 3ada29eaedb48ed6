"""How many write circuits a passive step would still solve if the flip sampler bounded every cell's hazard
*before* solving, and what that would cost (issue 23, eleventh round of docs/passive.md).

    python bench/passive_screening.py [--samples 6] [--settings 1:v3 2.5:v2]

The sampler already thins (``crossbar/passive/survival.py``): it draws candidate flips from an upper bound of
the hazards and keeps each with its exact hazard's share. Drawn before the write circuit is solved, a tile
with no candidate would need no solve at all. That needs a voltage bound that (a) never falls below a cell's
exact voltage where the cell can switch, (b) is close enough that few tiles draw a candidate, and (c) costs
much less than the solves it saves. This measures, on the passive study's network (784-512-160, a reference
column, 64 x 64 tiles, compensation 2 steps, no meter; ``bench/passive_study_step.py``'s settings), after 5
samples of warm-up, over ``--samples`` training samples, three voltage estimates of the held and released
patterns. All three are empirical: none is a theorem, and on small V/3 tiles some cells exceed them
(``tests/experiments/test_screening_bench.py``).

* ``nominal``: the ideal-wire voltage of the phase's final (compensated) sources, row minus column;
* ``min_g``: the same sources on the linear model of the tile with every cell at the least conductance any
  cell has (the largest R_P times 1 + the largest TMR0: an AP cell at zero bias), less IR drop everywhere.
  Solved here to measure it; a periphery would take it from a response table (``periphery/passive_response.py``),
  whose products are costed for every row of both patterns;
* ``hybrid``: ``min_g`` on the held pattern's selected rows (products for those rows only), ``nominal``
  elsewhere.

For each: the exact-over-bound voltage ratio of the cells that matter (a hazard above 1e-7 at their exact
voltage), of all of them and of the held pattern's selected cells; the hazard it misses (the sum over cells of
the exact hazard above the bound's, per sample, against the exact hazard: the expected flips a screened sampler
would lose); the expected number of tile-phases that draw a candidate (the sum over tile-phases of
``1 - exp(-H)``, ``H`` the tile's bound hazard). Cost of a screened write, per sample: the bound's products
(timed on the response table of the compensation, the same shapes), one pass of every cell's hazard at the
bound (timed; the thinned sampler's class bounds would be cheaper and looser), and the exact solves of the
tiles that draw (each tile drawn at random with its probability, and those tiles' held and released patterns
solved again, timed as one call), against the write-pattern solves of the step today. Ends with ``bench <name>
<value> <unit>`` lines for the first setting.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _data import bench_data
from passive_study_step import _config

import mtjxbar.crossbar.passive.writes as passive_writes
from mtjxbar.crossbar.circuit import solve_tiles_cells
from mtjxbar.crossbar.passive.survival import phase_log_survival
from mtjxbar.experiments.state import RunState
from mtjxbar.experiments.threads import limit_threads
from mtjxbar.periphery.passive_response import TileResponses
from mtjxbar.training import train_insitu

BOUNDS = ("nominal", "hybrid", "min_g")


def tile_sums(cells: np.ndarray, row_starts: np.ndarray, col_starts: np.ndarray) -> np.ndarray:
    """Sum of a (rows, cols) array over each tile, (row tiles, col tiles)."""
    return np.add.reduceat(np.add.reduceat(cells, row_starts[:-1], axis=0), col_starts[:-1], axis=1)


def bound_volts(array, rows: np.ndarray, cols: np.ndarray, selected_rows: np.ndarray) -> dict[str, np.ndarray]:
    """The three voltage estimates (2, N, M) of a write with row sources ``rows`` (2, N: held, released) and
    column sources ``cols`` (2, M) on ``array``; ``selected_rows`` (N,) bool, the held pattern's."""
    nominal = rows[:, :, None] - cols[:, None, :]
    p = array.cell_params_np()
    r_min_g = float(np.max(p["r_p"]) * (1.0 + np.max(p["tmr0"])))
    model = {"r_p": np.full((array.rows, array.cols), r_min_g), "tmr0": 0.0, "v_h": 1.0}
    kw = {**array.relaxation_settings("write"), "bias_dependent": False}
    min_g = solve_tiles_cells(rows, cols, np.ones((array.rows, array.cols), dtype=bool), model,
                              array.line_ends("write"), *array.tile_starts, **kw)
    hybrid = nominal.copy()
    hybrid[0, selected_rows] = min_g[0, selected_rows]
    return {"nominal": nominal, "hybrid": hybrid, "min_g": min_g}


class _Probe:
    """Hooks the passive writes while open (``with _Probe() as probe``): each phase's exact voltages (``last``:
    the latest phase's) and write solve, the bounds, and what a screened write would cost."""

    def __init__(self, seed: int = 0) -> None:
        self.reset()
        self.responses: dict = {}
        self.rng = np.random.default_rng(seed)

    def __enter__(self) -> _Probe:
        self._originals = (passive_writes.solve_tiles_cells, passive_writes.PassiveWrites._phase_intervals)
        solve, intervals = self._originals
        probe = self

        def timed_solve(rows, cols, *a, tiles=None, **kw):
            t0 = time.perf_counter()
            out = solve(rows, cols, *a, tiles=tiles, **kw)
            probe.solve_s += time.perf_counter() - t0
            jobs = (len(rows), len(a[3]) - 1, len(a[4]) - 1)
            probe.solves += int(np.broadcast_to(tiles, jobs).sum()) if tiles is not None else int(np.prod(jobs))
            probe._call = (solve, rows, cols, a, kw, np.ones(jobs, dtype=bool) if tiles is None else tiles)
            return out

        def hooked(array, phase):
            probe._call = None
            volts, duration = intervals(array, phase)
            probe.measure(array, phase, volts, duration)
            return volts, duration
        passive_writes.solve_tiles_cells = timed_solve
        passive_writes.PassiveWrites._phase_intervals = hooked
        return self

    def __exit__(self, *exc) -> None:
        passive_writes.solve_tiles_cells, passive_writes.PassiveWrites._phase_intervals = self._originals

    def reset(self) -> None:
        self.ratios = {b: [] for b in BOUNDS}  # every cell that matters, both patterns
        self.aimed_ratios = {b: [] for b in BOUNDS}  # the held pattern's selected cells that matter
        self.tile_hazards = {b: [] for b in BOUNDS}  # per phase, (tiles,)
        self.missed = {b: 0.0 for b in BOUNDS}  # exact hazard above the bound's, summed over cells and phases
        self.exact_hazard = 0.0
        self.cost_s = {b: {"products": 0.0, "hazards": 0.0, "solves": 0.0} for b in BOUNDS}
        self.resolved = {b: 0 for b in BOUNDS}  # tile solves of the screened writes
        self.solve_s, self.solves, self.product_s = 0.0, 0, {"selected": [], "all": []}
        self._call, self.last = None, None

    def measure(self, array, phase, volts, duration) -> None:
        if self._call is None:  # an ideal-wire array: no circuit
            return
        self.last = volts
        solve, rows, cols, args, kw, solved = self._call
        states, params = array.parallel.cpu().numpy(), array.cell_params_np()
        dev, floors = array.device_params, array.log_floors()
        row_starts, col_starts = array.tile_starts

        def hazard(v, d):
            return -phase_log_survival(v, d, states, params, dev.n_exponent, dev.tau_d, floors)
        exact = [hazard(volts[k:k + 1], duration[k:k + 1]) for k in range(2)]
        exact_total = exact[0] + exact[1]
        self.exact_hazard += float(exact_total.sum())
        selected_rows = phase.row_widths.cpu().numpy() > 0
        matters_held = selected_rows[:, None] & (phase.col_currents.cpu().numpy() > 0)[None, :] & (exact[0] > 1e-7)
        products = self._time_products(array, rows, cols, selected_rows)
        for name, bound in bound_volts(array, rows, cols, selected_rows).items():
            for k in range(2):
                matters = (exact[k] > 1e-7) & (np.abs(bound[k]) > 1e-9)
                self.ratios[name].append(volts[k][matters] / bound[k][matters])
            aimed = matters_held & (np.abs(bound[0]) > 1e-9)
            self.aimed_ratios[name].append(volts[0][aimed] / bound[0][aimed])
            t0 = time.perf_counter()
            h = hazard(bound, duration)
            self.cost_s[name]["hazards"] += time.perf_counter() - t0
            self.missed[name] += float(np.maximum(exact_total - h, 0.0).sum())
            tiles = tile_sums(h, row_starts, col_starts)
            self.tile_hazards[name].append(tiles.ravel())
            self.cost_s[name]["products"] += products[name]
            # the screened write: the tiles that draw a candidate, their held and released patterns (where
            # today's write solves them) solved again, in one call
            drawn = solved & (self.rng.random(tiles.shape) < -np.expm1(-tiles))[None]
            if drawn.any():
                t0 = time.perf_counter()
                solve(rows, cols, *args, tiles=drawn, **kw)
                self.cost_s[name]["solves"] += time.perf_counter() - t0
                self.resolved[name] += int(drawn.sum())

    def _time_products(self, array, rows, cols, selected_rows) -> dict[str, float]:
        """Seconds of the response table's products a bound needs for this phase: the held pattern's
        selected rows (hybrid), every row of both patterns (min_g), none (nominal)."""
        if array not in self.responses:
            self.responses[array] = TileResponses(array)
        responses = self.responses[array]
        index, _ = responses.chord(0.5)
        every_col = np.arange(array.cols)
        if not self.product_s["all"]:  # the table's build and the kernel's first call (compilation): not timed
            responses.selected_voltages(index, rows[0], cols[0], np.arange(array.rows), every_col)
        seconds = {}
        for name, which in (("selected", np.nonzero(selected_rows)[0]), ("all", np.arange(array.rows))):
            t0 = time.perf_counter()
            responses.selected_voltages(index, rows[0], cols[0], which, every_col)
            seconds[name] = time.perf_counter() - t0
            self.product_s[name].append(seconds[name])
        return {"nominal": 0.0, "hybrid": seconds["selected"], "min_g": 2 * seconds["all"]}


def report(setting: str, probe: _Probe, n: int) -> list[str]:
    """Print one setting's figures; its ``bench`` lines."""
    tile_phases = sum(h.size for h in probe.tile_hazards["min_g"]) / n
    print(f"{setting}: {tile_phases:.0f} write tile-phases and {probe.solves / n:.0f} write tile solves a "
          f"sample ({1e3 * probe.solve_s / n:.1f} ms); expected flips {probe.exact_hazard / n:.2f} a sample")
    lines, tag = [], setting.replace(":", "ohm_").replace(".", "p")
    today = probe.solve_s / n
    for name in BOUNDS:
        r, aimed = np.concatenate(probe.ratios[name]), np.concatenate(probe.aimed_ratios[name])
        to_solve = float(-np.expm1(-np.concatenate(probe.tile_hazards[name])).sum()) / n
        cost = {k: v / n for k, v in probe.cost_s[name].items()}
        screened = sum(cost.values())
        print(f"  {name:>7}: exact / bound median {np.median(r):.3f}, largest {r.max():.4f} "
              f"({np.mean(r > 1):.1e} above 1; the held pattern's selected cells: largest {aimed.max():.4f}); "
              f"missed hazard {probe.missed[name] / n:.2e} a sample; tiles drawing a candidate {to_solve:.1f} a "
              f"sample ({100 * to_solve / tile_phases:.0f} %, {probe.resolved[name] / n:.0f} tile solves); "
              f"screened write {1e3 * screened:.1f} ms a sample (products {1e3 * cost['products']:.1f}, hazards "
              f"{1e3 * cost['hazards']:.1f}, solves {1e3 * cost['solves']:.1f}) against {1e3 * today:.1f}")
        lines += [f"bench screening_{tag}_{name}_largest_ratio {r.max():.4f} 1",
                  f"bench screening_{tag}_{name}_largest_aimed_ratio {aimed.max():.4f} 1",
                  f"bench screening_{tag}_{name}_tiles_to_solve_share {100 * to_solve / tile_phases:.0f} %",
                  f"bench screening_{tag}_{name}_write_solve_speedup {today / screened:.2f} x"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--settings", nargs="+", default=["1:v3", "2.5:v2"])
    args = parser.parse_args()
    limit_threads(1)
    x, y, source = bench_data(args.samples + 5)
    lines = []
    for k, setting in enumerate(args.settings):
        config = _config(setting)
        state = RunState(config, x, 10, meter=False)
        with _Probe() as probe:
            train_insitu(state.net, x, y, config.training, 0, torch.arange(5), state.write_gens)
            probe.reset()  # drop the warm-up's records
            train_insitu(state.net, x, y, config.training, 0, torch.arange(5, 5 + args.samples), state.write_gens)
        setting_lines = report(setting, probe, args.samples)
        lines += setting_lines if k == 0 else []
    print(f"network 784-512-160, {args.samples} samples of {source}, one thread")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
