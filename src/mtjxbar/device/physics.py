"""Every MTJ formula, written once: the tensor functions, the circuit solvers and the compiled kernels call these.

Each function is elementwise arithmetic on its arguments with the operations of :mod:`.ops`, so the same
text runs on Python floats, numpy arrays, torch tensors (the vectorised form: per-cell parameters are just
tensors that broadcast) and, compiled with ``numba.njit``, inside the fused training kernels and the
passive-array solvers (each is ``register_jitable``: Numba code calls it by name). Units are SI (A, V, ohm,
s). The model:

* Resistance: ``R_P`` ohmic; ``R_AP(V) = R_P (1 + TMR0 / (1 + (V/V_h)^2))`` at junction voltage ``V``.
* Thermal switching (Neel-Brown, Koch et al. 2004): hazard rate ``exp(-Delta max(1 - I/Ic0, 0)^n) / tau0``.
* Precessional switching (Sun 2000, Boltzmann initial angle, Butler et al. 2012): the junction escapes the
  precessional route with probability ``1 - exp(-(pi^2 Delta / 4) exp(-2 t max(I/Ic0 - 1, 0) / tau_d))``;
  below Ic0 that is its constant *floor* ``1 - exp(-pi^2 Delta / 4)``.
* The two are competing routes: ``log P(survive) = -t rate + log(1 - P_prec)``.
* Junction voltages: of an AP cell behind a series resistance at applied voltage ``V``
  (``V_m (1 + r_s / R_AP(V_m)) = V``), and of an AP junction carrying a current ``I`` (``V = I R_AP(V)``);
  both by Newton's method, bracketed, 8 steps to machine precision.

No function here branches on the regime (``clamp_min`` does it), so every one broadcasts.
"""

from __future__ import annotations

import math

from numba.extending import register_jitable

from .ops import clamp, clamp_min, exp, expm1, log1mexp, power

__all__ = [
    "PRECESSIONAL_CONSTANT",
    "precessional_log_floor",
    "precessional_log_survival",
    "thermal_rate",
    "log_survival",
    "switching_probability",
    "thermal_current_for_hazard",
    "ap_resistance_zero_bias",
    "ap_conductance",
    "ap_conductance_scaled",
    "ap_resistance",
    "ap_resistance_slope",
    "junction_voltage",
    "junction_voltage_start",
    "junction_voltage_step",
    "ap_voltage_at_current",
    "NEWTON_STEPS",
]

PRECESSIONAL_CONSTANT = math.pi**2 / 4.0
"""``pi^2 / 4``: the precessional escape probability is ``exp(-(pi^2/4) Delta ...)`` (Sun 2000)."""

NEWTON_STEPS = 8
"""Newton steps of the junction-voltage solves: machine precision for any bias (checked in tests)."""


@register_jitable(inline="always")
def precessional_log_floor(delta):
    """``log(1 - exp(-pi^2 Delta / 4))`` (<= 0): log-survival of the precessional route at and below Ic0."""
    return log1mexp(PRECESSIONAL_CONSTANT * delta)


@register_jitable(inline="always")
def precessional_log_survival(current, width, ic0, delta, tau_d):
    """log-probability that a pulse of ``current`` and ``width`` does not switch by precession: the floor
    below Ic0, ``log(1 - exp(-(pi^2 Delta/4) exp(-2 t (I/Ic0 - 1) / tau_d)))`` above it."""
    overdrive = clamp_min(current / ic0 - 1.0, 0.0)
    return log1mexp(PRECESSIONAL_CONSTANT * delta * exp(-2.0 * width * overdrive / tau_d))


@register_jitable(inline="always")
def thermal_rate(current, ic0, tau0, delta, n):
    """Thermally activated switching rate (1/s) at ``current``: ``exp(-Delta max(1 - I/Ic0, 0)^n) / tau0``."""
    return exp(-delta * power(clamp_min(1.0 - current / ic0, 0.0), n)) / tau0


@register_jitable(inline="always")
def log_survival(current, width, ic0, tau0, delta, n, tau_d):
    """log-probability (<= 0) that a pulse of ``current`` (A, >= 0) and ``width`` (s) leaves the junction as
    it was: the thermal and the precessional routes both fail."""
    return (-width * thermal_rate(current, ic0, tau0, delta, n)
            + precessional_log_survival(current, width, ic0, delta, tau_d))


@register_jitable(inline="always")
def switching_probability(current, width, ic0, tau0, delta, n, tau_d):
    """Probability that the pulse switches the junction: ``1 - exp(log_survival)``."""
    return -expm1(log_survival(current, width, ic0, tau0, delta, n, tau_d))


