"""Switching probability of an MTJ under a current pulse, its inverses, and retention.

Model (all functions are pure, vectorised and broadcast over every argument; SI units):

* Thermally activated regime (Koch et al. 2004): the mean dwell time under current I is
  ``tau = tau0 * exp(Delta * (1 - I/Ic0)^n)`` for I < Ic0 and ``tau = tau0`` at and above Ic0 (the
  barrier is gone), so the thermal switching probability of a pulse of width t is ``1 - exp(-t/tau)``.
* Precessional regime (Sun 2000; the initial angle drawn from the Boltzmann distribution, as in Butler
  et al., IEEE Trans. Magn. 48, 4684 (2012)): ``P_prec = exp(-(pi^2 Delta / 4) * exp(-2 t (I/Ic0 - 1)/tau_d))``
  for I > Ic0, and its value at Ic0, ``exp(-pi^2 Delta/4)`` (below 1e-40 for Delta = 40), under it.
* The two are joined as competing routes to switching: the junction survives the pulse only if it
  survives both, ``P = 1 - exp(-t/tau) * (1 - P_prec)``. Each factor is continuous and non-increasing in
  I and in t, so P is continuous and monotonic (non-decreasing) in both, across Ic0 included. Well below
  Ic0 P is the thermal formula to within 1e-40; for short pulses well above Ic0 it is the Sun formula.

Both inverses (the current for a probability at a given width, the width for a probability at a given
current) are exact in closed form except the width above Ic0, which is solved by bisection in log t.
"""

from __future__ import annotations

import math

import torch

from . import physics

__all__ = [
    "thermal_tau",
    "switching_probability",
    "current_for_probability",
    "thermal_current_for_probability",
    "thermal_reach",
    "width_for_probability",
    "retention_flip_probability",
]


