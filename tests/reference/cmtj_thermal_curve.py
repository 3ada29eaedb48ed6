"""Oracle for the thermally activated switching regime: a stochastic macrospin (sLLGS) simulated with cmtj.

Run as a script to regenerate the committed fixture ``cmtj_thermal_curve.json`` next to this file::

    .venv/bin/pip install cmtj
    .venv/bin/python tests/reference/cmtj_thermal_curve.py --trials 2000 --workers 2

The simulated system is one perpendicular free layer (uniaxial anisotropy along z, no demagnetising field:
``K`` is the effective anisotropy), at temperature T, driven by a spin-polarised current whose polarisation
is fixed along -z; it starts along +z and switching means m_z falls below ``THRESHOLD_MZ``. For this
axially symmetric geometry the damping-like torque acts on the polar angle exactly like an axial field
h = I/Ic0, so the barrier is E_b (1 - I/Ic0)^2 (n = 2) with

    Delta = K V / (k_B T),   Jc0 = alpha H_K e Ms d / (hbar eta),   Ic0 = Jc0 * area,

where H_K = 2K/Ms (A/m, Ms in tesla), d the thickness, and eta the spin efficiency of cmtj's Slonczewski
term, ``P lambda^2 / (lambda^2 + 1 + (lambda^2 - 1) m.p)``, which is P/2 for lambda = 1. Only the
prefactor of the dwell time is not in closed form (Brown 1963 gives it for high barriers).

For each current the script runs ``trials`` independent pulses of ``T_MAX`` (after ``EQUILIBRATION`` at
zero current, so each pulse starts from thermal equilibrium), records the first-passage times, and
stores: the number switched by each width in ``WIDTHS`` and the censored-exponential maximum-likelihood
dwell time ``tau = sum(min(t_i, T_MAX)) / n_switched``. The analysis helpers below are numpy-only and
are shared by the fast fixture test and the slow recompute test (tests/device/test_cmtj_oracle.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).with_name("cmtj_thermal_curve.json")

# Physical constants exactly as cmtj 1.15 uses them (cmtj.constants.PhysicalConstants).
K_B = 1.380649e-23
E_CHARGE = 1.60217662e-19
HBAR = 1.0545718176461565e-34
MU0 = 1.2566e-6
GYRO = 220880.0  # gamma * mu0, m/(A s)

LAYER = {
    "ms_tesla": 1.0,  # saturation magnetisation, T
    "thickness": 1e-9,  # m
    "alpha": 0.1,  # Gilbert damping
    "mu0_hk": 0.2,  # anisotropy field, T
    "delta": 20.0,  # target thermal stability; fixes the area
    "temperature": 300.0,  # K
    "polarisation": 1.0,
    "slonczewski_lambda": 1.0,  # eta = P/2, independent of the angle
}
H_FRACTIONS = (0.35, 0.40, 0.45, 0.50, 0.55, 0.60)  # I / Ic0: barrier Delta(1-h)^2 from 8.5 down to 3.2
WIDTHS = (10e-9, 30e-9, 100e-9)  # s
T_MAX = 100e-9  # s, longest pulse simulated
TIME_STEP = 5e-13  # s; halving it changes the dwell time by less than its statistical error
WRITE_EVERY = 1e-11  # s, first-passage time resolution
CHUNK = 5e-9  # s, simulate in chunks and stop a trial once it has switched
EQUILIBRATION = 2e-9  # s at zero current before the pulse
THRESHOLD_MZ = -0.5  # switched once m_z < this (well past the saddle at m_z = I/Ic0)


def layer_constants(layer: dict | None = None) -> dict[str, float]:
    """Anisotropy constant, volume, area and critical current/density of the simulated layer."""
    layer = dict(LAYER if layer is None else layer)
    hk = layer["mu0_hk"] / MU0  # A/m
    k_aniso = hk * layer["ms_tesla"] / 2.0  # J/m^3, since H_K = 2K/Ms with Ms in tesla
    volume = layer["delta"] * K_B * layer["temperature"] / k_aniso
    area = volume / layer["thickness"]
    lam2 = layer["slonczewski_lambda"] ** 2
    eta = layer["polarisation"] * lam2 / (lam2 + 1.0 + (lam2 - 1.0) * (-1.0))  # m.p = -1 at the start
    jc0 = layer["alpha"] * hk * E_CHARGE * layer["ms_tesla"] * layer["thickness"] / (HBAR * eta)
    return {"k_aniso": k_aniso, "volume": volume, "area": area, "hk": hk, "eta": eta, "jc0": jc0,
            "ic0": jc0 * area, "delta": k_aniso * volume / (K_B * layer["temperature"])}


def first_passage_time(h: float, seed: int, t_max: float = T_MAX, time_step: float = TIME_STEP,
                       temperature: float = LAYER["temperature"]) -> float:
    """Time (s) at which one trial at current h*Ic0 first has m_z < THRESHOLD_MZ; inf if never.

    ``temperature = 0`` gives the deterministic LLGS (started 0.05 rad off the axis, which is otherwise a
    fixed point), used to check the critical current.
    """
    import cmtj  # optional dependency, only needed to simulate

    c = layer_constants()
    zero = [cmtj.CVector(0.0, 0.0, 0.0)] * 3
    tilt = 0.0 if temperature > 0 else 0.05
    start = cmtj.CVector(math.sin(tilt), 0.0, math.cos(tilt))
    layer = cmtj.Layer.createSTTLayer(
        "free", start, cmtj.CVector(0.0, 0.0, 1.0), LAYER["ms_tesla"],
        LAYER["thickness"], c["area"], zero, damping=LAYER["alpha"],
        SlonczewskiSpacerLayerParameter=LAYER["slonczewski_lambda"], beta=0.0,
        spinPolarisation=LAYER["polarisation"],
    )
    layer.setReferenceLayer(cmtj.CVector(0.0, 0.0, -1.0))
    junction = cmtj.Junction([layer])
    junction.setLayerAnisotropyDriver("free", cmtj.constantDriver(c["k_aniso"]))
    if temperature > 0:
        junction.setLayerTemperatureDriver("free", cmtj.constantDriver(temperature))
        junction.setLayerSeed("free", seed)
        junction.setLayerCurrentDriver("free", cmtj.constantDriver(0.0))
        junction.runSimulation(EQUILIBRATION, time_step, WRITE_EVERY, solverMode=cmtj.SolverMode.Heun)
        junction.clearLog()
    junction.setLayerCurrentDriver("free", cmtj.constantDriver(h * c["jc0"]))
    elapsed = 0.0
    while elapsed < t_max - 1e-15:
        span = min(CHUNK, t_max - elapsed)
        junction.runSimulation(span, time_step, WRITE_EVERY, solverMode=cmtj.SolverMode.Heun)
        log = junction.getLog()
        mz = np.asarray(log["free_mz"])
        hit = np.nonzero(mz < THRESHOLD_MZ)[0]
        if hit.size:
            return elapsed + float(np.asarray(log["time"])[hit[0]])
        junction.clearLog()
        elapsed += span
    return math.inf


def _trials_at(args: tuple[float, int, int]) -> list[float]:
    h, trials, seed0 = args
    return [first_passage_time(h, seed0 + k) for k in range(trials)]


def simulate_curve(trials: int, workers: int = 1, seed: int = 12345,
                   h_fractions: tuple[float, ...] = H_FRACTIONS) -> dict:
    """Run the oracle: ``trials`` pulses at each current; return the JSON-ready curve."""
    import cmtj

    c = layer_constants()
    jobs = []
    per_job = max(1, math.ceil(trials / max(workers, 1)))
    for i, h in enumerate(h_fractions):
        for start in range(0, trials, per_job):
            jobs.append((h, min(per_job, trials - start), seed + 1_000_000 * i + start))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_trials_at, jobs))
    else:
        results = [_trials_at(job) for job in jobs]
    times: dict[float, list[float]] = {h: [] for h in h_fractions}
    for (h, _n, _s), res in zip(jobs, results, strict=True):
        times[h].extend(res)
    switched, exposure, n_switched = [], [], []
    for h in h_fractions:
        t = np.asarray(times[h])
        switched.append([int(np.sum(t <= w)) for w in WIDTHS])
        exposure.append(float(np.sum(np.minimum(t, T_MAX))))
        n_switched.append(int(np.sum(np.isfinite(t))))
    return {
        "generator": "tests/reference/cmtj_thermal_curve.py",
        "cmtj_version": getattr(cmtj, "__version__", "unknown"),
        "layer": LAYER,
        "derived": {k: c[k] for k in ("delta", "ic0", "jc0", "area", "volume", "k_aniso", "hk", "eta")},
        "n_exponent": 2.0,
        "time_step": TIME_STEP,
        "threshold_mz": THRESHOLD_MZ,
        "equilibration": EQUILIBRATION,
        "t_max": T_MAX,
        "trials": trials,
        "seed": seed,
        "widths": list(WIDTHS),
        "h_fractions": list(h_fractions),
        "currents": [h * c["ic0"] for h in h_fractions],
        "switched": switched,
        "n_switched": n_switched,
        "exposure": exposure,
        "dwell_time": [e / max(n, 1) for e, n in zip(exposure, n_switched, strict=True)],
    }


# ---------------------------------------------------------------- analysis (numpy only)


def dwell_times(curve: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currents (A), dwell-time MLEs (s) and their weights (number switched) of a curve."""
    currents = np.asarray(curve["currents"], dtype=np.float64)
    n_sw = np.asarray(curve["n_switched"], dtype=np.float64)
    tau = np.asarray(curve["exposure"], dtype=np.float64) / np.maximum(n_sw, 1.0)
    return currents, tau, n_sw


