"""The nodal equations of an N x M crossbar with resistive wires, and their preconditioned CG solve (numpy,
with the per-iteration operators in Numba: :mod:`.kernels`).

Unknowns: the voltage of every row-line node ``r[i, j]`` and column-line node ``c[i, j]`` (where row ``i``
crosses column ``j``), packed as ``X[b, 0] = r`` in row-major order (each row line contiguous) and
``X[b, 1] = c`` in column-major order (each column line contiguous); ``b`` indexes a batch of right-hand
sides. Row nodes ``j`` and ``j+1`` are joined by ``w_r = 1/r_wire_row``, column nodes likewise by ``w_c``;
cell ``(i, j)`` joins ``r[i, j]`` and ``c[i, j]``; line ends connect through an end conductance to a source
voltage (driver, grounded or sense side), or are open.

Preconditioner: balancing Neumann-Neumann (BNN) two-level, built from the zero-bias conductances:
fine level = exact tridiagonal solves of every line on its own (the wire conductance, ~1 S per ohm, dwarfs
a cell's, ~1e-4 S, so each line is almost decoupled), coarse level = one unknown per line (the ideal-wire
circuit, N + M unknowns, dense Cholesky) that removes the slow modes of whole lines floating together. It
is symmetric positive definite, so it also preconditions the Newton Jacobian of bias-dependent cells.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotri, dpttrf
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from .kernels import (
    line_solve,
    nodal_matvec,
    restricted_matvec,
    subtract_a_prolong,
    symmetrize_lower,
    wire_currents,
)

__all__ = ["LineNetwork", "unfed_islands"]

PIN_CONDUCTANCE = 1.0  # S: ties a part of the circuit that has no connection to any source to 0 V


def unfed_islands(g: np.ndarray, fed_r: np.ndarray, fed_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One line (row or column mask) per connected part of the line graph that reaches no source.

    Lines are joined by cells of nonzero conductance ``g`` (N, M); ``fed_r`` / ``fed_c`` mark lines with a
    source. Pinning the returned lines to 0 V makes the nodal matrix non-singular and changes nothing else.
    """
    n, m = g.shape
    ii, jj = np.nonzero(g > 0)
    graph = coo_matrix((np.ones(ii.size), (ii, n + jj)), shape=(n + m, n + m))
    count, label = connected_components(graph, directed=False)
    fed = np.zeros(count, dtype=bool)
    np.logical_or.at(fed, label, np.concatenate([fed_r, fed_c]))
    pin = np.zeros(n + m, dtype=bool)
    loose = np.nonzero(~fed[label])[0]
    _, first = np.unique(label[loose], return_index=True)
    pin[loose[first]] = True
    return pin[:n], pin[n:]


