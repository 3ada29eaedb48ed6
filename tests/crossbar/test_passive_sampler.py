"""The passive write phase's flip sampler (:func:`mtjxbar.crossbar.passive.survival.sample_phase_flips`).

It evaluates only some cells: each row's cells on the phase's selected columns and on the others are two
classes whose hazards it bounds (the row's extreme parameters at the class's largest voltage and duration);
a class with a small bound is thinned (candidates at geometric gaps, each accepted with its own hazard's
share of the bound), the others are walked cell by cell. What must hold: every cell flips with its own
probability ``1 - exp(-h)`` of :func:`~mtjxbar.crossbar.passive.survival.phase_log_survival`, independently:
per-cell flip counts over many phases against those probabilities by chi-square (p > 1e-4 with fixed
seeds), on cells with spread parameters, both states, stuck cells, per-row durations, and half-selected
cells with hazards up to the thinning limit, where a too-small bound or a wrong acceptance shows; and the
thinning must skip most cells where the hazards are small (else it is the old walk).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mtjxbar.crossbar.passive import survival
from mtjxbar.device import MTJParams

ROWS, COLS = 24, 40
DEV = MTJParams()
DELTA = 14.0  # low barrier: half-selected cells flip with probabilities of 1e-4 .. 0.1


NAMES = ("r_p", "tmr0", "v_h", "ic0_ap2p", "ic0_p2ap", "tau0_ap2p", "tau0_p2ap", "delta")


def _params(rng: np.random.Generator, spread: float, names=NAMES) -> dict[str, np.ndarray]:
    """Per-cell parameters, those ``names`` with their own relative ``spread`` each (so the row's extremes
    differ from every cell's)."""
    out = {}
    for name in NAMES:
        value = DELTA if name == "delta" else float(getattr(DEV, name))
        out[name] = value * (1 + (spread if name in names else 0.0) * rng.standard_normal((ROWS, COLS)))
    return out


def _phase(rng: np.random.Generator, params: dict[str, np.ndarray]):
    """A to-P phase: 30 % of the rows and half the columns selected. Selected cells at about twice Ic0 R_P
    (AP cells near and past Ic0), half-selected ones at 0.55-0.75 of Ic0 R_P (AP cells at about a third of
    Ic0), the rest at a few percent; a tenth of the cells driven the other way (P cells towards AP;
    half-selected ones at 0.3 of Ic0 R_P, in the thinning range too); the
    released interval at lower voltages; durations per row."""
    sel_r, sel_c = rng.random(ROWS) < 0.3, rng.random(COLS) < 0.5
    v_sel = float(DEV.ic0_ap2p * DEV.r_p)  # about Ic0 through R_P
    level = np.where(sel_r[:, None] & sel_c[None, :], 2.0, np.where(sel_r[:, None] | sel_c[None, :], 0.65, 0.05))
    held = v_sel * level * (1 + 0.15 * rng.uniform(-1, 1, (ROWS, COLS)))
    reverse = rng.random((ROWS, COLS)) < 0.1  # some cells driven the other way (half-selected ones less)
    held = np.where(reverse, -held * np.where(level == 0.65, 0.45, 1.0), held)
    released = 0.6 * held * rng.random((ROWS, COLS))
    widths = np.where(sel_r, 5e-9 * rng.random(ROWS), 0.0)
    length = 5e-9
    durations = np.stack([np.where(sel_r, widths, length), np.where(sel_r, length - widths, 0.0)])
    return np.stack([held, released]), durations, sel_r, sel_c


def _case(spread: float, names=NAMES, to_p: bool = True):
    rng = np.random.default_rng(7)
    params = _params(rng, spread, names)
    volts, durations, sel_r, sel_c = _phase(rng, params)
    volts = volts if to_p else -volts  # to AP: the P cells switch, the AP cells driven the other way
    states = rng.random((ROWS, COLS)) < 0.5
    frozen = rng.random((ROWS, COLS)) < 0.03
    log_p0 = survival.phase_log_survival(volts, durations, states, params, DEV.n_exponent, DEV.tau_d)
    p = np.where(frozen, 0.0, -np.expm1(log_p0))
    return params, volts, durations, sel_r, sel_c, states, frozen, p, to_p


@pytest.fixture(scope="module", params=[(0.0, NAMES, True), (0.08, NAMES, True), (0.08, ("delta",), True),
                                        (0.0, NAMES, False)],
                ids=["uniform", "spread-8%", "delta-spread-8%", "uniform-to-ap"])
def case(request):
    """The phase on cells of uniform parameters (as without device variation), of an 8 % spread of every
    parameter (the row's extremes then bound each class loosely: more classes walked, the thinned ones
    thinned coarsely) or of delta alone (a bound that missed the row's least delta shows), and the same
    phase with the other polarity (the P cells' bound)."""
    return _case(*request.param)


def _counts(case, trials: int) -> tuple[np.ndarray, int]:
    params, volts, durations, sel_r, sel_c, states, frozen, _, to_p = case
    counts, evaluated = np.zeros((ROWS, COLS)), 0
    for seed in range(trials):
        s = states.copy()
        cells, _, _, ev = survival._sample_phase(volts, durations, s, frozen, params, DEV.n_exponent, DEV.tau_d,
                                                 sel_r, sel_c, to_p, seed)
        counts.flat[cells] += 1
        evaluated += ev
        assert np.array_equal(np.flatnonzero(s != states), cells)  # the cells listed are the cells flipped
    return counts, evaluated


def test_the_case_exercises_thinned_and_walked_cells(case):
    """The phase has half-selected cells in the thinning range and selected cells past Ic0."""
    *_, sel_r, sel_c, _, frozen, p, _ = case
    half = (sel_r[:, None] ^ sel_c[None, :]) & ~frozen
    assert ((p[half] > 1e-3) & (p[half] < 0.1)).sum() > 40
    assert (p[sel_r[:, None] & sel_c[None, :]] > 0.5).sum() > 10


def test_flip_counts_per_cell_follow_the_exact_probabilities(case):
    """4,000 phases from the same states, each seeded apart: per-cell counts against Binomial(4000, p),
    chi-square over the cells expecting at least 5 flips plus one pooled bin of the rest; stuck cells and
    cells driven towards their own state never flip."""
    *_, frozen, p, _ = case
    trials = 4000
    counts, _ = _counts(case, trials)
    assert counts[frozen].sum() == 0 and counts[p == 0].sum() == 0
    big = trials * p >= 5
    assert big.sum() > 100
    z2 = (counts[big] - trials * p[big]) ** 2 / (trials * p[big] * (1 - p[big]))
    rest = ~big & (p > 0)
    pooled = (counts[rest].sum() - trials * p[rest].sum()) ** 2 / (trials * (p[rest] * (1 - p[rest])).sum())
    assert stats.chi2.sf(z2.sum() + pooled, df=int(big.sum()) + 1) > 1e-4


def test_thinning_skips_the_cells_of_small_hazard():
    """Uniform cells: fewer cells evaluated than the selected ones plus a fifth of the rest (the walk
    evaluated them all)."""
    case = _case(0.0)
    *_, sel_r, sel_c, _, _, _, _ = case
    trials = 200
    _, evaluated = _counts(case, trials)
    selected = int(sel_r.sum() * sel_c.sum())
    assert evaluated / trials < selected + 0.2 * (ROWS * COLS - selected)


def test_same_seed_same_flips(case):
    params, volts, durations, sel_r, sel_c, states, frozen, _, to_p = case
    runs = []
    for _ in range(2):
        s = states.copy()
        runs.append(survival.sample_phase_flips(volts, durations, s, frozen, params, DEV.n_exponent, DEV.tau_d,
                                                sel_r, sel_c, to_p, 1234))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1:] == runs[1][1:]


def test_an_arrays_sampler_bounds_follow_new_cell_parameters():
    """The array caches the bounds per cell parameters: after :meth:`set_cell_params` they are the new
    parameters' (a stale cache would bound new, weaker junctions by the old ones' hazards)."""
    import torch

    from mtjxbar.crossbar import ArrayConfig, PassiveCrossbar

    xb = PassiveCrossbar(ROWS, COLS, DEV, ArrayConfig(kind="passive"), dtype=torch.float64)
    before = xb.sampler_bounds().copy()
    params = {k: torch.from_numpy(v) for k, v in _params(np.random.default_rng(1), 0.08).items()}
    xb.set_cell_params(params)
    want = survival.row_bounds(xb.cell_params_np(), xb.log_floors(), (ROWS, COLS))
    assert np.array_equal(xb.sampler_bounds(), want) and not np.array_equal(before, want)
