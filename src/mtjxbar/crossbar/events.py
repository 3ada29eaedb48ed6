"""Events an array reports to an optional sink, for the cost model in ``mtjxbar.hardware``.

A :class:`~mtjxbar.crossbar.Crossbar` whose ``events`` attribute is set (any object with ``append``,
a plain list will do) reports what it physically did: every read (:class:`ReadEvent`), every write
phase (:class:`PhaseEvent`, with the resistance of each cell that sees current, taken in its state
before the phase) and the outcome of each write (:class:`WriteEvent`). With ``events = None`` (the
default) nothing here runs. The events carry volts, amperes, seconds and ohms only: no energy constant,
no schedule; turning them into joules and seconds is the cost model's job.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from ..device import physics

if TYPE_CHECKING:
    from .array import Crossbar
    from .plan import WritePhase

__all__ = ["EventSink", "ReadEvent", "PhaseEvent", "WriteEvent", "ap_resistance_at_current",
           "resistance_table_span", "rebuild_resistance_table"]


class EventSink(Protocol):
    """Where an array reports its events (a ``list`` qualifies)."""

    def append(self, event: object) -> None: ...


@dataclass(frozen=True, eq=False)
class ReadEvent:
    """One read (``transposed``: columns driven, rows sensed) of one vector or a batch of vectors.

    The driven lines sit at ``voltages``, the sensed lines at virtual ground; ``currents`` are the
    sensed-line currents and ``driver_currents`` what each driver sources (the sum of its cells'
    currents), so the power the cells draw is ``sum(voltages * driver_currents)``.
    """

    transposed: bool
    voltages: torch.Tensor  # (..., driven) V
    currents: torch.Tensor  # (..., sensed) A
    driver_currents: torch.Tensor  # (..., driven) A

    @property
    def driven(self) -> int:
        return self.voltages.shape[-1]

    @property
    def sensed(self) -> int:
        return self.currents.shape[-1]

    @property
    def vectors(self) -> int:
        """Number of input vectors read (1 for a single sample)."""
        return self.voltages.numel() // max(self.driven, 1)

    @property
    def cells(self) -> int:
        """Cells that see a read voltage per vector (every cell of the array)."""
        return self.driven * self.sensed


@dataclass(frozen=True, eq=False)
class PhaseEvent:
    """One write phase: row ``i`` gated for ``row_widths[i]``, column ``j`` driving ``col_currents[j]``.

    ``rows`` lists the gated rows; ``resistance[k, j]`` is the resistance (ohm, junction at the current
    it carries plus the access transistor) of cell ``(rows[k], j)`` in its state before the phase.
    Cell ``(rows[k], j)`` dissipates ``col_currents[j]^2 * resistance[k, j] * row_widths[rows[k]]``
    whether it switches or not. Cells of ungated rows see no current (the access transistors are off:
    no half-selected cells in a 1T1MTJ array).
    """

    row_widths: torch.Tensor  # (rows,) s
    col_currents: torch.Tensor  # (cols,) A
    polarity: str
    rows: torch.Tensor  # (active rows,) indices
    resistance: torch.Tensor  # (active rows, cols) ohm

    @property
    def active_rows(self) -> int:
        return int(self.rows.numel())

    @property
    def active_cols(self) -> int:
        return int((self.col_currents > 0).sum())

    @property
    def cells(self) -> int:
        """Cells that see current: gated rows times driven columns."""
        return self.active_rows * self.active_cols


@dataclass(frozen=True)
class WriteEvent:
    """The outcome of one :meth:`Crossbar.write`: phases applied and cells flipped per direction."""

    rows: int
    cols: int
    phases: int
    flips_to_p: int
    flips_to_ap: int

    @property
    def flips(self) -> int:
        return self.flips_to_p + self.flips_to_ap


def ap_resistance_at_current(current: torch.Tensor, *, r_p, tmr0, v_h) -> torch.Tensor:
    """Resistance (ohm) of an AP junction carrying ``current`` (A): ``R = R_AP(V)`` with ``V = I R``
    (:func:`mtjxbar.device.physics.ap_voltage_at_current`)."""
    v = physics.ap_voltage_at_current(current.abs(), r_p, tmr0, v_h)
    return physics.ap_resistance(v, r_p, tmr0, v_h)


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
