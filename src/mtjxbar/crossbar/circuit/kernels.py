"""Numba kernels of :class:`~.network.LineNetwork`'s CG: the nodal matvec (and its wire part alone,
for the Newton residual), the coarse correction's ``r - A Z y`` and ``Z^T A z``, the lines' tridiagonal
solves, each one pass over the nodes (numpy needed a dozen temporaries and strided transposes per call).

Layout as in :mod:`.network`: ``x`` (B, 2, N M), ``x[b, 0]`` the row nodes row-major (``r[i, j]`` at
``i M + j``), ``x[b, 1]`` the column nodes column-major (``c[i, j]`` at ``j N + i``). Cell conductances ``g``
are (G, N, M) with G = 1 (shared by the batch) or G = B (per entry: a Newton Jacobian's slopes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["line_solve", "nodal_matvec", "restricted_matvec", "subtract_a_prolong", "symmetrize_lower",
           "wire_currents"]

_BLOCK = 32  # cells per block side in the transposed loops


@njit(cache=True)
def _line_wires(x: np.ndarray, w: float, ends: np.ndarray, length: int, out: np.ndarray) -> None:
    """``out`` = current leaving each node through its wire segments and its line's terminations, for lines
    of ``length`` nodes stored one after another; ``ends`` (lines, 2): each line's near and far end."""
    for line in range(ends.shape[0]):
        base = line * length
        for k in range(length):
            v = x[base + k]
            acc = 0.0
            if k == 0:
                acc += ends[line, 0] * v
            if k == length - 1:
                acc += ends[line, 1] * v
            if k > 0:
                acc += w * (v - x[base + k - 1])
            if k < length - 1:
                acc += w * (v - x[base + k + 1])
            out[base + k] = acc


@njit(cache=True)
def wire_currents(x: np.ndarray, w_r: float, w_c: float, ends_r: np.ndarray, ends_c: np.ndarray,
                  out: np.ndarray) -> None:
    """``out`` = currents leaving every node through wires and terminations (sources at 0 V), no cells."""
    n, m = ends_r.shape[0], ends_c.shape[0]
    for b in range(x.shape[0]):
        _line_wires(x[b, 0], w_r, ends_r, m, out[b, 0])
        _line_wires(x[b, 1], w_c, ends_c, n, out[b, 1])


@njit(cache=True)
def nodal_matvec(x: np.ndarray, g: np.ndarray, w_r: float, w_c: float, ends_r: np.ndarray, ends_c: np.ndarray,
                 out: np.ndarray) -> None:
    """``out = A(g) x``: wire, termination and cell currents leaving every node (sources at 0 V); ``ends_r``
    (N, 2) / ``ends_c`` (M, 2): conductance of each line's near and far end to its source."""
    batch = x.shape[0]
    n, m = ends_r.shape[0], ends_c.shape[0]
    shared = g.shape[0] == 1
    for b in range(batch):
        gb = g[0] if shared else g[b]
        xr, xc, orow, ocol = x[b, 0], x[b, 1], out[b, 0], out[b, 1]
        _line_wires(xr, w_r, ends_r, m, orow)
        _line_wires(xc, w_c, ends_c, n, ocol)
        for i0 in range(0, n, _BLOCK):  # cells, row node -> column node, in blocks (the column nodes are
            for j0 in range(0, m, _BLOCK):  # column-major: a block keeps both layouts in cache)
                for i in range(i0, min(i0 + _BLOCK, n)):
                    for j in range(j0, min(j0 + _BLOCK, m)):
                        cur = gb[i, j] * (xr[i * m + j] - xc[j * n + i])
                        orow[i * m + j] += cur
                        ocol[j * n + i] -= cur


@njit(cache=True)
def subtract_a_prolong(r: np.ndarray, y: np.ndarray, g: np.ndarray, ends_r: np.ndarray, ends_c: np.ndarray,
                       out: np.ndarray) -> None:
    """``out = r - A Z y`` for line voltages ``y`` (B, N + M): with every node of a line at its line's
    voltage the wires carry nothing, so only the ends and the cells (conductances ``g`` (N, M)) draw current."""
    batch = y.shape[0]
    n, m = ends_r.shape[0], ends_c.shape[0]
    for b in range(batch):
        rr, rc, orow, ocol = r[b, 0], r[b, 1], out[b, 0], out[b, 1]
        for i0 in range(0, n, _BLOCK):
            for j0 in range(0, m, _BLOCK):
                for i in range(i0, min(i0 + _BLOCK, n)):
                    yr = y[b, i]
                    for j in range(j0, min(j0 + _BLOCK, m)):
                        yc = y[b, n + j]
                        cur = g[i, j] * (yr - yc)
                        orow[i * m + j] = rr[i * m + j] - cur
                        ocol[j * n + i] = rc[j * n + i] + cur
        for i in range(n):
            orow[i * m] -= ends_r[i, 0] * y[b, i]
            orow[i * m + m - 1] -= ends_r[i, 1] * y[b, i]
        for j in range(m):
            ocol[j * n] -= ends_c[j, 0] * y[b, n + j]
            ocol[j * n + n - 1] -= ends_c[j, 1] * y[b, n + j]


