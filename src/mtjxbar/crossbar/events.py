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

__all__ = ["EventSink", "ReadEvent", "PhaseEvent", "PassivePhaseEvent", "PASSIVE_PARTS", "WriteEvent",
           "ap_resistance_at_current"]

#: Where a passive write phase's power goes (:class:`PassivePhaseEvent`): the cells it aims at (selected row
#: and column), the half-selected cells (selected row or column), the unselected ones, the wire segments and
#: the drivers' output resistances.
PASSIVE_PARTS = ("cells_selected", "cells_half_selected", "cells_unselected", "wires", "drivers")


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


@dataclass(frozen=True, eq=False)
class PassivePhaseEvent:
    """One write phase of a passive array: the power (W) of each part of its circuit (:data:`PASSIVE_PARTS`)
    in the phase's two patterns, the selected rows held (index 0) and every row released (index 1), as the
    array solved them for its switching (:mod:`mtjxbar.crossbar.passive.power`).

    ``row_power[p, k, s]``: what selected row ``rows[s]`` owns (its cells, its line's wires and drivers) in
    pattern ``p``, part ``k``; ``rest_power[p, k]``: everything else (unselected rows, column lines). Row
    ``i`` is held for ``row_widths[i]`` and released for the rest of the phase. ``line_v2``: sum over the
    tiles' lines of (cells along the line) x (its source level change)^2, V^2: the held pattern's levels from
    0 V, then the selected rows' step to the released level. ``selected_cols``: columns driven to switch.
    ``tiles``: (row tiles, column tiles). ``compensated``: the periphery moved the sources against the IR drop
    (each selected row then has its own held level, not the scheme's common one).
    """

    row_widths: torch.Tensor  # (rows,) s
    polarity: str
    rows: torch.Tensor  # (selected rows,) indices
    row_power: torch.Tensor  # (2, parts, selected rows) W
    rest_power: torch.Tensor  # (2, parts) W
    line_v2: float  # V^2 x cells
    selected_cols: int
    tiles: tuple[int, int]
    compensated: bool = False

    @property
    def active_rows(self) -> int:
        return int(self.rows.numel())

    @property
    def cells(self) -> int:
        """Cells the phase aims at: selected rows times selected columns."""
        return self.active_rows * self.selected_cols


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


def ap_resistance_at_current(current, *, r_p, tmr0, v_h):
    """Resistance (ohm) of an AP junction carrying ``current`` (A; a tensor or a numpy array, which is
    many times faster for the few values of a write phase's columns): ``R = R_AP(V)`` with ``V = I R``
    (:func:`mtjxbar.device.physics.ap_voltage_at_current`)."""
    v = physics.ap_voltage_at_current(abs(current), r_p, tmr0, v_h)
    return physics.ap_resistance(v, r_p, tmr0, v_h)
