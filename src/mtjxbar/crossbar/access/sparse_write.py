"""Sparse writes of outer-product plans: the array's exact Poisson-event sampler (see :mod:`mtjxbar.crossbar.sampling`).

:class:`SparseWrites` holds the methods of :class:`~mtjxbar.crossbar.access.Crossbar` that sample an
:class:`~mtjxbar.crossbar.plan.OuterPlan` at a cost of O(rows + cols + events): the bound, the event draw,
the thinning (per-cell parameters, cycle-to-cycle factors, stuck cells) and the application of the kept
events, with tensor operations or, for a handful of events on the CPU, in Python over NumPy views. They
use the array's state and the per-polarity bounds it prepares (``Crossbar._prepare_write_bounds``).
"""

from __future__ import annotations

import torch

from ...device import physics
from ...device.variation import sample_ic0_c2c
from ..plan import OuterPlan, WriteResult
from ..sampling import RateConstants, poisson_outer_events, thermal_rate, uniform_cell_events

__all__ = ["SparseWrites", "SPARSE_MAX_EVENTS_PER_CELL", "VARIED_SPARSE_FACTOR", "HOST_EVENTS_MAX"]

# the sparse sampler runs while it expects at most this many switching attempts per cell of the array
SPARSE_MAX_EVENTS_PER_CELL = 0.05
# arrays with per-cell parameters run it up to this many times further: their dense sampler evaluates the full
# device formula per cell (several times the uniform array's product form), measured on 784x256 MNIST training
VARIED_SPARSE_FACTOR = 6.0
# at most this many events are applied in Python on CPU arrays (more: tensor operations)
HOST_EVENTS_MAX = 64


