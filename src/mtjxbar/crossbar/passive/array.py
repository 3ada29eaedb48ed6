"""The passive array :class:`PassiveCrossbar`: tiles, their circuits and the reads through them.

Reads (``ArrayConfig.fidelity``): ``ideal`` sums ``I(v_i)`` of every cell at its row voltage (wires
ignored); ``lumped`` puts the driver, sense and wire resistance of each cell's own path in series with it
(:func:`~mtjxbar.crossbar.circuit.lumped_series`); ``exact`` solves every tile's circuit (rows driven,
columns at the sense side; bias-dependent TMR per :class:`CircuitSolverConfig`) by the line relaxation of
:mod:`mtjxbar.crossbar.circuit.line_relaxation` (with ideal wires and resistive ports: each tile by the
dense :class:`~mtjxbar.crossbar.circuit.CircuitSolver`). With wires, the read's drive and sense gains come
from the array's :attr:`PassiveCrossbar.calibration` (:class:`ReadGains`), the periphery's algorithm
(:mod:`mtjxbar.periphery.passive_calibration`): the array only applies the gains it is given. Writes:
:mod:`.writes`.

The periphery's algorithms are given to the array, not imported by it (``crossbar`` sits below
``periphery``): :class:`ReadGains` and :class:`WriteSources` say what the array asks of them, and
:func:`mtjxbar.periphery.arrays.make_array` builds a layer's array with them. A wired array whose
``ArrayConfig`` asks for read calibration or write compensation refuses to be built without them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from ...device import MTJParams, physics
from ..cells import CellArray
from ..circuit import (
    DRIVEN,
    SENSED,
    CircuitSolver,
    LineEnds,
    cell_current,
    lumped_series,
    solve_tiles_cells,
    solve_tiles_currents,
)
from ..config import ArrayConfig, CircuitSolverConfig
from ..events import PASSIVE_PARTS, PassivePhaseEvent, ReadEvent
from ..plan import WritePhase
from .ideal_read import ideal_read
from .power import CircuitPower, circuit_power
from .scheme import column_write_voltages, phase_levels
from .writes import PassiveWriteResult, PassiveWrites

__all__ = ["PassiveCrossbar", "PassiveWriteResult", "ReadGains", "WriteSources", "tile_slices"]


class ReadGains(Protocol):
    """The periphery's read calibration of a passive array (:mod:`mtjxbar.periphery.passive_calibration`)."""

    def gains(self, array: PassiveCrossbar, purpose: str) -> tuple[tuple, tuple] | None:
        """``(sense, drive)`` gains of a read for ``purpose`` (``read`` / ``transposed``), each ``(rows per
        column tile, columns per row tile)`` as :func:`~mtjxbar.crossbar.circuit.solve_tiles_currents`
        takes them; None: the raw circuit."""
        ...


