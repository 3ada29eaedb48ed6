"""Exact sparse sampling of the flips of an outer-product write: cost ~ rows + columns + events.

During an :class:`~mtjxbar.crossbar.plan.OuterPlan` every reached cell (i, j) sees one pulse of width
``t_i`` and current ``I_j`` (thermal regime, ``I_j <= Ic0``) and switches with the device model's
``P_ij = 1 - (1 - eps_ij) exp(-t_i rho_ij)``, where ``rho = exp(-Delta (1 - I/Ic0)^n) / tau0`` is the
thermal switching rate and ``eps = exp(-pi^2 Delta / 4)`` the precessional floor. That is exactly the
probability that a Poisson process of intensity ``h_ij = t_i rho_ij + c_ij`` (``c = -ln(1 - eps)``) has
at least one event over the pulse. So instead of one uniform draw per cell:

1. bound the intensity by a product plus a constant, ``h_ij <= t_i rbar_j + cbar`` (``rbar_j`` >= every
   ``rho_ij`` of column j: equal to it on a uniform array);
2. draw the events of the bounding process: ``Poisson(sum_i t_i * sum_j rbar_j)`` events whose row is
   drawn with probability ``t_i / sum t`` and column with ``rbar_j / sum rbar`` (a Poisson process with a
   product intensity splits that way), plus ``Poisson(cbar * rows * cols)`` events on uniform cells;
3. keep each event with probability ``h_ij / bound`` (thinning: ``rho_ij / rbar_j`` for the first kind,
   ``c_ij / cbar`` for the second);
4. a cell with at least one kept event switches, if its state and the polarity allow it.

Superposition and thinning of Poisson processes make this the same distribution as the dense sampler,
cell by cell and jointly (cells are independent in both). The cost is O(rows + cols + events), and the
expected number of events is the expected number of switching attempts, ~ the expected flips when
probabilities are small. Where they are large (many events per cell) the dense sampler is cheaper, and
the array chooses it from the expected event count before drawing anything (so the choice cannot bias
the sample).
"""

from __future__ import annotations

import torch

from ..device import physics

__all__ = ["thermal_rate", "RateConstants", "poisson_outer_events", "uniform_cell_events"]


class RateConstants:
    """The thermal-rate parameters of a set of cells or of a per-column bound: ``ic0`` (A), ``tau0`` (s) and
    ``delta`` (tensors or floats that broadcast with the currents)."""

    def __init__(self, ic0, tau0, delta) -> None:
        self.ic0, self.tau0, self.delta = ic0, tau0, delta


def thermal_rate(current: torch.Tensor, constants: RateConstants, n: float) -> torch.Tensor:
    """Thermal switching rate (1/s, :func:`mtjxbar.device.physics.thermal_rate`) at ``current`` <= Ic0, and 0
    where the current is 0 (the line is idle)."""
    rate = physics.thermal_rate(current, constants.ic0, constants.tau0, constants.delta, n)
    return rate.mul_(current > 0)


def poisson_outer_events(widths: torch.Tensor, rates: torch.Tensor, count: int,
                         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns of ``count`` events of a process with intensity ``widths[i] * rates[j]``.

    ``count`` must be drawn by the caller as ``Poisson(widths.sum() * rates.sum())``; each event's row
    and column are then independent draws proportional to ``widths`` and ``rates``.
    """
    rows = torch.multinomial(widths, count, replacement=True, generator=generator)
    cols = torch.multinomial(rates, count, replacement=True, generator=generator)
    return rows, cols


def uniform_cell_events(rows: int, cols: int, count: int, generator: torch.Generator,
                        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns of ``count`` events placed uniformly over a ``rows x cols`` array."""
    r = torch.randint(rows, (count,), generator=generator, device=device)
    c = torch.randint(cols, (count,), generator=generator, device=device)
    return r, c
