"""A passive (0T1MTJ) crossbar: reads through the circuit (sneak paths, wires), half-select writes, tiles.

:class:`PassiveCrossbar` keeps :class:`~mtjxbar.crossbar.array.Crossbar`'s public interface (states and
per-cell parameters, ``read``, ``read_transposed``, ``write(plan, generator)``, ``switching_probabilities``,
``state_dict`` / ``load_state_dict``, ``events``), so a layer can hold either by ``ArrayConfig.kind``.

Tiles: a logical array larger than ``tile_rows x tile_cols`` is split into tiles, each its own circuit
with its own drivers and sense amplifiers; the periphery adds the partial column sums of the tiles that
share columns (and the partial row sums of a transposed read).

Reads (``ArrayConfig.fidelity``): ``ideal`` sums ``I(v_i)`` of every cell at its row voltage (wires
ignored); ``lumped`` puts the driver, sense and wire resistance of each cell's own path in series with it
(:func:`~mtjxbar.crossbar.circuit.lumped_series`); ``exact`` solves every tile's circuit (rows driven,
columns at the sense side; bias-dependent TMR per :class:`CircuitSolverConfig`) by the line relaxation of
:mod:`.circuit.line_relaxation` (every line has a port, so whole-line Gauss-Seidel converges in ~7-9 sweeps at
1-2.5 ohm per segment; checked against the Newton/CG :class:`~.circuit.CircuitSolver` and ngspice). With
wires, ``ArrayConfig.read_calibration`` sets per-tile gains of the driven lines (the DAC value each tile's
driver gets) and of the sensed lines from the periphery's state-blind model of the tile
(:meth:`_tile_calibration`).

Writes: each phase of the plan becomes one half-select pattern (:mod:`.passive_scheme`). Every cell with a
voltage across it gets the device model's switching probability for that voltage's direction; a cell sees
its pattern with the selected rows held (``on``) for its row's width ``t_i`` (for the whole phase length
``T = max t`` if its row is unselected) and the pattern with every row released (``off``) for ``T - t_i``;
the hazards of the two intervals add (exact in the thermal regime; the precessional term is treated as a
memoryless hazard too). With wires the two patterns are solved as circuits (all lines driven through
``r_driver``): the ``on`` solve holds every selected row at once, an upper bound on the IR drop that rows
released early see. ``ArrayConfig.write_compensation`` steps move the ``on`` sources against the IR drop,
computed by the periphery on a model of the tile that does not know the states (:meth:`_compensate`).
Cells flip with one uniform draw per cell per phase; flips of selected cells that the
phase's polarity aims at are ``intended``, all others (half-selected and unselected cells) ``disturb``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..device import MTJParams, resistance_ap
from .access import Crossbar
from .circuit import (
    DRIVEN,
    SENSED,
    CircuitSolver,
    LineEnds,
    cell_current,
    lumped_series,
    solve_tiles_cells,
    solve_tiles_currents,
)
from .config import ArrayConfig, CircuitSolverConfig
from .events import ReadEvent, WriteEvent
from .passive_scheme import column_write_voltages, ideal_cell_voltages, phase_levels
from .passive_survival import phase_log_survival
from .plan import TO_P, CoincidencePlan, UpdatePlan, WritePhase, WriteResult, column_phase

__all__ = ["PassiveCrossbar", "PassiveWriteResult", "tile_slices"]


@dataclass(frozen=True)
class PassiveWriteResult(WriteResult):
    """A :class:`WriteResult` that also counts the intended flips (``disturb_flips``: the others)."""

    intended_flips: int = 0


def tile_slices(size: int, tile: int) -> list[slice]:
    """Consecutive slices of at most ``tile`` lines covering ``size`` lines."""
    return [slice(start, min(start + tile, size)) for start in range(0, size, tile)]


class PassiveCrossbar(Crossbar):
    """A passive MTJ array (possibly several tiles) read and written through its circuit."""

    def __init__(self, rows: int, cols: int, device_params: MTJParams, array: ArrayConfig | None = None,
                 solver: CircuitSolverConfig | None = None, **kwargs) -> None:
        array = array or ArrayConfig(kind="passive")
        if array.kind != "passive":
            raise ValueError(f"array.kind = {array.kind!r}: a PassiveCrossbar needs kind 'passive'")
        super().__init__(rows, cols, device_params, array, **kwargs)
        self.circuit_solver = solver or CircuitSolverConfig()
        self.row_tiles = tile_slices(rows, array.tile_rows)
        self.col_tiles = tile_slices(cols, array.tile_cols)
        self._gains: dict[str, tuple] = {}
        self._starts = (np.array([t.start for t in self.row_tiles] + [rows], dtype=np.int64),
                        np.array([t.start for t in self.col_tiles] + [cols], dtype=np.int64))

    # ------------------------------------------------------------------------------------- circuits
    def _np(self, name: str, rs: slice, cs: slice) -> np.ndarray:
        return self.params[name][rs, cs].double().cpu().numpy()

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
                                            self._line_ends(purpose), self._starts[0], self._starts[1],
                                            **self._calibration_kw(purpose), **self._relax_kw())
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

    def _periphery_model(self, volts: np.ndarray | None = None) -> tuple[float, np.ndarray, dict]:
        """What the periphery knows of an array: every cell at the mean of the nominal P and AP conductances,
        linear (not the states): ``(g_mean, states, params)`` for the relaxation solver. ``volts`` (N, M):
        the voltage the periphery's own pattern puts across each cell; each model cell then takes the mean
        conductance at its voltage (the nominal TMR roll-off; ``g_mean`` is then the zero-bias value)."""
        dev = self.device_params
        g_mean = 0.5 * (1.0 / dev.r_p + 1.0 / dev.r_ap)
        g = g_mean
        if volts is not None:
            r_ap = resistance_ap(torch.from_numpy(volts), r_p=dev.r_p, tmr0=dev.tmr0, v_h=dev.v_h).numpy()
            g = 0.5 * (1.0 / dev.r_p + 1.0 / r_ap)
        return g_mean, np.ones((self.rows, self.cols), dtype=bool), {"r_p": 1.0 / g, "tmr0": 0.0, "v_h": 1.0}

    def _calibration(self, purpose: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
        """Read gains of ``purpose`` (``ArrayConfig.read_calibration``), computed once: ``(sense, drive)``,
        each ``(rows per column tile, columns per row tile)`` as :func:`solve_tiles_currents` takes them; None
        without calibration (or with ideal wires). Every tile gets the gains of :meth:`_tile_calibration`
        for its shape: the periphery's model of a tile is the same wherever the tile sits."""
        if self.array.read_calibration == "off" or self.array.circuit.ideal_wires:
            return None
        if purpose in self._gains:
            return self._gains[purpose]
        transposed = purpose == "transposed"
        sense = (np.ones((len(self.col_tiles), self.rows)), np.ones((len(self.row_tiles), self.cols)))
        drive = (np.ones((len(self.col_tiles), self.rows)), np.ones((len(self.row_tiles), self.cols)))
        shapes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for ti, rs in enumerate(self.row_tiles):
            for tj, cs in enumerate(self.col_tiles):
                shape = (rs.stop - rs.start, cs.stop - cs.start)
                if shape not in shapes:
                    shapes[shape] = self._tile_calibration(*shape, purpose)
                d, g = shapes[shape]
                if transposed:  # columns driven, rows sensed
                    drive[1][ti, cs], sense[0][tj, rs] = d, g
                else:
                    drive[0][tj, rs], sense[1][ti, cs] = d, g
        self._gains[purpose] = (sense, drive)
        return self._gains[purpose]

    def _tile_calibration(self, n: int, m: int, purpose: str) -> tuple[np.ndarray, np.ndarray]:
        """Drive and sense gains of an ``n x m`` tile read for ``purpose``, from the periphery's model of it
        (every cell at the mean of the nominal P and AP conductances, linear; :meth:`_periphery_model`).

        ``columns``: every driven line at 1 V; a sensed line's gain is its ideal-wire current over the
        modelled one (drive gains 1). This removes the average loss of a sensed line, weighted as if every
        input were equal. ``cells``: each driven line alone at 1 V gives the modelled transfer ``c_ab`` of
        every cell (driven line ``a``, sensed line ``b``: its current into the sense side, sneak losses into
        the other lines included); ``log(g / c_ab)`` is fitted by ``u_a + w_b`` (least squares, closed form)
        and line ``a`` is driven ``exp(u_a)`` times its voltage, line ``b`` sensed with gain ``exp(w_b)``
        (drive gains of geometric mean 1). The model's transfer is then every cell's own conductance to
        within the fit's residual (0.6 % rms for 64 x 64 tiles at 1 ohm), for any input: the losses of a
        cell depend on where it sits along both of its lines, which sensed-line gains alone cannot follow."""
        g_mean, _, params = self._periphery_model()
        transposed = purpose == "transposed"
        driven, sensed = (m, n) if transposed else (n, m)
        full = self._line_ends(purpose)
        ends = LineEnds(full.end_r[:n], full.end_c[:m], full.far_r, full.far_c, full.w_r, full.w_c)
        pattern = np.ones((1, driven)) if self.array.read_calibration == "columns" else np.eye(driven)
        idle = np.zeros((pattern.shape[0], sensed))
        src_r, src_c = (idle, pattern) if transposed else (pattern, idle)
        out_r, out_c = solve_tiles_currents(src_r, src_c, np.ones((n, m), dtype=bool), params, ends,
                                            np.array([0, n]), np.array([0, m]), bias_dependent=False,
                                            tolerance=1e-12)
        currents = np.abs(out_r if transposed else out_c)  # (patterns, sensed)
        if self.array.read_calibration == "columns":
            return np.ones(driven), driven * g_mean / currents[0]
        lg = np.log(g_mean / currents)  # (driven, sensed): what each cell's transfer lacks, in log
        u = lg.mean(1) - lg.mean()
        return np.exp(u), np.exp(lg.mean(0))

    def _read_cells(self, batch: np.ndarray, transposed: bool, fidelity: str, circuit) -> tuple[np.ndarray, np.ndarray]:
        """Ideal or lumped read: each cell's current at its own row voltage (with a series resistance)."""
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
        calibration = self._calibration(purpose)
        return {} if calibration is None else {"gains": calibration[0], "drive": calibration[1]}

    def _params_np(self) -> dict[str, np.ndarray]:
        return {k: self.params[k].double().cpu().numpy() for k in ("r_p", "tmr0", "v_h")}

    def _relax_kw(self) -> dict:
        s = self.circuit_solver
        return {"bias_dependent": s.bias_dependent, "tolerance": s.relaxation_tolerance, "max_sweeps": s.max_sweeps}

    def _line_ends(self, purpose: str) -> LineEnds:
        """Port conductances of every line for a read (rows driven, columns sensed), a transposed read or a
        write (every line driven)."""
        c = self.array.circuit
        r_row, r_col = {"read": (c.r_driver, c.r_sense), "transposed": (c.r_sense, c.r_driver),
                        "write": (c.r_driver, c.r_driver)}[purpose]
        return LineEnds(np.full(self.rows, 1.0 / (r_row + c.r_wire_row)),
                        np.full(self.cols, 1.0 / (r_col + c.r_wire_col)),
                        c.row_port == "far", c.col_port == "far", 1.0 / c.r_wire_row, 1.0 / c.r_wire_col)

    def _ideal_circuit(self) -> bool:
        c = self.array.circuit
        return c.ideal_wires and c.r_driver == 0 and c.r_sense == 0

    def _check_phase_size(self, phase: WritePhase) -> None:
        if phase.row_widths.numel() != self.rows or phase.col_currents.numel() != self.cols:
            raise ValueError(f"phase of {phase.row_widths.numel()} rows x {phase.col_currents.numel()} columns "
                             f"for an array of {self.rows} x {self.cols}")

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

    def drive_terms(self, v_rows: torch.Tensor, v_max: float | None = None) -> None:
        """Always None: a passive array's read is not ``base + extra @ states`` (sneak paths and wires
        couple the cells), so layers must call :meth:`read` (:meth:`MTJLinear.prepare` then returns None)."""
        return None

    # ------------------------------------------------------------------------------------------- writes
    def phase_cell_voltages(self, phase: WritePhase) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell voltages (N, M) while the selected rows are held and after they are released (CPU tensors:
        the write circuit is solved on the CPU whatever the array's device)."""
        phase = WritePhase(row_widths=phase.row_widths.cpu(), col_currents=phase.col_currents.cpu(),
                           polarity=phase.polarity)
        nominal = {k: float(self.params[k].double().mean()) for k in ("r_p", "tmr0", "v_h")}
        v_cols = column_write_voltages(phase, v_max=self.array.write_voltage_max, **nominal)
        on, off, cols = phase_levels(self.array.write_scheme, phase.row_widths > 0, v_cols, phase.polarity)
        if self._ideal_circuit():
            return ideal_cell_voltages(on, cols), ideal_cell_voltages(off, cols)
        rows = torch.stack([on, off]).numpy()
        col_sources = cols.numpy().copy()
        selected_rows = (phase.row_widths > 0).numpy()
        selected_cols = v_cols.numpy() > 0
        if self.array.write_compensation and not self.array.circuit.ideal_wires and selected_rows.any() \
                and selected_cols.any():  # (resistive ports alone: left to the drivers' design)
            sign = 1.0 if phase.polarity == TO_P else -1.0
            rows[0], col_sources = self._compensate(rows[0], col_sources, selected_rows, selected_cols,
                                                    v_cols.numpy(), sign)
        out = self._solve_write(rows, col_sources)
        return torch.from_numpy(out[0]), torch.from_numpy(out[1])

    def _compensate(self, rows_on: np.ndarray, cols: np.ndarray, sel_r: np.ndarray, sel_c: np.ndarray,
                    target: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
        """IR-drop compensation by the periphery: sources moved so that the selected cells of a *model* of
        the array (the same tiles and pattern, every cell at the mean of the nominal P and AP conductances at
        the voltage the uncompensated pattern puts across it, TMR roll-off included; the periphery does not
        know the states) see the voltage their column asks for. A cell the phase can switch is known to be in
        the state it switches from, so its modelled voltage is corrected for its own current through its
        path to the drivers (:meth:`_write_path`). Each step solves the model and fits the selected cells'
        shortfall ``d_ij = target_j - |V_ij|`` by ``a_i + b_j`` (least squares, closed form on the full grid;
        the common offset split evenly), then raises selected row ``i`` by ``a_i`` and column ``j``'s drive
        by ``b_j``, over-relaxed (first by target / achieved mean voltage, then by the secant of the previous
        step). A row-plus-column split fits the drop of a phase well (64 x 64 tiles at 1 ohm: residual sd
        0.8 % of V) because a selected row's drop profile is set by its columns' currents and a column's by
        its rows'; the switchable cells end within 0.2 % of their voltage on average after 2 steps."""
        _, model, params = self._periphery_model(np.abs(rows_on[:, None] - cols[None, :]))
        rows_on, cols = rows_on.copy(), cols.copy()
        ends = self._line_ends("write")
        kw = {**self._relax_kw(), "bias_dependent": False}
        ri, cj = np.nonzero(sel_r)[0], np.nonzero(sel_c)[0]
        # a cell the phase can switch is in the state it switches from (AP for to_p, P for to_ap), not at the
        # mean: its own current through its lines' path resistance R changes its voltage by the factor
        # (1 + g_model R) / (1 + g_state R) (Thevenin: the rest of the tile as a source behind R)
        dev, path = self.device_params, self._write_path()[np.ix_(ri, cj)]
        g_state = 1.0 / (resistance_ap(torch.from_numpy(target[cj]), r_p=dev.r_p, tmr0=dev.tmr0, v_h=dev.v_h).numpy()
                         if sign > 0 else np.full(cj.size, dev.r_p))
        own = (1.0 + path / params["r_p"][np.ix_(ri, cj)]) / (1.0 + path * g_state[None, :])
        previous = None  # (mean held voltage, mean shift) of the step before
        for _ in range(self.array.write_compensation):
            v = solve_tiles_cells(rows_on[None], cols[None], model, params, ends, self._starts[0],
                                  self._starts[1], **kw)[0]
            held = sign * v[np.ix_(ri, cj)] * own
            # the shift itself draws more current through the same wires, so a selected cell gains only a
            # part of it: over-relax by the inverse of that part, estimated at first as |V| / target (at
            # 1 ohm on 64 x 64, ~1.4), then from what the previous step's mean shift did (secant)
            gain = target[cj].mean() / max(held.mean(), 1e-12)
            if previous is not None and held.mean() > previous[0]:
                gain = previous[1] / (held.mean() - previous[0])
            gain = float(np.clip(gain, 1.0, 3.0))
            short = gain * (target[None, cj] - held)
            # least-squares fit short_ij ~ a_i + b_j on the full grid of selected cells (closed form), the
            # common offset split evenly between rows and columns
            a = short.mean(1) - 0.5 * short.mean()
            b = short.mean(0) - 0.5 * short.mean()
            previous = (held.mean(), a.mean() + b.mean())
            rows_on[ri] += sign * a
            cols[cj] -= sign * b
        return rows_on, cols

    def _write_path(self) -> np.ndarray:
        """Resistance (ohm) of each cell's path to its two write drivers: the wire segments between the cell
        and its row's and its column's port within its tile, and both drivers (:func:`lumped_series`)."""
        if "write_path" not in self._gains:
            c = self.array.circuit
            ports = replace(c, r_sense=c.r_driver)  # a write drives both lines
            path = np.zeros((self.rows, self.cols))
            for rs in self.row_tiles:
                for cs in self.col_tiles:
                    path[rs, cs] = lumped_series(ports, rs.stop - rs.start, cs.stop - cs.start)
            self._gains["write_path"] = path
        return self._gains["write_path"]

    def _solve_write(self, rows: np.ndarray, col_sources: np.ndarray) -> np.ndarray:
        """Cell voltages (2, N, M) of the write circuit with row sources ``rows`` (2, N: held, released) and
        column sources ``col_sources`` (M,), tile by tile (line relaxation; idle tiles skipped)."""
        cols = np.repeat(col_sources[None, :], rows.shape[0], axis=0)
        if self.array.circuit.ideal_wires:  # resistive drivers only: each tile's lines solved densely
            out = np.zeros((rows.shape[0], self.rows, self.cols))
            for rs in self.row_tiles:
                for cs in self.col_tiles:
                    out[:, rs, cs] = self._port_solver(rs, cs, "write").solve(rows[:, rs], cols[:, cs]).cell_voltage
            return out
        return solve_tiles_cells(rows, cols, self.parallel.cpu().numpy(), self._params_np(), self._line_ends("write"),
                                 self._starts[0], self._starts[1], **self._relax_kw())

    def _phase_log_survival(self, phase: WritePhase) -> tuple[torch.Tensor, torch.Tensor]:
        """log P(no flip) of every cell over the phase, and the mask of the cells the phase aims at."""
        self._check_phase_size(phase)
        volts = torch.stack(self.phase_cell_voltages(phase))  # (held, released) x rows x cols
        widths = phase.row_widths.double().cpu()
        selected = widths > 0
        length = float(widths.max()) if widths.numel() else 0.0
        on_time = torch.where(selected, widths, torch.full_like(widths, length))[:, None].expand(-1, self.cols)
        duration = torch.stack([on_time, (length - on_time).clamp(min=0.0)])
        parallel = self.parallel.cpu()
        params = {k: v.double().cpu().numpy() for k, v in self.params.items()}
        log_s = torch.from_numpy(phase_log_survival(volts.numpy(), duration.numpy(), parallel.numpy(), params,
                                                    self.device_params.n_exponent, self.device_params.tau_d))
        aimed = selected[:, None] & (phase.col_currents.cpu() > 0)[None, :]
        aimed &= ~parallel if phase.polarity == TO_P else parallel
        return log_s, aimed

    def switching_probabilities(self, plan: UpdatePlan) -> torch.Tensor:
        """Per-cell flip probability of each phase in the current states (phases, rows, cols), disturbs
        included (each phase evaluated on the states before the write)."""
        out = [(-torch.expm1(self._phase_log_survival(ph)[0])) for ph in plan.phases]
        if not out:
            return torch.zeros(0, self.rows, self.cols, dtype=self.dtype, device=self.device)
        return torch.stack(out).to(self.dtype).to(self.device)

    def write_column(self, col: int, gated: torch.Tensor, width: float, current: float, polarity: str,
                     generator: torch.Generator) -> PassiveWriteResult:
        """A phase driving one column: on a passive array it is a full half-select write (the other cells
        of the gated rows and of the column are half-selected and may be disturbed), so it goes through
        :meth:`write` with that phase."""
        phase = column_phase(self.rows, self.cols, col, gated.cpu(), width, current, polarity)
        return self.write(UpdatePlan((phase,)), generator)

    def write(self, plan: UpdatePlan, generator: torch.Generator) -> PassiveWriteResult:
        """Apply the phases in order (each on the states the previous left); one draw per cell per phase."""
        if isinstance(plan, CoincidencePlan):
            raise ValueError("encoder.scheme = 'coincidence' is not supported on passive arrays yet "
                             "(use array.kind = '1t1mtj' or encoder.scheme = 'current')")
        flipped, to_p_count, intended, disturb = [], 0, 0, 0
        for phase in plan.phases:
            log_s, aimed = self._phase_log_survival(phase)
            draw = torch.rand(log_s.shape, generator=generator, dtype=torch.float64, device=generator.device)
            flips = draw.cpu() < -torch.expm1(log_s)
            if self._frozen is not None:  # stuck cells never flip
                flips &= ~self._frozen.view(self.rows, self.cols).cpu()
            if not bool(flips.any()):
                continue
            cells = torch.nonzero(flips.flatten()).flatten()
            to_p_count += int((~self.parallel.cpu().flatten()[cells]).sum())
            intended += int((flips & aimed).sum())
            disturb += int((flips & ~aimed).sum())
            self.parallel.view(-1)[cells.to(self.device)] ^= True
            self._state_float = None
            flipped.append(cells)
        cells = torch.cat(flipped).to(self.device) if flipped else torch.zeros(0, dtype=torch.long,
                                                                               device=self.device)
        n_flips = int(cells.numel())
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=len(plan.phases),
                                          flips_to_p=to_p_count, flips_to_ap=n_flips - to_p_count))
        return PassiveWriteResult(flipped_cells=cells, flips_to_p=to_p_count, flips_to_ap=n_flips - to_p_count,
                                  phases=len(plan.phases), intended_flips=intended, disturb_flips=disturb)