class WriteSources(Protocol):
    """The periphery's IR-drop compensation of a passive write (:mod:`mtjxbar.periphery.passive_compensation`)."""

    def compensate(self, array: PassiveCrossbar, rows_on: np.ndarray, cols: np.ndarray, selected_rows: np.ndarray,
                   selected_cols: np.ndarray, target: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
        """The held row sources and the column sources of a phase, moved against the IR drop so that the
        selected cells see ``target`` (V, per column) in the direction ``sign``."""
        ...


def tile_slices(size: int, tile: int) -> list[slice]:
    """Consecutive slices of at most ``tile`` lines covering ``size`` lines."""
    return [slice(start, min(start + tile, size)) for start in range(0, size, tile)]


class PassiveCrossbar(PassiveWrites, CellArray):
    """A passive MTJ array (possibly several tiles) read and written through its circuit.

    ``calibration`` / ``compensation``: the periphery's read calibration and write compensation
    (:class:`ReadGains`, :class:`WriteSources`; None: the raw circuit), needed where the array has resistive
    wires and ``array.read_calibration`` / ``array.write_compensation`` ask for them.
    """

    def __init__(self, rows: int, cols: int, device_params: MTJParams, array: ArrayConfig | None = None,
                 solver: CircuitSolverConfig | None = None, *, calibration: ReadGains | None = None,
                 compensation: WriteSources | None = None, cell_params: dict[str, torch.Tensor] | None = None,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> None:
        array = array or ArrayConfig(kind="passive")
        if array.kind != "passive":
            raise ValueError(f"array.kind = {array.kind!r}: a PassiveCrossbar needs kind 'passive'")
        if not array.circuit.ideal_wires:
            for name, asks, given in (("read_calibration", array.read_calibration != "off", calibration),
                                      ("write_compensation", array.write_compensation > 0, compensation)):
                if asks and given is None:
                    raise ValueError(f"array.{name} = {getattr(array, name)!r} with resistive wires: the periphery's "
                                     f"algorithm is needed (mtjxbar.periphery.arrays.make_array builds the array "
                                     f"with it; or pass {name.split('_')[1]}=...; or turn it off)")
        super().__init__(rows, cols, device_params, array, cell_params=cell_params, dtype=dtype, device=device)
        self.circuit_solver = solver or CircuitSolverConfig()
        self.calibration, self.compensation = calibration, compensation
        self._line_ends: dict[str, LineEnds] = {}  # line_ends(purpose), built on first use
        self.row_tiles = tile_slices(rows, array.tile_rows)
        self.col_tiles = tile_slices(cols, array.tile_cols)
        self.tile_starts = (np.array([t.start for t in self.row_tiles] + [rows], dtype=np.int64),
                            np.array([t.start for t in self.col_tiles] + [cols], dtype=np.int64))
        """Where the tiles start along the rows and along the columns (each ending with the line count)."""

    # ------------------------------------------------------------------------------------- circuits
    def _params_changed(self) -> None:
        self._np_params: dict[str, np.ndarray] | None = None  # rebuilt by cell_params_np on demand
        self._log_floors: np.ndarray | None = None  # rebuilt by log_floors on demand
        self._row_bounds: np.ndarray | None = None  # rebuilt by sampler_bounds on demand
        self._nominal_means: dict[str, float] | None = None

    def cell_params_np(self) -> dict[str, np.ndarray]:
        """Every per-cell parameter as a float64 numpy array (N, M) on the CPU, what the circuit and survival
        kernels take; converted once per :meth:`set_cell_params` instead of once per solve."""
        if self._np_params is None:
            self._np_params = {k: np.ascontiguousarray(v.double().cpu().numpy()) for k, v in self.params.items()}
        return self._np_params

    def mean_params(self) -> dict[str, float]:
        """The array's mean ``r_p``, ``tmr0`` and ``v_h`` (what a write's column voltages are set from)."""
        if self._nominal_means is None:
            self._nominal_means = {k: float(self.params[k].double().mean()) for k in ("r_p", "tmr0", "v_h")}
        return self._nominal_means

    def _np(self, name: str, rs: slice, cs: slice) -> np.ndarray:
        return self.cell_params_np()[name][rs, cs]

    def _tile_cells(self, rs: slice, cs: slice, v: np.ndarray, series) -> np.ndarray:
        """Currents of the tile's cells at voltages ``v`` with ``series`` ohm in front of each."""
        i, _ = cell_current(v, self.parallel[rs, cs].cpu().numpy(), self._np("r_p", rs, cs),
                            self._np("tmr0", rs, cs), self._np("v_h", rs, cs), series)
        return i

    def _read(self, v: torch.Tensor, transposed: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Sensed-line currents and driver currents for driven-line voltages ``v`` (..., driven)."""
        batch = v.reshape(-1, v.shape[-1]).double().cpu().numpy()
        fidelity, circuit = self.array.fidelity, self.array.circuit
        if fidelity == "exact" and not self._ideal_circuit():
            if circuit.ideal_wires:  # only the ports resist: no line to relax, each tile solved densely
                sensed, drivers = self._read_ports_only(batch, transposed)
            else:
                sensed, drivers = self._read_relaxed(batch, transposed)
        else:
            sensed, drivers = self._read_cells(batch, transposed, fidelity, circuit)
        shape = (*v.shape[:-1], sensed.shape[-1])
        return (torch.from_numpy(sensed).to(dtype=self.dtype, device=self.device).reshape(shape),
                torch.from_numpy(drivers).to(dtype=self.dtype, device=self.device).reshape(v.shape))

    def _read_relaxed(self, batch: np.ndarray, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
        """Exact tiled read by line relaxation: driven lines at ``batch``, sensed lines at 0 V behind r_sense."""
        zeros = np.zeros((batch.shape[0], self.rows if transposed else self.cols))
        src_r, src_c = (zeros, batch) if transposed else (batch, zeros)
        purpose = "transposed" if transposed else "read"
        out_r, out_c = solve_tiles_currents(src_r, src_c, self.parallel.cpu().numpy(), self._params_np(),
                                            self.line_ends(purpose), *self.tile_starts,
                                            **self._calibration_kw(purpose), **self.relaxation_settings())
        # out_*: currents the lines deliver to their periphery; a driver delivers minus what it supplies
        return (out_r, -out_c) if transposed else (out_c, -out_r)

    def _port_solver(self, rs: slice, cs: slice, purpose: str) -> CircuitSolver:
        """A tile's :class:`CircuitSolver` for ideal wires behind resistive ports (lines as single nodes)."""
        modes = {"read": (DRIVEN, SENSED), "transposed": (SENSED, DRIVEN), "write": (DRIVEN, DRIVEN)}[purpose]
        return CircuitSolver(self.parallel[rs, cs].cpu().numpy(), r_p=self._np("r_p", rs, cs),
                             tmr0=self._np("tmr0", rs, cs), v_h=self._np("v_h", rs, cs), circuit=self.array.circuit,
                             solver=self.circuit_solver, row_modes=modes[0], col_modes=modes[1])

    def _read_ports_only(self, batch: np.ndarray, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
        sensed = np.zeros((batch.shape[0], self.rows if transposed else self.cols))
        drivers = np.zeros_like(batch)
        for rs in self.row_tiles:
            for cs in self.col_tiles:
                solver = self._port_solver(rs, cs, "transposed" if transposed else "read")
                if transposed:
                    sol = solver.solve(np.zeros((batch.shape[0], rs.stop - rs.start)), batch[:, cs])
                    sensed[:, rs] += sol.row_currents
                    drivers[:, cs] -= sol.col_currents
                else:
                    sol = solver.solve(batch[:, rs])
                    sensed[:, cs] += sol.col_currents
                    drivers[:, rs] -= sol.row_currents
        return sensed, drivers

    def _read_cells(self, batch: np.ndarray, transposed: bool, fidelity: str, circuit) -> tuple[np.ndarray, np.ndarray]:
        """Ideal or lumped read: each cell's current at its own row voltage (with a series resistance)."""
        if fidelity != "lumped":  # no series resistance: one compiled pass
            return ideal_read(batch, self.parallel.cpu().numpy(), self._params_np(), *self.tile_starts, transposed)
        sensed = np.zeros((batch.shape[0], self.rows if transposed else self.cols))
        drivers = np.zeros_like(batch)
        for rs in self.row_tiles:
            for cs in self.col_tiles:
                drive, sense = (cs, rs) if transposed else (rs, cs)
                vd = batch[:, drive]
                series = 0.0 if fidelity != "lumped" else lumped_series(circuit, rs.stop - rs.start,
                                                                       cs.stop - cs.start)
                volts = -vd[:, None, :] if transposed else vd[:, :, None]
                cells = self._tile_cells(rs, cs, volts * np.ones((1, rs.stop - rs.start, cs.stop - cs.start)),
                                         series)
                if transposed:
                    sensed[:, sense] -= cells.sum(-1)
                    drivers[:, drive] -= cells.sum(-2)
                else:
                    sensed[:, sense] += cells.sum(-2)
                    drivers[:, drive] += cells.sum(-1)
        return sensed, drivers

    def _calibration_kw(self, purpose: str) -> dict:
        calibration = None if self.calibration is None else self.calibration.gains(self, purpose)
        return {} if calibration is None else {"gains": calibration[0], "drive": calibration[1]}

    def _params_np(self) -> dict[str, np.ndarray]:
        return {k: self.cell_params_np()[k] for k in ("r_p", "tmr0", "v_h")}

    def relaxation_settings(self, purpose: str = "read") -> dict:
        """Keywords of the line relaxation (:func:`~mtjxbar.crossbar.circuit.solve_tiles_cells`) from the
        array's :class:`CircuitSolverConfig` for a ``read`` or a ``write`` (its phases' patterns and the
        periphery's compensation model: to ``fast_write_tolerance``, over-relaxed, where ``write_solver`` is
        ``fast``). Reads are over-relaxed too (the same fixed point to ``relaxation_tolerance``: 27 % fewer
        sweeps and a third less time at 2.5 ohm, the same time at 1 ohm; docs/passive.md); the exact write
        path, the fast one's reference, keeps plain sweeps."""
        s = self.circuit_solver
        fast = purpose == "write" and s.write_solver == "fast"
        return {"bias_dependent": s.bias_dependent, "max_sweeps": s.max_sweeps,
                "tolerance": s.fast_write_tolerance if fast else s.relaxation_tolerance,
                "over_relax": fast or purpose == "read"}

    def line_ends(self, purpose: str) -> LineEnds:
        """Port conductances of every line for a read (rows driven, columns sensed), a transposed read or a
        write (every line driven); built once per purpose (the array's configuration is frozen)."""
        if purpose not in self._line_ends:
            self._line_ends[purpose] = self._build_line_ends(purpose)
        return self._line_ends[purpose]

    def _build_line_ends(self, purpose: str) -> LineEnds:
        c = self.array.circuit
        r_row, r_col = {"read": (c.r_driver, c.r_sense), "transposed": (c.r_sense, c.r_driver),
                        "write": (c.r_driver, c.r_driver)}[purpose]
        return LineEnds(np.full(self.rows, 1.0 / (r_row + c.r_wire_row)),
                        np.full(self.cols, 1.0 / (r_col + c.r_wire_col)),
                        c.row_port == "far", c.col_port == "far", 1.0 / c.r_wire_row, 1.0 / c.r_wire_col)

    # ------------------------------------------------------------------------------------------ power
    def circuit_power(self, volts: np.ndarray, purpose: str) -> CircuitPower:
        """Where the power of the array's tiles goes with their cells at ``volts`` (B, N, M), row node minus
        column node, in a ``read``, a ``transposed`` read or a ``write`` (every line at a driver): cells,
        wire segments and ports (:func:`.power.circuit_power`; their sum is what the sources deliver)."""
        c = self.array.circuit
        r_row, r_col = {"read": (c.r_driver, c.r_sense), "transposed": (c.r_sense, c.r_driver),
                        "write": (c.r_driver, c.r_driver)}[purpose]
        return circuit_power(volts, self.parallel.cpu().numpy(), self._params_np(),
                             bias_dependent=self.circuit_solver.bias_dependent or self._ideal_circuit(),
                             row_starts=self.tile_starts[0], col_starts=self.tile_starts[1],
                             r_wire_row=c.r_wire_row, r_wire_col=c.r_wire_col, r_row_port=r_row, r_col_port=r_col,
                             row_far=c.row_port == "far", col_far=c.col_port == "far")

    def read_cell_voltages(self, v: np.ndarray, transposed: bool = False) -> np.ndarray:
        """Cell voltages (B, N, M) of the raw read circuit (no calibration gains) for driven-line voltages ``v``
        (B, driven): the exact solve where the array reads exactly, else the voltages the read model puts
        across the cells (ideal: the driven lines' voltages)."""
        v = np.atleast_2d(np.asarray(v, dtype=np.float64))
        idle = np.zeros((v.shape[0], self.rows if transposed else self.cols))
        src_r, src_c = (idle, v) if transposed else (v, idle)
        purpose = "transposed" if transposed else "read"
        if self.array.fidelity == "exact" and not self.array.circuit.ideal_wires:
            return solve_tiles_cells(src_r, src_c, self.parallel.cpu().numpy(), self._params_np(),
                                     self.line_ends(purpose), *self.tile_starts, **self.relaxation_settings())
        out = src_r[:, :, None] - src_c[:, None, :]
        if self.array.fidelity == "exact" and not self._ideal_circuit():  # resistive ports alone
            for rs in self.row_tiles:
                for cs in self.col_tiles:
                    out[:, rs, cs] = self._port_solver(rs, cs, purpose).solve(src_r[:, rs], src_c[:, cs]).cell_voltage
        return out

    def phase_event(self, phase: WritePhase, held: torch.Tensor, released: torch.Tensor) -> PassivePhaseEvent:
        """The :class:`PassivePhaseEvent` of ``phase`` whose cells sit at ``held`` (selected rows held) and
        ``released`` (N, M), as :meth:`phase_cell_voltages` solved them. A cell is selected, half-selected or
        unselected as its lines are in that pattern (every row is unselected once released)."""
        widths = phase.row_widths.double().cpu()
        currents = phase.col_currents.double().cpu()
        sel_r, sel_c = (widths > 0).numpy(), (currents > 0).numpy()
        per_row = np.zeros((2, len(PASSIVE_PARTS), self.rows))
        rest = np.zeros((2, len(PASSIVE_PARTS)))
        for p, (volts, rows_on) in enumerate(((held, sel_r), (released, np.zeros_like(sel_r)))):
            power = self.circuit_power(volts.double().cpu().numpy()[None], "write")  # released: no row selected
            on_cols = power.cells[0] @ sel_c.astype(np.float64)  # each row's cells on selected columns
            off_cols = power.cells[0].sum(-1) - on_cols
            per_row[p, 0] = np.where(rows_on, on_cols, 0.0)
            per_row[p, 1] = np.where(rows_on, off_cols, on_cols)
            per_row[p, 2] = np.where(rows_on, 0.0, off_cols)
            per_row[p, 3], per_row[p, 4] = power.row_wires[0], power.row_ports[0]
            rest[p] = per_row[p][:, ~sel_r].sum(-1)
            rest[p, 3] += power.col_wires.sum()
            rest[p, 4] += power.col_ports.sum()
        cpu = WritePhase(row_widths=widths, col_currents=currents, polarity=phase.polarity)
        v_cols = column_write_voltages(cpu, v_max=self.array.write_voltage_max, **self.mean_params())
        on, off, cols = phase_levels(self.array.write_scheme, widths > 0, v_cols, phase.polarity)
        line_v2 = self.cols * float((on * on).sum() + ((on - off)[widths > 0] ** 2).sum()) \
            + self.rows * float((cols * cols).sum())
        rows = torch.nonzero(widths > 0).flatten()
        return PassivePhaseEvent(row_widths=widths, polarity=phase.polarity, rows=rows,
                                 row_power=torch.from_numpy(per_row[:, :, sel_r].copy()),
                                 rest_power=torch.from_numpy(rest), line_v2=line_v2, selected_cols=int(sel_c.sum()),
                                 tiles=(len(self.row_tiles), len(self.col_tiles)),
                                 compensated=self.compensation is not None and not self.array.circuit.ideal_wires
                                 and self.array.write_compensation > 0)

    def _ideal_circuit(self) -> bool:
        c = self.array.circuit
        return c.ideal_wires and c.r_driver == 0 and c.r_sense == 0

    # -------------------------------------------------------------------------------------------- reads
    def read(self, v_rows: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Column currents (A) for row voltages ``v_rows`` (V), shape (rows,) or (batch, rows); ``v_max``
        (the DAC's full scale) is accepted for :class:`Crossbar`'s signature and not needed here."""
        if v_rows.shape[-1] != self.rows:
            raise ValueError(f"read: {v_rows.shape[-1]} row voltages for an array of {self.rows} rows")
        out, drivers = self._read(v_rows, transposed=False)
        if self.events is not None:
            self.events.append(ReadEvent(False, v_rows.detach().to(self.dtype), out, drivers))
        return out

    def read_transposed(self, v_cols: torch.Tensor, v_max: float | None = None) -> torch.Tensor:
        """Row currents (A) for column voltages ``v_cols`` (V): drive columns, sense rows."""
        if v_cols.shape[-1] != self.cols:
            raise ValueError(f"read_transposed: {v_cols.shape[-1]} column voltages for {self.cols} columns")
        out, drivers = self._read(v_cols, transposed=True)
        if self.events is not None:
            self.events.append(ReadEvent(True, v_cols.detach().to(self.dtype), out, drivers))
        return out

    def conductances(self, voltage: float = 0.0) -> torch.Tensor:
        """Cell conductances (S, the junction alone: no access device) at a uniform applied ``voltage``."""
        v = torch.full((self.rows, self.cols), voltage, dtype=self.dtype, device=self.device)
        p = self.params
        g_ap = 1.0 / physics.ap_resistance(v, p["r_p"], p["tmr0"], p["v_h"])
        return torch.where(self.parallel, 1.0 / p["r_p"], g_ap)
