"""Fast exact solve of tiled crossbar circuits whose every line has a port: block (line) Gauss-Seidel, Numba.

The circuit is :mod:`.circuit`'s (each cell between its row-line and column-line node, one wire segment
between neighbouring nodes and one more to the line's port at its ``near`` or ``far`` end, a source behind
the port's resistance), restricted to the case of every read and write of a passive array: every line has a
port (driven, biased, grounded or sensed at a virtual ground / sense resistor; none floating). Then each
line, given the voltages of the lines that cross it, is a tridiagonal system (its wire chain, its port, and
its cells' conductances to the crossing nodes) solved exactly in O(length); a sweep solves every row line,
then every column line (block Gauss-Seidel), in O(N M). Each line is anchored to its source, so the sweep
contracts: a line moves by a fraction ``~ 1 - 1/cosh(L sqrt(r_w g))`` of a shift of the lines that cross it
(``L`` its length, ``r_w`` the segment resistance, ``g`` a cell's conductance: 0.3 for 64 cells of 5 kOhm at
1 ohm, 0.55 at 2.5 ohm), and one sweep moves the error by the product of the row and column fractions.

Bias-dependent TMR: each line solve uses the cells' secant conductances ``I(V)/V`` at the current cell
voltages, so the sweeps converge to the self-consistent solution of the nonlinear nodal equations (a fixed
point of the iteration solves them exactly). The iteration stops when no node moved more than ``tolerance``
(V) in a sweep; the contraction factor bounds the remaining error by ``tolerance * rho / (1 - rho)``.

:func:`solve_tiles_currents` returns the line currents the ports deliver to the periphery (reads: partial
sums of tiles that share lines added, as the periphery does); :func:`solve_tiles_cells` the cell voltages
(writes). Tiles are independent circuits: ``row_starts`` / ``col_starts`` cut the array into them.
The reference these are tested against is :class:`~.circuit.CircuitSolver` (Newton + preconditioned CG,
itself checked against ngspice).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["solve_tiles_currents", "solve_tiles_cells", "LineEnds"]


class LineEnds:
    """Port geometry of one solve: end conductance (S) of every row and column line to its source (wire
    segment plus port resistance in series), which end the port is at, and the wire conductances (S)."""

    def __init__(self, end_r: np.ndarray, end_c: np.ndarray, far_r: bool, far_c: bool, w_r: float, w_c: float):
        if np.any(end_r <= 0) or np.any(end_c <= 0):
            raise ValueError("line relaxation needs a port on every line (no floating line)")
        self.end_r = np.ascontiguousarray(end_r, dtype=np.float64)
        self.end_c = np.ascontiguousarray(end_c, dtype=np.float64)
        self.far_r, self.far_c = bool(far_r), bool(far_c)
        self.w_r, self.w_c = float(w_r), float(w_c)


@njit(cache=True, inline="always")
def _conductance(v, parallel, r_p, tmr0, v_h, bias):
    """Secant conductance I/V (S) of a junction at voltage ``v``."""
    if parallel:
        return 1.0 / r_p
    if bias:
        x = v / v_h
        return 1.0 / (r_p * (1.0 + tmr0 / (1.0 + x * x)))
    return 1.0 / (r_p * (1.0 + tmr0))


@njit(cache=True)
def _lines_solve(gv, gx, w, end, far, src, x, dinv, dp):
    """Solve a set of parallel line chains at once, ``x[k, l]`` = node ``k`` of line ``l`` (the loop over
    lines innermost, so it vectorises): node ``k`` of line ``l`` has wire links ``w`` to its neighbours,
    conductance ``gv[k, l]`` to a node of known voltage whose current ``gx[k, l]`` enters, and the port
    ``end[l]`` to ``src[l]`` at node 0 (near) or the last node (far). Thomas algorithm; returns max |change|."""
    n, lines = x.shape
    port = n - 1 if far else 0
    for k in range(n):
        links = (1.0 if k > 0 else 0.0) + (1.0 if k < n - 1 else 0.0)
        for l in range(lines):
            d = gv[k, l] + links * w
            r = gx[k, l]
            if k == port:
                d += end[l]
                r += end[l] * src[l]
            if k > 0:
                d -= w * w * dinv[k - 1, l]
                r += w * dp[k - 1, l]
            dinv[k, l] = 1.0 / d
            dp[k, l] = r * dinv[k, l]
    change = 0.0
    for l in range(lines):
        delta = abs(dp[n - 1, l] - x[n - 1, l])
        change = max(change, delta)
        x[n - 1, l] = dp[n - 1, l]
    for k in range(n - 2, -1, -1):
        for l in range(lines):
            new = dp[k, l] + w * dinv[k, l] * x[k + 1, l]
            change = max(change, abs(new - x[k, l]))
            x[k, l] = new
    return change


@njit(cache=True)
def _solve_tile(src_r, src_c, parallel, r_p, tmr0, v_h, bias, r0, r1, c0, c1, end_r, end_c, far_r, far_c,
                w_r, w_c, tolerance, max_sweeps, xr, xc, scratch):
    """Relax one tile (rows r0:r1, columns c0:c1) from the ideal start. Node voltages: ``xr[b, a]`` row
    ``a``'s node at column ``b`` (lines along the first axis for the row sweep), ``xc[a, b]`` column ``b``'s
    node at row ``a``; both views of tile size. Returns the sweeps, or -1 without convergence."""
    n, m = r1 - r0, c1 - c0
    for a in range(n):
        for b in range(m):
            xr[b, a] = src_r[r0 + a]
            xc[a, b] = src_c[c0 + b]
    gv_r, gx_r, di_r, dp_r = scratch[0, :m, :n], scratch[1, :m, :n], scratch[2, :m, :n], scratch[3, :m, :n]
    gv_c, gx_c, di_c, dp_c = scratch[0, :n, :m], scratch[1, :n, :m], scratch[2, :n, :m], scratch[3, :n, :m]
    sr, sc = src_r[r0:r1], src_c[c0:c1]
    er, ec = end_r[r0:r1], end_c[c0:c1]
    for sweep in range(1, max_sweeps + 1):
        for b in range(m):
            for a in range(n):
                g = _conductance(xr[b, a] - xc[a, b], parallel[r0 + a, c0 + b], r_p[r0 + a, c0 + b],
                                 tmr0[r0 + a, c0 + b], v_h[r0 + a, c0 + b], bias)
                gv_r[b, a] = g
                gx_r[b, a] = g * xc[a, b]
        change = _lines_solve(gv_r, gx_r, w_r, er, far_r, sr, xr, di_r, dp_r)
        for a in range(n):
            for b in range(m):
                g = _conductance(xr[b, a] - xc[a, b], parallel[r0 + a, c0 + b], r_p[r0 + a, c0 + b],
                                 tmr0[r0 + a, c0 + b], v_h[r0 + a, c0 + b], bias)
                gv_c[a, b] = g
                gx_c[a, b] = g * xr[b, a]
        change = max(change, _lines_solve(gv_c, gx_c, w_c, ec, far_c, sc, xc, di_c, dp_c))
        if change <= tolerance:
            return sweep
    return -1


def _scratch(rows, cols):
    size = max(rows, cols)
    return np.empty((4, size, size)), np.empty((size, size)), np.empty((size, size))


@njit(cache=True)
def _tiles_kernel(src_r, src_c, parallel, r_p, tmr0, v_h, bias, row_starts, col_starts, end_r, end_c,
                  far_r, far_c, w_r, w_c, tolerance, max_sweeps, scratch, xr_s, xc_s, cells, out_v, out_r, out_c,
                  gain_r, gain_c):
    """Relax every tile of every source set; ``cells``: write the cell voltages into ``out_v``, else add each
    tile's line currents (times the line's gain in that tile) into ``out_r`` / ``out_c``. A tile whose
    sources are all 0 V is skipped (no voltage anywhere in it). Returns the most sweeps, -1 on failure."""
    worst = 0
    for s in range(src_r.shape[0]):
        for ti in range(row_starts.shape[0] - 1):
            r0, r1 = row_starts[ti], row_starts[ti + 1]
            for tj in range(col_starts.shape[0] - 1):
                c0, c1 = col_starts[tj], col_starts[tj + 1]
                idle = True
                for a in range(r0, r1):
                    idle = idle and src_r[s, a] == 0.0
                for b in range(c0, c1):
                    idle = idle and src_c[s, b] == 0.0
                if idle:
                    if cells:
                        out_v[s, r0:r1, c0:c1] = 0.0
                    continue
                xr, xc = xr_s[:c1 - c0, :r1 - r0], xc_s[:r1 - r0, :c1 - c0]
                sweeps = _solve_tile(src_r[s], src_c[s], parallel, r_p, tmr0, v_h, bias, r0, r1, c0, c1,
                                     end_r, end_c, far_r, far_c, w_r, w_c, tolerance, max_sweeps, xr, xc,
                                     scratch)
                if sweeps < 0:
                    return -1
                worst = max(worst, sweeps)
                for a in range(r1 - r0):
                    for b in range(c1 - c0):
                        i, j = r0 + a, c0 + b
                        v = xr[b, a] - xc[a, b]
                        if cells:
                            out_v[s, i, j] = v
                        else:
                            cur = v * _conductance(v, parallel[i, j], r_p[i, j], tmr0[i, j], v_h[i, j], bias)
                            out_r[s, i] -= cur * gain_r[tj, i]  # a row delivers minus what its cells draw
                            out_c[s, j] += cur * gain_c[ti, j]
    return worst


def _prepare(src_r, src_c, parallel, params, row_starts, col_starts):
    src_r = np.ascontiguousarray(np.atleast_2d(src_r), dtype=np.float64)
    src_c = np.ascontiguousarray(np.atleast_2d(src_c), dtype=np.float64)
    rows, cols = parallel.shape
    if src_r.shape[1] != rows or src_c.shape != (src_r.shape[0], cols):
        raise ValueError(f"sources {src_r.shape} and {src_c.shape} for an array of {rows} x {cols}")
    r_p, tmr0, v_h = (np.ascontiguousarray(np.broadcast_to(params[k], parallel.shape), dtype=np.float64)
                      for k in ("r_p", "tmr0", "v_h"))
    starts = (np.ascontiguousarray(row_starts, dtype=np.int64), np.ascontiguousarray(col_starts, dtype=np.int64))
    tr = int(np.diff(starts[0]).max())
    tc = int(np.diff(starts[1]).max())
    return src_r, src_c, np.ascontiguousarray(parallel, dtype=np.bool_), r_p, tmr0, v_h, starts, tr, tc


def _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent, tolerance, max_sweeps,
         cells, gains=None):
    src_r, src_c, par, r_p, tmr0, v_h, (rs, cs), tr, tc = _prepare(src_r, src_c, parallel, params,
                                                                   row_starts, col_starts)
    batch = src_r.shape[0]
    out_v = np.empty((batch, *parallel.shape) if cells else (1, 1, 1))
    out_r, out_c = np.zeros_like(src_r), np.zeros_like(src_c)
    if gains is None:
        gains = (np.ones((cs.size - 1, src_r.shape[1])), np.ones((rs.size - 1, src_c.shape[1])))
    scratch, xr, xc = _scratch(tr, tc)
    sweeps = _tiles_kernel(src_r, src_c, par, r_p, tmr0, v_h, bias_dependent, rs, cs, ends.end_r, ends.end_c,
                           ends.far_r, ends.far_c, ends.w_r, ends.w_c, tolerance, max_sweeps, scratch, xr, xc, cells,
                           out_v, out_r, out_c, np.ascontiguousarray(gains[0], dtype=np.float64),
                           np.ascontiguousarray(gains[1], dtype=np.float64))
    if sweeps < 0:
        raise np.linalg.LinAlgError(f"line relaxation: no convergence to {tolerance:g} V in {max_sweeps} sweeps")
    return out_v, out_r, out_c


def solve_tiles_currents(src_r, src_c, parallel, params, ends: LineEnds, row_starts, col_starts, *,
                         bias_dependent=True, tolerance=1e-12, max_sweeps=500, gains=None):
    """Line currents into the periphery, rows (B, N) and columns (B, M), for sources ``src_r`` (B, N) and
    ``src_c`` (B, M); ``params`` holds ``r_p``, ``tmr0``, ``v_h`` (scalars or (N, M)); tiles share nothing
    but their lines' periphery, which adds their partial sums, each line's times its gain in that tile
    (``gains``: (column tiles, N) for the rows and (row tiles, M) for the columns; None: 1)."""
    _, out_r, out_c = _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent,
                           tolerance, max_sweeps, False, gains)
    return out_r, out_c


def solve_tiles_cells(src_r, src_c, parallel, params, ends: LineEnds, row_starts, col_starts, *,
                      bias_dependent=True, tolerance=1e-12, max_sweeps=500):
    """Cell voltages (B, N, M), row node minus column node, for sources ``src_r`` (B, N), ``src_c`` (B, M);
    a tile whose sources are all 0 V is skipped (all its cells at 0 V)."""
    return _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent, tolerance,
                max_sweeps, True)[0]
