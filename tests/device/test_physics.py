"""The one-site physics (:mod:`mtjxbar.device.physics`): closed forms, every number kind, compiled == eager.

The same function text runs on Python floats, numpy arrays, torch tensors and inside Numba kernels; these
tests pin it to the published closed forms (on an asymmetric parameter set, where a swapped argument shows)
and check that all four kinds agree to rounding, so no engine can drift from another.
"""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import pytest
import torch
from numba import njit

from mtjxbar.device import numba_cache, physics

DEV = dict(ic0=60e-6, tau0=2e-9, delta=45.0, n=2.0, tau_d=0.7e-9)  # one direction of an asymmetric device
RES = dict(r_p=4.0e3, tmr0=1.3, v_h=0.45)


def _closed_thermal(i, t, ic0, tau0, delta, n):
    return -math.expm1(-t / (tau0 * math.exp(delta * max(1.0 - i / ic0, 0.0) ** n)))


def _closed_sun(i, t, ic0, delta, tau_d):
    """Sun's precessional switching probability with a Boltzmann initial angle."""
    return math.exp(-(math.pi**2 / 4.0) * delta * math.exp(-2.0 * t * (i / ic0 - 1.0) / tau_d))


@pytest.mark.parametrize("i_rel", [0.3, 0.6, 0.85, 0.97])
def test_thermal_regime_is_neel_brown(i_rel):
    i, t = i_rel * DEV["ic0"], 10e-9
    p = physics.switching_probability(i, t, DEV["ic0"], DEV["tau0"], DEV["delta"], DEV["n"], DEV["tau_d"])
    expected = _closed_thermal(i, t, DEV["ic0"], DEV["tau0"], DEV["delta"], DEV["n"])
    # below Ic0 the precessional floor exp(-pi^2 Delta / 4) ~ 1e-48 is invisible
    assert p == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("i_rel,t", [(1.5, 0.5e-9), (2.0, 0.3e-9), (3.0, 0.2e-9)])
def test_precessional_regime_is_sun(i_rel, t):
    i = i_rel * DEV["ic0"]
    p = physics.switching_probability(i, t, DEV["ic0"], DEV["tau0"], DEV["delta"], DEV["n"], DEV["tau_d"])
    p_sun = _closed_sun(i, t, DEV["ic0"], DEV["delta"], DEV["tau_d"])
    p_thermal = 1.0 - math.exp(-t / DEV["tau0"])  # at and above Ic0 the barrier is gone
    assert p == pytest.approx(1.0 - (1.0 - p_sun) * (1.0 - p_thermal), rel=1e-12)


def test_floor_and_constant():
    assert physics.PRECESSIONAL_CONSTANT == math.pi**2 / 4.0
    for delta in (0.5, 3.0, 40.0):
        assert physics.precessional_log_floor(delta) == pytest.approx(math.log(1.0 - math.exp(-math.pi**2 * delta / 4)),
                                                                      rel=1e-12)


def test_resistance_law():
    r = physics.ap_resistance(np.array([0.0, RES["v_h"], -RES["v_h"], 2.0]), **RES)
    x = 2.0 / RES["v_h"]
    assert r == pytest.approx([RES["r_p"] * (1 + RES["tmr0"]), RES["r_p"] * (1 + RES["tmr0"] / 2),
                               RES["r_p"] * (1 + RES["tmr0"] / 2), RES["r_p"] * (1 + RES["tmr0"] / (1 + x * x))],
                              rel=1e-14)
    assert physics.ap_resistance_zero_bias(RES["r_p"], RES["tmr0"]) == pytest.approx(float(r[0]), rel=1e-15)
    v, h = 0.3, 1e-6  # the slope against a central difference
    numeric = (physics.ap_resistance(v + h, **RES) - physics.ap_resistance(v - h, **RES)) / (2 * h)
    assert physics.ap_resistance_slope(v, **RES) == pytest.approx(numeric, rel=1e-7)


@pytest.mark.parametrize("r_series", [0.0, 500.0, 8e3, 1e5])
def test_junction_voltage_solves_the_divider(r_series):
    v = np.linspace(-3.0, 3.0, 601)
    vm = physics.junction_voltage(v, RES["r_p"], RES["tmr0"], RES["v_h"], r_series)
    residual = vm * (1.0 + r_series / physics.ap_resistance(vm, **RES)) - v
    assert np.abs(residual).max() < 1e-13


def test_ap_voltage_at_current_solves_ohm():
    i = np.linspace(0.0, 2e-3, 401)
    v = physics.ap_voltage_at_current(i, **RES)
    assert np.abs(v - i * physics.ap_resistance(v, **RES)).max() < 1e-13


