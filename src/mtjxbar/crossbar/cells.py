"""What every array kind holds: cell states, per-cell device parameters, variation, stuck cells, checkpoints.

:class:`CellArray` is the common base of the 1T1MTJ :class:`~mtjxbar.crossbar.access.Crossbar` and the
passive :class:`~mtjxbar.crossbar.passive.PassiveCrossbar`. It owns what does not depend on how a cell is
reached: ``parallel`` (bool per cell, True = low resistance), the per-cell parameters ``params``
(:data:`CELL_PARAMETERS`, float tensors of the array's shape), the device-to-device spread and stuck cells
drawn by :meth:`CellArray.manufacture`, the cycle-to-cycle spread the array is given (``c2c``), and the
checkpoint of all of it (:meth:`CellArray.state_dict`). It reads and writes nothing: each kind adds its own
``read``, ``read_transposed``, ``write``, ``write_column``, ``switching_probabilities`` and
``conductances`` (the contract of :class:`~mtjxbar.crossbar.protocol.CrossbarArray`).

A kind keeps what it derives from the parameters and the states in step through three hooks, which the
base calls and which do nothing here: :meth:`CellArray._params_changed` (after :meth:`set_cell_params`),
:meth:`CellArray._states_changed` (after states were set or flipped) and the interpolation tables of
:meth:`CellArray._table_spans` / :meth:`CellArray._restore_tables` (checkpoints).
"""

from __future__ import annotations

import torch

from ..device import MTJParams, VariationConfig
from ..device.variation import sample_cell_params, sample_stuck
from .config import ArrayConfig
from .events import EventSink

__all__ = ["CellArray", "CELL_PARAMETERS"]

CELL_PARAMETERS = ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p")


