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

:func:`sample_phase_flips` draws the flips of a phase without a survival array: each row's cells on the
phase's selected columns and on the others are two classes, each with a bound of its cells' hazards (the
row's extreme parameters at the class's extreme voltages and durations, :func:`_class_bound`); a class with
a small bound (nearly every class: half-selected and unselected cells) is **thinned**, only the candidates
at geometric gaps evaluated, each kept with its own hazard's share of the bound, and the others are walked
cell by cell (:func:`_sample_kernel`; NumPy's Mersenne Twister as Numba compiles it, seeded per call from the
caller's ``torch.Generator``; the state array is flipped in place and the flipped cells listed). Every cell
still flips with its own probability ``1 - exp(-h)``, independently; on the bench's phases the sampler
evaluates under 0.1 % of the cells. ``tests/crossbar/test_passive_sampler.py`` and
``tests/crossbar/test_passive_fast.py`` check its per-cell flip counts against the probabilities of
:func:`phase_log_survival` (chi-square).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...device import physics

__all__ = ["float_field", "log_floors", "phase_log_survival", "row_bounds", "sample_phase_flips"]

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
def _row_bounds(r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p, tau0_p2ap, delta, log_floor, out):
    """Per row, the parameters that make a cell's hazard largest at a given voltage and time (the largest
    current and rate): the least ``r_p``, ``tmr0`` and ``v_h`` (an AP cell's conductance grows as they fall),
    the least Ic0 and tau0 of each direction, the least delta and the largest ``-log_floor``; into ``out``
    (rows, 9) in that order."""
    rows, cols = r_p.shape
    for i in range(rows):
        b = np.full(9, np.inf)
        b[8] = 0.0
        for j in range(cols):
            b[0] = min(b[0], r_p[i, j])
            b[1] = min(b[1], tmr0[i, j])
            b[2] = min(b[2], v_h[i, j])
            b[3] = min(b[3], ic0_ap2p[i, j])
            b[4] = min(b[4], ic0_p2ap[i, j])
            b[5] = min(b[5], tau0_ap2p[i, j])
            b[6] = min(b[6], tau0_p2ap[i, j])
            b[7] = min(b[7], delta[i, j])
            b[8] = max(b[8], -log_floor[i, j])
        out[i] = b


@njit(cache=True, inline="always")
def _direction_bound(current, t, ic0, tau0, delta, n, floor):
    """Hazard bound of one switching direction over ``t`` at a current at most ``current`` (inf past Ic0,
    where the precessional term is no longer the floor)."""
    if current > ic0:
        return np.inf
    return t * physics.thermal_rate(current, ic0, tau0, delta, n) + floor


@njit(cache=True)
def _class_bound(vpos, vneg, tmax, b, n):
    """Bound of the hazard over the phase of every cell of a class whose voltages in interval ``k`` are at
    most ``vpos[k]`` (positive: AP cells switch to P) and at least ``-vneg[k]`` (negative: P cells to AP),
    for at most ``tmax[k]``; ``b`` the row's :func:`_row_bounds`. A cell switches one way only, so each
    interval contributes the larger direction's bound."""
    h = 0.0
    for k in range(vpos.size):
        if tmax[k] <= 0.0:
            continue
        to_p = to_ap = 0.0
        if vpos[k] > 0.0:
            to_p = _direction_bound(vpos[k] * physics.ap_conductance(vpos[k], b[0], b[1], b[2]), tmax[k], b[3],
                                    b[5], b[7], n, b[8])
        if vneg[k] > 0.0:
            to_ap = _direction_bound(vneg[k] / b[0], tmax[k], b[4], b[6], b[7], n, b[8])
        h += max(to_p, to_ap)
    return h


@njit(cache=True, fastmath=True)  # max reductions in any order are exact; fastmath lets them vectorise
def _class_extremes(vs, ts, on, vpos, vneg, tmax):
    """The largest positive and negative voltage (``vpos``, ``vneg``: magnitudes) and longest duration of a
    row's cells on selected columns (``on`` 1.0; into entry 0) and on the others (entry 1), in one
    branch-free pass (every product is 0 off the class, and every extreme starts at 0)."""
    p_sel = p_off = m_sel = m_off = t_sel = t_off = 0.0
    for j in range(vs.size):
        v, t, a = vs[j], ts[j], on[j]
        b = 1.0 - a
        p_sel = max(p_sel, v * a)
        p_off = max(p_off, v * b)
        m_sel = max(m_sel, -v * a)
        m_off = max(m_off, -v * b)
        t_sel = max(t_sel, t * a)
        t_off = max(t_off, t * b)
    vpos[0], vpos[1], vneg[0], vneg[1], tmax[0], tmax[1] = p_sel, p_off, m_sel, m_off, t_sel, t_off


_THIN_MAX = 0.1  # a class whose hazard bound is above this is walked cell by cell, not thinned


@njit(cache=True)
def _sample_kernel(volts, durations, parallel, frozen, has_frozen, r_p, tmr0, v_h, ic0_ap2p, ic0_p2ap, tau0_ap2p,
                   tau0_p2ap, delta, log_floor, n, tau_d, sel_r, sel_c, to_p, seed, flipped, bounds):
    """Each cell flips with probability ``1 - exp(-h)``, ``h`` its hazard over the phase (minus its
    log-survival), independently. Each row's cells fall in two classes, on the phase's selected columns and
    on the others; a class's hazard is bounded by ``h_b``, the hazard of a cell with the row's extreme
    parameters (``bounds``: :func:`_row_bounds`) at the class's extreme voltages of each sign and its longest
    duration of each interval (:func:`_class_bound`: the thermal rate grows with the current, and below Ic0
    the precessional term is the floor).

    * ``h_b`` small (the half-selected and unselected cells, nearly all of them): **thinning**. Each cell is
      a candidate with probability ``1 - exp(-h_b)``; the gap to the next candidate is geometric, drawn as
      ``floor(E / h_b)`` from one exponential variate ``E``, so the cells between are never evaluated. A
      candidate is evaluated and flips with probability ``(1 - exp(-h)) / (1 - exp(-h_b))``: in all, with
      ``1 - exp(-h)``, independently of the others.
    * otherwise (a class that may be driven past Ic0: the selected cells), every cell is evaluated and the
      walk sums their hazards since the last flip against one exponential variate ``E``; the cell whose
      hazard takes the sum past ``E`` flips and a fresh ``E`` is drawn (given no flip so far, ``E`` minus the
      sum is again exponential).

    Returns the flips, those to P, those the phase aims at, and the cells evaluated."""
    np.random.seed(seed)
    intervals, rows, cols = volts.shape
    order = np.empty(cols, dtype=np.int64)  # the selected columns, then the others
    n_sel = 0
    for j in range(cols):
        if sel_c[j]:
            order[n_sel] = j
            n_sel += 1
    q = n_sel
    for j in range(cols):
        if not sel_c[j]:
            order[q] = j
            q += 1
    vpos, vneg, tmax = np.zeros((2, intervals)), np.zeros((2, intervals)), np.zeros((2, intervals))
    on = np.empty(cols)  # 1.0 on a selected column, else 0.0
    for j in range(cols):
        on[j] = 1.0 if sel_c[j] else 0.0
    count, to_p_count, intended, evaluated = 0, 0, 0, 0
    budget, spent = np.random.exponential(), 0.0
    for i in range(rows):
        for k in range(intervals):
            _class_extremes(volts[k, i], durations[k, i], on, vpos[:, k], vneg[:, k], tmax[:, k])
        for c in range(2):
            lo, hi = (0, n_sel) if c == 0 else (n_sel, cols)
            if hi == lo:
                continue
            h_b = _class_bound(vpos[c], vneg[c], tmax[c], bounds[i], n)
            if h_b == 0.0:
                continue
            thin = h_b <= _THIN_MAX
            p_b = -np.expm1(-h_b) if thin else 1.0
            q = lo - 1
            while True:
                if thin:
                    gap = np.random.exponential() / h_b
                    if q + 1 + gap >= hi:
                        break
                    q += 1 + int(gap)
                else:
                    q += 1
                    if q >= hi:
                        break
                j = order[q]
                if has_frozen and frozen[i, j]:
                    continue  # stuck: never flips
                was = parallel[i, j]
                h = 0.0
                for k in range(intervals):
                    h -= _interval_log_survival(volts[k, i, j], durations[k, i, j], was, r_p[i, j], tmr0[i, j],
                                                v_h[i, j], ic0_ap2p[i, j], ic0_p2ap[i, j], tau0_ap2p[i, j],
                                                tau0_p2ap[i, j], delta[i, j], log_floor[i, j], n, tau_d)
                evaluated += 1
                if thin:
                    if h <= 0.0 or np.random.random() * p_b >= -np.expm1(-h):
                        continue
                else:
                    spent += h
                    if spent < budget:
                        continue
                    budget, spent = np.random.exponential(), 0.0
                parallel[i, j] = not was
                flipped[count] = i * cols + j
                count += 1
                if not was:
                    to_p_count += 1
                if sel_r[i] and sel_c[j] and was != to_p:  # the phase aims at it: selected, switchable state
                    intended += 1
    return count, to_p_count, intended, evaluated


def float_field(a, shape):
    """``a`` (a number or an array) broadcast to ``shape`` as a C-contiguous float64 array (copied only where
    needed), what the passive kernels take per cell."""
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
    log_floor = log_floors(float_field(params["delta"], parallel.shape)) if log_floor is None else log_floor
    _kernel(np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts),
            np.ascontiguousarray(parallel, dtype=np.bool_), *(float_field(params[k], parallel.shape) for k in _PARAMS),
            float_field(log_floor, parallel.shape), float(n), float(tau_d), out)
    return out


