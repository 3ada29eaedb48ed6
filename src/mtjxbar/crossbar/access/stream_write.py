"""A stream of outer-product writes in one compiled loop: a convolution's output positions, one after another.

:meth:`StreamWrites.write_stream` applies the plans of an :class:`~mtjxbar.crossbar.plan.OuterPlans` in
order, each on the states the previous one left, exactly as :meth:`Crossbar.write <.array.Crossbar.write>`
would one call at a time, but as one Numba loop over the plans instead of ~25 tensor operations per plan.
Per plan it makes the same choice as ``Crossbar.write``: the exact sparse Poisson-event sampler
(:mod:`mtjxbar.crossbar.sampling`) where every current is at or below the cells' Ic0 and few switching
attempts are expected (``sparse_max_events_per_cell``), otherwise one draw per reached cell with the full
device formula. The formulas are :mod:`mtjxbar.device.physics`' (compiled by name), not copies.

Scope (:meth:`StreamWrites.stream_unsupported` says why not): uniform cell parameters, no cycle-to-cycle
spread, no event sink attached (the cost meter sees no phases from here), the sparse sampler selected, a CPU
array; stuck cells are honoured. Elsewhere call ``write`` per plan.

Randomness: one 32-bit draw of the caller's ``torch.Generator`` seeds the Mersenne Twister of NumPy's legacy
API that Numba compiles (``np.random.seed`` inside the loop: Numba keeps its own per-thread state, which
the loop reseeds at every call, so nothing carries over between calls and a NumPy user's global state is
untouched; the pure-Python twin ``_write_plans.py_func`` reseeds NumPy's and draws the same numbers). A
``numpy.random.Generator`` argument would cost more to pass in (Numba types and unboxes it per call) than
a small layer's whole write. Same generator state, same result; the draws differ from ``write``'s (a torch
stream), so the two agree in distribution, not bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

from ...device import physics
from ..plan import OuterPlans, StreamResult

__all__ = ["StreamWrites"]


@njit(cache=True)
def _categorical(cumulative, u):
    """The index that the uniform draw ``u`` in [0, 1) picks with probability proportional to its weight
    (``cumulative``: the weights' running sums, the last one > 0), or -1 where it lands on a weight of 0
    (draw again). The caller draws ``u``, so that the pure-Python twin of a loop draws from its own
    generator (a compiled helper would draw from Numba's)."""
    i = np.searchsorted(cumulative, u * cumulative[-1], side="right")
    if i < cumulative.shape[0] and cumulative[i] > (cumulative[i - 1] if i > 0 else 0.0):
        return i
    return -1


@njit(cache=True)
def _write_plans(widths, row_sign, col_sign, currents, parallel, frozen, device, sparse_limit, seed, flips, phases):
    """Apply plans ``p = 0, 1, ...`` in order to ``parallel`` (rows, cols) bool, in place; ``frozen``: stuck
    cells. ``widths`` / ``row_sign`` (plans, rows), ``col_sign`` (plans, cols), ``currents`` (plans, 2,
    cols) [TO_P, TO_AP] (float32 or float64; computed in float64); ``device``: Ic0 TO_P, Ic0 TO_AP, tau0 TO_P,
    tau0 TO_AP, Delta, n, tau_d; ``flips`` (plans, 2) and ``phases`` (plans,) int64 receive each plan's flips
    to P and to AP and its phase count (:attr:`OuterPlan.phase_count`); ``seed`` (0 <= seed < 2**32) seeds the
    draws (module docstring)."""
    np.random.seed(seed)
    n_plans, rows = widths.shape
    cols = col_sign.shape[1]
    delta, n, tau_d = device[4], device[5], device[6]
    floor_hazard = -physics.precessional_log_floor(delta)
    rates = np.zeros((2, cols))
    cum_rows = np.zeros(rows)
    cum_cols = np.zeros(cols)
    for p in range(n_plans):
        thermal = True
        total_b = 0.0
        to_p_pos = to_p_neg = to_ap_pos = to_ap_neg = False  # driven columns by polarity and sign
        for c in range(cols):
            b = 0.0
            for pol in range(2):
                current = np.float64(currents[p, pol, c])
                rates[pol, c] = physics.thermal_rate(current, device[pol], device[2 + pol], delta, n) \
                    if current > 0.0 else 0.0
                thermal &= current <= device[pol]
                b = max(b, rates[pol, c])
            total_b += b if col_sign[p, c] != 0.0 else 0.0
            cum_cols[c] = total_b
            to_p_pos |= currents[p, 0, c] > 0.0 and col_sign[p, c] > 0.0
            to_p_neg |= currents[p, 0, c] > 0.0 and col_sign[p, c] < 0.0
            to_ap_pos |= currents[p, 1, c] > 0.0 and col_sign[p, c] > 0.0
            to_ap_neg |= currents[p, 1, c] > 0.0 and col_sign[p, c] < 0.0
        total_w = 0.0
        rows_pos = rows_neg = False
        for i in range(rows):
            total_w += np.float64(widths[p, i]) if row_sign[p, i] != 0.0 else 0.0
            cum_rows[i] = total_w
            rows_pos |= row_sign[p, i] > 0.0 and widths[p, i] > 0.0
            rows_neg |= row_sign[p, i] < 0.0 and widths[p, i] > 0.0
        phases[p] = int(rows_pos) * (int(to_p_pos) + int(to_ap_neg)) + int(rows_neg) * (int(to_p_neg) + int(to_ap_pos))
        lam = total_w * total_b
        if thermal and lam <= sparse_limit * rows * cols:  # Crossbar.write's choice: the sparse sampler
            for _ in range(np.random.poisson(lam)):
                i = c = -1
                while i < 0:
                    i = _categorical(cum_rows, np.random.random())
                while c < 0:
                    c = _categorical(cum_cols, np.random.random())
                s = row_sign[p, i] * col_sign[p, c]
                pol = 0 if s > 0.0 else 1
                if np.random.random() * max(rates[0, c], rates[1, c]) < rates[pol, c] and s != 0.0 \
                        and parallel[i, c] != (s > 0.0) and not frozen[i, c]:
                    parallel[i, c] = s > 0.0
                    flips[p, pol] += 1
            for _ in range(np.random.poisson(floor_hazard * rows * cols)):  # the precessional floor (~1e-43 a cell)
                i = np.random.randint(0, rows)
                c = np.random.randint(0, cols)
                s = row_sign[p, i] * col_sign[p, c]
                pol = 0 if s > 0.0 else 1
                if s != 0.0 and widths[p, i] > 0.0 and currents[p, pol, c] > 0.0 \
                        and parallel[i, c] != (s > 0.0) and not frozen[i, c]:
                    parallel[i, c] = s > 0.0
                    flips[p, pol] += 1
            continue
        for i in range(rows):  # the dense sampler: one draw per reached cell the pulse can flip
            if row_sign[p, i] == 0.0 or widths[p, i] <= 0.0:
                continue
            for c in range(cols):
                s = row_sign[p, i] * col_sign[p, c]
                pol = 0 if s > 0.0 else 1
                current = currents[p, pol, c]
                if s == 0.0 or current <= 0.0 or parallel[i, c] == (s > 0.0) or frozen[i, c]:
                    continue
                prob = physics.switching_probability(np.float64(current), np.float64(widths[p, i]), device[pol],
                                                     device[2 + pol], delta, n, tau_d)
                if np.random.random() < prob:
                    parallel[i, c] = s > 0.0
                    flips[p, pol] += 1


class StreamWrites:
    """The stream-writer methods of :class:`~mtjxbar.crossbar.access.Crossbar` (kept in their own module)."""

    def stream_unsupported(self) -> str | None:
        """Why :meth:`write_stream` cannot write this array, or None."""
        if not self._uniform:
            return "cells with their own parameters"
        if self.c2c.ic0_c2c > 0:
            return "cycle-to-cycle spread"
        if self.events is not None:
            return "an event sink is attached"
        if self.sampler != "sparse":
            return f"sampler = {self.sampler!r}"
        if self.device.type != "cpu":
            return f"the array is on {self.device}"
        return None

    def write_stream(self, plans: OuterPlans, generator: torch.Generator) -> StreamResult:
        """Apply ``plans`` in order (module docstring): the same distribution as ``write(plans[p], generator)``
        for ``p = 0, 1, ...``, in one compiled loop. Raises ValueError where :meth:`stream_unsupported` says so."""
        reason = self.stream_unsupported()
        if reason is not None:
            raise ValueError(f"write_stream: {reason}")
        self._check_phase_shapes(plans.row_widths.shape[1], plans.col_sign.shape[1])
        seed = int(torch.randint(0, 2**32, (1,), generator=generator, device=generator.device))
        states = self.parallel.numpy()  # the loop flips the array's own states in place
        before = states.copy()
        device, frozen = self._stream_constants()
        flips = np.zeros((len(plans), 2), dtype=np.int64)
        phases = np.zeros(len(plans), dtype=np.int64)
        fields = [t.detach().numpy() for t in (plans.row_widths, plans.row_sign, plans.col_sign, plans.col_currents)]
        if len({f.dtype for f in fields}) > 1:  # one compiled signature per dtype
            fields = [f.astype(np.float64) for f in fields]
        _write_plans(*fields, states, frozen, device, self.sparse_max_events_per_cell, seed, flips, phases)
        changed = torch.from_numpy(np.flatnonzero(states != before))
        if changed.numel():
            self._state_float = None
            self._states_changed(changed)
        return StreamResult(flips=torch.from_numpy(flips), phases=torch.from_numpy(phases), changed_cells=changed)

    def _stream_constants(self) -> tuple[np.ndarray, np.ndarray]:
        """``(device, frozen)`` as :func:`_write_plans` takes them, kept until the parameters change (``None``
        there) and rebuilt where stuck cells were set since."""
        if self._stream_device is None:
            nominal = self.nominal
            self._stream_device = np.array([nominal("ic0_ap2p"), nominal("ic0_p2ap"), nominal("tau0_ap2p"),
                                            nominal("tau0_p2ap"), nominal("delta"), self.device_params.n_exponent,
                                            self.device_params.tau_d])
        if self._frozen is not None:
            return self._stream_device, self._frozen.view(self.rows, self.cols).numpy()
        if self._stream_unfrozen is None or self._stream_unfrozen.shape != (self.rows, self.cols):
            self._stream_unfrozen = np.zeros((self.rows, self.cols), dtype=np.bool_)
        return self._stream_device, self._stream_unfrozen
