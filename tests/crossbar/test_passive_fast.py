"""The fast passive write solver (``CircuitSolverConfig.write_solver = "fast"``) against the exact one.

Both solve the same circuits (each phase's held and released pattern, and the periphery's compensation model)
by the same line relaxation; the fast one stops at ``fast_write_tolerance`` instead of
``relaxation_tolerance``, over-relaxes its sweeps, and solves the released pattern only on tiles where a row
is released early (the compensation model, on both paths, only on tiles with a selected cell). What must
hold where it matters: every selected and half-selected cell's voltage in each phase within 0.5 % of the
exact path's (measured: docs/passive.md), on tiled arrays with 1 and
2.5 ohm wires, bias-dependent TMR, per-cell parameters and stuck cells, both schemes and polarities; and
the flips the fast path draws follow the exact path's per-cell probabilities (chi-square, p > 1e-4 with
fixed seeds). A fast path whose parameter cache goes stale after :meth:`set_cell_params` fails here.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
import torch
from scipy import stats

from mtjxbar.crossbar import TO_AP, TO_P, ArrayConfig, PassiveCrossbar, UpdatePlan, WritePhase
from mtjxbar.crossbar.circuit import LineEnds, TileNodes, solve_tiles_cells, solve_tiles_nodes
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.device import MTJParams
from mtjxbar.periphery.passive_calibration import ReadCalibration
from mtjxbar.periphery.passive_compensation import WriteCompensation

F64 = torch.float64
DEV = MTJParams()
ROWS, COLS, TILE = 96, 80, 48  # 2 x 2 tiles (the last column tile 32 wide)


@pytest.fixture(autouse=True, scope="module")
def _one_numba_thread():
    """Small tiles solve in well under a millisecond on one thread; on a loaded 2-core machine Numba's second
    thread can make each parallel call 100x slower (measured: 28 ms instead of 0.2 ms per write solve)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(threads)


