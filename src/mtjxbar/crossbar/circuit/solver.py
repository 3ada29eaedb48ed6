"""Exact nodal analysis of an MTJ crossbar with wire resistance, sneak paths and bias-dependent TMR.

Circuit (see :class:`~mtjxbar.crossbar.config.CircuitConfig`): every cell joins its row-line node and its
column-line node at their crossing; neighbouring nodes of a line are joined by one wire segment; each line
has its periphery at one end (``row_port`` / ``col_port``), reached through one more segment. A line is

* ``driven``: a source of voltage ``v`` behind ``r_driver`` (``v = 0``: grounded, other values: biased);
* ``sensed``: 0 V behind ``r_sense`` (``r_sense = 0``: the virtual ground of a TIA);
* ``floating``: nothing connected at either end (a sneak-path conductor).

A 1T1MTJ array is the same circuit with ``r_access`` in series with every junction and the cells of rows
whose gate is off removed (``row_gates``).

Solution: with ``CircuitSolverConfig.bias_dependent`` the AP junctions follow ``R_AP(V_m)`` and Newton's
method on the nodal equations (Jacobian = nodal matrix of the cells' differential conductances) runs until
no node voltage moves more than ``newton_tolerance`` (1e-10 V by default; quadratic convergence, 3-5
steps); each Newton step is a conjugate-gradient solve to ``rtol`` (relative residual) preconditioned by
:class:`~mtjxbar.crossbar.circuit.network.LineNetwork` built from the zero-bias conductances. That
preconditioner is the "factorisation" reused across input vectors while the states do not change; after
flips it is rebuilt in O(N M) plus one (N + M) dense Cholesky, and a re-solve of the same sources starts
from the previous solution (warm start). With ideal wires (both segment resistances 0) each line is one
node and the circuit is solved densely on the N + M line voltages (lines at an ideal source drop out).

Transfer (:meth:`CircuitSolver.transfer`): with the cells at their zero-bias conductances the array is
linear and its port admittance matrix (every line's current for every source voltage) is computed exactly by
a direct Schur-complement sweep (:mod:`.transfer`), once per state set; :meth:`line_currents` then
reads each further input vector with one matvec (bias-dependent cells: the Newton solve).

Currents: ``row_currents`` / ``col_currents`` are the currents each line delivers to its periphery (a
sensed column's TIA current; minus a driver's output current), from Kirchhoff's current law on the cells
of the line (the wires conserve current).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..config import CircuitConfig, CircuitSolverConfig
from .cells import cell_current, zero_bias_conductance
from .network import LineNetwork, unfed_islands
from .transfer import port_admittance, woodbury_update

__all__ = ["CircuitSolver", "CircuitSolution", "CircuitTransfer", "LINE_MODES", "DRIVEN", "SENSED", "FLOATING",
           "lumped_series"]

DRIVEN, SENSED, FLOATING = "driven", "sensed", "floating"
LINE_MODES = (DRIVEN, SENSED, FLOATING)


@dataclass(frozen=True, eq=False)
class CircuitSolution:
    """Node voltages (V), cell voltages and currents (row -> column, A), and line currents into the
    periphery (A) of a batch of solves; leading dimension: the batch."""

    row_nodes: np.ndarray  # (B, N, M): voltage of row i's node at column j
    col_nodes: np.ndarray  # (B, N, M): voltage of column j's node at row i
    cell_voltage: np.ndarray  # (B, N, M)
    cell_current: np.ndarray  # (B, N, M)
    row_currents: np.ndarray  # (B, N)
    col_currents: np.ndarray  # (B, M)
    newton_iterations: int
    cg_iterations: int


@dataclass(frozen=True, eq=False)
class CircuitTransfer:
    """The array's exact linear transfer at fixed cell conductances: the port admittance matrix ``y``
    ((N + M) x (N + M), row sources first): the currents the lines deliver to their periphery are
    ``-y @ s`` for source voltages ``s`` (every line with a port; lines without one read 0)."""

    y: np.ndarray
    rows: int
    cols: int

    @property
    def matrix(self) -> np.ndarray:
        """(M, N): column currents (A) per volt on each row source, the other sources at 0 V."""
        return -self.y[self.rows:, :self.rows]

    def line_currents(self, v_rows, v_cols=None) -> tuple[np.ndarray, np.ndarray]:
        """Row and column currents into the periphery, (B, N) and (B, M), for source voltages on the rows
        ((B, N) or (N,)) and columns (None: 0 V)."""
        v_rows = np.atleast_2d(np.asarray(v_rows, dtype=np.float64))
        out = -v_rows @ self.y[:self.rows]
        if v_cols is not None:
            out -= np.atleast_2d(np.asarray(v_cols, dtype=np.float64)) @ self.y[self.rows:]
        return out[:, :self.rows], out[:, self.rows:]

    def read(self, v_rows) -> np.ndarray:
        """Column currents (B, M) for row source voltages (B, N), column sources at 0 V: one matvec."""
        return np.atleast_2d(np.asarray(v_rows, dtype=np.float64)) @ self.matrix.T

    def read_transposed(self, v_cols) -> np.ndarray:
        """Row currents (B, N) for column source voltages (B, M), row sources at 0 V (the same circuit read
        from the columns: each line keeps its port resistance)."""
        return np.atleast_2d(np.asarray(v_cols, dtype=np.float64)) @ self.matrix


def _modes(modes, count: int, what: str) -> np.ndarray:
    out = np.array([modes] * count if isinstance(modes, str) else list(modes), dtype=object)
    if out.shape != (count,) or not set(out.tolist()) <= set(LINE_MODES):
        raise ValueError(f"{what} = {modes!r}: expected one of {LINE_MODES} or {count} of them")
    return out


def lumped_series(circuit: CircuitConfig, rows: int, cols: int) -> np.ndarray:
    """Series resistance (ohm) the lumped read model puts in front of cell (i, j): its driver, its sense
    side and the wire segments between the ports and the cell (sneak paths and wire sharing ignored)."""
    j = np.arange(cols)
    i = np.arange(rows)
    seg_r = (j + 1) if circuit.row_port == "near" else (cols - j)
    seg_c = (i + 1) if circuit.col_port == "near" else (rows - i)
    return (circuit.r_driver + circuit.r_sense + circuit.r_wire_row * seg_r[None, :]
            + circuit.r_wire_col * seg_c[:, None])


class CircuitSolver:
    """Solves one array's circuit for batches of source voltages; refresh with :meth:`set_states`.

    ``parallel`` (N, M) bool; ``r_p``, ``tmr0``, ``v_h`` scalars or (N, M) arrays; ``row_modes`` /
    ``col_modes`` one of :data:`LINE_MODES` for all lines or one per line; ``row_gates`` (N,) bool for
    1T1MTJ arrays (False: that row's transistors are off).
    """

    def __init__(self, parallel, *, r_p, tmr0, v_h, circuit: CircuitConfig, solver: CircuitSolverConfig | None = None,
                 r_access: float = 0.0, row_modes=DRIVEN, col_modes=SENSED, row_gates=None) -> None:
        parallel = np.asarray(parallel, dtype=bool)
        self.rows, self.cols = parallel.shape
        self.circuit, self.solver = circuit, solver or CircuitSolverConfig()
        self.r_access = float(r_access)
        self.r_p, self.tmr0, self.v_h = (np.broadcast_to(np.asarray(x, dtype=np.float64), parallel.shape)
                                         for x in (r_p, tmr0, v_h))
        self.row_modes = _modes(row_modes, self.rows, "row_modes")
        self.col_modes = _modes(col_modes, self.cols, "col_modes")
        gates = np.ones(self.rows, dtype=bool) if row_gates is None else np.asarray(row_gates, dtype=bool)
        self.gate = gates[:, None].astype(np.float64) * np.ones((1, self.cols))
        self._network: LineNetwork | None = None
        self._warm: tuple[np.ndarray, np.ndarray] | None = None
        self._transfer: tuple[np.ndarray, np.ndarray] | None = None  # (g0 it was computed for, Y)
        self.set_states(parallel)

    # ------------------------------------------------------------------------------------ structure
    def _port_resistance(self, modes: np.ndarray) -> np.ndarray:
        """Resistance (ohm) behind each line's port (inf: open)."""
        return np.where(modes == DRIVEN, self.circuit.r_driver,
                        np.where(modes == SENSED, self.circuit.r_sense, np.inf)).astype(np.float64)

    def _ends(self, modes: np.ndarray, r_wire: float, port: str) -> np.ndarray:
        ends = np.zeros((modes.size, 2))
        ends[:, 0 if port == "near" else 1] = 1.0 / (self._port_resistance(modes) + r_wire)
        return ends

    def set_states(self, parallel) -> None:
        """New cell states (after flips or programming): rebuild the preconditioner (O(N M) + Cholesky)."""
        self.parallel = np.asarray(parallel, dtype=bool)
        self._vectors_read = 0
        self.g0 = zero_bias_conductance(self.parallel, self.r_p, self.tmr0, self.r_access) * self.gate
        if self.circuit.ideal_wires:
            return
        c = self.circuit
        if self._network is None:
            self._network = LineNetwork(self.g0, 1.0 / c.r_wire_row, 1.0 / c.r_wire_col,
                                        self._ends(self.row_modes, c.r_wire_row, c.row_port),
                                        self._ends(self.col_modes, c.r_wire_col, c.col_port))
        else:
            self._network.set_conductances(self.g0)

    def _cells(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.solver.bias_dependent:
            return self.g0 * v, np.broadcast_to(self.g0, v.shape)
        i, g = cell_current(v, self.parallel, self.r_p, self.tmr0, self.v_h, self.r_access)
        return i * self.gate, g * self.gate

    def _sources(self, v_rows, v_cols) -> tuple[np.ndarray, np.ndarray, bool]:
        v_rows = np.asarray(v_rows, dtype=np.float64)
        single = v_rows.ndim == 1
        v_rows = np.atleast_2d(v_rows)
        batch = v_rows.shape[0]
        v_cols = np.zeros((batch, self.cols)) if v_cols is None else np.atleast_2d(np.asarray(v_cols, np.float64))
        if v_rows.shape[1] != self.rows or v_cols.shape != (batch, self.cols):
            raise ValueError(f"sources of shape {v_rows.shape} and {v_cols.shape}: expected (B, {self.rows}) and "
                             f"(B, {self.cols})")
        src_r = np.where(self.row_modes == DRIVEN, v_rows, 0.0)
        src_c = np.where(self.col_modes == DRIVEN, v_cols, 0.0)
        return src_r, src_c, single

    # ------------------------------------------------------------------------------------- transfer
    #: after flips, update the transfer by Woodbury (one CG solve per changed cell) while at most this many
    #: cells changed, else a new sweep. Default 0 (always the sweep): point-source CG solves converge slowly,
    #: so at 64 x 64 with 1 ohm segments one Woodbury update already costs more than a whole sweep
    #: (``bench/circuit_solve.py``; times in docs/passive.md).
    woodbury_max_cells: int = 0

    def transfer(self) -> CircuitTransfer:
        """The exact linear transfer of the array at its cells' zero-bias conductances (what
        ``bias_dependent = False`` solves; with the TMR roll-off, the small-signal transfer at 0 V).

        Computed once per state set by a direct Schur-complement sweep (:func:`.transfer.port_admittance`,
        exact to rounding); after :meth:`set_states`, a new sweep, or (``woodbury_max_cells``) a Woodbury update
        (:func:`.transfer.woodbury_update`, to the CG tolerance ``rtol``)."""
        if self.circuit.ideal_wires:
            if self._transfer is None or not np.array_equal(self._transfer[0], self.g0):
                self._transfer = (self.g0.copy(), self._ideal_admittance())
            return CircuitTransfer(self._transfer[1], self.rows, self.cols)
        net = self._network
        if self._transfer is not None and not np.array_equal(self._transfer[0], self.g0):
            g_old, y = self._transfer
            cells = np.argwhere(g_old != self.g0)
            if cells.shape[0] <= self.woodbury_max_cells:
                delta = (self.g0 - g_old)[cells[:, 0], cells[:, 1]]
                y = woodbury_update(y, net, cells, delta, self.solver.rtol, self.solver.max_cg_iterations)
                self._transfer = (self.g0.copy(), y)
            else:
                self._transfer = None
        if self._transfer is None:
            self._transfer = (self.g0.copy(), port_admittance(net))
        return CircuitTransfer(self._transfer[1], self.rows, self.cols)

    def _ideal_admittance(self) -> np.ndarray:
        """Ideal wires: each line one node; lines at an ideal source are their own source node, the others
        reach theirs through the port resistance; the free lines are eliminated densely."""
        n, m = self.rows, self.cols
        modes = np.concatenate([self.row_modes, self.col_modes])
        r_port = np.concatenate([self._port_resistance(self.row_modes), self._port_resistance(self.col_modes)])
        fixed = r_port == 0.0
        g_port = np.where(fixed | ~np.isfinite(r_port), 0.0, 1.0 / np.where(r_port > 0, r_port, 1.0))
        pin_r, pin_c = unfed_islands(self.g0, (modes != FLOATING)[:n], (modes != FLOATING)[n:])
        lap = np.zeros((n + m, n + m))
        lap[:n, n:] = -self.g0
        lap[n:, :n] = -self.g0.T
        lap[np.arange(n + m), np.arange(n + m)] = np.concatenate([self.g0.sum(1), self.g0.sum(0)])
        free = np.nonzero(~fixed)[0]
        fix = np.nonzero(fixed)[0]
        a_ee = lap[np.ix_(free, free)] + np.diag(g_port[free] + np.concatenate([pin_r, pin_c])[free])
        # kept: the fixed lines, then the sources of the free lines
        a_ke = np.concatenate([lap[np.ix_(fix, free)], -np.diag(g_port[free])])
        a_kk = scipy.linalg.block_diag(lap[np.ix_(fix, fix)], np.diag(g_port[free]))
        y_k = a_kk - a_ke @ scipy.linalg.solve(a_ee, a_ke.T, assume_a="pos") if free.size else a_kk
        order = np.concatenate([fix, free])
        y = np.zeros((n + m, n + m))
        y[np.ix_(order, order)] = y_k
        return 0.5 * (y + y.T)

    #: ``line_currents`` builds the transfer once this many input vectors were read with the same states
    #: (earlier ones: CG solves). 8: the break-even at 64 x 64 that ``bench/circuit_solve.py`` measures
    #: (docs/passive.md; larger tiles break even later).
    transfer_after_vectors: int = 8

    def line_currents(self, v_rows, v_cols=None) -> tuple[np.ndarray, np.ndarray]:
        """Row and column currents into the periphery ((B, N), (B, M)) for the sources of :meth:`solve`,
        without node voltages: with ``bias_dependent = False`` one matvec with :meth:`transfer` (built once
        ``transfer_after_vectors`` vectors were read with the same states; before: :meth:`solve`); with the
        TMR roll-off the full Newton solve."""
        batch = np.atleast_2d(np.asarray(v_rows)).shape[0]
        self._vectors_read += batch
        built = self._transfer is not None and np.array_equal(self._transfer[0], self.g0)
        if self.solver.bias_dependent or not (built or self._vectors_read >= self.transfer_after_vectors):
            sol = self.solve(v_rows, v_cols)
            return sol.row_currents, sol.col_currents
        src_r, src_c, _ = self._sources(v_rows, v_cols)
        if not self.circuit.ideal_wires:
            src_r = np.where(self._network.pinned_r, 0.0, src_r)
            src_c = np.where(self._network.pinned_c, 0.0, src_c)
        return self.transfer().line_currents(src_r, src_c)

    # ---------------------------------------------------------------------------------------- solve
    def solve(self, v_rows, v_cols=None) -> CircuitSolution:
        """Solve for source voltages ``v_rows`` ((B, N) or (N,)) on driven rows and ``v_cols`` on driven
        columns (None: 0 V); entries of lines that are not driven are ignored."""
        src_r, src_c, _ = self._sources(v_rows, v_cols)
        if self.circuit.ideal_wires:
            vr, vc, newton, cg = self._solve_lines(src_r, src_c)
        else:
            vr, vc, newton, cg = self._solve_nodes(src_r, src_c)
        v_cell = vr - vc
        i_cell, _ = self._cells(v_cell)
        return CircuitSolution(row_nodes=vr, col_nodes=vc, cell_voltage=v_cell, cell_current=i_cell,
                               row_currents=-i_cell.sum(-1), col_currents=i_cell.sum(-2),
                               newton_iterations=newton, cg_iterations=cg)

    def _solve_nodes(self, src_r, src_c):
        net, cfg = self._network, self.solver
        b = net.rhs(src_r, src_c)
        x = np.zeros_like(b)
        if self._warm is not None and self._warm[0].shape == b.shape and np.array_equal(self._warm[0], b):
            x = self._warm[1].copy()
        scale = np.sqrt(np.einsum("bij,bij->b", b, b))
        cg_total = steps = 0
        for steps in range(1, cfg.max_newton_iterations + 1):  # noqa: B007 (steps is reported)
            current, slope = self._cells(net.cell_voltages(x))
            residual = net.wires(x)
            net.add_cell_currents(residual, current)
            residual = b - residual
            delta, its = net.cg(residual, np.zeros_like(b), cfg.rtol, cfg.max_cg_iterations,
                                g=slope if cfg.bias_dependent else None, scale=scale)
            cg_total += its
            x += delta
            if not cfg.bias_dependent or np.abs(delta).max(initial=0.0) <= cfg.newton_tolerance:
                break
        else:
            raise np.linalg.LinAlgError(f"circuit Newton: no convergence in {cfg.max_newton_iterations} steps")
        self._warm = (b, x.copy())
        xr, xc = net.split(x)
        return xr.copy(), xc.transpose(0, 2, 1).copy(), steps, cg_total

    def _solve_lines(self, src_r, src_c):
        """Ideal wires: one node per line; lines at an ideal source are fixed, the rest solved densely."""
        n, m, cfg = self.rows, self.cols, self.solver
        modes = np.concatenate([self.row_modes, self.col_modes])
        r_port = np.concatenate([self._port_resistance(self.row_modes), self._port_resistance(self.col_modes)])
        fixed = r_port == 0.0
        g_port = np.where(fixed | ~np.isfinite(r_port), 0.0, 1.0 / np.where(r_port > 0, r_port, 1.0))
        g_port = np.where(modes == FLOATING, 0.0, g_port)
        src = np.concatenate([src_r, src_c], axis=1)
        pin_r, pin_c = unfed_islands(self.g0, (modes != FLOATING)[:n], (modes != FLOATING)[n:])
        g_port = g_port + np.concatenate([pin_r, pin_c])  # islands tied to 0 V through 1 S
        src = np.where(np.concatenate([pin_r, pin_c]), 0.0, src)
        u = np.where(fixed, src, 0.0)
        free = np.nonzero(~fixed)[0]
        steps = 0
        for steps in range(1, cfg.max_newton_iterations + 1):  # noqa: B007 (steps is reported)
            if free.size == 0:
                break
            v = u[:, :n, None] - u[:, None, n:]
            current, slope = self._cells(v)
            out = np.concatenate([current.sum(-1), -current.sum(-2)], axis=1) + g_port * (u - src)
            jac = np.zeros((u.shape[0], n + m, n + m))
            jac[:, :n, n:] = -slope
            jac[:, n:, :n] = -slope.transpose(0, 2, 1)
            diag = np.concatenate([slope.sum(-1), slope.sum(-2)], axis=1) + g_port
            jac[:, np.arange(n + m), np.arange(n + m)] = diag
            sub = jac[:, free[:, None], free[None, :]]
            rhs = out[:, free]
            delta = np.stack([scipy.linalg.solve(a, -r, assume_a="pos") for a, r in zip(sub, rhs, strict=True)])
            u[:, free] += delta
            if not cfg.bias_dependent or np.abs(delta).max(initial=0.0) <= cfg.newton_tolerance:
                break
        vr = np.broadcast_to(u[:, :n, None], (u.shape[0], n, m)).copy()
        vc = np.broadcast_to(u[:, None, n:], (u.shape[0], n, m)).copy()
        return vr, vc, steps, 0
