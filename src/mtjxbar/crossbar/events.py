"""Events an array reports to an optional sink, for the cost model in ``mtjxbar.hardware``.

An array whose ``events`` attribute is set (any object with ``append``, a plain list will do; both array
kinds honour it) reports what it physically did: every read (:class:`ReadEvent`), every write
phase (:class:`PhaseEvent`, with the resistance of each cell that sees current, taken in its state
before the phase) and the outcome of each write (:class:`WriteEvent`). With ``events = None`` (the
default) nothing here runs. The events carry volts, amperes, seconds and ohms only: no energy constant,
no schedule; turning them into joules and seconds is the cost model's job. The 1T1MTJ array builds its
events in :mod:`mtjxbar.crossbar.access.events`, the passive array in :mod:`mtjxbar.crossbar.passive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from ..device import physics

__all__ = ["EventSink", "ReadEvent", "PhaseEvent", "WriteEvent", "ap_resistance_at_current"]


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
    """The outcome of one ``write`` of an array: phases applied and cells flipped per direction."""

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