def _cell_params(seed: int, dev: MTJParams = DEV) -> dict[str, torch.Tensor]:
    """Per-cell parameters, 5 % spread of R_P, TMR0 and Ic0 around the device ``dev``."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name in ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p"):
        value = torch.full((ROWS, COLS), float(getattr(dev, name)), dtype=F64)
        if name in ("r_p", "tmr0", "ic0_p2ap", "ic0_ap2p"):
            value = value * (1 + 0.05 * torch.randn(ROWS, COLS, generator=gen, dtype=F64))
        out[name] = value
    return out


def _array(solver: str, ohm: float, scheme: str = "v2", dev: MTJParams = DEV, seed: int = 0) -> PassiveCrossbar:
    """A wired passive array with per-cell parameters, random states and 2 % stuck cells."""
    array = ArrayConfig(kind="passive", circuit=CircuitConfig(r_wire_row=ohm, r_wire_col=ohm), tile_rows=TILE,
                        tile_cols=TILE, write_scheme=scheme)
    xb = PassiveCrossbar(ROWS, COLS, dev, array, CircuitSolverConfig(write_solver=solver),
                         calibration=ReadCalibration(), compensation=WriteCompensation(), dtype=F64)
    xb.set_cell_params(_cell_params(seed, dev))
    gen = torch.Generator().manual_seed(seed + 1)
    xb.set_states(torch.rand(ROWS, COLS, generator=gen) < 0.5)
    stuck = torch.rand(ROWS, COLS, generator=gen)
    xb.set_stuck(stuck < 0.01, (stuck >= 0.01) & (stuck < 0.02))
    return xb


def _phase(polarity: str, seed: int = 2, current: float = 40e-6) -> WritePhase:
    """30 % of the rows at random widths, half the columns at current .. 1.5 current."""
    gen = torch.Generator().manual_seed(seed)
    widths = torch.where(torch.rand(ROWS, generator=gen) < 0.3, 1e-8 * torch.rand(ROWS, generator=gen, dtype=F64),
                         0.0)
    currents = torch.where(torch.rand(COLS, generator=gen) < 0.5,
                           current * (1 + 0.5 * torch.rand(COLS, generator=gen, dtype=F64)), 0.0)
    return WritePhase(row_widths=widths, col_currents=currents, polarity=polarity)


def _relative_error(fast: PassiveCrossbar, exact: PassiveCrossbar, phase: WritePhase) -> float:
    """Largest relative difference of the fast and exact cell voltages over the selected and half-selected
    cells (a selected row or a selected column) of both intervals of the phase."""
    rows, cols = phase.row_widths > 0, phase.col_currents > 0
    touched = rows[:, None] | cols[None, :]
    worst = 0.0
    for v_fast, v_exact in zip(fast.phase_cell_voltages(phase), exact.phase_cell_voltages(phase), strict=True):
        scale = v_exact.abs()
        live = touched & (scale > 1e-3)  # the released interval leaves selected rows at 0 V (v2)
        worst = max(worst, float(((v_fast - v_exact).abs()[live] / scale[live]).max()))
    return worst


@pytest.mark.parametrize("ohm", [1.0, 2.5])
@pytest.mark.parametrize("scheme", ["v2", "v3"])
@pytest.mark.parametrize("polarity", [TO_P, TO_AP])
def test_fast_write_voltages_within_half_a_percent_of_exact(ohm, scheme, polarity):
    exact, fast = _array("exact", ohm, scheme), _array("fast", ohm, scheme)
    assert _relative_error(fast, exact, _phase(polarity)) < 5e-3


def test_fast_path_follows_new_cell_parameters_and_states():
    """Change the parameters, the stuck cells and the states after a write: the fast path must use the
    new ones (a stale parameter cache would keep the old R_P and TMR)."""
    fast = _array("fast", 1.0)
    phase = _phase(TO_P)
    fast.phase_cell_voltages(phase)  # fills whatever the array caches
    fast.set_cell_params(_cell_params(seed=7))
    fast.set_cell_params({**fast.params, "r_p": fast.params["r_p"] * 1.3})
    fast.set_states(~fast.parallel)
    exact = _array("exact", 1.0)
    exact.set_cell_params(dict(fast.params))
    exact.set_states(fast.parallel)
    assert _relative_error(fast, exact, phase) < 5e-3


def test_fast_and_exact_switching_probabilities_agree():
    """Per-cell flip probabilities of a 4-phase plan: within 2 % relative wherever they exceed 1e-12 (a
    0.5 % voltage error would move a thermal rate by up to ~25 %)."""
    plan = UpdatePlan(phases=tuple(_phase(pol, seed=s) for s, pol in enumerate((TO_P, TO_AP, TO_P, TO_AP))))
    p_exact = _array("exact", 2.5).switching_probabilities(plan)
    p_fast = _array("fast", 2.5).switching_probabilities(plan)
    live = p_exact > 1e-12
    assert bool(live.any()) and float(((p_fast - p_exact).abs()[live] / p_exact[live]).max()) < 0.02


def _flip_counts(array: PassiveCrossbar, plan: UpdatePlan, trials: int, seed: int) -> np.ndarray:
    start = array.parallel.clone()
    gen = torch.Generator().manual_seed(seed)
    counts = np.zeros((ROWS, COLS))
    for _ in range(trials):
        array.set_states(start)
        array.write(plan, gen)
        counts += (array.parallel != start).numpy()
    array.set_states(start)
    return counts


@pytest.mark.parametrize("ohm", [1.0, 2.5])
def test_fast_path_flip_statistics_per_cell_follow_the_exact_probabilities(ohm):
    """Low-barrier junctions (delta 14, so half-selected cells flip too) and one phase per write: the fast
    path's per-cell flip counts over 300 writes against Binomial(300, p) of the exact path's probabilities,
    chi-square over the cells expecting at least 5 flips plus one pooled bin of the rest (p > 1e-4); stuck
    cells never flip."""
    dev = dataclasses.replace(DEV, delta=14.0)
    plan = UpdatePlan(phases=(_phase(TO_P, current=30e-6),))
    p = _array("exact", ohm, dev=dev).switching_probabilities(plan)[0].numpy()
    fast = _array("fast", ohm, dev=dev)
    frozen = fast.frozen_mask.view(ROWS, COLS).numpy()
    trials = 300
    counts = _flip_counts(fast, plan, trials, seed=11)
    assert counts[frozen].sum() == 0
    p = np.where(frozen, 0.0, p)
    big = trials * p >= 5
    assert big.sum() > 50 and (~big & (p > 0)).sum() > 1000  # selected and half-selected cells both tested
    z2 = (counts[big] - trials * p[big]) ** 2 / (trials * p[big] * (1 - p[big]))
    rest = ~big
    pooled = (counts[rest].sum() - trials * p[rest].sum()) ** 2 / (trials * (p[rest] * (1 - p[rest])).sum())
    assert stats.chi2.sf(z2.sum() + pooled, df=int(big.sum()) + 1) > 1e-4


def test_write_solver_is_validated():
    with pytest.raises(ValueError, match="write_solver"):
        CircuitSolverConfig(write_solver="approximate")
    with pytest.raises(ValueError, match="fast_write_tolerance"):
        CircuitSolverConfig(fast_write_tolerance=0.1)


def test_exact_write_solver_keeps_the_reference_tolerance():
    """``write_solver = exact`` is the reference: its writes and compensation solve to relaxation_tolerance
    (1e-9 V), agreeing with a 1e-12 V solve to 1e-7 relative; only the fast path stops early."""
    phase = _phase(TO_AP)
    exact = _array("exact", 2.5)
    tight = _array("exact", 2.5)
    tight.circuit_solver = CircuitSolverConfig(write_solver="exact", relaxation_tolerance=1e-12)
    assert exact.relaxation_settings("write")["tolerance"] == 1e-9
    assert _relative_error(exact, tight, phase) < 1e-7


# ----------------------------------------------------------------------- warm starts and over-relaxation
def _tile_case(ohm: float, seed: int = 3):
    """A 2 x 2-tile write circuit (bias-dependent TMR, per-cell R_P) with half-select-like sources."""
    rng = np.random.default_rng(seed)
    par = rng.random((ROWS, COLS)) < 0.5
    params = {"r_p": DEV.r_p * (1 + 0.05 * rng.standard_normal((ROWS, COLS))), "tmr0": DEV.tmr0, "v_h": DEV.v_h}
    ends = LineEnds(np.full(ROWS, 1 / (25 + ohm)), np.full(COLS, 1 / (25 + ohm)), False, True, 1 / ohm, 1 / ohm)
    src_r = np.where(rng.random((1, ROWS)) < 0.4, 0.35, 0.0)
    src_c = np.where(rng.random((1, COLS)) < 0.5, -0.35, 0.0)
    return par, params, ends, src_r, src_c


def _solve(par, params, ends, src_r, src_c, **kw) -> TileNodes:
    return solve_tiles_nodes(src_r, src_c, par, params, ends, [0, TILE, ROWS], [0, TILE, COLS], **kw)


@pytest.mark.parametrize("ohm", [1.0, 2.5])
def test_a_warm_start_converges_to_the_cold_solution_whatever_it_started_from(ohm):
    """Started from another solve (other sources, other states: cells flipped since), the fast solve lands
    where a cold exact one does, to the tolerance's error bound: a flip between two solves is seen."""
    par, params, ends, src_r, src_c = _tile_case(ohm)
    old = _solve(par, params, ends, src_r, src_c, tolerance=1e-4)
    flipped = par.copy()
    flipped[np.random.default_rng(5).random(par.shape) < 0.05] ^= True  # 5 % of the cells flipped since
    new_r, new_c = src_r * 1.2, src_c + 0.05 * (src_c != 0)
    exact = solve_tiles_cells(new_r, new_c, flipped, params, ends, [0, TILE, ROWS], [0, TILE, COLS],
                              tolerance=1e-12)
    warm = _solve(flipped, params, ends, new_r, new_c, tolerance=1e-4, start=old, over_relax=True)
    assert np.abs(warm.cells - exact).max() < 1e-4
    assert np.abs(old.cells - exact).max() > 1e-2  # the start itself was far off