class LineNetwork:
    """Nodal matrix of one crossbar (wires, terminations, zero-bias cell conductances) and its BNN solver.

    ``g`` (N, M): cell conductances of the matrix; ``ends_r`` (N, 2) / ``ends_c`` (M, 2): conductance of the
    near and far end of each row / column to its source (0: open). Lines in a part of the circuit that
    reaches no source are tied to 0 V at their near end (``pinned_r`` / ``pinned_c``) so the system is
    non-singular; their voltages are a convention (a floating island has no defined potential).
    """

    def __init__(self, g: np.ndarray, w_r: float, w_c: float, ends_r: np.ndarray, ends_c: np.ndarray) -> None:
        self.n, self.m = g.shape
        self.w_r, self.w_c = float(w_r), float(w_c)
        self.ends_r, self.ends_c = ends_r.astype(np.float64).copy(), ends_c.astype(np.float64).copy()
        self.pinned_r = np.zeros(self.n, dtype=bool)
        self.pinned_c = np.zeros(self.m, dtype=bool)
        self._pin_islands(g)
        self.endr = self._end_field(self.ends_r, self.m)  # (N, M)
        self.endc = self._end_field(self.ends_c, self.n)  # (M, N)
        self.set_conductances(g)

    # ------------------------------------------------------------------------------------------ set-up
    @staticmethod
    def _end_field(ends: np.ndarray, length: int) -> np.ndarray:
        out = np.zeros((ends.shape[0], length))
        out[:, 0] += ends[:, 0]
        out[:, -1] += ends[:, 1]
        return out

    def _pin_islands(self, g: np.ndarray) -> None:
        """Tie every connected part without a source (floating lines joined only by cells) to 0 V."""
        pin_r, pin_c = unfed_islands(g, self.ends_r.sum(1) > 0, self.ends_c.sum(1) > 0)
        self.pinned_r, self.pinned_c = pin_r, pin_c
        self.ends_r[pin_r, 0] = PIN_CONDUCTANCE
        self.ends_c[pin_c, 0] = PIN_CONDUCTANCE

    def set_conductances(self, g: np.ndarray) -> None:
        """(Re)build both levels of the preconditioner for cell conductances ``g`` (after flips): O(N M)
        for the line factorisations plus a dense Cholesky of the (N + M) coarse matrix."""
        n, m = self.n, self.m
        self.g = np.ascontiguousarray(g, dtype=np.float64)
        self.gt = np.ascontiguousarray(self.g.T)
        self._line_factors = (self._tridiagonal(self.g, self.w_r, self.endr),
                              self._tridiagonal(self.gt, self.w_c, self.endc))
        coarse = np.zeros((n + m, n + m))
        coarse[:n, n:] = -self.g
        coarse[n:, :n] = -self.gt
        idx_r, idx_c = np.arange(n), n + np.arange(m)
        coarse[idx_r, idx_r] = self.g.sum(1) + self.ends_r.sum(1)
        coarse[idx_c, idx_c] = self.g.sum(0) + self.ends_c.sum(1)
        # the coarse solve runs twice per CG iteration on a few right-hand sides: a product with the explicit
        # inverse costs a fraction of a triangular solve's per-call overhead; LAPACK's inverse from the
        # Cholesky factor (dpotri) takes about half the time of solving for the identity
        factor, info = dpotrf(coarse, lower=1, clean=0)
        if info == 0:
            inverse, info = dpotri(factor, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"coarse (line-level) matrix not positive definite (LAPACK info {info})")
        symmetrize_lower(inverse)
        self._coarse_inv = inverse

    @staticmethod
    def _tridiagonal(g: np.ndarray, w: float, end: np.ndarray):
        lines, length = g.shape
        degree = np.full(length, 2.0)
        degree[[0, -1]] = 1.0
        if length == 1:
            degree[:] = 0.0
        d = (g + end + w * degree).ravel()
        e = np.full((lines, length), -w)
        e[:, -1] = 0.0  # no coupling from the end of one line to the start of the next
        if d.size == 1:  # one line of one node (f2py refuses an empty subdiagonal)
            if not d[0] > 0.0:
                raise np.linalg.LinAlgError(f"line factorisation failed (diagonal {d[0]:g})")
            return d.copy(), np.zeros(1)
        d_f, e_f, info = dpttrf(d, e.ravel()[:-1])
        if info != 0:
            raise np.linalg.LinAlgError(f"line factorisation failed (dpttrf info {info})")
        return d_f, e_f

    # -------------------------------------------------------------------------------------- operators
    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views (B, N, M) of the row nodes and (B, M, N) of the column nodes of a packed (B, 2, N M)."""
        b = x.shape[0]
        return x[:, 0].reshape(b, self.n, self.m), x[:, 1].reshape(b, self.m, self.n)

    def wires(self, x: np.ndarray) -> np.ndarray:
        """Currents leaving each node through wires and terminations (sources at 0 V)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        wire_currents(x, self.w_r, self.w_c, self.ends_r, self.ends_c, out)
        return out

    def cell_voltages(self, x: np.ndarray) -> np.ndarray:
        """Voltage of every cell, row node minus column node, (B, N, M)."""
        xr, xc = self.split(x)
        return xr - xc.transpose(0, 2, 1)

    def add_cell_currents(self, out: np.ndarray, current: np.ndarray) -> None:
        """Add the cells' currents ``current`` (B, N, M), flowing row -> column, to the node balances."""
        out_r, out_c = self.split(out)
        out_r += current
        out_c -= current.transpose(0, 2, 1)

    def matvec(self, x: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
        """Nodal matrix times ``x`` with cell conductances ``g`` ((B, N, M) or None: the network's own)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        g = self.g[None] if g is None else np.ascontiguousarray(g, dtype=np.float64).reshape(-1, self.n, self.m)
        out = np.empty_like(x)
        nodal_matvec(x, g, self.w_r, self.w_c, self.ends_r, self.ends_c, out)
        return out

    def rhs(self, source_r: np.ndarray, source_c: np.ndarray) -> np.ndarray:
        """Right-hand side of sources ``source_r`` (B, N) and ``source_c`` (B, M) behind the line ends."""
        b = source_r.shape[0]
        out = np.zeros((b, 2, self.n * self.m))
        out_r, out_c = self.split(out)
        sr = np.where(self.pinned_r, 0.0, source_r)
        sc = np.where(self.pinned_c, 0.0, source_c)
        out_r[...] = self.endr * sr[:, :, None]
        out_c[...] = self.endc * sc[:, :, None]
        return out

    def sparse_matrix(self) -> csr_matrix:
        """The nodal matrix as a scipy sparse matrix in the packed ordering (for direct solvers, tests)."""
        n, m = self.n, self.m
        size = n * m
        rows_idx = np.arange(size).reshape(n, m)  # r[i, j]
        cols_idx = size + np.arange(size).reshape(m, n).T  # c[i, j] (column-major block)
        ii, jj, vv = [], [], []

        def link(a, b, w):
            a, b, w = a.ravel(), b.ravel(), np.broadcast_to(w, a.shape).ravel()
            ii.extend([a, b, a, b])
            jj.extend([a, b, b, a])
            vv.extend([w, w, -w, -w])

        link(rows_idx[:, :-1], rows_idx[:, 1:], self.w_r)
        link(cols_idx[:-1, :], cols_idx[1:, :], self.w_c)
        link(rows_idx, cols_idx, self.g)
        diag = np.concatenate([self.endr.ravel(), self.endc.ravel()])
        ii.append(np.arange(2 * size))
        jj.append(np.arange(2 * size))
        vv.append(diag)
        return coo_matrix((np.concatenate(vv), (np.concatenate(ii), np.concatenate(jj))),
                          shape=(2 * size, 2 * size)).tocsr()

    # ------------------------------------------------------------------------------- preconditioner
    def _restrict(self, r: np.ndarray) -> np.ndarray:
        rr, rc = self.split(r)
        return np.concatenate([rr.sum(-1), rc.sum(-1)], axis=1)  # (B, N + M)

    def _coarse_solve(self, r: np.ndarray) -> np.ndarray:
        return self._restrict(r) @ self._coarse_inv  # symmetric inverse

    def _line_solve(self, r: np.ndarray) -> np.ndarray:
        out = np.empty_like(r)
        (d_r, e_r), (d_c, e_c) = self._line_factors
        line_solve(d_r, e_r, d_c, e_c, r, out, self.n, self.m)
        return out

    def precondition(self, r: np.ndarray) -> np.ndarray:
        """BNN: ``z = Q r + (I - Q A) P^-1 (I - A Q) r`` with ``Q = Z (Z^T A Z)^-1 Z^T`` the coarse (one
        unknown per line, ``Z`` the lines' indicator) and ``P`` the line solve."""
        r = np.ascontiguousarray(r, dtype=np.float64)
        y = self._coarse_solve(r)
        t = np.empty_like(r)
        subtract_a_prolong(r, y, self.g, self.ends_r, self.ends_c, t)
        z = self._line_solve(t)
        lines = np.empty((r.shape[0], self.n + self.m))
        restricted_matvec(z, self.g, self.ends_r, self.ends_c, lines)
        y -= lines @ self._coarse_inv
        zr, zc = self.split(z)
        zr += y[:, :self.n, None]
        zc += y[:, self.n:, None]
        return z

    # ----------------------------------------------------------------------------------------- solve
    def cg(self, b: np.ndarray, x0: np.ndarray, rtol: float, max_iterations: int,
           g: np.ndarray | None = None, scale: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Preconditioned CG for ``A(g) x = b`` (batch), from ``x0``, until every ``|r| <= rtol * scale``
        (``scale``: per batch entry, default ``|b|``; pass the sources' norm when ``b`` is a Newton residual
        or ``x0`` a warm start, so that the work is proportional to what is left to solve)."""
        x = x0.copy()
        r = b - self.matvec(x, g)
        target = rtol * (np.sqrt(np.einsum("bij,bij->b", b, b)) if scale is None else scale)
        z = self.precondition(r)
        p = z.copy()
        rz = np.einsum("bij,bij->b", r, z)
        for it in range(max_iterations + 1):
            res = np.sqrt(np.einsum("bij,bij->b", r, r))
            if np.all(res <= target):
                return x, it
            if it == max_iterations:
                break
            q = self.matvec(p, g)
            pq = np.einsum("bij,bij->b", p, q)
            alpha = np.divide(rz, pq, out=np.zeros_like(rz), where=pq > 0)[:, None, None]
            x += alpha * p
            r -= alpha * q
            z = self.precondition(r)
            rz_new = np.einsum("bij,bij->b", r, z)
            beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)[:, None, None]
            rz = rz_new
            p = z + beta * p
        worst = float(np.max(res / np.maximum(target / rtol, 1e-300)))
        raise np.linalg.LinAlgError(f"circuit CG: relative residual {worst:.3g} after {max_iterations} "
                                    f"iterations (rtol {rtol:g})")
