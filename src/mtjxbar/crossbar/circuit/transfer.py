"""The exact linear transfer of a crossbar: its port admittance matrix, by a direct Schur-complement sweep.

With the cells at fixed conductances the circuit is linear, and everything the periphery sees (the current
every line delivers to its driver or sense amplifier, for any voltages on the sources) is the port admittance
matrix ``Y`` ((N + M) x (N + M), rows first, then columns): currents from the sources into the array are
``Y s``. ``Y`` is the Schur complement of the nodal matrix, augmented by one node per line source, onto those
source nodes: ``Y = D - B^T A^-1 B`` (``A`` the nodal matrix of :class:`~.network.LineNetwork`,
``B`` the end conductances from the nodes to their sources, ``D`` their sums per source).

:func:`port_admittance` computes it exactly (dense LAPACK, no iteration) by sweeping the rows: the frontier
is the M column nodes of the current row, whose Schur complement ``S`` (M x M), coupling ``H`` to the source
nodes seen so far and kept block ``K`` are updated per row: eliminate the previous frontier through the
column wire segments (one M x M Cholesky), then the new row line (a tridiagonal inverse). Cost
``O(N M^3 + M (N + M)^2 N)`` flops; build times: ``bench/circuit_solve.py``, docs/passive.md.

:func:`woodbury_update` refreshes ``Y`` after ``k`` cells changed conductance without a new sweep: each
changed cell is a rank-1 change of ``A``, so ``Y' = Y + W (Delta^-1 - U^T A'^-1 U)^-1 W^T`` with
``W = B^T A'^-1 U``: ``k`` solves of the new network (batched CG) plus a k x k dense solve.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dpotrf as potrf
from scipy.linalg.lapack import dpotri as potri
from scipy.linalg.lapack import dpttrf, dpttrs

from .network import LineNetwork

__all__ = ["port_admittance", "woodbury_update"]


def _tridiagonal_inverse(g: np.ndarray, w: float, end: np.ndarray) -> np.ndarray:
    """Dense inverse of one line's matrix ``w L + diag(g + end)`` (L: the chain Laplacian)."""
    m = g.size
    degree = np.full(m, 2.0)
    degree[[0, -1]] = 1.0
    if m == 1:
        return np.array([[1.0 / (g[0] + end[0])]])
    d_f, e_f, info = dpttrf(g + end + w * degree, np.full(m - 1, -w))
    if info != 0:
        raise np.linalg.LinAlgError(f"line factorisation failed (dpttrf info {info})")
    inv, info = dpttrs(d_f, e_f, np.eye(m))
    return inv


def port_admittance(net: LineNetwork, g: np.ndarray | None = None) -> np.ndarray:
    """``Y`` ((N + M) x (N + M); order: row sources, then column sources) of ``net`` with cell conductances
    ``g`` (default: the network's own). Lines without a port have zero rows and columns; pinned lines (tied
    to 0 V, see :class:`LineNetwork`) have rows and columns that must be applied to a 0 V source only."""
    g = net.g if g is None else np.asarray(g, dtype=np.float64)
    n, m = g.shape
    w_r, w_c = net.w_r, net.w_c
    # kept nodes (the sources), laid out so that the ones coupled so far are a prefix: column sources first
    # if some column has an end before the last row, else after the row sources (then coupled at the end)
    cols_first = n > 1 and bool(np.any(net.endc[:, :-1]))
    row0, col0 = (m, 0) if cols_first else (0, n)
    s = np.zeros((m, m))  # Schur complement on the frontier (column nodes of the current row)
    h = np.zeros((m, n + m))  # frontier -> kept coupling
    k = np.zeros((n + m, n + m))  # kept block
    cols = np.arange(m)
    eye = np.eye(m)
    for i in range(n):
        active = row0 + i  # kept nodes coupled so far
        if i > 0:  # eliminate the previous frontier through the column segments (w_c each)
            chol, info = potrf(s + w_c * eye, lower=True, overwrite_a=False)
            if info != 0:
                raise np.linalg.LinAlgError(f"frontier factorisation failed (dpotrf info {info})")
            inv, _ = potri(chol, lower=True)
            inv = np.tril(inv) + np.tril(inv, -1).T
            x = inv @ h[:, :active]
            k[:active, :active] -= h[:, :active].T @ x
            h[:, :active] = w_c * x
            s = w_c * eye - (w_c * w_c) * inv
        # the new row line: its nodes eliminated onto the column nodes of this row and its source
        gi, ev = g[i], net.endr[i]
        t_inv = _tridiagonal_inverse(gi, w_r, ev)
        s -= gi[:, None] * t_inv * gi[None, :]
        s[cols, cols] += gi
        h[:, row0 + i] = -gi * (t_inv @ ev)
        k[row0 + i, row0 + i] = ev.sum() - ev @ t_inv @ ev
        ec = net.endc[:, i]  # column ends at this row (row 0: near, row N-1: far)
        if np.any(ec):
            s[cols, cols] += ec
            h[cols, col0 + cols] -= ec
            k[col0 + cols, col0 + cols] += ec
    factor = scipy.linalg.cho_factor(s, lower=True, check_finite=False)
    k -= h.T @ scipy.linalg.cho_solve(factor, h, check_finite=False)
    order = np.concatenate([row0 + np.arange(n), col0 + np.arange(m)])
    y = k[np.ix_(order, order)]
    return 0.5 * (y + y.T)


def _unit_cells(net: LineNetwork, cells: np.ndarray) -> np.ndarray:
    """Packed node vectors ``e_row(i, j) - e_col(i, j)`` of the cells ``cells`` ((k, 2) indices)."""
    n, m = net.n, net.m
    out = np.zeros((cells.shape[0], 2, n * m))
    idx = np.arange(cells.shape[0])
    out[idx, 0, cells[:, 0] * m + cells[:, 1]] = 1.0
    out[idx, 1, cells[:, 1] * n + cells[:, 0]] = -1.0
    return out


def woodbury_update(y: np.ndarray, net: LineNetwork, cells: np.ndarray, delta: np.ndarray, rtol: float,
                    max_iterations: int) -> np.ndarray:
    """``Y`` of ``net`` (already holding the new conductances) from ``y``, the admittance before cells
    ``cells`` ((k, 2) indices) changed conductance by ``delta`` (k,): ``k`` CG solves to ``rtol``."""
    if cells.shape[0] == 0:
        return y
    u = _unit_cells(net, cells)
    z, _ = net.cg(u, np.zeros_like(u), rtol, max_iterations)  # A'^-1 U, (k, 2, N M)
    zr, zc = net.split(z)  # (k, N, M), (k, M, N)
    w = np.concatenate([np.einsum("ij,kij->ki", net.endr, zr), np.einsum("ji,kji->kj", net.endc, zc)], axis=1)
    utz = zr[:, cells[:, 0], cells[:, 1]] - zc[:, cells[:, 1], cells[:, 0]]  # (k, k): U^T A'^-1 U
    core = np.diag(1.0 / delta) - 0.5 * (utz + utz.T)
    y_new = y + w.T @ np.linalg.solve(core, w)
    return 0.5 * (y_new + y_new.T)
