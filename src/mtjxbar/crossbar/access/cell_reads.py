"""Fast reads of an array whose cells have their own parameters: a per-cell Chebyshev fit of G_AP(v).

Each AP cell's conductance (junction + transistor, self-consistent in the junction voltage) is an even,
smooth function of the line voltage ``v``. On ``|v| <= V`` it is fitted, cell by cell, by a Chebyshev
series in ``x = 2 (v / V)^2 - 1``: ``G_AP(v) = sum_k a_k T_k(x)``, interpolating the exact solve at the
Chebyshev nodes (a discrete cosine transform, well conditioned at any degree). The degree grows until the
relative error at points between the nodes is below ``tolerance`` (1e-7 for float32 arrays, 1e-12 for
float64); if no degree up to :data:`MAX_DEGREE` reaches it, the caller keeps the exact per-cell loop.

A read is then one matrix product: ``I_j = sum_i sum_k w_ki M_kij`` with ``w_ki = v_i T_k(x_i)``,
``M_0 = where(P, G_P, a_0)`` and ``M_k = where(P, 0, a_k)`` (a P cell is ohmic). The matrices follow the
states: :meth:`CellReads.refresh` rewrites the flipped cells after a write.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["CellReads", "MAX_DEGREE", "fit_ap_conductance", "chebyshev_weights", "chebyshev_terms"]

MAX_DEGREE = 24


def _chebyshev_nodes(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64, device=device)
    return torch.cos(math.pi * (k + 0.5) / n)  # in (-1, 1)


def chebyshev_terms(x: torch.Tensor, degree: int) -> torch.Tensor:
    """T_0..T_degree at ``x`` stacked on a new dimension -2: shape (..., degree + 1, n)."""
    terms = [torch.ones_like(x), x]
    for _ in range(degree - 1):
        terms.append(2.0 * x * terms[-1] - terms[-2])
    return torch.stack(terms[:degree + 1], dim=-2)


def fit_ap_conductance(exact: Callable[[torch.Tensor], torch.Tensor], span: float,
                       tolerance: float, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """Chebyshev coefficients (degree + 1, *cells) of every cell's G_AP on ``|v| <= span`` (float64), of the
    lowest degree that meets ``tolerance``; None if none up to :data:`MAX_DEGREE` does.

    ``exact(v)``: G_AP of every cell at each of the voltages ``v`` (n,) -> (n, *cells), float64."""
    for degree in (4, 6, 8, 12, 16, MAX_DEGREE):
        n = degree + 1
        x = _chebyshev_nodes(n, device)
        values = exact(_voltages(x, span))  # (n, *cells)
        coef = (2.0 / n) * torch.tensordot(chebyshev_terms(x, degree), values, dims=([1], [0]))
        coef[0] *= 0.5
        # check between the nodes (and at both ends of the interval)
        xc = torch.cat([torch.tensor([-1.0, 1.0], dtype=torch.float64, device=device), 0.5 * (x[1:] + x[:-1])])
        fit = torch.tensordot(chebyshev_terms(xc, degree).T, coef, dims=([1], [0]))
        truth = exact(_voltages(xc, span))
        if float(((fit - truth) / truth).abs().max()) <= tolerance:
            return coef
    return None


def _voltages(x: torch.Tensor, span: float) -> torch.Tensor:
    return span * torch.sqrt((x + 1.0) / 2.0)


def chebyshev_weights(v: torch.Tensor, span: float, degree: int) -> torch.Tensor:
    """``v * T_k(2 (v / span)^2 - 1)`` for line voltages ``v`` (..., lines): shape (..., degree + 1, lines)."""
    x = (v / span).square().mul_(2.0).sub_(1.0)
    return chebyshev_terms(x, degree) * v.unsqueeze(-2)


class CellReads:
    """Per-cell Chebyshev fit of G_AP on ``|v| <= span`` and the read matrices for the current states."""

    def __init__(self, exact: Callable[[torch.Tensor], torch.Tensor], g_p: torch.Tensor, span: float,
                 tolerance: float, dtype: torch.dtype) -> None:
        """``exact(v)``: G_AP of every cell at each of the line voltages ``v`` (n,) -> (n, rows, cols)."""
        self.span, self.dtype = span, dtype
        self.coefficients = fit_ap_conductance(exact, span, tolerance, g_p.device)  # on the array's device
        self.degree = 0 if self.coefficients is None else self.coefficients.shape[0] - 1
        self._g_p = g_p
        self.matrices: torch.Tensor | None = None  # (degree + 1, rows, cols) in dtype

    @property
    def ok(self) -> bool:
        """Whether the fit reached its tolerance (otherwise use the exact per-cell reads)."""
        return self.coefficients is not None

    def set_states(self, parallel: torch.Tensor) -> None:
        a = self.coefficients.to(self.dtype)
        ohmic = torch.zeros_like(a)
        ohmic[0] = self._g_p.to(self.dtype)
        self.ap_terms, self.p_terms = a.flatten(1), ohmic.flatten(1)  # (degree + 1, cells) per state
        self.matrices = torch.where(parallel[None], ohmic, a).contiguous()

    def refresh(self, cells: torch.Tensor, parallel_flat: torch.Tensor) -> None:
        """Rewrite the matrices of ``cells`` (flat indices) after their states changed."""
        if self.matrices is None or cells.numel() == 0:
            return
        flat = self.matrices.view(self.matrices.shape[0], -1)
        state = parallel_flat.take(cells)[None, :]
        flat[:, cells] = torch.where(state, self.p_terms[:, cells], self.ap_terms[:, cells])

    def weights(self, v: torch.Tensor) -> torch.Tensor:
        """``v * T_k(x)`` for line voltages ``v`` (..., lines): shape (..., degree + 1, lines)."""
        return chebyshev_weights(v, self.span, self.degree)

    def read(self, v: torch.Tensor) -> torch.Tensor:
        """Column currents for row voltages ``v`` (..., rows)."""
        w = self.weights(v)
        return w.flatten(-2) @ self.matrices.view(-1, self.matrices.shape[-1])

    def read_transposed(self, v: torch.Tensor) -> torch.Tensor:
        """Row currents for column voltages ``v`` (..., cols)."""
        return torch.einsum("...kc,krc->...r", self.weights(v), self.matrices)
