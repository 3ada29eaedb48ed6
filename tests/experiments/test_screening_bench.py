"""``bench/passive_screening.py``'s probe: it sees each write phase as the array solves it, its bounds lie
above the exact voltages of the cells that can switch, and its tile hazards order as its bounds do."""

from __future__ import annotations

import numpy as np
import torch

from mtjxbar.crossbar import TO_AP, TO_P, ArrayConfig, PassiveCrossbar, UpdatePlan, WritePhase
from mtjxbar.crossbar.circuit import solve_tiles_cells
from mtjxbar.crossbar.config import CircuitConfig
from mtjxbar.crossbar.passive import writes as passive_writes
from mtjxbar.device import MTJParams
from mtjxbar.periphery.passive_calibration import ReadCalibration
from mtjxbar.periphery.passive_compensation import WriteCompensation

ROWS, COLS, TILE = 48, 40, 16  # 3 x 3 tiles, the last column tile 8 wide


def _array(ohm: float, scheme: str) -> PassiveCrossbar:
    """A wired passive array with a 5 % spread of R_P and TMR0 and random states."""
    config = ArrayConfig(kind="passive", circuit=CircuitConfig(r_wire_row=ohm, r_wire_col=ohm), tile_rows=TILE,
                         tile_cols=TILE, write_scheme=scheme)
    dev = MTJParams()
    xb = PassiveCrossbar(ROWS, COLS, dev, config, calibration=ReadCalibration(), compensation=WriteCompensation(),
                         dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    params = {}
    for name in ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p"):
        value = torch.full((ROWS, COLS), float(getattr(dev, name)), dtype=torch.float64)
        if name in ("r_p", "tmr0"):
            value = value * (1 + 0.05 * torch.randn(ROWS, COLS, generator=gen, dtype=torch.float64))
        params[name] = value
    xb.set_cell_params(params)
    xb.set_states(torch.rand(ROWS, COLS, generator=gen) < 0.5)
    return xb


def _phase(polarity: str) -> WritePhase:
    """Half of the rows at widths up to 10 ns, 60 % of the columns at 40-80 uA."""
    gen = torch.Generator().manual_seed(7)
    widths = torch.where(torch.rand(ROWS, generator=gen) < 0.5,
                         1e-8 * (0.2 + 0.8 * torch.rand(ROWS, generator=gen, dtype=torch.float64)), 0.0)
    currents = torch.where(torch.rand(COLS, generator=gen) < 0.6,
                           40e-6 * (1 + torch.rand(COLS, generator=gen, dtype=torch.float64)), 0.0)
    return WritePhase(row_widths=widths, col_currents=currents, polarity=polarity)


def test_probe_sees_the_write_and_its_bounds_hold(load_script):
    bench = load_script("bench/passive_screening.py")
    originals = (passive_writes.solve_tiles_cells, passive_writes.PassiveWrites._phase_intervals)
    for ohm, scheme, polarity in ((1.0, "v3", TO_P), (2.5, "v2", TO_AP)):
        xb, phase = _array(ohm, scheme), _phase(polarity)
        held = xb.phase_cell_voltages(phase)[0].numpy()
        with bench._Probe() as probe:
            xb.switching_probabilities(UpdatePlan((phase,)))
        assert (passive_writes.solve_tiles_cells, passive_writes.PassiveWrites._phase_intervals) == originals
        assert len(probe.tile_hazards["min_g"]) == 1 and probe.solves > 0
        # the probe saw the array's own write circuit: the held pattern's voltages, compensated
        np.testing.assert_array_equal(probe.last[0], held)
        for name in bench.BOUNDS:
            # the cells a phase aims at (the held pattern's selected cells that can switch) stay under every
            # bound; the others need not (test below)
            aimed = np.concatenate(probe.aimed_ratios[name])
            assert aimed.size > 50 and aimed.max() < 1.0, (ohm, name, aimed.max())
            assert np.concatenate(probe.ratios[name]).size > aimed.size
            assert 0 < probe.resolved[name] <= probe.solves
        hazards = {name: probe.tile_hazards[name][0].sum() for name in bench.BOUNDS}
        assert hazards["min_g"] <= hazards["hybrid"] <= hazards["nominal"]
        assert len(probe.product_s["selected"]) == len(probe.product_s["all"]) == 1
        lines = bench.report(f"{ohm}:{scheme}", probe, 1)
        assert len(lines) == 4 * len(bench.BOUNDS) and all(float(line.split()[2]) >= 0 for line in lines)


def test_bounds_and_tile_sums(load_script):
    """The bounds as the bench builds them: the nominal voltage is the sources' difference, the hybrid takes
    the model on the held pattern's selected rows only, the model has less IR drop than the cells get."""
    bench = load_script("bench/passive_screening.py")
    xb, phase = _array(1.0, "v2"), _phase(TO_P)
    rng = np.random.default_rng(0)
    selected = (phase.row_widths > 0).numpy()
    rows = np.stack([np.where(selected, 1.0 + 0.05 * rng.random(ROWS), 0.5), np.full(ROWS, 0.5)])
    cols = np.repeat(np.where(rng.random(COLS) < 0.5, 0.0, 0.5)[None], 2, axis=0)
    bounds = bench.bound_volts(xb, rows, cols, selected)
    np.testing.assert_array_equal(bounds["nominal"], rows[:, :, None] - cols[:, None, :])
    np.testing.assert_array_equal(bounds["hybrid"][1], bounds["nominal"][1])
    np.testing.assert_array_equal(bounds["hybrid"][0, selected], bounds["min_g"][0, selected])
    np.testing.assert_array_equal(bounds["hybrid"][0, ~selected], bounds["nominal"][0, ~selected])
    driven = bounds["nominal"][0] > 0.4  # the selected cells on the columns at 0 V
    assert np.all(bounds["min_g"][0][driven] < bounds["nominal"][0][driven])
    # the model at the least conductance drops less than the array with its states does
    exact = xb._solve_write(rows, cols[0])
    assert np.all(exact[0][driven] < bounds["min_g"][0][driven])
    # on a uniform all-AP array the model is the array's own linear (zero-bias) circuit
    uniform = {k: torch.full((ROWS, COLS), float(getattr(MTJParams(), k)), dtype=torch.float64)
               for k in ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p")}
    xb.set_cell_params(uniform)
    xb.set_states(torch.zeros(ROWS, COLS, dtype=torch.bool))
    settings = {**xb.relaxation_settings("write"), "bias_dependent": False}
    direct = solve_tiles_cells(rows, cols, xb.parallel.numpy(), xb.cell_params_np(), xb.line_ends("write"),
                               *xb.tile_starts, **settings)
    np.testing.assert_allclose(bench.bound_volts(xb, rows, cols, selected)["min_g"], direct, atol=1e-3)
    cells = rng.random((ROWS, COLS))
    sums = bench.tile_sums(cells, np.array([0, 16, 32, 48]), np.array([0, 16, 32, 40]))
    assert sums.shape == (3, 3) and np.isclose(sums[1, 2], cells[16:32, 32:40].sum())
    assert np.isclose(sums.sum(), cells.sum())


def test_the_bounds_are_not_theorems(load_script):
    """Under V/3 some cells that can switch sit above both bounds: the held pattern's unselected cells (by about
    0.2 % here) and the released pattern's cells of the selected rows; what the docs say."""
    bench = load_script("bench/passive_screening.py")
    xb, phase = _array(1.0, "v3"), _phase(TO_P)
    with bench._Probe() as probe:
        xb.switching_probabilities(UpdatePlan((phase,)))
    for name in ("nominal", "min_g"):
        assert 1.0 < np.concatenate(probe.ratios[name]).max() < 1.01
        assert probe.missed[name] > 0.0
