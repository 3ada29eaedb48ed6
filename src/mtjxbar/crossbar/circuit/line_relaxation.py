"""Fast exact solve of tiled crossbar circuits whose every line has a port: block (line) Gauss-Seidel, Numba.

The circuit is :mod:`.solver`'s (each cell between its row-line and column-line node, one wire segment
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
point of the iteration solves them exactly). The lines are factored once, with the first sweep's
conductances ``g0``; later sweeps keep that factorisation and move each cell's change of conductance to the
right-hand side (a cell's term in its line's equation becomes ``g0 x_new = g x_cross + (g0 - g) x_old``: at a
fixed point, ``x_new = x_old``, it is the true ``g (x - x_cross)``), a division less per cell and half-sweep.
The conductances move by a few percent of ``g``, itself some 1e-4 of a wire segment's conductance, and the
sweeps needed stay the same (measured: docs/passive.md). The iteration stops when no node moved more than
``tolerance`` (V) in a sweep; the contraction factor bounds the remaining error by
``tolerance * rho / (1 - rho)``.
``over_relax`` moves each line by a factor ``omega`` > 1 of its update (successive over-relaxation, each
tile at its estimated optimum: :func:`_omega`), the same fixed point in fewer sweeps.

:func:`solve_tiles_currents` returns the line currents the ports deliver to the periphery (reads: partial
sums of tiles that share lines added, as the periphery does); :func:`solve_tiles_cells` the cell voltages
(writes). Tiles are independent circuits: ``row_starts`` / ``col_starts`` cut the array into them.
The reference these are tested against is :class:`~.solver.CircuitSolver` (Newton + preconditioned CG,
itself checked against ngspice).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import get_thread_id, njit, prange

from ...device import physics

__all__ = ["solve_tiles_currents", "solve_tiles_cells", "solve_tiles_nodes", "LineEnds", "TileNodes"]


class TileNodes(NamedTuple):
    """Node voltages (V) of a tiled solve (:func:`solve_tiles_nodes`), what a later solve may start from."""

    row: np.ndarray  # (B, N, M): row i's node at column j
    col: np.ndarray  # (B, N, M): column j's node at row i
    src_r: np.ndarray  # (B, N): the row sources they solve
    src_c: np.ndarray  # (B, M): the column sources
    cells: np.ndarray  # (B, N, M): row node minus column node
    sweeps: int  # sweeps of all the tiles together (what the solve cost)
    solved: np.ndarray  # (B, row tiles, column tiles) bool: the tiles relaxed (not idle, not skipped)


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
    return physics.ap_conductance(v if bias else 0.0, r_p, tmr0, v_h)


@njit(cache=True, error_model="numpy")  # no zero check per division: the loops vectorise
def _lines_factor(gv, w, end, far, dinv, n, lines):
    """Forward elimination of the Thomas algorithm for ``lines`` parallel line chains of ``n`` nodes: node
    ``k`` of line ``l`` has wire links ``w`` to its neighbours, conductance ``gv[k, l]`` to a node of known
    voltage, and the port ``end[l]`` at node 0 (near) or the last node (far). Writes the inverse pivots into
    ``dinv``; they depend on the conductances only, not on the sources. The planes are C-contiguous (padded)
    and every inner loop runs over the lines of one row of them, so it vectorises."""
    port = n - 1 if far else 0
    for k in range(n):
        g, d = gv[k], dinv[k]
        base = ((1.0 if k > 0 else 0.0) + (1.0 if k < n - 1 else 0.0)) * w
        for l in range(lines):
            d[l] = g[l] + base
        if k == port:
            for l in range(lines):
                d[l] += end[l]
        if k > 0:
            prev, ww = dinv[k - 1], w * w
            for l in range(lines):
                d[l] -= ww * prev[l]
        for l in range(lines):
            d[l] = 1.0 / d[l]


@njit(cache=True, error_model="numpy")
def _lines_substitute(gx, w, end, far, src, x, dinv, dp, omega, n, lines, chg):
    """Solve the chains factored by :func:`_lines_factor` for the currents ``gx[k, l]`` that the crossing
    nodes push into node ``k`` of line ``l`` and the sources ``src[l]`` behind the ports; updates ``x`` in
    place (``omega`` != 1: moves it by ``omega`` times the way to the lines' solution, over-relaxation) and
    returns the largest change of a node voltage (``chg``: scratch of one change per line)."""
    port = n - 1 if far else 0
    for k in range(n):  # one fused loop per node (the branches hoisted out of it), the same sums as written
        g, d, di = gx[k], dp[k], dinv[k]
        if k == 0 and k == port:
            for l in range(lines):
                d[l] = (g[l] + end[l] * src[l]) * di[l]
        elif k == 0:
            for l in range(lines):
                d[l] = g[l] * di[l]
        else:
            prev = dp[k - 1]
            if k == port:
                for l in range(lines):
                    d[l] = (g[l] + end[l] * src[l] + w * prev[l]) * di[l]
            else:
                for l in range(lines):
                    d[l] = (g[l] + w * prev[l]) * di[l]
    xl, dl = x[n - 1], dp[n - 1]
    if omega != 1.0:  # back substitution in dp (the lines' own solution), each node relaxed towards it
        for l in range(lines):
            step = omega * (dl[l] - xl[l])
            chg[l] = abs(step)
            xl[l] += step
        for k in range(n - 2, -1, -1):
            d, di, nxt, xk = dp[k], dinv[k], dp[k + 1], x[k]
            for l in range(lines):
                d[l] += w * di[l] * nxt[l]
                step = omega * (d[l] - xk[l])
                a, c = abs(step), chg[l]
                chg[l] = a if a > c else c
                xk[l] += step
    else:
        for l in range(lines):
            chg[l] = abs(dl[l] - xl[l])
            xl[l] = dl[l]
        for k in range(n - 2, -1, -1):
            d, di, xn, xk = dp[k], dinv[k], x[k + 1], x[k]
            for l in range(lines):
                new = d[l] + w * di[l] * xn[l]
                a, c = abs(new - xk[l]), chg[l]
                chg[l] = a if a > c else c
                xk[l] = new
    change = 0.0
    for l in range(lines):
        change = max(change, chg[l])
    return change


@njit(cache=True)
def _line_fraction(length, g, w, end):
    """How far a line of ``length`` nodes (wire conductance ``w`` between nodes, cells of conductance ``g``
    to the crossing lines, its port behind ``1 / end``) moves at its open end when every crossing line
    moves by 1 V: ``1 - 1 / (cosh(k L) + k (w / end) sinh(k L))``, ``k = sqrt(g / w)`` (the continuous line)."""
    k = np.sqrt(g / w)
    return 1.0 - 1.0 / (np.cosh(k * length) + k * (w / end) * np.sinh(k * length))


@njit(cache=True)
def _omega(g, n, m, w_r, w_c, end_r, end_c):
    """Over-relaxation factor of a tile whose cells have the zero-bias conductances ``g[:n, :m]`` and whose
    lines end in ``end_r`` / ``end_c``: the block Gauss-Seidel of the row and column lines is a consistently
    ordered two-block iteration, so successive over-relaxation's optimum is ``2 / (1 + sqrt(1 - rho))``
    with ``rho`` the plain sweep's contraction, estimated as the product of a row's and a column's
    :func:`_line_fraction` at the tile's mean cell and port conductances. Then the error falls by about
    ``omega - 1`` per sweep instead of ``rho``."""
    mean = 0.0
    for a in range(n):
        for b in range(m):
            mean += g[a, b]
    mean /= n * m
    rho = _line_fraction(m, mean, w_r, end_r.mean()) * _line_fraction(n, mean, w_c, end_c.mean())
    return 2.0 / (1.0 + np.sqrt(1.0 - rho))


@njit(cache=True)
def _transpose(src, dst, rows, cols):
    """``dst[c, r] = src[r, c]`` for the leading ``rows`` x ``cols`` of two padded planes."""
    for c in range(cols):
        d = dst[c]
        for r in range(rows):
            d[r] = src[r, c]


@njit(cache=True, error_model="numpy")  # positive denominators; no zero check, so it vectorises
def _cross_currents(gx, gv, x_own, x_cross, rp, tm, vh, lines, length, varying, first):
    """The currents ``gx`` that the crossing nodes push into each node of the lines (one layout: ``[k, l]``,
    both node planes in it), for the lines factored with the conductances ``gv``. With ``varying`` the AP
    cells' secant conductances are evaluated at the cells' voltages; ``first`` stores them into ``gv`` (the
    lines are then factored with them), later sweeps move the change of conductance since to the right-hand
    side (module docstring). Inner loops over the contiguous last axis: they vectorise."""
    for k in range(lines):
        out, gvk, xo, xc = gx[k], gv[k], x_own[k], x_cross[k]
        if not varying:
            for a in range(length):
                out[a] = gvk[a] * xc[a]
            continue
        rpk, tmk, vhk = rp[k], tm[k], vh[k]
        if first:
            for a in range(length):
                g = physics.ap_conductance_scaled((xo[a] - xc[a]) * vhk[a], rpk[a], tmk[a])
                gvk[a] = g
                out[a] = g * xc[a]  # no change since the factorisation yet
        else:
            for a in range(length):
                g = physics.ap_conductance_scaled((xo[a] - xc[a]) * vhk[a], rpk[a], tmk[a])
                out[a] = g * xc[a] + (gvk[a] - g) * xo[a]


@njit(cache=True)
def _solve_tile(sr, sc, parallel, r_p, tmr0, v_h, bias, r0, r1, c0, c1, end_r, end_c, far_r, far_c,
                w_r, w_c, tolerance, max_sweeps, xr, xc, work, warm, x0r, x0c, d_r, d_c, omega):
    """Relax one tile (rows r0:r1, columns c0:c1, sources ``sr`` / ``sc`` of its own row and column lines)
    from the ideal start (every node at its line's source), or with ``warm`` from the node voltages ``x0r``
    / ``x0c`` (array layout, (N, M)) of another solve, each line moved by its source's change ``d_r`` (N,) /
    ``d_c`` (M,). Node voltages: ``xr[b, a]`` row ``a``'s node at column ``b`` (lines along the first axis for
    the row sweep), ``xc[a, b]`` column ``b``'s node at row ``a``; padded planes of at least tile size.
    ``work``: scratch planes (:func:`_scratch`), among them each node plane's transpose (``work[14]`` row
    nodes as ``[a, b]``, ``work[15]`` column nodes as ``[b, a]``), so that a half-sweep reads both node planes
    in its own layout. Cells of fixed conductance (P, or every cell without bias dependence) are set up once;
    only AP cells with bias-dependent TMR are re-evaluated each sweep, and the lines are factored once (with
    the first sweep's conductances when they vary; module docstring). ``omega``: the over-relaxation of every
    line update (1: plain Gauss-Seidel; 0: the tile's own :func:`_omega`). Returns the sweeps, or -1 without
    convergence; on return ``work[14]`` holds the row nodes as ``[a, b]``."""
    n, m = r1 - r0, c1 - c0
    gv_r, gx_r, di_r, dp_r = work[0], work[1], work[2], work[3]  # row layout [b, a]
    gv_c, gx_c, di_c, dp_c = work[4], work[5], work[6], work[7]  # column layout [a, b]
    rp_r, tm_r, vh_r = work[8], work[9], work[10]  # cell law (1 / V_h), row layout [b, a]
    rp_c, tm_c, vh_c = work[11], work[12], work[13]  # the same, column layout [a, b]
    xr_t, xc_t, chg = work[14], work[15], work[16, 0]  # row nodes as [a, b], column nodes as [b, a]
    # every cell as an AP law R_AP(v; rp, tm, vh): P cells and cells without bias dependence have tm = 0 (no
    # branch per cell: selects, so the loops vectorise); in the column layout [a, b], then transposed
    n_ap = 0.0
    for a in range(n):
        i = r0 + a
        par, rpi, tmi, vhi = parallel[i, c0:c1], r_p[i, c0:c1], tmr0[i, c0:c1], v_h[i, c0:c1]
        rpa, tma, vha, gva = rp_c[a], tm_c[a], vh_c[a], gv_c[a]
        for b in range(m):
            ap = 0.0 if par[b] else 1.0
            n_ap += ap
            tm = tmi[b] * ap
            if bias:
                rp = rpi[b]
                vha[b] = 1.0 / vhi[b] if par[b] == 0 else 1.0  # its reciprocal: the sweeps multiply
            else:
                rp = rpi[b] * (1.0 + tm)  # the zero-bias AP resistance, R_P for a P cell
                tm = 0.0
                vha[b] = 1.0
            rpa[b], tma[b] = rp, tm
            gva[b] = physics.ap_conductance_scaled(0.0, rp, tm)
    varying = bias and n_ap > 0.0
    if warm:
        for a in range(n):
            i = r0 + a
            for b in range(m):
                j = c0 + b
                xr_t[a, b] = x0r[i, j] + d_r[i]
                xc[a, b] = x0c[i, j] + d_c[j]
        _transpose(xr_t, xr, n, m)
        _transpose(xc, xc_t, n, m)
    else:  # every node at its line's source
        for a in range(n):
            xt, xca, v = xr_t[a], xc[a], sr[a]
            for b in range(m):
                xt[b] = v
                xca[b] = sc[b]
        for b in range(m):
            xrb, xcb, v = xr[b], xc_t[b], sc[b]
            for a in range(n):
                xrb[a] = sr[a]
                xcb[a] = v
    _transpose(gv_c, gv_r, n, m)
    if varying:  # the cell law is read by the sweeps only where conductances vary
        _transpose(rp_c, rp_r, n, m)
        _transpose(tm_c, tm_r, n, m)
        _transpose(vh_c, vh_r, n, m)
    er, ec = end_r[r0:r1], end_c[c0:c1]
    if omega == 0.0:
        omega = _omega(gv_c, n, m, w_r, w_c, er, ec)
    if not varying:
        _lines_factor(gv_r, w_r, er, far_r, di_r, m, n)
        _lines_factor(gv_c, w_c, ec, far_c, di_c, n, m)
    for sweep in range(1, max_sweeps + 1):
        first = varying and sweep == 1  # the lines are factored with the first sweep's conductances
        _cross_currents(gx_r, gv_r, xr, xc_t, rp_r, tm_r, vh_r, m, n, varying, first)
        if first:
            _lines_factor(gv_r, w_r, er, far_r, di_r, m, n)
        change = _lines_substitute(gx_r, w_r, er, far_r, sr, xr, di_r, dp_r, omega, m, n, chg)
        _transpose(xr, xr_t, m, n)
        _cross_currents(gx_c, gv_c, xc, xr_t, rp_c, tm_c, vh_c, n, m, varying, first)
        if first:
            _lines_factor(gv_c, w_c, ec, far_c, di_c, n, m)
        change = max(change, _lines_substitute(gx_c, w_c, ec, far_c, sc, xc, di_c, dp_c, omega, n, m, chg))
        if change <= tolerance:
            return sweep
        _transpose(xc, xc_t, n, m)
    return -1


def _scratch(rows, cols):
    """Scratch of every thread that may run a tile: planes of :func:`_solve_tile`, node voltages, sources.
    Each plane's rows are padded to an odd number of 64-byte cache lines: with a power-of-two stride (64
    doubles for a 64 x 64 tile) strided accesses across rows fall in a few cache sets and evict each other.
    That made the tile set-up several times slower when the sweeps read the other layout in place; with the
    node planes kept transposed only the transposes stride, and the padding no longer measurably matters
    (``bench/passive_levers.py``: 1.001 x without it, docs/passive.md). It is kept, as it costs nothing."""
    size, threads = max(rows, cols), numba.config.NUMBA_NUM_THREADS
    ld = size + (-size) % 8 + 8 * (1 - (size + (-size) % 8) // 8 % 2)  # a multiple of 8, odd times 8
    return (np.empty((threads, 17, size, ld)), np.empty((threads, size, ld)), np.empty((threads, size, ld)),
            np.empty((threads, 2, size)))


_NONE2, _NONE3 = np.zeros((1, 1)), np.zeros((1, 1, 1))  # unused array arguments of the kernel


@njit(cache=True, parallel=True)
def _tiles_kernel(src_r, src_c, parallel, r_p, tmr0, v_h, bias, row_starts, col_starts, end_r, end_c,
                  far_r, far_c, w_r, w_c, tolerance, max_sweeps, scratch, xr_s, xc_s, src_s, cells, out_v, part_r,
                  part_c, gain_r, gain_c, drive_r, drive_c, skip, warm, x0r, x0c, d_r, d_c, nodes, out_r, out_c,
                  sweeps_of, omega):
    """Relax every tile of every source set, the (source set, tile) jobs spread over Numba's threads (each
    with its own scratch: ``scratch[t]`` ...). ``cells``: write the cell voltages into ``out_v``, else each
    tile's line currents (times the line's gain in that tile) into ``part_r[s, tj]`` / ``part_c[s, ti]``, the
    tile's own partial sums. A line's source in a tile is its source times its drive gain there
    (``drive_r[tj, i]``, ``drive_c[ti, j]``). A tile whose sources are all 0 V is skipped (no voltage
    anywhere in it), and so is a job whose ``skip`` is set (read as 0 V everywhere). ``warm[job]``: start
    the job from ``x0r[s]`` / ``x0c[s]`` moved by ``d_r[s]`` / ``d_c[s]`` (:func:`_solve_tile`); ``nodes``:
    also write the node voltages into ``out_r`` / ``out_c``. The sweeps of each job go to ``sweeps_of`` (0:
    skipped). Returns the most sweeps, -1 on failure."""
    n_ti, n_tj = row_starts.shape[0] - 1, col_starts.shape[0] - 1
    jobs = src_r.shape[0] * n_ti * n_tj
    sweeps_of[:] = 0
    for job in prange(jobs):
        t = get_thread_id()
        s, ti, tj = job // (n_ti * n_tj), (job // n_tj) % n_ti, job % n_tj
        r0, r1 = row_starts[ti], row_starts[ti + 1]
        c0, c1 = col_starts[tj], col_starts[tj + 1]
        sr, sc = src_s[t, 0, :r1 - r0], src_s[t, 1, :c1 - c0]
        idle = True
        for a in range(r0, r1):
            sr[a - r0] = src_r[s, a] * drive_r[tj, a]
            idle = idle and sr[a - r0] == 0.0
        for b in range(c0, c1):
            sc[b - c0] = src_c[s, b] * drive_c[ti, b]
            idle = idle and sc[b - c0] == 0.0
        if idle or skip[job]:
            if cells:
                out_v[s, r0:r1, c0:c1] = 0.0
            if nodes:
                out_r[s, r0:r1, c0:c1] = 0.0
                out_c[s, r0:r1, c0:c1] = 0.0
            continue
        xr, xc, xr_t = xr_s[t], xc_s[t], scratch[t, 14]  # xr_t: the row nodes as [a, b] after the solve
        sweeps = _solve_tile(sr, sc, parallel, r_p, tmr0, v_h, bias, r0, r1, c0, c1, end_r, end_c, far_r, far_c,
                             w_r, w_c, tolerance, max_sweeps, xr, xc, scratch[t], warm[job],
                             x0r[s if warm[job] else 0], x0c[s if warm[job] else 0], d_r[s if warm[job] else 0],
                             d_c[s if warm[job] else 0], omega)
        sweeps_of[job] = sweeps
        if sweeps < 0:
            continue
        for a in range(r1 - r0):
            for b in range(c1 - c0):
                i, j = r0 + a, c0 + b
                v = xr_t[a, b] - xc[a, b]
                if nodes:
                    out_r[s, i, j] = xr_t[a, b]
                    out_c[s, i, j] = xc[a, b]
                if cells:
                    out_v[s, i, j] = v
                else:
                    cur = v * _conductance(v, parallel[i, j], r_p[i, j], tmr0[i, j], v_h[i, j], bias)
                    part_r[s, tj, i] -= cur * gain_r[tj, i]  # a row delivers minus what its cells draw
                    part_c[s, ti, j] += cur * gain_c[ti, j]
    if jobs and sweeps_of.min() < 0:
        return -1
    return sweeps_of.max() if jobs else 0


def _prepare(src_r, src_c, parallel, params, row_starts, col_starts):
    src_r = np.ascontiguousarray(np.atleast_2d(src_r), dtype=np.float64)
    src_c = np.ascontiguousarray(np.atleast_2d(src_c), dtype=np.float64)
    rows, cols = parallel.shape
    if src_r.shape[1] != rows or src_c.shape != (src_r.shape[0], cols):
        raise ValueError(f"sources {src_r.shape} and {src_c.shape} for an array of {rows} x {cols}")
    # views, not copies (a scalar parameter, as the periphery's models have, is read through stride 0)
    r_p, tmr0, v_h = (np.broadcast_to(np.asarray(params[k], dtype=np.float64), parallel.shape)
                      for k in ("r_p", "tmr0", "v_h"))
    starts = (np.ascontiguousarray(row_starts, dtype=np.int64), np.ascontiguousarray(col_starts, dtype=np.int64))
    tr = int(np.diff(starts[0]).max())
    tc = int(np.diff(starts[1]).max())
    return src_r, src_c, np.ascontiguousarray(parallel, dtype=np.bool_), r_p, tmr0, v_h, starts, tr, tc


def _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent, tolerance, max_sweeps,
         cells, gains=None, drive=None, start=None, nodes=False, over_relax=False, tiles=None):
    src_r, src_c, par, r_p, tmr0, v_h, (rs, cs), tr, tc = _prepare(src_r, src_c, parallel, params,
                                                                   row_starts, col_starts)
    batch = src_r.shape[0]
    jobs = (batch, rs.size - 1, cs.size - 1)
    skip = np.zeros(jobs, dtype=np.bool_) if tiles is None else ~np.broadcast_to(np.asarray(tiles, dtype=np.bool_),
                                                                                 jobs)
    warm, warm_of = (_NONE3, _NONE3, _NONE2, _NONE2), np.zeros(jobs, dtype=np.bool_)
    if start is not None:
        if start.row.shape != (batch, *parallel.shape) or start.src_r.shape != src_r.shape:
            raise ValueError(f"start of {start.row.shape} nodes for {batch} source sets on {parallel.shape}")
        warm, warm_of = (start.row, start.col, src_r - start.src_r, src_c - start.src_c), start.solved
    out_n = (np.empty((batch, *parallel.shape)), np.empty((batch, *parallel.shape))) if nodes else (_NONE3, _NONE3)
    sweeps_of = np.zeros(jobs, dtype=np.int64)
    out_v = np.empty((batch, *parallel.shape) if cells else (1, 1, 1))
    # each tile's partial line currents (the periphery adds them up): no two threads write the same entry
    part_r = np.zeros((batch, cs.size - 1, src_r.shape[1]) if not cells else (1, 1, 1))
    part_c = np.zeros((batch, rs.size - 1, src_c.shape[1]) if not cells else (1, 1, 1))
    ones = (np.ones((cs.size - 1, src_r.shape[1])), np.ones((rs.size - 1, src_c.shape[1])))
    gains, drive = gains or ones, drive or ones
    scratch, xr, xc, src_s = _scratch(tr, tc)
    sweeps = _tiles_kernel(src_r, src_c, par, r_p, tmr0, v_h, bias_dependent, rs, cs, ends.end_r, ends.end_c,
                           ends.far_r, ends.far_c, ends.w_r, ends.w_c, tolerance, max_sweeps, scratch, xr, xc, src_s,
                           cells, out_v, part_r, part_c, *(np.ascontiguousarray(g, dtype=np.float64)
                                                           for g in (*gains, *drive)),
                           np.ascontiguousarray(skip).ravel(), np.ascontiguousarray(warm_of).ravel(),
                           *(np.ascontiguousarray(a, dtype=np.float64) for a in warm), nodes, *out_n,
                           sweeps_of.ravel(), 0.0 if over_relax else 1.0)
    if sweeps < 0:
        raise np.linalg.LinAlgError(f"line relaxation: no convergence to {tolerance:g} V in {max_sweeps} sweeps")
    if nodes:
        return TileNodes(out_n[0], out_n[1], src_r, src_c, out_v, int(sweeps_of.sum()), sweeps_of > 0)
    if cells:
        return out_v, None, None
    return out_v, part_r.sum(axis=1), part_c.sum(axis=1)


def solve_tiles_currents(src_r, src_c, parallel, params, ends: LineEnds, row_starts, col_starts, *,
                         bias_dependent=True, tolerance=1e-12, max_sweeps=500, gains=None, drive=None,
                         over_relax=False):
    """Line currents into the periphery, rows (B, N) and columns (B, M), for sources ``src_r`` (B, N) and
    ``src_c`` (B, M); ``params`` holds ``r_p``, ``tmr0``, ``v_h`` (scalars or (N, M)); tiles share nothing
    but their lines' periphery, which adds their partial sums, each line's times its gain in that tile
    (``gains``: (column tiles, N) for the rows and (row tiles, M) for the columns; None: 1). ``drive``
    (same shapes): each line's source in each tile is its source times its drive gain there (each tile has
    its own drivers; None: 1). ``over_relax``: as in :func:`solve_tiles_nodes`."""
    _, out_r, out_c = _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent,
                           tolerance, max_sweeps, False, gains, drive, over_relax=over_relax)
    return out_r, out_c


def solve_tiles_cells(src_r, src_c, parallel, params, ends: LineEnds, row_starts, col_starts, *,
                      bias_dependent=True, tolerance=1e-12, max_sweeps=500, over_relax=False, tiles=None):
    """Cell voltages (B, N, M), row node minus column node, for sources ``src_r`` (B, N), ``src_c`` (B, M);
    a tile whose sources are all 0 V is skipped (all its cells at 0 V). ``over_relax``, ``tiles``: as in
    :func:`solve_tiles_nodes`."""
    return _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent, tolerance,
                max_sweeps, True, over_relax=over_relax, tiles=tiles)[0]


def solve_tiles_nodes(src_r, src_c, parallel, params, ends: LineEnds, row_starts, col_starts, *,
                      start: TileNodes | None = None, tiles: np.ndarray | None = None, bias_dependent=True,
                      tolerance=1e-12, max_sweeps=500, over_relax=False) -> TileNodes:
    """:func:`solve_tiles_cells` that also returns the node voltages, and may start from another solve's
    (``start``, of the same array and batch size; its sources may differ: each line's nodes first move by
    its source's change, so a line whose source alone changed starts where the ideal start would put its
    change). The start changes where the sweeps begin, not what they converge to: they stop, as from the
    ideal start, once no node moved more than ``tolerance`` in a sweep. ``over_relax``: successive
    over-relaxation of the line updates, each tile by its own estimated optimum (:func:`_omega`): the same
    fixed point in fewer sweeps. ``tiles`` (B, row tiles, column tiles) bool: solve only these (the others
    read 0 V everywhere; None: all); a tile the start did not solve starts from the ideal start."""
    return _run(src_r, src_c, parallel, params, ends, row_starts, col_starts, bias_dependent, tolerance,
                max_sweeps, True, start=start, nodes=True, over_relax=over_relax, tiles=tiles)