class CellArray:
    """State of one array: ``parallel`` (bool per cell) and per-cell parameters (float tensors)."""

    def __init__(self, rows: int, cols: int, device_params: MTJParams, array: ArrayConfig, *,
                 cell_params: dict[str, torch.Tensor] | None = None, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu") -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"array size {rows}x{cols}: rows and cols must be >= 1")
        self.rows, self.cols = rows, cols
        self.device_params = device_params
        self.array = array
        self.dtype, self.device = dtype, torch.device(device)
        self.parallel = torch.zeros(rows, cols, dtype=torch.bool, device=self.device)
        self._state_float: torch.Tensor | None = None
        self.events: EventSink | None = None  # optional sink of read / phase / write events (cost model)
        self.stuck_p: torch.Tensor | None = None  # bool masks of the stuck cells (None: no faults)
        self.stuck_ap: torch.Tensor | None = None
        self._frozen: torch.Tensor | None = None  # flat bool: stuck_p | stuck_ap
        self.c2c = VariationConfig()  # only its ic0_c2c and distribution matter here
        given = cell_params or {}
        self.set_cell_params({name: given[name] if given.get(name) is not None
                              else torch.tensor(float(getattr(device_params, name)), dtype=torch.float64)
                              for name in CELL_PARAMETERS})

    # -------------------------------------------------------------------------------- hooks of a kind
    def _params_changed(self) -> None:
        """Drop or rebuild what the kind derives from ``params`` (called by :meth:`set_cell_params`)."""

    def _states_changed(self, cells: torch.Tensor | None) -> None:
        """Keep what follows the states in step: ``cells`` (flat indices) flipped, or None: all states set."""

    def _table_spans(self) -> dict:
        """Spans of the kind's interpolation tables, for checkpoints (none here)."""
        return {"read": None, "write": None}

    def _restore_tables(self, spans: dict) -> None:
        """Rebuild the kind's interpolation tables at the checkpointed ``spans`` (none here)."""

    # ----------------------------------------------------------------------------------- parameters
    def set_cell_params(self, params: dict[str, torch.Tensor]) -> None:
        """Set the per-cell device parameters (each broadcast to the array's shape) and drop everything
        derived from them (the uniform-array fast path and its tables). Change parameters only here."""
        if set(params) != set(CELL_PARAMETERS):
            raise ValueError(f"cell parameters {sorted(params)}: expected {sorted(CELL_PARAMETERS)}")
        values = {}
        for name in CELL_PARAMETERS:
            value = params[name]
            if not isinstance(value, torch.Tensor):
                value = torch.tensor(value, dtype=torch.float64)
            try:
                value = value.to(dtype=self.dtype, device=self.device).expand(self.rows, self.cols).clone()
            except RuntimeError:
                raise ValueError(f"cell parameter {name} of shape {tuple(value.shape)}: expected "
                                 f"({self.rows}, {self.cols}) or broadcastable to it") from None
            values[name] = value
        self.params = values
        self._uniform = all(bool((v == v.flatten()[0]).all()) for v in self.params.values())
        self._nominal = {k: float(v.flatten()[0]) for k, v in self.params.items()} if self._uniform else {}
        self._params_changed()

    @property
    def uniform(self) -> bool:
        """Whether every cell has the same parameters (reads use one table, writes one rate per column)."""
        return self._uniform

    def nominal(self, name: str) -> float:
        """The value every cell shares of the cell parameter ``name`` (a uniform array only)."""
        return self._nominal[name]

    # -------------------------------------------------------------------------------------- variation
    def manufacture(self, variation: VariationConfig, params_generator: torch.Generator,
                    faults_generator: torch.Generator) -> None:
        """Give this array its own chip: per-cell parameters (device-to-device spread, drawn with
        ``params_generator``), stuck cells (``faults_generator``) and the cycle-to-cycle spread. Draws
        nothing for what ``variation`` leaves nominal (no spread: uniform parameters; no faults: no masks)."""
        if variation.has_dtod:
            gen = params_generator
            cells = sample_cell_params(self.device_params, variation, self.rows, self.cols, gen)
            self.set_cell_params(cells)
        if variation.has_faults:
            self.set_stuck(*sample_stuck(variation, self.rows, self.cols, faults_generator))
        self.set_c2c(variation)

    def set_c2c(self, variation: VariationConfig) -> None:
        """Cycle-to-cycle spread of Ic0 (``variation.ic0_c2c`` and ``distribution``) drawn at every write."""
        self.c2c = VariationConfig(distribution=variation.distribution, ic0_c2c=variation.ic0_c2c)

    def set_stuck(self, stuck_p: torch.Tensor | None, stuck_ap: torch.Tensor | None) -> None:
        """Cells stuck at P / at AP (disjoint bool masks, or None for none); they are set to their stuck
        state now and keep it through every write and :meth:`set_states`."""
        if stuck_p is None and stuck_ap is None:
            self.stuck_p = self.stuck_ap = self._frozen = None
            return
        masks = []
        for name, m in (("stuck_p", stuck_p), ("stuck_ap", stuck_ap)):
            m = torch.zeros(self.rows, self.cols, dtype=torch.bool) if m is None else m
            if tuple(m.shape) != (self.rows, self.cols):
                raise ValueError(f"{name} of shape {tuple(m.shape)}: expected ({self.rows}, {self.cols})")
            masks.append(m.to(dtype=torch.bool, device=self.device).clone())
        if bool((masks[0] & masks[1]).any()):
            raise ValueError("a cell cannot be stuck at P and at AP")
        self.stuck_p, self.stuck_ap = masks
        self._frozen = (masks[0] | masks[1]).flatten()
        self.set_states(self.parallel)

    @property
    def frozen_mask(self) -> torch.Tensor | None:
        """Stuck cells (flat bool, rows * cols), None without faults."""
        return self._frozen

    # ----------------------------------------------------------------------------------------- states
    def set_states(self, parallel: torch.Tensor) -> None:
        """Program every cell (True = parallel / low resistance); stuck cells keep their stuck state."""
        if parallel.shape != (self.rows, self.cols):
            raise ValueError(f"states of shape {tuple(parallel.shape)}: expected ({self.rows}, {self.cols})")
        self.parallel = parallel.to(dtype=torch.bool, device=self.device).clone()
        if self._frozen is not None:
            self.parallel = (self.parallel | self.stuck_p) & ~self.stuck_ap
        self._state_float = None
        self._states_changed(None)

    def set_cells(self, cells: torch.Tensor, parallel: torch.Tensor) -> None:
        """Program the cells ``cells`` (flat indices) to ``parallel`` (bool, one per cell), the others left as
        they are; stuck cells keep their stuck state. Cheaper than :meth:`set_states` for a few cells."""
        cells = cells.to(device=self.device, dtype=torch.long)
        parallel = parallel.to(dtype=torch.bool, device=self.device)
        if self._frozen is not None:
            free = ~self._frozen[cells]
            cells, parallel = cells[free], parallel[free]
        self.parallel.view(-1)[cells] = parallel
        self._state_float = None
        self._states_changed(cells)

    def toggle_cells(self, cells: torch.Tensor) -> None:
        """Flip the states of ``cells`` (flat indices of movable cells) and keep what follows the states in
        step: a writer that decided the flips applies them here."""
        self.parallel.view(-1)[cells] ^= True
        self._state_float = None
        self._states_changed(cells)

    def states_as_float(self) -> torch.Tensor:
        """The states as numbers (1.0 where parallel) in the array's dtype, cached until they change."""
        if self._state_float is None:
            self._state_float = self.parallel.to(self.dtype)
        return self._state_float

    # ------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything that decides this array's future behaviour, for checkpoints: ``states`` (bool),
        ``params`` (per-cell tensors), ``stuck`` (the masks, None without faults) and ``table_spans``, the
        spans of the interpolation tables a kind builds (they grow with the largest voltage / current seen,
        so they depend on history; None where not built yet or where the kind has none)."""
        stuck = None if self.stuck_p is None else {"p": self.stuck_p.clone(), "ap": self.stuck_ap.clone()}
        return {"states": self.parallel.clone(), "params": {k: v.clone() for k, v in self.params.items()},
                "table_spans": self._table_spans(), "stuck": stuck}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (shapes must match; tables are rebuilt at their spans)."""
        params = state["params"]
        for name, value in params.items():
            if tuple(value.shape) != (self.rows, self.cols):
                raise ValueError(f"cell parameter {name} of shape {tuple(value.shape)}: expected "
                                 f"({self.rows}, {self.cols})")
        if "stuck" in state:  # older checkpoints: keep the masks this array was manufactured with
            stuck = state["stuck"]
            self.set_stuck(*((None, None) if stuck is None else (stuck["p"], stuck["ap"])))
        self.set_cell_params(params)
        self.set_states(state["states"])
        self._restore_tables(state.get("table_spans", {}))
