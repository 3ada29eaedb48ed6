"""The events a 1T1MTJ array reports (:mod:`mtjxbar.crossbar.events`): reads with their driver currents,
write phases with each reached cell's resistance (junction at its current plus the access transistor).

The resistance of an AP junction at a current comes from a table of the exact solve on a uniform array
(:func:`~mtjxbar.crossbar.events.ap_resistance_at_current`, one table per array, kept in a weak
dictionary so that it costs the array nothing until it reports a phase).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import torch

from ..events import PhaseEvent, ReadEvent, ap_resistance_at_current

if TYPE_CHECKING:
    from ..plan import WritePhase
    from .array import Crossbar

__all__ = ["read_event", "phase_event", "resistance_table_span", "rebuild_resistance_table"]


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # crossbar -> (span, R_AP table)
_TABLE_POINTS = 8193


def _build_table(xb: Crossbar, span: float) -> tuple[float, torch.Tensor]:
    grid = torch.linspace(0.0, span, _TABLE_POINTS, dtype=torch.float64, device=xb.device)
    exact = ap_resistance_at_current(grid, r_p=xb.nominal("r_p"), tmr0=xb.nominal("tmr0"), v_h=xb.nominal("v_h"))
    entry = (span, exact.to(xb.dtype))
    _TABLES[xb] = entry
    return entry


def resistance_table_span(xb: Crossbar) -> float | None:
    """Span (A) of ``xb``'s write-event resistance table, None when not built (for checkpoints)."""
    entry = _TABLES.get(xb)
    return None if entry is None else entry[0]


def rebuild_resistance_table(xb: Crossbar, span: float | None) -> None:
    """Set ``xb``'s write-event resistance table to the one built at ``span`` (None: no table yet)."""
    _TABLES.pop(xb, None)
    if span is not None:
        _build_table(xb, float(span))


def _uniform_ap_resistance(xb: Crossbar, current: torch.Tensor) -> torch.Tensor:
    """:func:`ap_resistance_at_current` of a uniform array, interpolated from a table of the exact solve.

    The table spans 0 to 1.05 times the largest current seen so far on 8193 points and is rebuilt when
    a current outgrows it (relative error below 1e-7, checked in tests).
    """
    imax = float(current.abs().max()) if current.numel() else 0.0
    entry = _TABLES.get(xb)
    if entry is None or imax > entry[0]:
        entry = _build_table(xb, max(1.05 * imax, 1e-6))
    span, table = entry
    pos = current.abs() * ((_TABLE_POINTS - 1) / span)
    lo = pos.floor().clamp(0, _TABLE_POINTS - 2)
    frac = pos - lo
    lo = lo.long()
    return torch.lerp(table[lo], table[lo + 1], frac)


def read_event(xb: Crossbar, v: torch.Tensor, currents: torch.Tensor, transposed: bool) -> ReadEvent:
    """The event of a read that drove ``v`` and sensed ``currents`` (computes the driver currents)."""
    states = xb.states_as_float()
    if transposed:
        states = states.T
    r_on = xb.array.r_access
    if xb.uniform:
        g_p = 1.0 / (xb.nominal("r_p") + r_on)
        g_ap = xb.uniform_ap_conductance(v)
        n_p = states.sum(dim=-1)  # parallel cells on each driven line
        drivers = v * (g_ap * states.shape[-1] + (g_p - g_ap) * n_p)
    else:
        r_p, tmr0, v_h = (xb.params[n].T if transposed else xb.params[n] for n in ("r_p", "tmr0", "v_h"))
        out = []
        for vb in v.reshape(-1, v.shape[-1]):
            g_ap = xb.ap_conductance(vb[:, None].expand_as(r_p), r_p, tmr0, v_h)
            g = torch.where(states.bool(), 1.0 / (r_p + r_on), g_ap)
            out.append(vb * g.sum(dim=-1))
        drivers = torch.stack(out).reshape(v.shape)
    return ReadEvent(transposed=transposed, voltages=v.detach(), currents=currents.detach(),
                     driver_currents=drivers.detach())


def phase_event(xb: Crossbar, phase: WritePhase, rows: torch.Tensor) -> PhaseEvent:
    """The event of a phase about to be applied to ``rows`` (resistances in the current states)."""
    currents = phase.col_currents.to(xb.dtype)
    states = xb.parallel.index_select(0, rows)
    r_on = xb.array.r_access
    if xb.uniform:
        r_p = torch.full_like(currents, xb.nominal("r_p"))
        resistance = torch.where(states, r_p[None, :], _uniform_ap_resistance(xb, currents)[None, :]) + r_on
    else:
        r_p, tmr0, v_h = (xb.params[n].index_select(0, rows) for n in ("r_p", "tmr0", "v_h"))
        r_ap = ap_resistance_at_current(currents[None, :].expand_as(r_p), r_p=r_p, tmr0=tmr0, v_h=v_h)
        resistance = torch.where(states, r_p, r_ap) + r_on
    return PhaseEvent(row_widths=phase.row_widths, col_currents=phase.col_currents, polarity=phase.polarity,
                      rows=rows, resistance=resistance)
