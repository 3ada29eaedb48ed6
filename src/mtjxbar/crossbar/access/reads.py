"""Reads of a 1T1MTJ array: every cell's current at its own driven-line voltage, summed on the sensed lines.

Each cell is an MTJ in series with an access transistor of on-resistance ``r_access``; rows carry the read
voltages, columns are sensed at virtual ground (TIA), wires are ideal, so a cell's current depends only on
its own row voltage: ``I_j = sum_i v_i * G_ij(v_i)``. With bias-dependent TMR the junction voltage
``V_m`` solves ``V_m (1 + r_access / R_AP(V_m)) = v``, by Newton's method
(:func:`mtjxbar.device.physics.junction_voltage_step`) to ``BiasSolverConfig.tolerance``.

Three ways to the same currents, chosen by the array: a uniform array (every cell the same parameters)
interpolates G_AP(v) from a table of the exact solve and reads with one matrix product
(:meth:`AccessReads.drive_terms` splits off the part that depends on the voltages only); an array with
per-cell parameters uses a per-cell Chebyshev fit (:mod:`.cell_reads`); where the fit cannot reach its
tolerance, the exact per-cell solve runs.
"""

from __future__ import annotations

import torch

from ...device import physics
from ..config import BiasSolverConfig
from .cell_reads import CellReads
from .events import read_event
from .read_kernel import drive_terms, uniform_drive, use_blas

__all__ = ["AccessReads", "access_ap_conductance"]


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


class AccessReads:
    """The read methods of :class:`~mtjxbar.crossbar.access.Crossbar` (kept in their own module)."""

    def uniform_ap_conductance(self, v: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """G_AP(v) of the uniform array, from a table of the exact solve (linear interpolation).

        The table spans +-1.05 times the largest |v| seen so far (or the bound ``v_max`` the caller
        guarantees, e.g. the DAC's full scale, which saves a reduction per read) on 32769 points; the
        function is smooth (relative interpolation error below 2e-9 up to |v| = 1 V, checked in tests)
        and the table is rebuilt when |v| outgrows it.
        """
        if v_max is None:
            v_max = float(v.detach().abs().max()) if v.numel() else 0.0
        if self._g_ap_table is None or v_max > self._g_ap_table[0]:
            self._build_g_ap_table(max(1.05 * v_max, 1e-3))
        span, table, slope, scale = self._g_ap_table[:4]
        pos = (v + span) * scale
        lo = pos.long().clamp_(max=table.numel() - 2)  # pos >= 0, so truncation is floor
        return torch.addcmul(table[lo], pos - lo, slope[lo])

    def _build_g_ap_table(self, span: float) -> None:
        grid = torch.linspace(-span, span, 32769, dtype=torch.float64, device=self.device)
        exact = self.ap_conductance(grid, self.nominal("r_p"), self.nominal("tmr0"), self.nominal("v_h"))
        table = exact.to(self.dtype)
        slope = torch.cat([table[1:] - table[:-1], table[-1:] * 0])
        scale = (table.numel() - 1) / (2.0 * span)
        arrays = (table.numpy(), slope.numpy()) if table.device.type == "cpu" else None  # the compiled read's
        self._g_ap_table = (span, table, slope, scale, arrays)

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
            if v.dim() <= 2 and v.device.type == "cpu" and not v.requires_grad:
                return self._drive_compiled(v, states, transposed, g_p, v_max)
            i_ap = v * self.uniform_ap_conductance(v, v_max)  # each cell's current if it were AP
            base, extra = i_ap.sum(dim=-1, keepdim=True), v * g_p - i_ap
            if v.dim() == 1:
                return torch.addmv(base, states.T, extra)
            return torch.addmm(base, extra, states) if v.dim() == 2 else base + extra @ states
        reads = self.per_cell_reads(v, v_max)
        if reads is not None:
            return reads.read_transposed(v) if transposed else reads.read(v)
        return self._drive_exact(v, transposed)

    def _drive_compiled(self, v: torch.Tensor, states: torch.Tensor, transposed: bool, g_p: float,
                        v_max: float | None) -> torch.Tensor:
        """:meth:`_drive` of a uniform CPU array by :func:`.read_kernel.uniform_drive` (one loop, the same
        table and arithmetic; ``states`` as ``_drive`` oriented them, which the kernel undoes)."""
        if v_max is None:
            v_max = float(v.detach().abs().max()) if v.numel() else 0.0
        span, scale, table, slope = self._read_table(v_max)
        flat = (v.reshape(1, -1) if v.dim() == 1 else v.contiguous()).detach()
        sensed = self.rows if transposed else self.cols
        if use_blas(flat.shape[0], self.rows * self.cols, transposed):  # the state product by BLAS
            extra, base = torch.empty(flat.shape, dtype=self.dtype), torch.empty(flat.shape[0], 1, dtype=self.dtype)
            drive_terms(flat.numpy(), g_p, span, scale, table, slope, extra.numpy(), base.numpy())
            out = torch.addmm(base, extra, states)
            return out.reshape(sensed) if v.dim() == 1 else out
        out = torch.empty(flat.shape[0], sensed, dtype=self.dtype)
        cells = (states.T if transposed else states).contiguous()
        uniform_drive(flat.numpy(), cells.numpy(), transposed, g_p, span, scale, table, slope, out.numpy())
        return out.reshape(sensed) if v.dim() == 1 else out

    def compiled_read(self, v_max: float) -> tuple | None:
        """What :func:`.read_kernel.line_terms` needs to read this array at line voltages up to
        ``v_max`` (V): ``(span V, points per V, G_AP table, slope, G_P S)`` (NumPy views of the array's
        table, rebuilt wider when ``v_max`` outgrows it), or None where a compiled read does not apply:
        cells with their own parameters, an event sink attached (reads are reported), not on the CPU."""
        if not self._uniform or self.events is not None or self.device.type != "cpu":
            return None
        return *self._read_table(v_max), 1.0 / (self.nominal("r_p") + self.array.r_access)

    def _read_table(self, v_max: float) -> tuple:
        """``(span, points per V, table, slope)`` of the uniform CPU array's G_AP table covering ``v_max``."""
        if self._g_ap_table is None or v_max > self._g_ap_table[0]:
            self._build_g_ap_table(max(1.05 * v_max, 1e-3))
        span, _, _, scale, (table, slope) = self._g_ap_table
        return span, scale, table, slope

    def per_cell_reads(self, v: torch.Tensor, v_max: float | None) -> CellReads | None:
        """The per-cell Chebyshev read matrices covering |v| (refitted when |v| outgrows them); None where
        the fit cannot reach its tolerance (the exact loop runs then)."""
        if v_max is None:
            v_max = float(v.detach().abs().max()) if v.numel() else 0.0
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
