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

:func:`sample_phase_flips` draws the flips of a phase in the same loop (one uniform per cell that can flip,
from NumPy's Mersenne Twister as Numba compiles it, seeded per call from the caller's ``torch.Generator``;
the state array is flipped in place and the flipped cells listed), instead of a survival array, a uniform
array and five array passes over the whole array per phase. ``tests/crossbar/test_passive_fast.py`` checks
its per-cell flip counts against the probabilities of :func:`phase_log_survival` (chi-square).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...device import physics

__all__ = ["phase_log_survival", "sample_phase_flips"]

_PARAMS = ("r_p", "tmr0", "v_h", "ic0_ap2p", "ic0_p2ap", "tau0_ap2p", "tau0_p2ap", "delta")


@njit(cache=True, inline="always")
def _cell_log_survival(volts, durations, i, j, parallel, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap,
                       delta, n, tau_d):
    """log P(no flip) of cell (i, j) over the intervals ``volts[k, i, j]`` lasting ``durations[k, i, j]``."""
    total = 0.0
    for k in range(volts.shape[0]):
        v, t = volts[k, i, j], durations[k, i, j]
        if t <= 0.0 or v == 0.0 or (v > 0.0) == parallel:
            continue  # no time, no voltage, or driven towards the state the cell is in
        if parallel:
            current, ic0, tau0 = -v / r_p[i, j], ic0_p2ap[i, j], tau0_p2ap[i, j]
        else:
            current = v * physics.ap_conductance(v, r_p[i, j], tmr0[i, j], v_h[i, j])
            ic0, tau0 = ic0_ap2p[i, j], tau0_ap2p[i, j]
        total += physics.log_survival(current, t, ic0, tau0, delta[i, j], n, tau_d)
    return total


@njit(cache=True)
def _kernel(volts, durations, parallel, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta, n, tau_d,
            out):
    _, rows, cols = volts.shape
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _cell_log_survival(volts, durations, i, j, parallel[i, j], r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap,
                                           tau0_ap2p, tau0_p2ap, delta, n, tau_d)


@njit(cache=True)
def _sample_kernel(volts, durations, parallel, frozen, has_frozen, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p,
                   tau0_p2ap, delta, n, tau_d, sel_r, sel_c, to_p, seed, flipped):
    np.random.seed(seed)
    _, rows, cols = volts.shape
    count, to_p_count, intended = 0, 0, 0
    for i in range(rows):
        for j in range(cols):
            was = parallel[i, j]
            log_s = _cell_log_survival(volts, durations, i, j, was, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p,
                                       tau0_p2ap, delta, n, tau_d)
            if log_s == 0.0 or (has_frozen and frozen[i, j]):
                continue  # no hazard, or stuck: nothing to draw
            if np.random.random() < -np.expm1(log_s):
                parallel[i, j] = not was
                flipped[count] = i * cols + j
                count += 1
                if not was:
                    to_p_count += 1
                if sel_r[i] and sel_c[j] and was != to_p:  # the phase aims at it: selected, switchable state
                    intended += 1
    return count, to_p_count, intended


def _f64(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64)


def _durations(durations, volts):
    """(intervals, rows, cols) durations; one per row (intervals, rows) becomes a view, not a copy."""
    durations = np.asarray(durations, dtype=np.float64)
    if durations.ndim == 2:
        durations = np.broadcast_to(durations[:, :, None], volts.shape)
    return durations


def phase_log_survival(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, params: dict[str, np.ndarray],
                       n: float, tau_d: float) -> np.ndarray:
    """log P(no flip) (rows, cols) of cells at voltages ``volts`` (intervals, rows, cols) for ``durations``
    (same shape, or (intervals, rows): one per row, s), in states ``parallel``; ``params``: per-cell ``r_p, tmr0, v_h,
    ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta`` (rows, cols); ``n`` and ``tau_d`` of the device."""
    out = np.empty(parallel.shape)
    _kernel(np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts),
            np.ascontiguousarray(parallel, dtype=np.bool_), *(_f64(params[k], parallel.shape) for k in _PARAMS),
            float(n), float(tau_d), out)
    return out


def sample_phase_flips(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, frozen: np.ndarray | None,
                       params: dict[str, np.ndarray], n: float, tau_d: float, selected_rows: np.ndarray,
                       selected_cols: np.ndarray, to_p: bool, seed: int) -> tuple[np.ndarray, int, int]:
    """Draw the flips of one phase (cells as in :func:`phase_log_survival`) and apply them to ``parallel``
    (rows, cols) bool, C-contiguous, **in place**; ``frozen`` (rows, cols) bool: stuck cells, never flipped
    (None: none). ``selected_rows`` / ``selected_cols``: the phase's lines, ``to_p`` its polarity (a flip of a
    selected cell in the state the polarity switches is intended). ``seed`` (0 <= seed < 2**32) seeds the
    draws. Returns the flat indices of the flipped cells (row-major), how many were AP before (flips to P),
    and how many were intended."""
    if not parallel.flags.c_contiguous or parallel.dtype != np.bool_:
        raise ValueError("sample_phase_flips flips the states in place: a C-contiguous bool array is needed")
    flipped = np.empty(parallel.size, dtype=np.int64)
    has_frozen = frozen is not None
    frozen = np.ascontiguousarray(frozen, dtype=np.bool_) if has_frozen else np.zeros((1, 1), dtype=np.bool_)
    count, to_p_count, intended = _sample_kernel(
        np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts), parallel,
        frozen, has_frozen, *(_f64(params[k], parallel.shape) for k in _PARAMS), float(n), float(tau_d),
        np.ascontiguousarray(selected_rows, dtype=np.bool_), np.ascontiguousarray(selected_cols, dtype=np.bool_),
        bool(to_p), int(seed), flipped)
    return flipped[:count], int(to_p_count), int(intended)