class SparseWrites:
    """The sparse-sampler methods of :class:`~mtjxbar.crossbar.access.Crossbar` (kept in their own module)."""

    def _write_outer(self, plan: OuterPlan, generator: torch.Generator) -> WriteResult | None:
        """Sparse exact sampling of an outer-product plan (see :mod:`mtjxbar.crossbar.sampling`); None where the dense
        sampler must run instead: some current above a cell's Ic0 of its polarity (the precessional
        switching probability is not of product form) or too many expected switching attempts.

        Columns of sign 0 and rows of sign 0 are idle (as in :attr:`OuterPlan.phases`).

        Cycle-to-cycle spread: given this write's factors ``f`` on Ic0, cell (i, j) is a Poisson process
        of rate ``rho_ij(f_ij)``, which grows as ``f`` falls. The truncated normal never gives a factor
        below ``f_min`` (:attr:`_c2c_min`), so the per-column bound is the rate at ``Ic0_min * f_min`` (and
        every current must be at most that for the thermal regime); the factors are independent of the
        bounding process, so drawing ``f`` only for the cells that have candidate events (one per distinct
        cell, shared by its events) and thinning with ``rho_ij(f_ij) / bound_j`` samples the same
        distribution as drawing every cell's factor up front. The lognormal family has no smallest factor:
        the dense sampler runs then. Stuck cells reject every event."""
        self._check_phase_shapes(plan.row_widths.numel(), plan.col_sign.numel())
        currents = plan.col_currents.to(self.dtype)
        c2c = self.c2c.ic0_c2c > 0
        if c2c and self._c2c_min is None:
            return None
        threshold = self._col_ic0_min * self._c2c_min if c2c else self._col_ic0_min
        if bool((currents > threshold).any()):
            return None
        # per-column bound of the thermal rate over both polarities (the exact rate on a uniform array)
        constants = self._c2c_constants if c2c else self._bound_constants
        rate_pol = thermal_rate(currents, constants, self.device_params.n_exponent)
        bound = rate_pol.amax(0).mul_(plan.col_sign != 0)
        widths = plan.row_widths.to(self.dtype) * (plan.row_sign != 0)
        lam = float(widths.sum(dtype=torch.float64)) * float(bound.sum(dtype=torch.float64))
        limit = self.sparse_max_events_per_cell * (1.0 if self._uniform and not c2c else VARIED_SPARSE_FACTOR)
        if lam > limit * self.rows * self.cols:
            return None
        counts = torch.poisson(torch.tensor([lam, self._floor_bound * self.rows * self.cols], dtype=torch.float64,
                                            device=self.device), generator=generator)
        n_main, n_floor = (int(c) for c in counts.tolist())
        events = []
        if n_main:
            r, c = poisson_outer_events(widths, bound, n_main, generator)
            u = torch.rand(n_main, generator=generator, dtype=self.dtype, device=self.device)
            factor = None
            if c2c:  # one factor per distinct cell with candidate events, shared by its events
                distinct, inverse = torch.unique(r * self.cols + c, return_inverse=True)
                factor = sample_ic0_c2c(self.c2c, (distinct.numel(),), generator, dtype=self.dtype)[inverse]
            events.append(("main", r, c, u, factor))
        if n_floor:  # precessional-floor switching: ~1e-43 per cell at Delta = 40, kept for exactness
            r, c = uniform_cell_events(self.rows, self.cols, n_floor, generator, self.device)
            u = torch.rand(n_floor, generator=generator, dtype=self.dtype, device=self.device)
            events.append(("floor", r, c, u, None))
        if not events:
            return WriteResult(flipped_cells=torch.zeros(0, dtype=torch.long, device=self.device), flips_to_p=0,
                               flips_to_ap=0, phases=len(plan))
        if self.device.type == "cpu" and n_main + n_floor <= self.host_events_max:
            return self._apply_events_host(plan, events, currents, widths, rate_pol, bound)
        return self._apply_events(plan, events, currents, widths, rate_pol, bound)

    def _event_rates(self, kind: str, r, c, to_p, currents, widths, rate_pol, bound, factor=None):
        """The kept event's intensity and its bound, per event (tensors): see :mod:`mtjxbar.crossbar.sampling`, step 3;
        ``factor``: the cycle-to-cycle factors on Ic0 of the events' cells (None: none)."""
        pol = (~to_p).long()
        if kind == "floor":
            hazard = -physics.precessional_log_floor(self.params["delta"][r, c])
            reached = (widths[r] > 0) & (currents[pol, c] > 0)
            return hazard * reached, torch.full_like(hazard, self._floor_bound)
        if self._uniform and factor is None:
            return rate_pol.view(-1).take(pol * self.cols + c), bound.take(c)
        flat = r * self.cols + c
        ic0 = self._pol_ic0[pol, flat] if factor is None else self._pol_ic0[pol, flat] * factor
        exact = thermal_rate(currents[pol, c], RateConstants(ic0, self._pol_tau0[pol, flat],
                                                            self.params["delta"].view(-1)[flat]),
                             self.device_params.n_exponent)
        return exact, bound.take(c)

    def _apply_events(self, plan, events, currents, widths, rate_pol, bound) -> WriteResult:
        """Thin the events and switch their cells, with tensor operations (any device)."""
        cells, targets = [], []
        for kind, r, c, u, factor in events:
            to_p = (plan.row_sign.take(r) * plan.col_sign.take(c)) > 0
            rate, rbound = self._event_rates(kind, r, c, to_p, currents, widths, rate_pol, bound, factor)
            keep = (u * rbound < rate) & (plan.col_sign.take(c) != 0)
            if self._frozen is not None:
                keep &= ~self._frozen.take(r * self.cols + c)
            cells.append((r * self.cols + c)[keep])
            targets.append(to_p[keep])
        cell, to_p = torch.cat(cells), torch.cat(targets)
        flat = self.parallel.view(-1)
        change = flat.take(cell) != to_p
        cell, to_p = cell[change], to_p[change]
        flat[cell] = to_p  # duplicates of a cell carry the same target
        if self._state_float is not None:
            self._state_float.view(-1)[cell] = to_p.to(self.dtype)
        flipped = torch.unique(cell)
        self._states_changed(flipped)
        n_to_p = int(flat.take(flipped).sum())
        return WriteResult(flipped_cells=flipped, flips_to_p=n_to_p, flips_to_ap=flipped.numel() - n_to_p,
                           phases=len(plan))

    def _apply_events_host(self, plan, events, currents, widths, rate_pol, bound) -> WriteResult:
        """:meth:`_apply_events` for a handful of events on the CPU: the same decisions, in Python over
        NumPy views of the tensors (a few microseconds instead of ~25 tensor operations per write)."""
        row_sign, col_sign = plan.row_sign.numpy(), plan.col_sign.numpy()
        state = self.parallel.numpy().reshape(-1)
        state_float = self._state_float.numpy().reshape(-1) if self._state_float is not None else None
        frozen = self._frozen.numpy() if self._frozen is not None else None
        flipped, n_to_p = [], 0
        for kind, r, c, u, factor in events:
            r_l, c_l = r.tolist(), c.tolist()
            if kind == "main" and self._uniform and factor is None:
                rate, rbound, u_l = rate_pol.numpy(), bound.numpy(), u.numpy()
                keep = [u_l[e] * rbound[j] < rate[0 if row_sign[i] * col_sign[j] > 0 else 1, j]
                        for e, (i, j) in enumerate(zip(r_l, c_l, strict=True))]
            else:  # per-cell parameters or precessional-floor events: the tensor formulas, then Python
                to_p = (plan.row_sign.take(r) * plan.col_sign.take(c)) > 0
                exact, rb = self._event_rates(kind, r, c, to_p, currents, widths, rate_pol, bound, factor)
                keep = (u * rb < exact).tolist()
            for e, (i, j) in enumerate(zip(r_l, c_l, strict=True)):
                s = row_sign[i] * col_sign[j]
                cell = i * self.cols + j
                if keep[e] and s != 0 and state[cell] != (s > 0) and (frozen is None or not frozen[cell]):
                    state[cell] = s > 0
                    if state_float is not None:
                        state_float[cell] = 1.0 if s > 0 else 0.0
                    flipped.append(cell)
                    n_to_p += s > 0
        cells = torch.tensor(sorted(flipped), dtype=torch.long)
        if flipped:
            self._states_changed(cells)
        return WriteResult(flipped_cells=cells, flips_to_p=int(n_to_p), flips_to_ap=len(flipped) - int(n_to_p),
                           phases=len(plan))
