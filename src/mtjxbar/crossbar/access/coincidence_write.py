"""Writing a :class:`~mtjxbar.crossbar.plan.CoincidencePlan` to a 1T1MTJ :class:`~mtjxbar.crossbar.Crossbar`.

In slot ``b`` every cell (i, j) whose row and column both fire (in the phase of its polarity) sees one
pulse of the plan's current for the plan's width; it switches with the device model's probability
:func:`~mtjxbar.device.switching_probability` for that pulse and its *own* parameters (Ic0 and tau0 of
the direction it is pushed, Delta; Ic0 times a fresh cycle-to-cycle factor for every pulse when the
array has a c2c spread). All pulses of one update push a cell the same way, so once it has switched the
later ones do nothing: a cell that can move (not stuck, not already on that side) flips if any of its
coincidences succeeds, ``P = 1 - prod_k (1 - p0_ijk)``.

Cost: the streams are ``slots x (rows + 2 cols)`` uniform draws; the coincidences are listed from them
slot by slot (fired rows x fired columns, O(coincidences), no pass over every cell of every slot), the
cells that cannot move are dropped, and the device model runs once over the rest (a scalar per
polarity for a uniform array without c2c spread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...device import switching_probability
from ...device.variation import sample_ic0_c2c
from ..events import WriteEvent
from ..plan import CoincidencePlan, WriteResult
from .events import phase_event

if TYPE_CHECKING:
    from .array import Crossbar

__all__ = ["write_coincidence", "coincidences", "coincidence_probabilities", "pulse_probability"]


def coincidences(plan: CoincidencePlan) -> tuple[torch.Tensor, torch.Tensor]:
    """The coincidences of a drawn plan: ``(cells, towards_p)``, one entry per (slot, cell) pulse, ``cells``
    flat indices ``i * cols + j`` and ``towards_p`` the polarity that reached it. Cost O(fired lines +
    coincidences)."""
    if not plan.is_drawn:
        raise ValueError("coincidences: the plan's pulse streams are not drawn (plan.draw(generator))")
    cols = plan.cols
    row_sign, col_sign = plan.row_sign, plan.col_sign
    out_cells, out_to_p = [], []
    for k, to_p in enumerate((True, False)):
        fired_b, fired_i = torch.nonzero(plan.row_on, as_tuple=True)  # sorted by slot
        col_b, col_j = torch.nonzero(plan.col_on[:, k], as_tuple=True)
        if fired_i.numel() == 0 or col_j.numel() == 0:
            continue
        # a row of sign s meets the columns of sign s (TO_P) or -s (TO_AP) that fired in its slot
        col_key = col_b * 2 + (col_sign[col_j] < 0).long()  # (slot, column sign) group of each fired column
        want_neg = (row_sign[fired_i] < 0) if to_p else (row_sign[fired_i] > 0)
        row_key = fired_b * 2 + want_neg.long()
        order = torch.argsort(col_key, stable=True)
        col_key, col_j = col_key[order], col_j[order]
        groups = plan.slots * 2
        counts = torch.bincount(col_key, minlength=groups)
        starts = torch.cumsum(counts, 0) - counts
        reps = counts[row_key]
        total = int(reps.sum())
        if total == 0:
            continue
        rows_rep = torch.repeat_interleave(fired_i, reps)
        first = torch.repeat_interleave(starts[row_key], reps)
        offset = torch.arange(total, device=reps.device) - torch.repeat_interleave(torch.cumsum(reps, 0) - reps, reps)
        out_cells.append(rows_rep * cols + col_j[first + offset])
        out_to_p.append(torch.full((total,), to_p, dtype=torch.bool, device=reps.device))
    if not out_cells:
        empty = torch.zeros(0, dtype=torch.long, device=plan.row_sign.device)
        return empty, empty.bool()
    return torch.cat(out_cells), torch.cat(out_to_p)


def _cell_params(xb: Crossbar, cells: torch.Tensor, to_p: torch.Tensor) -> dict[str, torch.Tensor]:
    """Ic0, tau0 (of each pulse's direction) and Delta of ``cells`` (float64)."""
    pol_ic0, pol_tau0 = xb.polarity_parameters()
    ic0 = torch.where(to_p, pol_ic0[0][cells], pol_ic0[1][cells]).double()
    tau0 = torch.where(to_p, pol_tau0[0][cells], pol_tau0[1][cells]).double()
    return {"ic0": ic0, "tau0": tau0, "delta": xb.params["delta"].view(-1)[cells].double()}


def pulse_probability(xb: Crossbar, plan: CoincidencePlan, cells: torch.Tensor, to_p: torch.Tensor,
                      c2c: torch.Tensor | None = None) -> torch.Tensor:
    """Probability (float64) that one pulse of ``plan`` switches each of ``cells`` pushed ``to_p``, from the
    device model with each cell's own parameters (``c2c``: factors on Ic0 for these pulses)."""
    kw = _cell_params(xb, cells, to_p)
    if c2c is not None:
        kw["ic0"] = kw["ic0"] * c2c.double()
    current = torch.where(to_p, plan.currents[0].double(), plan.currents[1].double())
    dev = xb.device_params
    return switching_probability(current, plan.width, **kw, n=dev.n_exponent, tau_d=dev.tau_d)


def _movable(xb: Crossbar, cells: torch.Tensor, to_p: torch.Tensor) -> torch.Tensor:
    """Which of ``cells`` a pulse ``to_p`` can flip now: on the other side and not stuck."""
    can = xb.parallel.view(-1)[cells] != to_p
    if xb.frozen_mask is not None:
        can &= ~xb.frozen_mask[cells]
    return can


def write_coincidence(xb: Crossbar, plan: CoincidencePlan, generator: torch.Generator) -> WriteResult:
    """Apply ``plan`` to ``xb`` (drawing its pulse streams from ``generator`` if it arrives undrawn), then
    one uniform draw per coincidence on a movable cell (after its cycle-to-cycle factor, if any)."""
    if plan.rows != xb.rows or plan.cols != xb.cols:
        raise ValueError(f"write: a coincidence plan of {plan.rows} rows x {plan.cols} columns for a "
                         f"{xb.rows}x{xb.cols} array")
    plan = plan.draw(generator)
    if xb.events is not None:
        for phase in plan.phases:
            xb.events.append(phase_event(xb, phase, torch.nonzero(phase.row_widths > 0).flatten().to(xb.device)))
    cells, to_p = coincidences(plan)
    cells, to_p = cells.to(xb.device), to_p.to(xb.device)
    keep = _movable(xb, cells, to_p)
    cells, to_p = cells[keep], to_p[keep]
    n_to_p = 0
    flipped = torch.zeros(0, dtype=torch.long, device=xb.device)
    if cells.numel():
        c2c = None
        if xb.c2c.ic0_c2c > 0:
            c2c = sample_ic0_c2c(xb.c2c, (cells.numel(),), generator, dtype=torch.float64).to(xb.device)
        if xb.uniform and c2c is None:
            both = pulse_probability(xb, plan, torch.zeros(2, dtype=torch.long, device=xb.device),
                                     torch.tensor([True, False], device=xb.device))
            p0 = torch.where(to_p, both[0], both[1])
        else:
            p0 = pulse_probability(xb, plan, cells, to_p, c2c)
        u = torch.rand(cells.shape, generator=generator, dtype=torch.float64, device=generator.device)
        flipped = torch.unique(cells[u.to(xb.device) < p0])
        if flipped.numel():
            n_to_p = int((~xb.parallel.view(-1)[flipped]).sum())
            xb.toggle_cells(flipped)
    n = int(flipped.numel())
    if xb.events is not None:
        xb.events.append(WriteEvent(rows=xb.rows, cols=xb.cols, phases=len(plan), flips_to_p=n_to_p,
                                    flips_to_ap=n - n_to_p))
    return WriteResult(flipped_cells=flipped, flips_to_p=n_to_p, flips_to_ap=n - n_to_p, phases=len(plan))


def coincidence_probabilities(xb: Crossbar, plan: CoincidencePlan) -> torch.Tensor:
    """Per-cell probability (rows, cols), float64, that ``plan`` flips each cell in the current states, from
    each cell's own parameters (no cycle-to-cycle spread): ``1 - (1 - s_ij p0_ij)^slots`` with ``s_ij`` the
    per-slot coincidence probability for an undrawn plan, ``1 - (1 - p0_ij)^n_ij`` with ``n_ij`` its
    coincidences for a drawn one. Dense over the array: for analysis and tests, not for writes."""
    cells = torch.arange(xb.rows * xb.cols, device=xb.device)
    to_p = plan.towards_p().to(xb.device).reshape(-1)
    p0 = pulse_probability(xb, plan, cells, to_p)
    reached = (plan.row_sign[:, None] * plan.col_sign[None, :]).reshape(-1).to(xb.device) != 0
    p0 = torch.where(reached & _movable(xb, cells, to_p), p0, torch.zeros_like(p0))
    if plan.is_drawn:
        hits, _ = coincidences(plan)
        n = torch.bincount(hits.to(xb.device), minlength=xb.rows * xb.cols).double()
    else:
        s = plan.attempt_probability().to(xb.device).reshape(-1).double()
        return (-torch.expm1(plan.slots * torch.log1p(-s * p0))).reshape(xb.rows, xb.cols)
    p = -torch.expm1(n * torch.log1p(-p0))
    return torch.where(n > 0, p, torch.zeros_like(p)).reshape(xb.rows, xb.cols)
