"""Manufacturing variation and faults of MTJ arrays: the configuration and the pure samplers.

**Device-to-device spread** (``*_dtod``, relative standard deviations): each cell's parameter is the nominal
value times a factor of mean 1 and standard deviation ``s``, drawn once per array:

- ``lognormal``: ``exp(sigma z - sigma^2 / 2)`` with ``sigma^2 = ln(1 + s^2)`` (mean 1 and sd ``s`` exactly;
  always positive, skewed toward large values).
- ``normal``: ``1 + s t / c``, where ``t`` is a standard normal truncated symmetrically at ``+-k`` (sampled by
  the inverse CDF) and ``c`` its standard deviation, so the mean is 1 and the sd ``s`` exactly, and
  ``k = min(3, k*)`` with ``k*`` the largest bound keeping every factor >= :data:`NORMAL_FLOOR` (0.1). The
  bound is 3 sd up to ``s`` = 0.296; above that it tightens (the shape moves toward a uniform distribution;
  ``s`` <= 0.5 is always reachable). Nothing is clamped, so no value piles up at a bound.

``tau0_dtod`` scales both attempt times with one factor (the attempt time is a property of the free layer);
every other spread has its own independent factor; ``v_h`` has no spread.

**Spatial correlation** (``correlation_length`` L, in cells): the standard normal fields ``z`` behind the
factors are white noise filtered by a separable Gaussian kernel of sd ``L / sqrt(2)`` (truncated at 4 sd)
and divided by the kernel's L2 norm, so each cell is still exactly standard normal and two cells ``d`` apart
correlate as ``exp(-d^2 / (2 L^2))`` (before the monotone map to the factor). The noise is drawn on a grid
padded by the kernel radius, so edge cells are no different from the others. L = 0: independent cells.

**Common random numbers**: the draws do not depend on the spreads' values (a zero spread still consumes its
field), so one seed gives the same pattern at 5 % and at 10 % spread, scaled. Zero spread gives the
nominal value exactly.

**Cycle-to-cycle spread** (``ic0_c2c``): at every write each cell's critical current is multiplied by a
fresh factor of the same family (:func:`sample_ic0_c2c`).

**Faults**: each cell is independently stuck at P with probability ``stuck_p_rate`` and stuck at AP with
``stuck_ap_rate`` (disjoint; one uniform draw per cell, so the faulty cells at 1 % are among those at 5 %
for the same seed). Faults are not spatially correlated.

**Wiring** (the array's side, to keep runs comparable): sample once per array with generators derived from
the experiment seed, e.g. ``rng.generator(seed, f"variation.layer{i}")`` for :func:`sample_cell_params` and
``rng.generator(seed, f"faults.layer{i}")`` for :func:`sample_stuck` (the same names for the in-situ and the
ex-situ network, so both methods meet the same chip); store the masks with the array (state_dict). Stuck
cells hold their state through every write and every programming; draw :func:`sample_ic0_c2c` inside the
write from the write generator, only when ``ic0_c2c > 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import ConfigError, param, validate
from .params import MTJParams

__all__ = ["VariationConfig", "CELL_PARAMETER_NAMES", "DISTRIBUTIONS", "NORMAL_FLOOR", "sample_cell_params",
           "sample_stuck", "sample_ic0_c2c", "spread_factors", "gaussian_field", "normal_truncation"]

#: Per-cell parameter tensors, keyed as ``crossbar.cells.CELL_PARAMETERS``.
CELL_PARAMETER_NAMES = ("r_p", "tmr0", "v_h", "delta", "ic0_p2ap", "ic0_ap2p", "tau0_p2ap", "tau0_ap2p")
DISTRIBUTIONS = ("normal", "lognormal")
#: Smallest factor a truncated-normal spread may give (a parameter never falls below 10 % of nominal).
NORMAL_FLOOR = 0.1
_MAX_SIGMAS = 3.0
_KERNEL_SDS = 4.0

# spread field -> the cell parameters its factor multiplies (drawn in this order)
_SPREADS = (
    ("r_p_dtod", ("r_p",)),
    ("tmr0_dtod", ("tmr0",)),
    ("ic0_p2ap_dtod", ("ic0_p2ap",)),
    ("ic0_ap2p_dtod", ("ic0_ap2p",)),
    ("delta_dtod", ("delta",)),
    ("tau0_dtod", ("tau0_p2ap", "tau0_ap2p")),
)

_SPREAD = {"lo": 0.0, "hi": 0.5}


@dataclass(frozen=True)
class VariationConfig:
    """Device-to-device and cycle-to-cycle spreads, stuck-at faults and spatial correlation of an array.

    The defaults are an ideal array (no variation, no faults).
    """

    distribution: str = param("normal", "", "family of the spread factors: normal (truncated symmetrically, "
                              "factors >= 0.1) or lognormal", choices=DISTRIBUTIONS)
    r_p_dtod: float = param(0.0, "1", "relative device-to-device sd of R_P", **_SPREAD)
    tmr0_dtod: float = param(0.0, "1", "relative device-to-device sd of TMR0", **_SPREAD)
    ic0_p2ap_dtod: float = param(0.0, "1", "relative device-to-device sd of Ic0 (P->AP)", **_SPREAD)
    ic0_ap2p_dtod: float = param(0.0, "1", "relative device-to-device sd of Ic0 (AP->P)", **_SPREAD)
    delta_dtod: float = param(0.0, "1", "relative device-to-device sd of the thermal stability Delta",
                              **_SPREAD)
    tau0_dtod: float = param(0.0, "1", "relative device-to-device sd of the attempt time tau0 (both "
                             "directions, one factor)", **_SPREAD)
    ic0_c2c: float = param(0.0, "1", "relative cycle-to-cycle sd of Ic0, drawn afresh at every write",
                           **_SPREAD)
    stuck_p_rate: float = param(0.0, "1", "fraction of cells stuck in the parallel (low) state", lo=0.0, hi=1.0)
    stuck_ap_rate: float = param(0.0, "1", "fraction of cells stuck in the antiparallel (high) state",
                                 lo=0.0, hi=1.0)
    correlation_length: float = param(0.0, "cells", "spatial correlation length of the device-to-device "
                                      "spread, exp(-d^2/(2 L^2)); 0 = independent cells", lo=0.0, hi=1000.0)

    def __post_init__(self) -> None:
        validate(self)
        if self.stuck_p_rate + self.stuck_ap_rate > 1.0:
            raise ConfigError(f"stuck_p_rate + stuck_ap_rate = {self.stuck_p_rate + self.stuck_ap_rate!r}: "
                              "the fractions of stuck cells must add up to at most 1")

    @property
    def has_dtod(self) -> bool:
        """Whether any device-to-device spread is non-zero."""
        return any(getattr(self, name) > 0 for name, _ in _SPREADS)

    @property
    def has_faults(self) -> bool:
        """Whether any cell can be stuck."""
        return self.stuck_p_rate > 0 or self.stuck_ap_rate > 0

    @property
    def is_nominal(self) -> bool:
        """No spread of any kind and no faults: every cell is the nominal device."""
        return not (self.has_dtod or self.has_faults or self.ic0_c2c > 0)


def _truncated_sd(k: float) -> float:
    """Standard deviation of a standard normal truncated to [-k, k]."""
    mass = math.erf(k / math.sqrt(2.0))
    density = math.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi)
    return math.sqrt(max(1.0 - 2.0 * k * density / mass, 0.0))


def normal_truncation(spread: float) -> tuple[float, float]:
    """(k, c): the truncation bound in sd and the truncated sd for a normal ``spread`` (see module doc)."""
    if spread <= 0:
        return _MAX_SIGMAS, _truncated_sd(_MAX_SIGMAS)

    def lowest(k: float) -> float:
        return 1.0 - spread * k / _truncated_sd(k)

    if lowest(_MAX_SIGMAS) >= NORMAL_FLOOR:
        return _MAX_SIGMAS, _truncated_sd(_MAX_SIGMAS)
    if spread * math.sqrt(3.0) > 1.0 - NORMAL_FLOOR:  # k -> 0 is a uniform of sd k / sqrt(3)
        raise ValueError(f"normal spread {spread!r}: at most {(1 - NORMAL_FLOOR) / math.sqrt(3):.3f} keeps "
                         f"every factor >= {NORMAL_FLOOR}; use the lognormal distribution")
    lo, hi = 1e-6, _MAX_SIGMAS
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if lowest(mid) >= NORMAL_FLOOR else (lo, mid)
    return lo, _truncated_sd(lo)


def spread_factors(z: torch.Tensor, spread: float, distribution: str) -> torch.Tensor:
    """Factors of mean 1 and sd ``spread`` from standard normal deviates ``z`` (float64, monotone in z)."""
    z = z.to(torch.float64)
    if spread == 0:
        return torch.ones_like(z)
    if distribution == "lognormal":
        sigma = math.sqrt(math.log1p(spread * spread))
        return torch.exp(sigma * z - 0.5 * sigma * sigma)
    if distribution != "normal":
        raise ValueError(f"distribution = {distribution!r}: must be one of {DISTRIBUTIONS}")
    k, sd = normal_truncation(spread)
    tail = 0.5 * math.erfc(k / math.sqrt(2.0))  # Phi(-k)
    u = tail + torch.special.ndtr(z) * (1.0 - 2.0 * tail)
    t = torch.special.ndtri(u).clamp(-k, k)  # the clamp only absorbs rounding at u = Phi(+-k)
    return 1.0 + (spread / sd) * t


def _gaussian_band(n: int, radius: int, weights: torch.Tensor) -> torch.Tensor:
    """(n, n + 2 radius) matrix applying the 1-D kernel ``weights`` with no edge effects."""
    band = torch.zeros(n, n + 2 * radius, dtype=weights.dtype, device=weights.device)
    idx = torch.arange(n, device=weights.device)
    for offset in range(2 * radius + 1):
        band[idx, idx + offset] = weights[offset]
    return band


def gaussian_field(shape: tuple[int, ...], correlation_length: float, generator: torch.Generator) -> torch.Tensor:
    """Standard normal deviates of ``shape`` (..., rows, cols), float64, on the generator's device; with a
    correlation length L > 0, neighbours ``d`` cells apart correlate as ``exp(-d^2 / (2 L^2))``."""
    device = generator.device
    if correlation_length <= 0:
        return torch.randn(shape, generator=generator, dtype=torch.float64, device=device)
    *batch, rows, cols = shape
    kernel_sd = correlation_length / math.sqrt(2.0)
    radius = max(1, math.ceil(_KERNEL_SDS * kernel_sd))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    weights = torch.exp(-0.5 * (offsets / kernel_sd) ** 2)
    weights = weights / weights.square().sum().sqrt()  # unit L2 norm per axis: unit variance overall
    noise = torch.randn((*batch, rows + 2 * radius, cols + 2 * radius), generator=generator,
                        dtype=torch.float64, device=device)
    return _gaussian_band(rows, radius, weights) @ noise @ _gaussian_band(cols, radius, weights).T


def _shape(rows: int, cols: int, chips: int | None) -> tuple[int, ...]:
    if rows < 1 or cols < 1:
        raise ValueError(f"array size {rows}x{cols}: rows and cols must be >= 1")
    if chips is not None and chips < 1:
        raise ValueError(f"chips = {chips}: must be >= 1")
    return (rows, cols) if chips is None else (chips, rows, cols)


def sample_cell_params(params: MTJParams, variation: VariationConfig, rows: int, cols: int,
                       generator: torch.Generator, *, chips: int | None = None) -> dict[str, torch.Tensor]:
    """Per-cell device parameters of one array (or ``chips`` independent arrays, a leading dimension).

    Returns float64 tensors of shape (rows, cols) (or (chips, rows, cols)) on the generator's device, keyed
    as :data:`CELL_PARAMETER_NAMES` (= ``crossbar.cells.CELL_PARAMETERS``), ready for
    ``Crossbar(..., cell_params=...)`` or ``Crossbar.set_cell_params``. Always draws the same amount from
    ``generator`` for a given shape and correlation length, whatever the spreads.
    """
    shape = _shape(rows, cols, chips)
    device = generator.device
    out = {name: torch.full(shape, float(getattr(params, name)), dtype=torch.float64, device=device)
           for name in CELL_PARAMETER_NAMES}
    for spread_name, targets in _SPREADS:
        z = gaussian_field(shape, variation.correlation_length, generator)
        factor = spread_factors(z, getattr(variation, spread_name), variation.distribution)
        for name in targets:
            out[name] = out[name] * factor
    return out


def sample_stuck(variation: VariationConfig, rows: int, cols: int, generator: torch.Generator, *,
                 chips: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(stuck_p, stuck_ap): disjoint bool masks of the cells stuck in P and in AP (one uniform per cell)."""
    u = torch.rand(_shape(rows, cols, chips), generator=generator, dtype=torch.float64, device=generator.device)
    stuck_p = u < variation.stuck_p_rate
    stuck_ap = ~stuck_p & (u < variation.stuck_p_rate + variation.stuck_ap_rate)
    return stuck_p, stuck_ap


def sample_ic0_c2c(variation: VariationConfig, shape: tuple[int, ...], generator: torch.Generator, *,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Cycle-to-cycle factors on Ic0 for one write: mean 1, sd ``ic0_c2c``, one per cell of ``shape``.

    Multiply the critical current each cell sees in this write (either direction) by them. With
    ``ic0_c2c == 0`` this returns ones *without drawing*, so a nominal run keeps its random stream; callers
    may skip the call then (``variation.ic0_c2c > 0``).
    """
    if variation.ic0_c2c == 0:
        return torch.ones(shape, dtype=dtype, device=generator.device)
    z = torch.randn(shape, generator=generator, dtype=torch.float64, device=generator.device)
    return spread_factors(z, variation.ic0_c2c, variation.distribution).to(dtype)