@njit(cache=True)
def restricted_matvec(z: np.ndarray, g: np.ndarray, ends_r: np.ndarray, ends_c: np.ndarray, out: np.ndarray) -> None:
    """``out = Z^T A z`` (B, N + M): each line's total current out of its nodes, without forming ``A z``:
    the wire currents inside a line cancel in the sum, leaving its ends and its cells."""
    batch = z.shape[0]
    n, m = ends_r.shape[0], ends_c.shape[0]
    for b in range(batch):
        zr, zc = z[b, 0], z[b, 1]
        for i in range(n):
            out[b, i] = ends_r[i, 0] * zr[i * m] + ends_r[i, 1] * zr[i * m + m - 1]
        for j in range(m):
            out[b, n + j] = ends_c[j, 0] * zc[j * n] + ends_c[j, 1] * zc[j * n + n - 1]
        for i0 in range(0, n, _BLOCK):
            for j0 in range(0, m, _BLOCK):
                for i in range(i0, min(i0 + _BLOCK, n)):
                    acc = 0.0
                    for j in range(j0, min(j0 + _BLOCK, m)):
                        cur = g[i, j] * (zr[i * m + j] - zc[j * n + i])
                        acc += cur
                        out[b, n + j] -= cur
                    out[b, i] += acc


@njit(cache=True)
def _pttrs(d: np.ndarray, e: np.ndarray, r: np.ndarray, out: np.ndarray, length: int) -> None:
    """Solve ``L D L^T x = r`` from LAPACK ``dpttrf``'s factors (``d`` the diagonal of D, ``e`` the
    subdiagonal of the unit bidiagonal L), as ``dpttrs`` does, for lines of ``length`` nodes one after
    another (``e`` is 0 across their boundaries). Four lines at a time: their recurrences are independent,
    so the CPU overlaps them (one line's is a chain of dependent multiply-adds)."""
    lines = d.shape[0] // length
    lane = 4
    for first in range(0, lines - lines % lane, lane):
        o0, o1, o2, o3 = first * length, (first + 1) * length, (first + 2) * length, (first + 3) * length
        a0, a1, a2, a3 = r[o0], r[o1], r[o2], r[o3]
        out[o0], out[o1], out[o2], out[o3] = a0, a1, a2, a3
        for k in range(1, length):
            a0 = r[o0 + k] - e[o0 + k - 1] * a0
            a1 = r[o1 + k] - e[o1 + k - 1] * a1
            a2 = r[o2 + k] - e[o2 + k - 1] * a2
            a3 = r[o3 + k] - e[o3 + k - 1] * a3
            out[o0 + k], out[o1 + k], out[o2 + k], out[o3 + k] = a0, a1, a2, a3
        k = length - 1
        a0, a1 = out[o0 + k] / d[o0 + k], out[o1 + k] / d[o1 + k]
        a2, a3 = out[o2 + k] / d[o2 + k], out[o3 + k] / d[o3 + k]
        out[o0 + k], out[o1 + k], out[o2 + k], out[o3 + k] = a0, a1, a2, a3
        for k in range(length - 2, -1, -1):
            a0 = out[o0 + k] / d[o0 + k] - e[o0 + k] * a0
            a1 = out[o1 + k] / d[o1 + k] - e[o1 + k] * a1
            a2 = out[o2 + k] / d[o2 + k] - e[o2 + k] * a2
            a3 = out[o3 + k] / d[o3 + k] - e[o3 + k] * a3
            out[o0 + k], out[o1 + k], out[o2 + k], out[o3 + k] = a0, a1, a2, a3
    for line in range(lines - lines % lane, lines):
        o = line * length
        acc = r[o]
        out[o] = acc
        for k in range(1, length):
            acc = r[o + k] - e[o + k - 1] * acc
            out[o + k] = acc
        acc = out[o + length - 1] / d[o + length - 1]
        out[o + length - 1] = acc
        for k in range(length - 2, -1, -1):
            acc = out[o + k] / d[o + k] - e[o + k] * acc
            out[o + k] = acc


@njit(cache=True)
def line_solve(d_r: np.ndarray, e_r: np.ndarray, d_c: np.ndarray, e_c: np.ndarray, r: np.ndarray,
               out: np.ndarray, n: int, m: int) -> None:
    """Every line's own tridiagonal system (the fine level of the preconditioner) of an N x M array: the
    N rows (M nodes each), then the M columns (N nodes each); ``d`` / ``e``: ``dpttrf``'s factors of all
    rows, resp. all columns, in the packed order."""
    for b in range(r.shape[0]):
        _pttrs(d_r, e_r, r[b, 0], out[b, 0], m)
        _pttrs(d_c, e_c, r[b, 1], out[b, 1], n)


@njit(cache=True)
def symmetrize_lower(a: np.ndarray) -> None:
    """Copy the lower triangle of the square ``a`` onto its upper triangle, in place."""
    size = a.shape[0]
    for i0 in range(0, size, _BLOCK):
        for j0 in range(0, i0 + 1, _BLOCK):
            for i in range(i0, min(i0 + _BLOCK, size)):
                for j in range(j0, min(j0 + _BLOCK, i)):
                    a[j, i] = a[i, j]
