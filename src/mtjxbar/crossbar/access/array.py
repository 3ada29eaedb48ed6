"""The 1T1MTJ array: :class:`Crossbar`, its state and per-cell parameters (:class:`~..cells.CellArray`), its
reads (:class:`~.reads.AccessReads`) and its writes (dense, sparse, one column, coincidence).

What this module adds to the shared base: the sampler choice, the per-polarity parameter stacks and
per-column bounds the sparse sampler needs (rebuilt whenever the parameters or the cycle-to-cycle spread
change), the read tables and per-cell read fit that follow the parameters and states, the dispatch of a
plan to its sampler, and :meth:`Crossbar.kernel_view` (what a compiled loop needs of the array).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...device import MTJParams, VariationConfig, physics
from ...device.variation import normal_truncation
from ..cells import CellArray
from ..config import ArrayConfig, BiasSolverConfig
from ..events import WriteEvent
from ..plan import CoincidencePlan, OuterPlan, UpdatePlan, WriteResult
from ..sampling import RateConstants
from .cell_reads import CellReads
from .coincidence_write import write_coincidence
from .column_write import ColumnWrites
from .dense_write import DenseWrites
from .events import phase_event, rebuild_resistance_table, resistance_table_span
from .reads import AccessReads
from .sparse_write import HOST_EVENTS_MAX, SPARSE_MAX_EVENTS_PER_CELL, SparseWrites
from .stream_write import StreamWrites

__all__ = ["Crossbar", "KernelView", "SAMPLERS"]

SAMPLERS = ("sparse", "dense")


@dataclass(frozen=True)
class KernelView:
    """A 1T1MTJ array as a compiled loop sees it (:meth:`Crossbar.kernel_view`); tensors are the array's own."""

    parallel: torch.Tensor
    """(rows, cols) bool: True where the cell is parallel (live)."""
    states: torch.Tensor
    """(rows, cols) 1.0 where parallel, in the array's dtype (live)."""
    frozen: torch.Tensor
    """(rows, cols) bool: stuck cells (all False without faults)."""
    uniform: bool
    """All cells share one parameter set: reads use ``table``; else ``cell_reads``."""
    nominal: dict
    """The shared cell parameters of a uniform array (SI units, ``CELL_PARAMETERS``); empty otherwise."""
    g_p: float | None
    """Conductance (S) of a P cell with its transistor (uniform arrays)."""
    table: tuple | None
    """Uniform arrays: ``(span V, G_AP table S, slope S per step, points per V)`` on ``[-span, span]``."""
    cell_reads: CellReads | None
    """Per-cell arrays: the Chebyshev read fit (``matrices``, ``p_terms``, ``ap_terms``), None without one."""


