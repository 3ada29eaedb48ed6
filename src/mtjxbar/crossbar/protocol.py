"""The contract every array kind honours, as the layers above use it.

:class:`CrossbarArray` is what ``nn``, ``training``, ``hardware`` and ``experiments`` may call on any array
a layer holds (:func:`~mtjxbar.periphery.arrays.make_array` gives a layer the kind its ``ArrayConfig.kind``
names): the 1T1MTJ :class:`~mtjxbar.crossbar.access.Crossbar` and the passive
:class:`~mtjxbar.crossbar.passive.PassiveCrossbar` both honour all of it, with no method that does not apply
to them. The state, parameters, variation and checkpoints come from their shared base
(:class:`~mtjxbar.crossbar.cells.CellArray`); reads, writes and conductances each kind implements with its
own physics.

A capability that only some kinds have is its own small protocol, checked with ``isinstance``:
:class:`SeparableRead` (a read that splits into a voltage-only part and one product with the states: the
1T1MTJ array, whose cells are isolated). What only a compiled loop needs (:meth:`Crossbar.kernel_view`) stays
on the class that has it; the loop checks the class.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..device import MTJParams, VariationConfig
from .config import ArrayConfig
from .events import EventSink
from .plan import UpdatePlan, WriteResult

__all__ = ["CrossbarArray", "SeparableRead"]


@runtime_checkable
class CrossbarArray(Protocol):
    """One array of ``rows x cols`` binary MTJ cells: states, per-cell parameters, reads and writes."""

    rows: int
    cols: int
    dtype: torch.dtype
    device: torch.device
    device_params: MTJParams
    """The nominal device (per-cell values: :attr:`params`)."""
    array: ArrayConfig
    parallel: torch.Tensor
    """(rows, cols) bool, True where the cell is parallel (low resistance)."""
    params: dict[str, torch.Tensor]
    """Per-cell parameters (``CELL_PARAMETERS``), each (rows, cols)."""
    events: EventSink | None
    """Where the array reports its reads and writes (None: nowhere)."""
    stuck_p: torch.Tensor | None
    stuck_ap: torch.Tensor | None
    c2c: VariationConfig

    @property
    def uniform(self) -> bool: ...

    @property
    def frozen_mask(self) -> torch.Tensor | None: ...

    def nominal(self, name: str) -> float: ...

    def states_as_float(self) -> torch.Tensor: ...

    # state, variation, checkpoints (shared base)
    def set_states(self, parallel: torch.Tensor) -> None: ...

    def set_cells(self, cells: torch.Tensor, parallel: torch.Tensor) -> None: ...

    def set_cell_params(self, params: dict[str, torch.Tensor]) -> None: ...

    def set_stuck(self, stuck_p: torch.Tensor | None, stuck_ap: torch.Tensor | None) -> None: ...

    def set_c2c(self, variation: VariationConfig) -> None: ...

    def manufacture(self, variation: VariationConfig, params_generator: torch.Generator,
                    faults_generator: torch.Generator) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...

    # physics (each kind its own)
    def read(self, v_rows: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Sensed column currents (A) for row voltages (V), (..., rows) -> (..., cols)."""
        ...

    def read_transposed(self, v_cols: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Sensed row currents (A) for column voltages (V), (..., cols) -> (..., rows)."""
        ...

    def conductances(self, voltage: float = 0.0) -> torch.Tensor:
        """Each cell's conductance (S) in its state at a uniform applied ``voltage``, (rows, cols)."""
        ...

    def switching_probabilities(self, plan: UpdatePlan) -> torch.Tensor:
        """Per-cell flip probability of each phase of ``plan`` in the current states, (phases, rows, cols)."""
        ...

    def write(self, plan, generator: torch.Generator) -> WriteResult:
        """Apply ``plan``; each cell flips as the device model says, drawn with ``generator``."""
        ...

    def write_column(self, col: int, gated: torch.Tensor, width: float, current: float, polarity: str,
                     generator: torch.Generator) -> WriteResult:
        """One phase driving column ``col`` with the ``gated`` rows held for ``width``."""
        ...


@runtime_checkable
class SeparableRead(Protocol):
    """An array whose read is ``base(v) + extra(v) @ states`` (cells isolated: no sneak paths)."""

    def drive_terms(self, v_rows: torch.Tensor, v_max: float | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(base, extra)`` for a batch of row voltages; None where the array's cells do not share one
        parameter set (the split needs one G_AP(v) for every cell)."""
        ...

    def read_terms(self, base: torch.Tensor, extra: torch.Tensor, v_rows: torch.Tensor | None = None) -> torch.Tensor:
        """One sample's read from its :meth:`drive_terms`."""
        ...