def test_thermal_current_inverts_the_rate():
    t = 5e-9
    for i_rel in (0.2, 0.5, 0.9):
        i = i_rel * DEV["ic0"]
        hazard = t * physics.thermal_rate(i, DEV["ic0"], DEV["tau0"], DEV["delta"], DEV["n"])
        back = physics.thermal_current_for_hazard(math.log(hazard), math.log(t / DEV["tau0"]), DEV["ic0"],
                                                  DEV["delta"], DEV["n"])
        assert back == pytest.approx(i, rel=1e-10)
    n3 = physics.thermal_current_for_hazard(math.log(1e-3), math.log(t / DEV["tau0"]), DEV["ic0"], DEV["delta"], 1.5)
    assert t * physics.thermal_rate(n3, DEV["ic0"], DEV["tau0"], DEV["delta"], 1.5) == pytest.approx(1e-3, rel=1e-10)


@njit(cache=False)
def _compiled(i, t, v, ic0, tau0, delta, n, tau_d, r_p, tmr0, v_h):
    out = np.empty((6, i.size))
    for k in range(i.size):
        out[0, k] = physics.switching_probability(i[k], t[k], ic0, tau0, delta, n, tau_d)
        out[1, k] = physics.log_survival(i[k], t[k], ic0, tau0, delta, n, tau_d)
        out[2, k] = physics.ap_conductance(v[k], r_p, tmr0, v_h)
        out[3, k] = physics.junction_voltage(v[k], r_p, tmr0, v_h, 3e3)
        out[4, k] = physics.ap_voltage_at_current(i[k], r_p, tmr0, v_h)
        out[5, k] = physics.thermal_current_for_hazard(-3.0, 1.5, ic0, delta, n)
    return out


def _eager(lib, i, t, v, ic0, tau0, delta, n, tau_d, r_p, tmr0, v_h):
    return [physics.switching_probability(i, t, ic0, tau0, delta, n, tau_d),
            physics.log_survival(i, t, ic0, tau0, delta, n, tau_d),
            physics.ap_conductance(v, r_p, tmr0, v_h),
            physics.junction_voltage(v, r_p, tmr0, v_h, 3e3),
            physics.ap_voltage_at_current(i, r_p, tmr0, v_h),
            physics.thermal_current_for_hazard(-3.0, 1.5, ic0, delta, n) + 0 * i]


@pytest.mark.parametrize("n", [2.0, 1.5])
def test_every_number_kind_gives_the_same_numbers(n):
    gen = np.random.default_rng(3)
    i = gen.uniform(0.0, 2.5, 64) * DEV["ic0"]  # both regimes
    t = gen.uniform(0.1e-9, 20e-9, 64)
    v = gen.uniform(-2.0, 2.0, 64)
    par = (DEV["ic0"], DEV["tau0"], DEV["delta"], n, DEV["tau_d"], RES["r_p"], RES["tmr0"], RES["v_h"])
    compiled = _compiled(i, t, v, *par)
    as_numpy = _eager(np, i, t, v, *par)
    as_torch = _eager(torch, torch.from_numpy(i), torch.from_numpy(t), torch.from_numpy(v), *par)
    for row in range(6):
        assert isinstance(as_torch[row], torch.Tensor)
        np.testing.assert_allclose(as_torch[row].numpy(), as_numpy[row], rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(compiled[row], as_numpy[row], rtol=1e-12, atol=1e-300)
        for k in (0, 17, 63):  # Python floats: the math module's path
            scalar = _eager(math, float(i[k]), float(t[k]), float(v[k]), *par)[row]
            assert scalar == pytest.approx(float(as_numpy[row][k]), rel=1e-13, abs=1e-300)


def test_compiled_kernels_are_stamped_with_the_physics():
    """A cached kernel that inlined a formula must be recompiled when the formula changes: mtjxbar's cached
    kernels carry the physics files' hash in their source stamp."""
    from mtjxbar.crossbar.passive import survival as passive_survival
    from mtjxbar.training.fused import kernels

    for dispatcher in (kernels.sample_write, kernels.encode, passive_survival._kernel):
        locator = dispatcher._cache._impl.locator
        assert isinstance(locator, numba_cache.PhysicsAwareLocator)
        assert locator.get_source_stamp()[1] == numba_cache.PHYSICS_STAMP


def test_each_formula_is_written_once():
    """The precessional constant and the R_AP(V) law appear in physics.py only (everything else calls it)."""
    src = pathlib.Path(physics.__file__).parents[1]
    patterns = [r"pi\s*\*\*\s*2", r"tmr0\s*/\s*\(1", r"/\s*v_h\b", r"log1p\(-\w*\.?exp\(-", r"\(1\.0 \+ \w*tmr0"]
    offenders = []
    for path in src.rglob("*.py"):
        if path.name in ("physics.py", "ops.py") and path.parent.name == "device":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if any(re.search(p, line) for p in patterns) and "``" not in line and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(src)}:{lineno}: {line.strip()}")
    assert not offenders, "physics formula typed outside device/physics.py:\n" + "\n".join(offenders)