@register_jitable(inline="always")
def thermal_current_for_hazard(log_hazard, log_reach, ic0, delta, n):
    """The current (A, in [0, Ic0]) at which a pulse's thermal hazard ``(t/tau0) exp(-Delta (1 - I/Ic0)^n)``
    equals ``exp(log_hazard)``, given ``log_reach = log(t/tau0)`` (the hazard at Ic0); 0 A where even no
    current supplies it (the inverse of :func:`thermal_rate` over a pulse)."""
    u = power(clamp_min(log_reach - log_hazard, 0.0) / delta, 1.0 / n)
    return clamp_min(ic0 - u * ic0, 0.0)


@register_jitable(inline="always")
def ap_resistance_zero_bias(r_p, tmr0):
    """``R_AP(0) = R_P (1 + TMR0)`` (ohm)."""
    return r_p * (1.0 + tmr0)


@register_jitable(inline="always")
def ap_conductance(voltage, r_p, tmr0, v_h):
    """``1 / R_AP(V)`` (S) at junction voltage ``V``, with ``R_AP(V) = R_P (1 + TMR0 / (1 + (V/V_h)^2))``
    (written as ``s / (R_P (s + TMR0))``, ``s = 1 + (V/V_h)^2``: two divisions, the circuit solvers' hot loop)."""
    return ap_conductance_scaled(voltage / v_h, r_p, tmr0)


@register_jitable(inline="always")
def ap_conductance_scaled(x, r_p, tmr0):
    """:func:`ap_conductance` at the scaled voltage ``x = V / V_h`` (one division: a loop that evaluates the
    same junction many times multiplies by a stored ``1 / V_h`` instead of dividing by ``V_h``)."""
    s = 1.0 + x * x
    return s / (r_p * (s + tmr0))


@register_jitable(inline="always")
def ap_resistance(voltage, r_p, tmr0, v_h):
    """``R_AP(V)`` (ohm) at junction voltage ``V``: the reciprocal of :func:`ap_conductance`."""
    return 1.0 / ap_conductance(voltage, r_p, tmr0, v_h)


@register_jitable(inline="always")
def ap_resistance_slope(voltage, r_p, tmr0, v_h):
    """``dR_AP/dV`` (ohm/V) at junction voltage ``V``."""
    x = voltage / v_h
    s = 1.0 + x * x
    return -r_p * tmr0 * 2.0 * x / (v_h * s * s)


@register_jitable(inline="always")
def junction_voltage_start(voltage, r_p, tmr0, r_series):
    """Newton's starting point for :func:`junction_voltage`: the zero-bias divider ``V R_AP(0) / (R_AP(0) + r_s)``."""
    r0 = ap_resistance_zero_bias(r_p, tmr0)
    return voltage * (r0 / (r0 + r_series))


@register_jitable(inline="always")
def junction_voltage_step(vm, voltage, r_p, tmr0, v_h, r_series):
    """One Newton step on ``h(V_m) = V_m (1 + r_s / R_AP(V_m)) - V`` from ``vm``: callers that stop on a
    tolerance loop over it themselves."""
    g = ap_conductance(vm, r_p, tmr0, v_h)  # no 1 / R: a huge R_P gives g = 0, not a division by zero
    dr = ap_resistance_slope(vm, r_p, tmr0, v_h)
    h = vm * (1.0 + r_series * g) - voltage
    dh = 1.0 + r_series * g * (1.0 - vm * dr * g)
    return vm - h / dh


@register_jitable(inline="always")
def junction_voltage(voltage, r_p, tmr0, v_h, r_series):
    """Voltage across an AP junction in series with ``r_series`` (ohm) at applied ``voltage``: the root of
    ``h(V_m) = V_m (1 + r_s / R_AP(V_m)) - V``, strictly increasing in V_m (R_AP falls with |V_m| more slowly
    than 1/|V_m|), by :data:`NEWTON_STEPS` Newton steps from :func:`junction_voltage_start`."""
    vm = junction_voltage_start(voltage, r_p, tmr0, r_series)
    for _ in range(NEWTON_STEPS):
        vm = junction_voltage_step(vm, voltage, r_p, tmr0, v_h, r_series)
    return vm


@register_jitable(inline="always")
def ap_voltage_at_current(current, r_p, tmr0, v_h):
    """Voltage (V) across an AP junction carrying ``current`` (A, >= 0): the root of ``V - I R_AP(V)``, by
    Newton's method kept in the bracket ``[I R_P, I R_AP(0)]`` that holds it (the slope is >= 1)."""
    lo = current * r_p
    hi = current * ap_resistance_zero_bias(r_p, tmr0)
    v = hi
    for _ in range(NEWTON_STEPS):
        slope = 1.0 - current * ap_resistance_slope(v, r_p, tmr0, v_h)
        v = clamp(v - (v - current * ap_resistance(v, r_p, tmr0, v_h)) / slope, lo, hi)
    return v
