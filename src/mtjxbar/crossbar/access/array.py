"""A 1T1MTJ crossbar array: cell states and per-cell device parameters as tensors.

Each cell is an MTJ in series with an access transistor of on-resistance ``r_access``. Rows carry the
read voltages (and gate the transistors during writes); columns are sensed at virtual ground (TIA).
Because the transistors isolate the cells and the wires are ideal here, a cell's current depends only
on its own row voltage: ``I_j = sum_i v_i * G_ij(v_i)``, where ``G_ij(v)`` is the conductance of
MTJ + transistor at applied voltage ``v``. With bias-dependent TMR the junction voltage ``V_m`` solves
``V_m (1 + r_access / R_AP(V_m)) = v``, found by Newton's method (:func:`mtjxbar.device.physics.junction_voltage_step`)
to ``BiasSolverConfig.tolerance``.

Writes: during a phase, cell (i, j) sees the column current ``I_j`` for the row's pulse width ``t_i``
(the transistor is on for ``t_i``); cells whose state the polarity can change switch with the device
model's probability, sampled with the caller's ``torch.Generator``.

Variation (:mod:`mtjxbar.device.variation`): per-cell parameters (:meth:`Crossbar.set_cell_params`), stuck
cells (:meth:`Crossbar.set_stuck`: they keep their state through every write and every programming) and a
cycle-to-cycle spread of Ic0 (:meth:`Crossbar.set_c2c`: each write multiplies every cell's Ic0 by a fresh
factor drawn from the write generator; see :meth:`Crossbar._write_outer` for how the sparse sampler stays
exact). :meth:`Crossbar.manufacture` samples all three from a :class:`~mtjxbar.device.VariationConfig`.
Reads of an array with per-cell parameters use a per-cell Chebyshev fit of G_AP(v) (:mod:`.cell_reads`).

Events: set ``events`` to a sink (anything with ``append``, e.g. a list) and the array reports every
read, write phase and write outcome (:mod:`.events`) for the cost model; ``None`` (default) costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..device import MTJParams, VariationConfig, physics, switching_probability
from ..device.variation import normal_truncation, sample_cell_params, sample_ic0_c2c, sample_stuck
from .cell_reads import CellReads
from .coincidence_write import write_coincidence
from .column_write import ColumnWrites
from .config import ArrayConfig, BiasSolverConfig
from .events import EventSink, WriteEvent, phase_event, read_event, rebuild_resistance_table, resistance_table_span
from .plan import TO_P, CoincidencePlan, OuterPlan, UpdatePlan, WriteResult
from .sampling import RateConstants
from .sparse_write import HOST_EVENTS_MAX, SPARSE_MAX_EVENTS_PER_CELL, SparseWrites

__all__ = ["Crossbar", "KernelView", "WriteResult", "CELL_PARAMETERS", "SAMPLERS", "access_ap_conductance"]

SAMPLERS = ("sparse", "dense")

CELL_PARAMETERS = ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p")


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


def access_ap_conductance(v: torch.Tensor, r_p, tmr0, v_h, r_access: float, solver: BiasSolverConfig) -> torch.Tensor:
    """Conductance (S) of AP junctions in series with their access transistor (``r_access``, ohm) at applied
    voltages ``v``: the junction voltage by Newton's method (:func:`~mtjxbar.device.physics.junction_voltage_step`)
    to ``solver.tolerance``, at most ``solver.max_iterations`` steps."""
    vm = physics.junction_voltage_start(v, r_p, tmr0, r_access)
    for _ in range(solver.max_iterations):
        new = physics.junction_voltage_step(vm, v, r_p, tmr0, v_h, r_access)
        done = bool((new - vm).abs().max() <= solver.tolerance) if new.numel() else True
        vm = new
        if done:
            break
    return 1.0 / (physics.ap_resistance(vm, r_p, tmr0, v_h) + r_access)


def _same_rows(a, b) -> bool:
    """Whether two phases gate the same rows for the same widths (same tensor, or equal values)."""
    return a.row_widths is b.row_widths or torch.equal(a.row_widths, b.row_widths)


class Crossbar(SparseWrites, ColumnWrites):
    """State of one array: ``parallel`` (bool per cell) and per-cell parameters (float tensors).

    Public operations: :meth:`read`, :meth:`read_transposed`, :meth:`write` (and :meth:`write_column`, a
    phase that drives one column); states are set with
    :meth:`set_states` (programming, initialisation).
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
        if rows < 1 or cols < 1:
            raise ValueError(f"array size {rows}x{cols}: rows and cols must be >= 1")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler = {sampler!r}: must be one of {SAMPLERS}")
        self.sampler = sampler  # "sparse": exact event sampling of outer-product plans where it pays
        self.sparse_max_events_per_cell = SPARSE_MAX_EVENTS_PER_CELL  # above: the dense sampler is cheaper
        self.host_events_max = HOST_EVENTS_MAX
        self.rows, self.cols = rows, cols
        self.device_params = device_params
        self.array = array or ArrayConfig()
        self.solver = solver or BiasSolverConfig()
        self.dtype, self.device = dtype, torch.device(device)
        self.parallel = torch.zeros(rows, cols, dtype=torch.bool, device=self.device)
        self._state_float: torch.Tensor | None = None
        self._g_ap_table: tuple[float, torch.Tensor] | None = None
        self.events: EventSink | None = None  # optional sink of read / phase / write events (cost model)
        self.stuck_p: torch.Tensor | None = None  # bool masks of the stuck cells (None: no faults)
        self.stuck_ap: torch.Tensor | None = None
        self._frozen: torch.Tensor | None = None  # flat bool: stuck_p | stuck_ap
        self.c2c = VariationConfig()  # only its ic0_c2c and distribution matter here
        self._c2c_min: float | None = None  # smallest c2c factor (None: unbounded, the dense sampler runs)
        self._cell_reads: CellReads | None = None
        given = cell_params or {}
        self.set_cell_params({name: given[name] if given.get(name) is not None
                              else torch.tensor(float(getattr(device_params, name)), dtype=torch.float64)
                              for name in CELL_PARAMETERS})

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
        self._g_ap_table = None
        self._cell_reads = None
        self._prepare_write_bounds()
        rebuild_resistance_table(self, None)

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
        self._c2c_min = None
        if variation.ic0_c2c > 0 and variation.distribution == "normal":
            k, sd = normal_truncation(variation.ic0_c2c)
            self._c2c_min = 1.0 - variation.ic0_c2c * k / sd  # the truncated normal's smallest factor
        self._prepare_write_bounds()

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

    # ----------------------------------------------------------------------------------------- states
    def set_states(self, parallel: torch.Tensor) -> None:
        """Program every cell (True = parallel / low resistance); stuck cells keep their stuck state."""
        if parallel.shape != (self.rows, self.cols):
            raise ValueError(f"states of shape {tuple(parallel.shape)}: expected ({self.rows}, {self.cols})")
        self.parallel = parallel.to(dtype=torch.bool, device=self.device).clone()
        if self._frozen is not None:
            self.parallel = (self.parallel | self.stuck_p) & ~self.stuck_ap
        self._state_float = None
        if self._cell_reads is not None:
            self._cell_reads.set_states(self.parallel)

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

    def _states_changed(self, cells: torch.Tensor) -> None:
        """Keep what follows the states in step after a write flipped ``cells`` (flat indices)."""
        if self._cell_reads is not None:
            self._cell_reads.refresh(cells.to(self.device), self.parallel.view(-1))

    def state_dict(self) -> dict:
        """Everything that decides this array's future behaviour, for checkpoints: ``states`` (bool),
        ``params`` (per-cell tensors) and ``table_spans``, the spans of the interpolation tables of the
        uniform array's reads and write-event resistances (they grow with the largest voltage / current
        seen, so they depend on history; None where not built yet)."""
        read_span = None if self._g_ap_table is None else self._g_ap_table[0]
        stuck = None if self.stuck_p is None else {"p": self.stuck_p.clone(), "ap": self.stuck_ap.clone()}
        return {"states": self.parallel.clone(), "params": {k: v.clone() for k, v in self.params.items()},
                "table_spans": {"read": read_span, "write": resistance_table_span(self)}, "stuck": stuck}

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
        spans = state.get("table_spans", {})
        if spans.get("read") is not None and self._uniform:
            self._build_g_ap_table(float(spans["read"]))
        rebuild_resistance_table(self, spans.get("write") if self._uniform else None)

    def states_as_float(self) -> torch.Tensor:
        if self._state_float is None:
            self._state_float = self.parallel.to(self.dtype)
        return self._state_float

    # ------------------------------------------------------------------------------------ public views
    @property
    def uniform(self) -> bool:
        """Whether every cell has the same parameters (reads use one table, writes one rate per column)."""
        return self._uniform

    @property
    def frozen_mask(self) -> torch.Tensor | None:
        """Stuck cells (flat bool, rows * cols), None without faults."""
        return self._frozen

    def polarity_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ic0, tau0)``, each (2, rows * cols): the cells' parameters of the switching towards P [0] and
        towards AP [1]."""
        return self._pol_ic0, self._pol_tau0

    def toggle_cells(self, cells: torch.Tensor) -> None:
        """Flip the states of ``cells`` (flat indices of movable cells) and keep what follows the states in
        step: a writer that decided the flips applies them here."""
        self.parallel.view(-1)[cells] ^= True
        self._state_float = None
        self._states_changed(cells)

    def kernel_view(self, v_max: float) -> KernelView:
        """What a compiled loop needs to read and write this array for line voltages up to ``v_max`` (V),
        as live tensors: a loop that writes ``parallel`` and ``states`` (and the per-cell read matrices)
        writes the array."""
        table = reads = None
        if self._uniform:
            self.uniform_ap_conductance(torch.zeros(1), v_max)  # builds the read table for |v| <= v_max
            table = self._g_ap_table
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

    # ------------------------------------------------------------------------------------------- reads
    def nominal(self, name: str) -> float:
        """The value every cell shares of the cell parameter ``name`` (a uniform array only)."""
        return self._nominal[name]

    def uniform_ap_conductance(self, v: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """G_AP(v) of the uniform array, from a table of the exact solve (linear interpolation).

        The table spans +-1.05 times the largest |v| seen so far (or the bound ``v_max`` the caller
        guarantees, e.g. the DAC's full scale, which saves a reduction per read) on 32769 points; the
        function is smooth (relative interpolation error below 2e-9 up to |v| = 1 V, checked in tests)
        and the table is rebuilt when |v| outgrows it.
        """
        if v_max is None:
            v_max = float(v.abs().max()) if v.numel() else 0.0
        if self._g_ap_table is None or v_max > self._g_ap_table[0]:
            self._build_g_ap_table(max(1.05 * v_max, 1e-3))
        span, table, slope, scale = self._g_ap_table
        pos = (v + span) * scale
        lo = pos.long().clamp_(max=table.numel() - 2)  # pos >= 0, so truncation is floor
        return torch.addcmul(table[lo], pos - lo, slope[lo])

    def _build_g_ap_table(self, span: float) -> None:
        grid = torch.linspace(-span, span, 32769, dtype=torch.float64, device=self.device)
        exact = self.ap_conductance(grid, self.nominal("r_p"), self.nominal("tmr0"), self.nominal("v_h"))
        table = exact.to(self.dtype)
        slope = torch.cat([table[1:] - table[:-1], table[-1:] * 0])
        self._g_ap_table = (span, table, slope, (table.numel() - 1) / (2.0 * span))

    def ap_conductance(self, v: torch.Tensor, r_p, tmr0, v_h) -> torch.Tensor:
        """Conductance (S) of AP junctions + transistor at applied voltage ``v`` (self-consistent)."""
        return access_ap_conductance(v, r_p, tmr0, v_h, self.array.r_access, self.solver)

    def _drive(self, v: torch.Tensor, transposed: bool, v_max: float | None) -> torch.Tensor:
        """Sum of cell currents on the sensed lines for driven-line voltages ``v`` (..., driven)."""
        states = self.states_as_float()
        if transposed:
            states = states.T
        if self._uniform:
            g_p = 1.0 / (self.nominal("r_p") + self.array.r_access)
            i_ap = v * self.uniform_ap_conductance(v, v_max)  # each cell's current if it were AP
            base, extra = i_ap.sum(dim=-1, keepdim=True), v * g_p - i_ap
            if v.dim() == 1:
                return torch.addmv(base, states.T, extra)
            return torch.addmm(base, extra, states) if v.dim() == 2 else base + extra @ states
        reads = self.per_cell_reads(v, v_max)
        if reads is not None:
            return reads.read_transposed(v) if transposed else reads.read(v)
        return self._drive_exact(v, transposed)

    def per_cell_reads(self, v: torch.Tensor, v_max: float | None) -> CellReads | None:
        """The per-cell Chebyshev read matrices covering |v| (refitted when |v| outgrows them); None where
        the fit cannot reach its tolerance (the exact loop runs then)."""
        if v_max is None:
            v_max = float(v.abs().max()) if v.numel() else 0.0
        fit = self._cell_reads
        if fit is None or v_max > fit.span:
            p = {n: self.params[n].to(torch.float64) for n in ("r_p", "tmr0", "v_h")}
            tolerance = 1e-12 if self.dtype == torch.float64 else 1e-7
            fit = CellReads(lambda volts: self.ap_conductance(volts[:, None, None], p["r_p"], p["tmr0"], p["v_h"]),
                            1.0 / (p["r_p"] + self.array.r_access), max(1.05 * v_max, 1e-3), tolerance, self.dtype)
            if not fit.ok:
                return None
            fit.set_states(self.parallel)
            self._cell_reads = fit
        return fit

    def _drive_exact(self, v: torch.Tensor, transposed: bool) -> torch.Tensor:
        """Per-cell parameters: conductance of every cell at its own line voltage (the exact solve)."""
        states = self.states_as_float()
        if transposed:
            states = states.T
        r_p, tmr0, v_h = (self.params[n].T if transposed else self.params[n] for n in ("r_p", "tmr0", "v_h"))
        batch = v.reshape(-1, v.shape[-1])
        out = []
        for vb in batch:
            vcell = vb[:, None].expand_as(r_p)
            g_ap = self.ap_conductance(vcell, r_p, tmr0, v_h)
            g_p = 1.0 / (r_p + self.array.r_access)
            g = torch.where(states.bool(), g_p, g_ap)
            out.append(vb @ g)
        return torch.stack(out).reshape(*v.shape[:-1], -1)

    def read(self, v_rows: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Column currents (A) for row voltages ``v_rows`` (V), shape (rows,) or (batch, rows); ``v_max``
        optionally bounds |v_rows| (the DAC's full scale)."""
        if v_rows.shape[-1] != self.rows:
            raise ValueError(f"read: {v_rows.shape[-1]} row voltages for an array of {self.rows} rows")
        v = v_rows.to(self.dtype)
        out = self._drive(v, transposed=False, v_max=v_max)
        if self.events is not None:
            self.events.append(read_event(self, v, out, transposed=False))
        return out

    def drive_terms(self, v_rows: torch.Tensor, v_max: float | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The part of :meth:`read` that depends on the voltages only, for a uniform array:
        ``read(v) == base + extra @ states`` with ``base = sum_i v_i G_AP(v_i)`` (shape (..., 1)) and
        ``extra_i = v_i (G_P - G_AP(v_i))``. Computed for a batch of inputs at once, it leaves one
        matrix-vector product per read (:meth:`read_terms`). None where cells have their own parameters."""
        if not self._uniform:
            return None
        if v_rows.shape[-1] != self.rows:
            raise ValueError(f"drive_terms: {v_rows.shape[-1]} row voltages for an array of {self.rows} rows")
        v = v_rows.to(self.dtype)
        i_ap = v * self.uniform_ap_conductance(v, v_max)
        return i_ap.sum(dim=-1, keepdim=True), v * (1.0 / (self.nominal("r_p") + self.array.r_access)) - i_ap

    def read_terms(self, base: torch.Tensor, extra: torch.Tensor, v_rows: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`read` from one sample's :meth:`drive_terms` (``base`` (1,) or (cols,), ``extra`` (rows,));
        pass ``v_rows`` too when :attr:`events` is set (the read event records the voltages)."""
        out = torch.addmv(base, self.states_as_float().T, extra)
        if self.events is not None:
            if v_rows is None:
                raise ValueError("read_terms: v_rows is needed to report the read event")
            self.events.append(read_event(self, v_rows.to(self.dtype), out, transposed=False))
        return out

    def read_transposed(self, v_cols: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Row currents (A) for column voltages ``v_cols`` (V): drive columns, sense rows."""
        if v_cols.shape[-1] != self.cols:
            raise ValueError(f"read_transposed: {v_cols.shape[-1]} column voltages for {self.cols} columns")
        v = v_cols.to(self.dtype)
        out = self._drive(v, transposed=True, v_max=v_max)
        if self.events is not None:
            self.events.append(read_event(self, v, out, transposed=True))
        return out

    def conductances(self, voltage: float = 0.0) -> torch.Tensor:
        """Cell conductances (S, MTJ + transistor) at a uniform applied ``voltage`` (for inspection)."""
        v = torch.full((self.rows, self.cols), voltage, dtype=self.dtype, device=self.device)
        g_ap = self.ap_conductance(v, self.params["r_p"], self.params["tmr0"], self.params["v_h"])
        g_p = 1.0 / (self.params["r_p"] + self.array.r_access)
        return torch.where(self.parallel, g_p, g_ap)

    # ------------------------------------------------------------------------------------------ writes
    def switching_probabilities(self, plan: UpdatePlan) -> torch.Tensor:
        """Per-cell switching probability of each phase, shape (phases, rows, cols) (cells that the
        phase does not reach or whose state its polarity cannot change get 0): what :meth:`write` samples."""
        out = torch.zeros(len(plan), self.rows, self.cols, dtype=self.dtype, device=self.device)
        for k, phase in enumerate(plan.phases):
            rows = torch.nonzero(phase.row_widths > 0).flatten()
            if rows.numel():
                out[k].index_copy_(0, rows, self._phase_probability(phase, rows))
        return out

    def _phase_probability(self, phase, rows: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        """Switching probability of the cells of the active ``rows`` that the phase can flip; ``factor``
        (rows, cols): this write's cycle-to-cycle factors on Ic0 (None: none). Stuck cells get 0."""
        self._check_phase(phase)
        widths = phase.row_widths.index_select(0, rows).to(self.dtype)[:, None]
        currents = phase.col_currents.to(self.dtype)
        to_p = phase.polarity == TO_P
        suffix = "ap2p" if to_p else "p2ap"
        fixed = {"n": self.device_params.n_exponent, "tau_d": self.device_params.tau_d}
        if self._uniform:
            kw = {"ic0": self.nominal(f"ic0_{suffix}"), "tau0": self.nominal(f"tau0_{suffix}"),
                  "delta": self.nominal("delta")}
        else:
            kw = {"ic0": self.params[f"ic0_{suffix}"].index_select(0, rows),
                  "tau0": self.params[f"tau0_{suffix}"].index_select(0, rows),
                  "delta": self.params["delta"].index_select(0, rows)}
        if factor is not None:
            kw["ic0"] = kw["ic0"] * factor.index_select(0, rows)
        if self._uniform and factor is None and not bool((currents > kw["ic0"]).any()):
            p = self._thermal_probability(currents, widths, **kw, n=fixed["n"])
        else:
            p = switching_probability(currents[None, :], widths, **kw, **fixed)
        states = self.parallel.index_select(0, rows)
        can_flip = (~states if to_p else states) & (currents > 0)[None, :] & self._free_rows(rows)
        return torch.where(can_flip, p, torch.zeros_like(p))

    def _free_rows(self, rows: torch.Tensor) -> torch.Tensor | bool:
        """Which cells of ``rows`` are not stuck (True where there are no faults)."""
        if self._frozen is None:
            return True
        return ~self._frozen.view(self.rows, self.cols).index_select(0, rows)

    @staticmethod
    def _thermal_probability(currents, widths, *, ic0: float, tau0: float, delta: float, n: float):
        """:func:`switching_probability` for a uniform array when every current is at most Ic0: the
        hazard is the product ``t_i * rate_j`` (precessional term at its constant floor), so only the
        product and one expm1 run over the cells."""
        rate = physics.thermal_rate(currents, ic0, tau0, delta, n)
        return -torch.expm1(physics.precessional_log_floor(delta) - widths * rate[None, :])

    def _check_phase(self, phase) -> None:
        self._check_phase_shapes(phase.row_widths.numel(), phase.col_currents.numel())

    def _check_phase_shapes(self, rows: int, cols: int) -> None:
        if rows != self.rows or cols != self.cols:
            raise ValueError(f"write: a phase of {rows} rows x {cols} columns for a {self.rows}x{self.cols} array")

    def _groups(self, plan: UpdatePlan) -> list[list]:
        """Consecutive phases that gate the same rows with the same widths and drive disjoint columns.

        Every cell of a group sees current from at most one of its phases, so one draw per cell
        samples the whole group exactly as separate phases would.
        """
        groups: list[list] = []
        union = None
        for phase in plan.phases:
            self._check_phase(phase)
            cols = phase.col_currents > 0
            if groups and _same_rows(phase, groups[-1][0]) and not bool((cols & union).any()):
                groups[-1].append(phase)
                union = union | cols
            else:
                groups.append([phase])
                union = cols
        return groups

    def _group_probability(self, group: list, rows: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        """Switching probability of the cells of ``rows`` under a group of phases (see :meth:`_groups`)."""
        if len(group) > 1 and self._uniform and factor is None:
            currents = torch.stack([ph.col_currents for ph in group]).sum(0).to(self.dtype)
            to_p = torch.zeros(self.cols, dtype=torch.bool, device=self.device)
            for ph in group:
                if ph.polarity == TO_P:
                    to_p |= ph.col_currents > 0
            nominal = self.nominal
            ic0 = torch.where(to_p, nominal("ic0_ap2p"), nominal("ic0_p2ap")).to(self.dtype)
            if not bool((currents > ic0).any()):
                tau0 = torch.where(to_p, nominal("tau0_ap2p"), nominal("tau0_p2ap")).to(self.dtype)
                widths = group[0].row_widths.index_select(0, rows).to(self.dtype)[:, None]
                p = self._thermal_probability(currents, widths, ic0=ic0, tau0=tau0, delta=nominal("delta"),
                                              n=self.device_params.n_exponent)
                can_flip = (self.parallel.index_select(0, rows) ^ to_p[None, :]) & (currents > 0)[None, :]
                can_flip &= self._free_rows(rows)
                return torch.where(can_flip, p, torch.zeros_like(p))
        if not self._uniform or factor is not None:  # one evaluation for the group, each cell its polarity's
            return self._merged_probability(group, rows, factor)
        return torch.stack([self._phase_probability(ph, rows, factor) for ph in group]).sum(0)

    def _merged_probability(self, group: list, rows: torch.Tensor, factor: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_group_probability` with per-cell parameters: the phases of a group drive disjoint columns,
        so each cell takes the parameters of the polarity its column is driven with and the device formula
        runs once over the rows (not once per phase over every column)."""
        for phase in group:
            self._check_phase(phase)
        currents = torch.stack([ph.col_currents for ph in group]).sum(0).to(self.dtype)
        to_p = torch.zeros(self.cols, dtype=torch.bool, device=self.device)
        for ph in group:
            if ph.polarity == TO_P:
                to_p |= ph.col_currents > 0

        def pick(a: str, b: str) -> torch.Tensor:
            params = self.params
            return torch.where(to_p[None, :], params[a].index_select(0, rows), params[b].index_select(0, rows))

        ic0 = pick("ic0_ap2p", "ic0_p2ap")
        if factor is not None:
            ic0 = ic0 * factor.index_select(0, rows)
        widths = group[0].row_widths.index_select(0, rows).to(self.dtype)[:, None]
        p = switching_probability(currents[None, :], widths, ic0=ic0, tau0=pick("tau0_ap2p", "tau0_p2ap"),
                                  delta=self.params["delta"].index_select(0, rows), n=self.device_params.n_exponent,
                                  tau_d=self.device_params.tau_d)
        can_flip = (self.parallel.index_select(0, rows) ^ to_p[None, :]) & (currents > 0)[None, :]
        can_flip &= self._free_rows(rows)
        return torch.where(can_flip, p, torch.zeros_like(p))

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

    def _dense_c2c(self, plan, generator: torch.Generator) -> torch.Tensor | None:
        """This write's cycle-to-cycle factors on Ic0 (rows, cols), drawn for the cells of every reached
        row (ones elsewhere); None without a cycle-to-cycle spread (nothing drawn)."""
        if self.c2c.ic0_c2c <= 0:
            return None
        reached = torch.zeros(self.rows, dtype=torch.bool, device=self.device)
        for phase in plan.phases:
            reached |= phase.row_widths > 0
        rows = torch.nonzero(reached).flatten()
        factor = torch.ones(self.rows, self.cols, dtype=self.dtype, device=self.device)
        if rows.numel():
            draw = sample_ic0_c2c(self.c2c, (rows.numel(), self.cols), generator, dtype=self.dtype)
            factor.index_copy_(0, rows, draw.to(self.device))
        return factor

    def _write_dense(self, plan, generator: torch.Generator) -> WriteResult:
        flipped = []
        counts = {True: 0, False: 0}
        factor = self._dense_c2c(plan, generator)
        for group in self._groups(plan):
            rows = torch.nonzero(group[0].row_widths > 0).flatten()
            if self.events is not None:
                for phase in group:
                    self.events.append(phase_event(self, phase, rows))
            if rows.numel() == 0:
                continue
            p = self._group_probability(group, rows, factor)
            draw = torch.rand(p.shape, generator=generator, dtype=self.dtype, device=self.device)
            where = torch.nonzero(draw < p)
            if where.numel():
                cells = rows[where[:, 0]] * self.cols + where[:, 1]
                to_p = self.parallel.view(-1)[cells].logical_not()  # AP before the flip: switched to P
                self.parallel.view(-1)[cells] ^= True
                flipped.append(cells)
                n_to_p = int(to_p.sum())
                counts[True] += n_to_p
                counts[False] += cells.numel() - n_to_p
        cells = torch.cat(flipped) if flipped else torch.zeros(0, dtype=torch.long, device=self.device)
        if flipped:
            self._state_float = None
            self._states_changed(cells)
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=len(plan.phases),
                                          flips_to_p=counts[True], flips_to_ap=counts[False]))
        return WriteResult(flipped_cells=cells, flips_to_p=counts[True], flips_to_ap=counts[False],
                           phases=len(plan.phases))
