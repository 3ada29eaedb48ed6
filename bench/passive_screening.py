"""How many write circuits a passive step would still solve if the flip sampler bounded every cell's hazard
*before* solving, and what evaluating such a bound costs (issue 23, eleventh round of docs/passive.md).

    python bench/passive_screening.py [--samples 6] [--settings 1:v3 2.5:v2]

The sampler already thins (``crossbar/passive/survival.py``): it draws candidate flips from an upper bound of
the hazards and keeps each with its exact hazard's share. Drawn before the write circuit is solved, a tile
with no candidate would need no solve at all. That needs a voltage bound that (a) never falls below a cell's
exact voltage where the cell can switch, (b) is close enough that few tiles draw a candidate, and (c) costs
much less than the solve it saves. This measures, on the passive study's network (784-512-160, a reference
column, 64 x 64 tiles, compensation 2 steps, no meter; ``bench/passive_study_step.py``'s settings), after 5
samples of warm-up, over ``--samples`` training samples, two bounds of the held and released patterns:

* ``nominal``: the ideal-wire voltage of the phase's final (compensated) sources, row minus column, which
  the maximum principle of resistive networks nearly guarantees;
* ``min_g``: the same sources on the linear model of the tile with every cell at the least conductance any
  cell has (the largest R_P times 1 + the largest TMR0: an AP cell at zero bias), less IR drop everywhere.
  Solved here to measure it; a periphery would take it from a response table (``periphery/passive_response.py``),
  whose products are costed for every row of both patterns;
* ``hybrid``: ``min_g`` on the held pattern's selected rows (products for those rows only), ``nominal``
  elsewhere.

For each bound: the exact-over-bound voltage ratio of the cells that matter (a hazard above 1e-7 at their
exact voltage), of all of them and of the held pattern's selected cells (a bound needs the largest below 1;
neither bound is a theorem, and on small V/3 tiles both are exceeded: tests/experiments/test_screening_bench.py),
the expected number of tile-phases that draw at least one
candidate (sum over tile-phases of ``1 - exp(-H)``, ``H`` the tile's bound hazard), against the tile-phases
and write-pattern tile solves of the step today. Cost: the exact write solves' time per tile solve, against
the response table's products for one tile's selected rows (all its columns) and for all its rows. Ends
with ``bench <name> <value> <unit>`` lines for the first setting.
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


class _Probe:
    """Hooks the passive writes while open (``with _Probe() as probe``): each phase's final sources, exact
    voltages (``last``: the latest phase's), solve time, and the bounds."""

    def __init__(self) -> None:
        self.reset()
        self.responses: dict = {}
        self._originals = (passive_writes.solve_tiles_cells, passive_writes.PassiveWrites._phase_intervals)

    def __enter__(self) -> _Probe:
        solve, intervals = self._originals
        probe = self

        def timed_solve(rows, cols, *a, tiles=None, **kw):
            t0 = time.perf_counter()
            out = solve(rows, cols, *a, tiles=tiles, **kw)
            probe.solve_s += time.perf_counter() - t0
            jobs = (len(rows), len(a[3]) - 1, len(a[4]) - 1)
            probe.solves += int(np.broadcast_to(tiles, jobs).sum()) if tiles is not None else int(np.prod(jobs))
            probe._sources = (rows, cols)
            return out

        def hooked(array, phase):
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
        self.tile_hazards = {b: [] for b in BOUNDS}
        self.solve_s, self.solves, self.product_s = 0.0, 0, {"selected": [], "all": []}
        self._sources, self.last = None, None

    def bound_volts(self, array) -> dict[str, np.ndarray]:
        rows, cols = self._sources
        nominal = rows[:, :, None] - cols[:, None, :]
        p = array.cell_params_np()
        r_min_g = float(np.max(p["r_p"]) * (1.0 + np.max(p["tmr0"])))
        model = {"r_p": np.full((array.rows, array.cols), r_min_g), "tmr0": 0.0, "v_h": 1.0}
        kw = {**array.relaxation_settings("write"), "bias_dependent": False}
        min_g = solve_tiles_cells(rows, cols, np.ones((array.rows, array.cols), dtype=bool), model,
                                  array.line_ends("write"), *array.tile_starts, **kw)
        # the hybrid: the model on the held pattern's selected rows, the nominal voltage elsewhere
        hybrid = nominal.copy()
        selected = rows[0] != rows[1]
        hybrid[0, selected] = min_g[0, selected]
        return {"nominal": nominal, "hybrid": hybrid, "min_g": min_g}

    def measure(self, array, phase, volts, duration) -> None:
        if self._sources is None:
            return
        self.last = volts
        states, params = array.parallel.cpu().numpy(), array.cell_params_np()
        dev, floors = array.device_params, array.log_floors()
        row_starts, col_starts = array.tile_starts
        exact = [-phase_log_survival(volts[k:k + 1], duration[k:k + 1], states, params, dev.n_exponent, dev.tau_d,
                                     floors) for k in range(2)]
        rows = self._sources[0]
        selected = (rows[0] != rows[1])[:, None] & (phase.col_currents.cpu().numpy() > 0)[None, :]
        matters_held = selected & (exact[0] > 1e-7)
        for name, bound in self.bound_volts(array).items():
            for k in range(2):
                matters = (exact[k] > 1e-7) & (np.abs(bound[k]) > 1e-9)
                self.ratios[name].append(volts[k][matters] / bound[k][matters])
            aimed = matters_held & (np.abs(bound[0]) > 1e-9)
            self.aimed_ratios[name].append(volts[0][aimed] / bound[0][aimed])
            h = -phase_log_survival(bound, duration, states, params, dev.n_exponent, dev.tau_d, floors)
            self.tile_hazards[name].append(np.add.reduceat(np.add.reduceat(h, row_starts[:-1], axis=0),
                                                           col_starts[:-1], axis=1).ravel())
        self._time_products(array, phase)
        self._sources = None

    def _time_products(self, array, phase) -> None:
        """The response table's products for the selected rows (all columns) and for every row, per tile."""
        if array not in self.responses:
            self.responses[array] = TileResponses(array)
        responses, (rows, cols) = self.responses[array], self._sources
        index, _ = responses.chord(0.5)
        responses.table(index)  # built once, not timed
        tiles = (len(array.tile_starts[0]) - 1) * (len(array.tile_starts[1]) - 1)
        ri = np.nonzero(phase.row_widths.cpu().numpy() > 0)[0]
        every = np.arange(array.rows)
        for name, which in (("selected", ri), ("all", every)):
            t0 = time.perf_counter()
            responses.selected_voltages(index, rows[0], cols[0], which, np.arange(array.cols))
            self.product_s[name].append((time.perf_counter() - t0) / tiles)


def _report(setting: str, probe: _Probe, n: int) -> list[str]:
    """Print one setting's figures; its ``bench`` lines."""
    tile_phases = sum(h.size for h in probe.tile_hazards["min_g"]) / n
    per_solve = probe.solve_s / max(probe.solves, 1)
    sel, every = np.median(probe.product_s["selected"]), np.median(probe.product_s["all"])
    print(f"{setting}: {tile_phases:.0f} write tile-phases and {probe.solves / n:.0f} write tile solves a "
          f"sample ({1e6 * per_solve:.0f} us each, {1e3 * probe.solve_s / n:.1f} ms a sample); a tile's "
          f"products: selected rows {1e6 * sel:.0f} us, every row {1e6 * every:.0f} us")
    lines, tag = [], setting.replace(":", "ohm_").replace(".", "p")
    for name in BOUNDS:
        r, aimed = np.concatenate(probe.ratios[name]), np.concatenate(probe.aimed_ratios[name])
        to_solve = float(-np.expm1(-np.concatenate(probe.tile_hazards[name])).sum()) / n
        # write solves with the bound: its products on every tile-phase (none for the nominal bound, the
        # selected rows of the held pattern for the hybrid, every row of both patterns for min_g), and the
        # exact held and released solves (as many per tile-phase as today) on the tiles that draw a candidate
        products = {"nominal": 0.0, "hybrid": sel, "min_g": 2 * every}[name]
        screened = tile_phases * products + to_solve * per_solve * probe.solves / n / tile_phases
        print(f"  {name:>7}: exact / bound median {np.median(r):.3f}, largest {r.max():.4f} "
              f"({np.mean(r > 1):.1e} above 1; the held pattern's selected cells: largest {aimed.max():.4f}); "
              f"tiles drawing a candidate {to_solve:.1f} a sample "
              f"({100 * to_solve / tile_phases:.0f} %); write solves with it "
              f"{1e3 * screened:.1f} ms a sample against {1e3 * probe.solve_s / n:.1f}")
        lines += [f"bench screening_{tag}_{name}_largest_ratio {r.max():.4f} 1",
                  f"bench screening_{tag}_{name}_largest_aimed_ratio {aimed.max():.4f} 1",
                  f"bench screening_{tag}_{name}_tiles_to_solve_share {100 * to_solve / tile_phases:.0f} %",
                  f"bench screening_{tag}_{name}_write_solve_speedup {probe.solve_s / n / screened:.2f} x"]
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
        setting_lines = _report(setting, probe, args.samples)
        lines += setting_lines if k == 0 else []
    print(f"network 784-512-160, {args.samples} samples of {source}, one thread")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