class Crossbar(AccessReads, DenseWrites, SparseWrites, StreamWrites, ColumnWrites, CellArray):
    """A 1T1MTJ array: ``parallel`` (bool per cell) and per-cell parameters (float tensors).

    Public operations: :meth:`read`, :meth:`read_transposed`, :meth:`write` (and :meth:`write_column`, a
    phase that drives one column, and :meth:`write_stream`, many outer-product plans in one compiled loop);
    states are set with :meth:`set_states` (programming, initialisation).
    A uniform array's read also splits into :meth:`drive_terms` and :meth:`read_terms`
    (:class:`~mtjxbar.crossbar.protocol.SeparableRead`).
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        device_params: MTJParams,
        array: ArrayConfig | None = None,
        solver: BiasSolverConfig | None = None,
        *,
        cell_params: dict[str, torch.Tensor] | None = None,
        sampler: str = "sparse",
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler = {sampler!r}: must be one of {SAMPLERS}")
        self.sampler = sampler  # "sparse": exact event sampling of outer-product plans where it pays
        self.sparse_max_events_per_cell = SPARSE_MAX_EVENTS_PER_CELL  # above: the dense sampler is cheaper
        self.host_events_max = HOST_EVENTS_MAX
        self.solver = solver or BiasSolverConfig()
        self._g_ap_table: tuple[float, torch.Tensor] | None = None
        self._c2c_min: float | None = None  # smallest c2c factor (None: unbounded, the dense sampler runs)
        self._cell_reads: CellReads | None = None
        self._stream_unfrozen: object | None = None  # write_stream's all-False stuck mask
        super().__init__(rows, cols, device_params, array or ArrayConfig(), cell_params=cell_params, dtype=dtype,
                         device=device)

    # --------------------------------------------------------------------------- hooks of the base
    def _params_changed(self) -> None:
        """Drop the read table and the per-cell read fit, rebuild the write bounds and event table."""
        self._g_ap_table = None
        self._cell_reads = None
        self._column_p_cache: dict[tuple[float, float, str], float] = {}  # column writes of a uniform array
        self._stream_device: object | None = None  # write_stream's device constants (NumPy)
        self._prepare_write_bounds()
        rebuild_resistance_table(self, None)

    def _states_changed(self, cells: torch.Tensor | None) -> None:
        """Keep the per-cell read fit in step with the states (``cells`` flipped; None: all set)."""
        if self._cell_reads is None:
            return
        if cells is None:
            self._cell_reads.set_states(self.parallel)
        else:
            self._cell_reads.refresh(cells.to(self.device), self.parallel.view(-1))

    def _table_spans(self) -> dict:
        """Spans of the uniform array's read table and write-event resistance table (None: not built)."""
        read_span = None if self._g_ap_table is None else self._g_ap_table[0]
        return {"read": read_span, "write": resistance_table_span(self)}

    def _restore_tables(self, spans: dict) -> None:
        if spans.get("read") is not None and self._uniform:
            self._build_g_ap_table(float(spans["read"]))
        rebuild_resistance_table(self, spans.get("write") if self._uniform else None)

    def _prepare_write_bounds(self) -> None:
        """Per-polarity parameter stacks (TO_P first) and their per-column extremes, for sparse writes."""
        p = self.params
        ic0 = torch.stack([p["ic0_ap2p"], p["ic0_p2ap"]])  # (2, rows, cols)
        tau0 = torch.stack([p["tau0_ap2p"], p["tau0_p2ap"]])
        self._pol_ic0, self._pol_tau0 = ic0.flatten(1), tau0.flatten(1)  # (2, cells): gathered per event
        # the thermal rate exp(-Delta (1 - I/Ic0)^n) / tau0 grows as Ic0 shrinks (1 - I/Ic0 falls), as Delta
        # shrinks and as tau0 shrinks: the per-column bound takes those extremes
        self._col_ic0_min = ic0.amin(1)  # (2, cols); also the precessional threshold of each column
        self._col_tau0_min = tau0.amin(1)
        self._col_delta_min = p["delta"].amin(0)  # (cols,)
        self._bound_constants = RateConstants(self._col_ic0_min, self._col_tau0_min, self._col_delta_min)
        self._c2c_constants = None if self._c2c_min is None else \
            RateConstants(self._col_ic0_min * self._c2c_min, self._col_tau0_min, self._col_delta_min)
        # bound of the precessional-floor hazard -ln(1 - exp(-pi^2 Delta / 4)) over all cells
        self._floor_bound = -physics.precessional_log_floor(float(p["delta"].min()))

    def set_c2c(self, variation: VariationConfig) -> None:
        """Cycle-to-cycle spread of Ic0 (``variation.ic0_c2c`` and ``distribution``) drawn at every write;
        the sparse sampler's bounds follow its smallest factor (a lognormal spread has none: dense writes)."""
        super().set_c2c(variation)
        self._c2c_min = None
        if variation.ic0_c2c > 0 and variation.distribution == "normal":
            k, sd = normal_truncation(variation.ic0_c2c)
            self._c2c_min = 1.0 - variation.ic0_c2c * k / sd  # the truncated normal's smallest factor
        self._prepare_write_bounds()

    # ------------------------------------------------------------------------------------ public views
    def polarity_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ic0, tau0)``, each (2, rows * cols): the cells' parameters of the switching towards P [0] and
        towards AP [1]."""
        return self._pol_ic0, self._pol_tau0

    def kernel_view(self, v_max: float) -> KernelView:
        """What a compiled loop needs to read and write this array for line voltages up to ``v_max`` (V),
        as live tensors: a loop that writes ``parallel`` and ``states`` (and the per-cell read matrices)
        writes the array."""
        table = reads = None
        if self._uniform:
            self.uniform_ap_conductance(torch.zeros(1), v_max)  # builds the read table for |v| <= v_max
            table = self._g_ap_table[:4]
        else:
            reads = self.per_cell_reads(torch.zeros(1), v_max)
        frozen = torch.zeros(self.rows, self.cols, dtype=torch.bool, device=self.device) if self._frozen is None \
            else self._frozen.view(self.rows, self.cols)
        return KernelView(parallel=self.parallel, states=self.states_as_float(), frozen=frozen,
                          uniform=self._uniform, nominal=dict(self._nominal), g_p=None if not self._uniform else
                          1.0 / (self._nominal["r_p"] + self.array.r_access), table=table, cell_reads=reads)

    def drop_cell_reads(self) -> None:
        """Forget the per-cell read fit (the next read or :meth:`kernel_view` refits at its span)."""
        self._cell_reads = None

    # ------------------------------------------------------------------------------------------ writes
    def write(self, plan: UpdatePlan | OuterPlan | CoincidencePlan, generator: torch.Generator) -> WriteResult:
        """Apply every phase of ``plan``; sample each cell's flip from the device model; return flips.

        An :class:`OuterPlan` is sampled by the exact sparse sampler (:mod:`.sampling`) when
        ``sampler == "sparse"``, every current is in the thermal regime and few switching attempts are
        expected; otherwise (and for any :class:`UpdatePlan`) by the dense reference sampler: one uniform
        draw per reached cell per group of phases that share rows and drive disjoint columns. A
        :class:`CoincidencePlan` goes to :func:`.coincidence_write.write_coincidence`.
        """
        if isinstance(plan, CoincidencePlan):
            return write_coincidence(self, plan, generator)
        if isinstance(plan, OuterPlan) and self.sampler == "sparse":
            result = self._write_outer(plan, generator)
            if result is not None:
                if self.events is not None:
                    self._report_write(plan, result)
                return result
        return self._write_dense(plan, generator)

    def _report_write(self, plan, result: WriteResult) -> None:
        """Phase events (cell resistances before the write, as the dense path reports them) and the outcome.
        The states are already updated here, so the flipped cells are set back for the phase events."""
        self.parallel.view(-1)[result.flipped_cells] ^= True
        for phase in plan.phases:
            self.events.append(phase_event(self, phase, torch.nonzero(phase.row_widths > 0).flatten()))
        self.parallel.view(-1)[result.flipped_cells] ^= True
        self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=result.phases,
                                      flips_to_p=result.flips_to_p, flips_to_ap=result.flips_to_ap))
