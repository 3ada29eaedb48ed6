"""A 1T1MTJ crossbar array: cell states and per-cell device parameters as tensors.

Each cell is an MTJ in series with an access transistor of on-resistance ``r_access``. Rows carry the
read voltages (and gate the transistors during writes); columns are sensed at virtual ground (TIA).
Because the transistors isolate the cells and the wires are ideal here, a cell's current depends only
on its own row voltage: ``I_j = sum_i v_i * G_ij(v_i)``, where ``G_ij(v)`` is the conductance of
MTJ + transistor at applied voltage ``v``. With bias-dependent TMR the junction voltage ``V_m`` solves
``V_m = v * R_AP(V_m) / (R_AP(V_m) + r_access)``, found by fixed-point iteration (a contraction: the
TMR roll-off is smooth and the divider damps it) to ``BiasSolverConfig.tolerance``.

Writes: during a phase, cell (i, j) sees the column current ``I_j`` for the row's pulse width ``t_i``
(the transistor is on for ``t_i``); cells whose state the polarity can change switch with the device
model's probability, sampled with the caller's ``torch.Generator``.

Events: set ``events`` to a sink (anything with ``append``, e.g. a list) and the array reports every
read, write phase and write outcome (:mod:`.events`) for the cost model; ``None`` (default) costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..device import MTJParams, resistance_ap, switching_probability
from .config import ArrayConfig, BiasSolverConfig
from .events import EventSink, WriteEvent, phase_event, read_event, rebuild_resistance_table, resistance_table_span
from .plan import TO_P, UpdatePlan

__all__ = ["Crossbar", "WriteResult", "CELL_PARAMETERS"]

CELL_PARAMETERS = ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p")


@dataclass(frozen=True)
class WriteResult:
    """What one update did: which cells flipped, per direction and per phase."""

    flipped_cells: torch.Tensor  # flat (row * cols + col) indices of the cells that flipped
    flips_to_p: int
    flips_to_ap: int
    phases: int


def _same_rows(a, b) -> bool:
    """Whether two phases gate the same rows for the same widths (same tensor, or equal values)."""
    return a.row_widths is b.row_widths or torch.equal(a.row_widths, b.row_widths)


class Crossbar:
    """State of one array: ``parallel`` (bool per cell) and per-cell parameters (float tensors).

    Public operations: :meth:`read`, :meth:`read_transposed`, :meth:`write`; states are set with
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
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"array size {rows}x{cols}: rows and cols must be >= 1")
        self.rows, self.cols = rows, cols
        self.device_params = device_params
        self.array = array or ArrayConfig()
        self.solver = solver or BiasSolverConfig()
        self.dtype, self.device = dtype, torch.device(device)
        self.parallel = torch.zeros(rows, cols, dtype=torch.bool, device=self.device)
        self._state_float: torch.Tensor | None = None
        self._g_ap_table: tuple[float, torch.Tensor] | None = None
        self.events: EventSink | None = None  # optional sink of read / phase / write events (cost model)
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
        rebuild_resistance_table(self, None)

    # ----------------------------------------------------------------------------------------- states
    def set_states(self, parallel: torch.Tensor) -> None:
        """Program every cell (True = parallel / low resistance)."""
        if parallel.shape != (self.rows, self.cols):
            raise ValueError(f"states of shape {tuple(parallel.shape)}: expected ({self.rows}, {self.cols})")
        self.parallel = parallel.to(dtype=torch.bool, device=self.device).clone()
        self._state_float = None

    def state_dict(self) -> dict:
        """Everything that decides this array's future behaviour, for checkpoints: ``states`` (bool),
        ``params`` (per-cell tensors) and ``table_spans``, the spans of the interpolation tables of the
        uniform array's reads and write-event resistances (they grow with the largest voltage / current
        seen, so they depend on history; None where not built yet)."""
        read_span = None if self._g_ap_table is None else self._g_ap_table[0]
        return {"states": self.parallel.clone(), "params": {k: v.clone() for k, v in self.params.items()},
                "table_spans": {"read": read_span, "write": resistance_table_span(self)}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (shapes must match; tables are rebuilt at their spans)."""
        params = state["params"]
        for name, value in params.items():
            if tuple(value.shape) != (self.rows, self.cols):
                raise ValueError(f"cell parameter {name} of shape {tuple(value.shape)}: expected "
                                 f"({self.rows}, {self.cols})")
        self.set_states(state["states"])
        self.set_cell_params(params)
        spans = state.get("table_spans", {})
        if spans.get("read") is not None and self._uniform:
            self._build_g_ap_table(float(spans["read"]))
        rebuild_resistance_table(self, spans.get("write") if self._uniform else None)

    def _states_as_float(self) -> torch.Tensor:
        if self._state_float is None:
            self._state_float = self.parallel.to(self.dtype)
        return self._state_float

    # ------------------------------------------------------------------------------------------- reads
    def _scalar(self, name: str) -> float:
        return self._nominal[name]

    def _uniform_ap_conductance(self, v: torch.Tensor) -> torch.Tensor:
        """G_AP(v) of the uniform array, from a table of the exact solve (linear interpolation).

        The table spans +-1.05 times the largest |v| seen so far on 32769 points; the function is smooth
        (relative interpolation error below 2e-9 up to |v| = 1 V, checked in tests) and is rebuilt when
        |v| outgrows it.
        """
        vmax = float(v.abs().max()) if v.numel() else 0.0
        if self._g_ap_table is None or vmax > self._g_ap_table[0]:
            self._build_g_ap_table(max(1.05 * vmax, 1e-3))
        span, table = self._g_ap_table
        pos = (v + span) * ((table.numel() - 1) / (2.0 * span))
        lo = pos.floor().clamp(0, table.numel() - 2)
        frac = pos - lo
        lo = lo.long()
        return torch.lerp(table[lo], table[lo + 1], frac)

    def _build_g_ap_table(self, span: float) -> None:
        grid = torch.linspace(-span, span, 32769, dtype=torch.float64, device=self.device)
        exact = self._ap_conductance(grid, self._scalar("r_p"), self._scalar("tmr0"), self._scalar("v_h"))
        self._g_ap_table = (span, exact.to(self.dtype))

    def _ap_conductance(self, v: torch.Tensor, r_p, tmr0, v_h) -> torch.Tensor:
        """Conductance of AP junction + transistor at applied voltage ``v`` (self-consistent)."""
        r_on = self.array.r_access
        r_ap0 = r_p * (1.0 + tmr0)
        vm = v * r_ap0 / (r_ap0 + r_on)
        for _ in range(self.solver.max_iterations):
            r_ap = resistance_ap(vm, r_p=r_p, tmr0=tmr0, v_h=v_h)
            new = v * r_ap / (r_ap + r_on)
            done = bool((new - vm).abs().max() <= self.solver.tolerance) if new.numel() else True
            vm = new
            if done:
                break
        return 1.0 / (resistance_ap(vm, r_p=r_p, tmr0=tmr0, v_h=v_h) + r_on)

    def _drive(self, v: torch.Tensor, transposed: bool) -> torch.Tensor:
        """Sum of cell currents on the sensed lines for driven-line voltages ``v`` (..., driven)."""
        states = self._states_as_float()
        if transposed:
            states = states.T
        if self._uniform:
            g_p = 1.0 / (self._scalar("r_p") + self.array.r_access)
            g_ap = self._uniform_ap_conductance(v)  # per driven line
            base = (v * g_ap).sum(dim=-1, keepdim=True)
            return base + (v * (g_p - g_ap)) @ states
        # per-cell parameters: conductance of every cell at its own line voltage
        r_p, tmr0, v_h = (self.params[n].T if transposed else self.params[n] for n in ("r_p", "tmr0", "v_h"))
        batch = v.reshape(-1, v.shape[-1])
        out = []
        for vb in batch:
            vcell = vb[:, None].expand_as(r_p)
            g_ap = self._ap_conductance(vcell, r_p, tmr0, v_h)
            g_p = 1.0 / (r_p + self.array.r_access)
            g = torch.where(states.bool(), g_p, g_ap)
            out.append(vb @ g)
        return torch.stack(out).reshape(*v.shape[:-1], -1)

    def read(self, v_rows: torch.Tensor) -> torch.Tensor:
        """Column currents (A) for row voltages ``v_rows`` (V), shape (rows,) or (batch, rows)."""
        if v_rows.shape[-1] != self.rows:
            raise ValueError(f"read: {v_rows.shape[-1]} row voltages for an array of {self.rows} rows")
        v = v_rows.to(self.dtype)
        out = self._drive(v, transposed=False)
        if self.events is not None:
            self.events.append(read_event(self, v, out, transposed=False))
        return out

    def read_transposed(self, v_cols: torch.Tensor) -> torch.Tensor:
        """Row currents (A) for column voltages ``v_cols`` (V): drive columns, sense rows."""
        if v_cols.shape[-1] != self.cols:
            raise ValueError(f"read_transposed: {v_cols.shape[-1]} column voltages for {self.cols} columns")
        v = v_cols.to(self.dtype)
        out = self._drive(v, transposed=True)
        if self.events is not None:
            self.events.append(read_event(self, v, out, transposed=True))
        return out

    def conductances(self, voltage: float = 0.0) -> torch.Tensor:
        """Cell conductances (S, MTJ + transistor) at a uniform applied ``voltage`` (for inspection)."""
        v = torch.full((self.rows, self.cols), voltage, dtype=self.dtype, device=self.device)
        g_ap = self._ap_conductance(v, self.params["r_p"], self.params["tmr0"], self.params["v_h"])
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

    def _phase_probability(self, phase, rows: torch.Tensor) -> torch.Tensor:
        """Switching probability of the cells of the active ``rows`` that the phase can flip."""
        self._check_phase(phase)
        widths = phase.row_widths.index_select(0, rows).to(self.dtype)[:, None]
        currents = phase.col_currents.to(self.dtype)
        to_p = phase.polarity == TO_P
        suffix = "ap2p" if to_p else "p2ap"
        fixed = {"n": self.device_params.n_exponent, "tau_d": self.device_params.tau_d}
        if self._uniform:
            kw = {"ic0": self._scalar(f"ic0_{suffix}"), "tau0": self._scalar(f"tau0_{suffix}"),
                  "delta": self._scalar("delta")}
        else:
            kw = {"ic0": self.params[f"ic0_{suffix}"].index_select(0, rows),
                  "tau0": self.params[f"tau0_{suffix}"].index_select(0, rows),
                  "delta": self.params["delta"].index_select(0, rows)}
        if self._uniform and not bool((currents > kw["ic0"]).any()):
            p = self._thermal_probability(currents, widths, **kw, n=fixed["n"])
        else:
            p = switching_probability(currents[None, :], widths, **kw, **fixed)
        states = self.parallel.index_select(0, rows)
        can_flip = (~states if to_p else states) & (currents > 0)[None, :]
        return torch.where(can_flip, p, torch.zeros_like(p))

    @staticmethod
    def _thermal_probability(currents, widths, *, ic0: float, tau0: float, delta: float, n: float):
        """:func:`switching_probability` for a uniform array when every current is at most Ic0: the
        hazard is the product ``t_i * rate_j`` (precessional term at its constant floor), so only the
        product and one expm1 run over the cells."""
        rate = torch.exp(-delta * torch.clamp(1.0 - currents / ic0, min=0.0) ** n) / tau0
        floor = math.log1p(-math.exp(-(math.pi**2 / 4.0) * delta))
        return -torch.expm1(floor - widths * rate[None, :])

    def _check_phase(self, phase) -> None:
        if phase.row_widths.numel() != self.rows or phase.col_currents.numel() != self.cols:
            raise ValueError(f"write: a phase of {phase.row_widths.numel()} rows x "
                             f"{phase.col_currents.numel()} columns for a {self.rows}x{self.cols} array")

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

    def _group_probability(self, group: list, rows: torch.Tensor) -> torch.Tensor:
        """Switching probability of the cells of ``rows`` under a group of phases (see :meth:`_groups`)."""
        if len(group) > 1 and self._uniform:
            currents = torch.stack([ph.col_currents for ph in group]).sum(0).to(self.dtype)
            to_p = torch.zeros(self.cols, dtype=torch.bool, device=self.device)
            for ph in group:
                if ph.polarity == TO_P:
                    to_p |= ph.col_currents > 0
            nominal = self._scalar
            ic0 = torch.where(to_p, nominal("ic0_ap2p"), nominal("ic0_p2ap")).to(self.dtype)
            if not bool((currents > ic0).any()):
                tau0 = torch.where(to_p, nominal("tau0_ap2p"), nominal("tau0_p2ap")).to(self.dtype)
                widths = group[0].row_widths.index_select(0, rows).to(self.dtype)[:, None]
                p = self._thermal_probability(currents, widths, ic0=ic0, tau0=tau0, delta=nominal("delta"),
                                              n=self.device_params.n_exponent)
                can_flip = (self.parallel.index_select(0, rows) ^ to_p[None, :]) & (currents > 0)[None, :]
                return torch.where(can_flip, p, torch.zeros_like(p))
        return torch.stack([self._phase_probability(ph, rows) for ph in group]).sum(0)

    def write(self, plan: UpdatePlan, generator: torch.Generator) -> WriteResult:
        """Apply every phase of ``plan``; sample each cell's flip from the device model; return flips.

        One uniform draw per reached cell per group of phases that share rows and drive disjoint
        columns (the dense reference sampler).
        """
        flipped = []
        counts = {True: 0, False: 0}
        for group in self._groups(plan):
            rows = torch.nonzero(group[0].row_widths > 0).flatten()
            if self.events is not None:
                for phase in group:
                    self.events.append(phase_event(self, phase, rows))
            if rows.numel() == 0:
                continue
            p = self._group_probability(group, rows)
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
        if flipped:
            self._state_float = None
        cells = torch.cat(flipped) if flipped else torch.zeros(0, dtype=torch.long, device=self.device)
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=len(plan.phases),
                                          flips_to_p=counts[True], flips_to_ap=counts[False]))
        return WriteResult(flipped_cells=cells, flips_to_p=counts[True], flips_to_ap=counts[False],
                           phases=len(plan.phases))