def _t(x, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.double()
    dtype = like.dtype if like is not None else torch.float64
    return torch.as_tensor(x, dtype=dtype)


def _log_survival_prec_floor(delta: torch.Tensor) -> torch.Tensor:
    """log(1 - P_prec) below Ic0, where P_prec = exp(-pi^2 Delta / 4)."""
    return physics.precessional_log_floor(delta)


def thermal_tau(current, *, ic0, tau0, delta, n) -> torch.Tensor:
    """Mean thermally activated switching time, s: ``tau0 * exp(Delta * max(1 - I/Ic0, 0)^n)``."""
    return 1.0 / physics.thermal_rate(_t(current), ic0, tau0, delta, n)


def _log_survival(current: torch.Tensor, width: torch.Tensor, ic0, tau0, delta, n, tau_d) -> torch.Tensor:
    """log of the probability that a junction does not switch during the pulse (<= 0)."""
    current = torch.clamp(current, min=0.0)
    if bool((current > ic0).any()):
        return physics.log_survival(current, width, ic0, tau0, delta, n, tau_d)
    # all at or below Ic0: the precessional term is its constant floor (one exp fewer per cell)
    thermal_hazard = width * physics.thermal_rate(current, ic0, tau0, delta, n)
    return -thermal_hazard + _log_survival_prec_floor(_t(delta, thermal_hazard))


def switching_probability(current, width, *, ic0, tau0, delta, n, tau_d) -> torch.Tensor:
    """Probability that a pulse of ``current`` (A, >= 0) and ``width`` (s, >= 0) switches the junction.

    The parameters are those of the switching direction (see :meth:`MTJParams.switching`); each may be
    a scalar or a tensor that broadcasts with ``current`` and ``width`` (per-cell parameters).
    """
    current = _t(current)
    width = _t(width, like=current)
    if (width < 0).any():
        raise ValueError("width: pulse widths must be >= 0 s")
    log_s = _log_survival(current, width, ic0, tau0, delta, n, tau_d)
    p = -torch.expm1(log_s)
    return torch.where(width > 0, p, torch.zeros_like(p))


def _check_probability(p: torch.Tensor) -> None:
    if torch.isnan(p).any() or (p < 0).any() or (p > 1).any():
        bad = p[torch.isnan(p) | (p < 0) | (p > 1)].flatten()[0].item()
        raise ValueError(f"probability = {bad!r}: must be in [0, 1]")


def current_for_probability(p, width, *, ic0, tau0, delta, n, tau_d) -> torch.Tensor:
    """The current (A) for which a pulse of ``width`` switches with probability ``p`` (exact inverse).

    Probabilities at or below what a zero-current pulse already gives (thermal retention flips,
    ``1 - exp(-t/(tau0 e^Delta))``) return 0 A; ``p = 1`` returns ``inf``.
    """
    p = _t(p)
    width = _t(width, like=p)
    _check_probability(p)
    if (width <= 0).any():
        raise ValueError("width: a pulse width > 0 s is needed to reach a switching probability")
    ic0, tau0, delta = _t(ic0, p), _t(tau0, p), _t(delta, p)
    hazard = -torch.log1p(-p)  # total -log survival required
    floor = _log_survival_prec_floor(delta)  # <= 0
    thermal_needed = hazard + floor  # hazard the thermal route must supply below Ic0
    at_ic0 = width / tau0  # thermal hazard at (and above) Ic0
    # Thermal branch: (width/tau0) exp(-Delta u^n) = thermal_needed
    log_needed = torch.log(torch.clamp(thermal_needed, min=torch.finfo(p.dtype).tiny))
    i_thermal = physics.thermal_current_for_hazard(log_needed, torch.log(at_ic0), ic0, delta, n)
    # Precessional branch: -log(1 - P_prec) = hazard - at_ic0
    extra = torch.clamp(hazard - at_ic0, min=torch.finfo(p.dtype).tiny)
    p_prec = -torch.expm1(-extra)
    a = physics.PRECESSIONAL_CONSTANT * delta
    overdrive = (tau_d / (2.0 * width)) * torch.log(a / torch.clamp(-torch.log(p_prec), min=1e-300))
    i_prec = ic0 * (1.0 + torch.clamp(overdrive, min=0.0))
    current = torch.where(thermal_needed <= at_ic0, i_thermal, i_prec)
    current = torch.where(thermal_needed <= 0, torch.zeros_like(current), current)
    return torch.where(p >= 1, torch.full_like(current, math.inf), current)


def thermal_reach(width: float, *, tau0: float, delta: float) -> float:
    """The largest switching probability a pulse of ``width`` reaches in the thermal regime (at Ic0)."""
    return -math.expm1(-width / tau0 + physics.precessional_log_floor(float(delta)))


def thermal_current_for_probability(p: torch.Tensor, width: float, *, ic0, tau0, delta: float,
                                    n: float, log_reach: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`current_for_probability` where every ``p`` is at most :func:`thermal_reach` (the current is
    then at most Ic0, closed form, a handful of tensor operations): the fast path of the pulse encoder.

    ``ic0`` and ``tau0`` may be tensors that broadcast against ``p`` (e.g. one row per polarity); ``p``
    at or below the zero-current (retention) probability gives 0 A, like the general inverse.
    ``log_reach``, if given, is ``log(width / tau0)`` computed once by the caller.
    """
    floor = physics.precessional_log_floor(float(delta))
    needed = torch.log1p(-p).neg_().add_(floor)  # thermal hazard the pulse must supply
    reachable = needed > 0
    if log_reach is None:
        log_reach = torch.log(width / torch.as_tensor(tau0, dtype=p.dtype))
    current = physics.thermal_current_for_hazard(needed.log_(), log_reach, ic0, delta, n)
    return torch.where(reachable, current, 0.0)


def width_for_probability(p, current, *, ic0, tau0, delta, n, tau_d, iterations: int = 100) -> torch.Tensor:
    """The pulse width (s) for which ``current`` switches the junction with probability ``p``.

    Exact in closed form at and below Ic0; above Ic0 (where the precessional term depends on the width)
    found by bisection in log t to machine precision. ``p = 0`` gives 0 s, ``p = 1`` gives ``inf``.
    """
    p = _t(p)
    current = _t(current, like=p)
    _check_probability(p)
    p, current = torch.broadcast_tensors(p, current)
    ic0, tau0, delta = _t(ic0, p), _t(tau0, p), _t(delta, p)
    hazard = -torch.log1p(-p)
    tau = thermal_tau(current, ic0=ic0, tau0=tau0, delta=delta, n=n)
    width = tau * torch.clamp(hazard + _log_survival_prec_floor(delta), min=0.0)
    above = (current > ic0) & (p > 0) & (p < 1)
    if above.any():
        # log-survival is decreasing in t; bracket [lo, hi] in log t and bisect.
        hi = torch.log(torch.clamp(width, min=1e-30))  # thermal-only width is an upper bound
        lo = torch.full_like(hi, math.log(1e-30))
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            s = _log_survival(current, torch.exp(mid), ic0, tau0, delta, n, tau_d)
            too_long = -s >= hazard
            hi = torch.where(too_long, mid, hi)
            lo = torch.where(too_long, lo, mid)
        width = torch.where(above, torch.exp(hi), width)
    width = torch.where(p <= 0, torch.zeros_like(width), width)
    return torch.where(p >= 1, torch.full_like(width, math.inf), width)


def retention_flip_probability(interval, *, tau0, delta) -> torch.Tensor:
    """Probability of a spontaneous (thermal) flip within ``interval`` s at zero current (Neel-Brown)."""
    interval = _t(interval)
    if (interval < 0).any():
        raise ValueError("interval: must be >= 0 s")
    return -torch.expm1(-interval * physics.thermal_rate(0.0, 1.0, tau0, _t(delta, interval), 1.0))