def _weighted_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    return float(np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2))


def log_tau_slopes(curve: dict, *, delta: float, ic0: float, n: float,
                   tau_factor: np.ndarray | None = None) -> tuple[float, float]:
    """Weighted least-squares slopes d ln(tau)/dI (1/A) of the simulated dwell times and of the model.

    The model's ln(tau) = ln(tau0) + Delta (1 - I/Ic0)^n is regressed on the same currents with the same
    weights, so the two slopes are directly comparable (tau0 drops out). ``tau_factor`` (one per current)
    multiplies the simulated dwell times first, e.g. to remove a known current-dependent prefactor.
    """
    currents, tau, w = dwell_times(curve)
    if tau_factor is not None:
        tau = tau * np.asarray(tau_factor, dtype=np.float64)
    sim = _weighted_slope(currents, np.log(tau), w)
    model = _weighted_slope(currents, delta * np.clip(1.0 - currents / ic0, 0.0, None) ** n, w)
    return sim, model


def fit_tau0_delta(curve: dict, index: list[int], *, ic0: float, n: float) -> tuple[float, float]:
    """Fit (tau0, Delta) of ln(tau) = ln(tau0) + Delta (1 - I/Ic0)^n to the dwell times at ``index``.

    ``Ic0`` and ``n`` stay at their physical values; the fit is linear in (ln tau0, Delta), solved by
    weighted least squares (weights: number switched, the inverse variance of ln(tau_hat)).
    """
    currents, tau, w = dwell_times(curve)
    x = np.clip(1.0 - currents[index] / ic0, 0.0, None) ** n
    y, w = np.log(tau[index]), w[index]
    delta = _weighted_slope(x, y, w)
    ln_tau0 = float(np.average(y - delta * x, weights=w))
    return math.exp(ln_tau0), delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="pulses per current")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args()
    curve = simulate_curve(args.trials, workers=args.workers, seed=args.seed)
    args.out.write_text(json.dumps(curve, indent=1) + "\n")
    d = curve["derived"]
    print(f"wrote {args.out}: Delta = {d['delta']:.3f}, Ic0 = {d['ic0'] * 1e6:.3f} uA")
    for h, s, tau in zip(curve["h_fractions"], curve["switched"], curve["dwell_time"], strict=True):
        print(f"  I/Ic0 = {h:.2f}: switched {s} of {curve['trials']} by {WIDTHS}; tau = {tau * 1e9:.4g} ns")


if __name__ == "__main__":
    main()