def row_bounds(params: dict[str, np.ndarray], log_floor: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The per-row extreme parameters the sampler bounds hazards with (:func:`_row_bounds`), (rows, 9);
    callers that write often compute them once per cell parameters."""
    out = np.empty((shape[0], 9))
    _row_bounds(*(float_field(params[k], shape) for k in _PARAMS), float_field(log_floor, shape), out)
    return out


def sample_phase_flips(volts: np.ndarray, durations: np.ndarray, parallel: np.ndarray, frozen: np.ndarray | None,
                       params: dict[str, np.ndarray], n: float, tau_d: float, selected_rows: np.ndarray,
                       selected_cols: np.ndarray, to_p: bool, seed: int, log_floor: np.ndarray | None = None,
                       bounds: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
    """Draw the flips of one phase (cells as in :func:`phase_log_survival`) and apply them to ``parallel``
    (rows, cols) bool, C-contiguous, **in place**; ``frozen`` (rows, cols) bool: stuck cells, never flipped
    (None: none). ``selected_rows`` / ``selected_cols``: the phase's lines, ``to_p`` its polarity (a flip of a
    selected cell in the state the polarity switches is intended). ``seed`` (0 <= seed < 2**32) seeds the
    draws; ``log_floor`` as in :func:`phase_log_survival`, ``bounds`` :func:`row_bounds` (None: computed
    here). Returns the flat indices of the flipped cells (row-major), how many were AP before (flips to P),
    and how many were intended."""
    return _sample_phase(volts, durations, parallel, frozen, params, n, tau_d, selected_rows, selected_cols, to_p,
                         seed, log_floor, bounds)[:3]


def _sample_phase(volts, durations, parallel, frozen, params, n, tau_d, selected_rows, selected_cols, to_p, seed,
                  log_floor=None, bounds=None):
    """:func:`sample_phase_flips`, and how many cells the sampler evaluated (the rest it skipped by thinning)."""
    if not parallel.flags.c_contiguous or parallel.dtype != np.bool_:
        raise ValueError("sample_phase_flips flips the states in place: a C-contiguous bool array is needed")
    flipped = np.empty(parallel.size, dtype=np.int64)
    log_floor = log_floors(float_field(params["delta"], parallel.shape)) if log_floor is None else log_floor
    bounds = row_bounds(params, log_floor, parallel.shape) if bounds is None else bounds
    has_frozen = frozen is not None
    frozen = np.ascontiguousarray(frozen, dtype=np.bool_) if has_frozen else np.zeros((1, 1), dtype=np.bool_)
    count, to_p_count, intended, evaluated = _sample_kernel(
        np.ascontiguousarray(volts, dtype=np.float64), _durations(durations, volts), parallel,
        frozen, has_frozen, *(float_field(params[k], parallel.shape) for k in _PARAMS),
        float_field(log_floor, parallel.shape), float(n), float(tau_d),
        np.ascontiguousarray(selected_rows, dtype=np.bool_), np.ascontiguousarray(selected_cols, dtype=np.bool_),
        bool(to_p), int(seed), flipped, np.ascontiguousarray(bounds, dtype=np.float64))
    return np.sort(flipped[:count]), int(to_p_count), int(intended), int(evaluated)