def test_a_warm_start_moves_each_line_by_its_source_change():
    """Every source raised by the same 0.1 V leaves the cell voltages as they were and lifts every node by
    0.1 V: a start from the old solution, moved by the source changes, is already converged (one sweep a
    tile, to check it)."""
    par, params, ends, src_r, src_c = _tile_case(1.0)
    old = _solve(par, params, ends, src_r, src_c, tolerance=1e-10)
    new = _solve(par, params, ends, src_r + 0.1, src_c + 0.1, tolerance=1e-8, start=old)
    assert new.sweeps == 4  # 4 tiles, one sweep each
    assert np.abs(new.cells - old.cells).max() < 1e-9 and np.abs(new.row - old.row - 0.1).max() < 1e-9


@pytest.mark.parametrize("ohm", [1.0, 2.5])
def test_over_relaxation_reaches_the_same_solution_in_fewer_sweeps(ohm):
    """Over-relaxed sweeps land on the plain sweeps' solution (bias-dependent TMR or not) and, on the linear
    circuit its factor is estimated for, in fewer sweeps (with bias-dependent TMR the secant iteration's own
    rate mixes in: fewer on the bench's patterns, docs/passive.md)."""
    par, params, ends, src_r, src_c = _tile_case(ohm)
    for bias in (True, False):
        plain = _solve(par, params, ends, src_r, src_c, tolerance=1e-10, bias_dependent=bias)
        sor = _solve(par, params, ends, src_r, src_c, tolerance=1e-10, bias_dependent=bias, over_relax=True)
        assert np.abs(sor.cells - plain.cells).max() < 1e-8
    assert sor.sweeps < plain.sweeps


