"""Survival of every cell of a passive array over one write phase, from its cell voltages (Numba), and the
phase's flips drawn in the same pass.

The same physics as :func:`mtjxbar.device.switching_probability` applied to the current of
:func:`mtjxbar.crossbar.circuit.cell_current` (no access resistance), fused into one pass over the cells so that a
phase costs one loop instead of some thirty array operations: a cell at voltage ``V`` carries
``I = V / R(V)`` (R_P, or :func:`~mtjxbar.device.physics.ap_resistance`); a positive current can switch an AP
cell to P, a negative one a P cell to AP; over an interval ``t`` it survives with
:func:`~mtjxbar.device.physics.log_survival` of ``|I|``, with the direction's Ic0 and tau0, and the
log-survivals of the intervals add. ``tests/crossbar/test_passive.py`` checks it against the
tensor functions in both regimes.

:func:`sample_phase_flips` draws the flips of a phase in the same loop (one exponential variate per flip,
not a uniform per cell: :func:`_sample_kernel`; NumPy's Mersenne Twister as Numba compiles it, seeded per
call from the caller's ``torch.Generator``; the state array is flipped in place and the flipped cells
listed), instead of a survival array, a uniform array and five array passes over the whole array per
phase. ``tests/crossbar/test_passive_fast.py`` checks its per-cell flip counts against the probabilities of
:func:`phase_log_survival` (chi-square).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...device import physics

__all__ = ["log_floors", "phase_log_survival", "sample_phase_flips"]

_PARAMS = ("r_p", "tmr0", "v_h", "ic0_ap2p", "ic0_p2ap", "tau0_ap2p", "tau0_p2ap", "delta")


@njit(cache=True, inline="always")
def _interval_log_survival(v, t, parallel, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta, log_floor,
                           n, tau_d):
    """log P(no flip) of a cell (its parameters as scalars) at voltage ``v`` for ``t`` seconds:
    :func:`~mtjxbar.device.physics.log_survival`, its two terms called apart so that at or below Ic0 (nearly
    every cell) the precessional term is the cell's floor ``log_floor``
    (:func:`~mtjxbar.device.physics.precessional_log_floor`, computed once per cell parameters; the same
    value, bit for bit) instead of an exponential and a logarithm per cell and interval."""
    if t <= 0.0 or v == 0.0 or (v > 0.0) == parallel:
        return 0.0  # no time, no voltage, or driven towards the state the cell is in
    if parallel:
        current, ic0, tau0 = -v / r_p, ic0_p2ap, tau0_p2ap
    else:
        current = v * physics.ap_conductance(v, r_p, tmr0, v_h)
        ic0, tau0 = ic0_ap2p, tau0_ap2p
    thermal = -t * physics.thermal_rate(current, ic0, tau0, delta, n)
    if current <= ic0:
        return thermal + log_floor
    return thermal + physics.precessional_log_survival(current, t, ic0, delta, tau_d)


@njit(cache=True)
def _kernel(volts, durations, parallel, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta, log_floor,
            n, tau_d, out):
    intervals, rows, cols = volts.shape
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for k in range(intervals):
                total += _interval_log_survival(volts[k, i, j], durations[k, i, j], parallel[i, j], r_p[i, j],
                                                tmr0[i, j], v_h[i, j], ic0_ap2p[i, j], ic0_p2ap[i, j], tau0_ap2p[i, j],
                                                tau0_p2ap[i, j], delta[i, j], log_floor[i, j], n, tau_d)
            out[i, j] = total


@njit(cache=True)
def _sample_kernel(volts, durations, parallel, frozen, has_frozen, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p,
                   tau0_p2ap, delta, log_floor, n, tau_d, sel_r, sel_c, to_p, seed, flipped):
    """Each cell flips with probability ``1 - exp(-h)``, ``h`` its hazard over the phase (minus its
    log-survival), independently: drawn by walking the cells with the sum of their hazards since the last
    flip against one exponential variate ``E``; the cell whose hazard takes the sum past ``E`` flips and a
    fresh ``E`` is drawn (given no flip so far, ``E`` minus the sum is again exponential, so every cell flips
    with its own probability, independently of the others). One draw per flip, not per cell: most cells'
    hazards are some 1e-10, and a uniform and an ``expm1`` per cell cost more than their survival."""
    np.random.seed(seed)
    intervals, rows, cols = volts.shape
    count, to_p_count, intended = 0, 0, 0
    budget, spent = np.random.exponential(), 0.0
    for i in range(rows):
        for j in range(cols):
            if has_frozen and frozen[i, j]:
                continue  # stuck: never flips
            was = parallel[i, j]
            for k in range(intervals):
                spent -= _interval_log_survival(volts[k, i, j], durations[k, i, j], was, r_p[i, j], tmr0[i, j],
                                                v_h[i, j], ic0_ap2p[i, j], ic0_p2ap[i, j], tau0_ap2p[i, j],
                                                tau0_p2ap[i, j], delta[i, j], log_floor[i, j], n, tau_d)
            if spent < budget:
                continue
            parallel[i, j] = not was
            flipped[count] = i * cols + j
            count += 1
            if not was:
                to_p_count += 1
            if sel_r[i] and sel_c[j] and was != to_p:  # the phase aims at it: selected, switchable state
                intended += 1
            budget, spent = np.random.exponential(), 0.0
    return count, to_p_count, intended


def _f64(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64)


def log_floors(delta: np.ndarray) -> np.ndarray:
    """Each cell's precessional floor (:func:`~mtjxbar.device.physics.precessional_log_floor` of its
    ``delta``), what the kernels take as ``log_floor`` (callers that write often compute it once per cell
    parameters)."""
    return np.ascontiguousarray(physics.precessional_log_floor(np.asarray(delta, dtype=np.float64)))


def _durations(durations, volts):
    """(intervals, rows, cols) durations; one per row (intervals, rows) becomes a view, not a copy."""
    durations = np.asarray(durations, dtype=np.float64)
    if durations.ndim == 2:
        durations = np.broadcast_to(durations[:, :, None], volts.shape)
    return durations


def phase_log_survival(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray],
                       n: float, tau_d: float, log_floor: np.ndarray | None = None) -> np.ndarray:
    """log P(no flip) (rows, cols) of cells at voltages ``volts`` (intervals, rows, cols) for ``durations``
    (same shape, or (intervals, rows): one per row, s), in states ``parallel``; ``params``: per-cell ``r_p, tmr0, v_h,
    ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta`` (rows, cols); ``n`` and ``tau_d`` of the device;
    ``log_floor``: :func:`log_floors` of ``delta`` (None: computed here)."""
    out = np.empty(parallel.shape)
    log_floor = log_floors(_f64(params["delta"], parallel.shape)) if log_floor is None else log_floor
    _kernel(np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts),
            np.ascontiguousarray(parallel, dtype=np.bool_), *(_f64(params[k], parallel.shape) for k in _PARAMS),
            _f64(log_floor, parallel.shape), float(n), float(tau_d), out)
    return out


def sample_phase_flips(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, frozen: np.ndarray | None,
                       params: dict[str, np.ndarray], n: float, tau_d: float, selected_rows: np.ndarray,
                       selected_cols: np.ndarray, to_p: bool, seed: int,
                       log_floor: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
    """Draw the flips of one phase (cells as in :func:`phase_log_survival`) and apply them to ``parallel``
    (rows, cols) bool, C-contiguous, **in place**; ``frozen`` (rows, cols) bool: stuck cells, never flipped
    (None: none). ``selected_rows`` / ``selected_cols``: the phase's lines, ``to_p`` its polarity (a flip of a
    selected cell in the state the polarity switches is intended). ``seed`` (0 <= seed < 2**32) seeds the
    draws; ``log_floor`` as in :func:`phase_log_survival`. Returns the flat indices of the flipped cells
    (row-major), how many were AP before (flips to P), and how many were intended."""
    if not parallel.flags.c_contiguous or parallel.dtype != np.bool_:
        raise ValueError("sample_phase_flips flips the states in place: a C-contiguous bool array is needed")
    flipped = np.empty(parallel.size, dtype=np.int64)
    log_floor = log_floors(_f64(params["delta"], parallel.shape)) if log_floor is None else log_floor
    has_frozen = frozen is not None
    frozen = np.ascontiguousarray(frozen, dtype=np.bool_) if has_frozen else np.zeros((1, 1), dtype=np.bool_)
    count, to_p_count, intended = _sample_kernel(
        np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts), parallel,
        frozen, has_frozen, *(_f64(params[k], parallel.shape) for k in _PARAMS), _f64(log_floor, parallel.shape),
        float(n), float(tau_d),
        np.ascontiguousarray(selected_rows, dtype=np.bool_), np.ascontiguousarray(selected_cols, dtype=np.bool_),
        bool(to_p), int(seed), flipped)
    return flipped[:count], int(to_p_count), int(intended)