def test_skipped_tiles_read_zero_and_the_others_are_unchanged():
    """``tiles`` leaves the unsolved tiles at 0 V and the solved ones as a full solve has them (tiles are
    independent circuits); a later solve started from it starts cold there."""
    par, params, ends, src_r, src_c = _tile_case(1.0)
    full = _solve(par, params, ends, src_r, src_c, tolerance=1e-10)
    tiles = np.array([[[True, False], [False, True]]])
    part = _solve(par, params, ends, src_r, src_c, tolerance=1e-10, tiles=tiles)
    assert (part.solved == tiles).all()
    for ti, rs in enumerate((slice(0, TILE), slice(TILE, ROWS))):
        for tj, cs in enumerate((slice(0, TILE), slice(TILE, COLS))):
            expect = full.cells[0, rs, cs] if tiles[0, ti, tj] else 0.0
            assert np.array_equal(part.cells[0, rs, cs], np.broadcast_to(expect, part.cells[0, rs, cs].shape))
    again = _solve(par, params, ends, src_r, src_c, tolerance=1e-10, start=part)
    assert np.abs(again.cells - full.cells).max() < 1e-9


def _one_tile_phase(polarity: str) -> WritePhase:
    """Rows selected in the first row tile only (the second has no row with a held or released interval of
    its own: its released pattern is skipped), columns in both column tiles; one selected row held for
    10 ns, the others for 10 ps, so that their cells spend the phase in the released pattern."""
    phase = _phase(polarity)
    widths = torch.where(phase.row_widths > 0, 1e-11, 0.0).double()
    widths[TILE:] = 0.0
    widths[int(torch.nonzero(widths)[0])] = 1e-8
    return WritePhase(row_widths=widths, col_currents=phase.col_currents, polarity=polarity)


@pytest.mark.parametrize("polarity", [TO_P, TO_AP])
def test_skipping_tiles_without_a_released_row_keeps_the_flip_probabilities(polarity):
    """Per-cell flip probabilities of a phase whose rows all sit in one row tile, on low-barrier junctions
    (delta 14: the released pattern's half-select hazard dominates the rows released early): the fast path
    (released pattern solved on that tile only, the compensation model on the tiles with a selected cell)
    within 2 % of the exact path wherever above 1e-12, and the same zeros."""
    dev = dataclasses.replace(DEV, delta=14.0)
    plan = UpdatePlan(phases=(_one_tile_phase(polarity),))
    p_exact = _array("exact", 2.5, dev=dev).switching_probabilities(plan)
    p_fast = _array("fast", 2.5, dev=dev).switching_probabilities(plan)
    live = p_exact > 1e-12
    assert bool(live[:, TILE:].any())  # the skipped tiles' cells are half-selected by the columns
    assert float(((p_fast - p_exact).abs()[live] / p_exact[live]).max()) < 0.02
    assert bool(((p_fast > 1e-12) == live).all())


def test_phase_cell_voltages_are_every_tiles_even_where_the_write_skips_them():
    phase = _one_tile_phase(TO_P)
    assert _relative_error(_array("fast", 1.0), _array("exact", 1.0), phase) < 5e-3


@pytest.mark.parametrize("polarity", [TO_P, TO_AP])
def test_compensation_on_the_tiles_with_a_selected_cell_restores_their_voltage(polarity):
    """The model is solved only on tiles with a selected cell (here the first row tile): the selected
    cells still get their column's voltage, within 3 % on average of what ideal wires give them."""
    phase = _one_tile_phase(polarity)
    wired = _array("fast", 1.0).phase_cell_voltages(phase)[0]
    ideal = PassiveCrossbar(ROWS, COLS, DEV, ArrayConfig(kind="passive", tile_rows=TILE, tile_cols=TILE),
                            dtype=F64)
    ideal.set_cell_params(_cell_params(0))
    selected = (phase.row_widths > 0)[:, None] & (phase.col_currents > 0)[None, :]
    ratio = (wired[selected].abs() / ideal.phase_cell_voltages(phase)[0][selected].abs()).log()
    assert abs(float(ratio.mean())) < 0.03


@pytest.mark.parametrize("solver", ["exact", "fast"])
def test_write_counts_each_flip_by_its_direction_and_aim(solver):
    """A 4-phase write of both polarities on junctions of barrier 8 (so that half-selected cells flip too):
    the listed cells are exactly those whose state changed (none stuck), ``flips_to_p`` counts those that
    were AP, and ``intended_flips`` those each phase aimed at (its selected row and column, in the state its
    polarity switches), phase by phase on the states the phase began with."""
    dev = dataclasses.replace(DEV, delta=8.0)
    xb = _array(solver, 1.0, dev=dev)
    phases = tuple(_phase(pol, seed=s, current=30e-6) for s, pol in enumerate((TO_P, TO_AP, TO_AP, TO_P)))
    gen = torch.Generator().manual_seed(5)
    frozen = xb.frozen_mask.view(ROWS, COLS)
    totals = np.zeros(3, dtype=np.int64)
    for phase in phases:
        before = xb.parallel.clone()
        result = xb.write(UpdatePlan((phase,)), gen)
        changed = (xb.parallel != before).flatten()
        assert torch.equal(torch.sort(result.flipped_cells).values, torch.nonzero(changed).flatten())
        assert not bool((changed & frozen.flatten()).any())
        assert result.flips_to_p == int((changed & ~before.flatten()).sum())
        aimed = (phase.row_widths > 0)[:, None] & (phase.col_currents > 0)[None, :]
        aimed &= ~before if phase.polarity == TO_P else before
        assert result.intended_flips == int((changed & aimed.flatten()).sum())
        assert result.disturb_flips == int(changed.sum()) - result.intended_flips
        totals += (result.flips_to_p, result.intended_flips, result.disturb_flips)
    # both directions, aimed and disturb flips all occur, so no count above holds trivially
    assert totals.min() > 0 and totals[0] < totals[1] + totals[2], totals


def test_states_outside_the_samplers_memory_flip_as_in_place():
    """States the sampler cannot flip in place (here a non-contiguous tensor, as on a GPU: a copy) must give
    the same write, same seed: every phase solved on the flips of the one before, the array's states
    updated, the same cells listed."""
    dev = dataclasses.replace(DEV, delta=8.0)
    plan = UpdatePlan(phases=tuple(_phase(pol, seed=s, current=30e-6) for s, pol in enumerate((TO_P, TO_AP))))
    results, states = [], []
    for copied in (False, True):
        xb = _array("fast", 1.0, dev=dev)
        if copied:  # the same values in transposed storage
            xb.parallel = xb.parallel.t().contiguous().t()
            assert not xb.parallel.is_contiguous()
        results.append(xb.write(plan, torch.Generator().manual_seed(3)))
        states.append(xb.parallel.clone())
    assert results[0].flipped_cells.numel() > 100
    assert torch.equal(results[0].flipped_cells, results[1].flipped_cells)
    assert torch.equal(states[0], states[1])


@pytest.mark.parametrize("scheme", ["v2", "v3"])
def test_every_tiles_released_pattern_is_the_held_one_where_no_row_is_selected(scheme):
    """What the meter reads (:meth:`phase_cell_voltages`, every tile's released pattern): the tiles without a
    selected row take their held solution instead of solving the same circuit again; bit for bit what
    solving every tile gives, and different from the held pattern where rows are selected."""
    xb = _array("fast", 1.0, scheme)
    phase = _one_tile_phase(TO_P)
    held, released = xb.phase_cell_voltages(phase)
    solve = xb._solve_write
    try:
        xb._solve_write = lambda rows, cols, released=None, selected=None: solve(rows, cols, released, None)
        every = xb.phase_cell_voltages(phase)
    finally:
        xb._solve_write = solve
    assert torch.equal(held, every[0]) and torch.equal(released, every[1])
    assert torch.equal(released[TILE:], held[TILE:]) and not torch.equal(released[:TILE], held[:TILE])
