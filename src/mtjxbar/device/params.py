"""Device parameters of a perpendicular STT-MTJ (frozen, validated; SI units).

Defaults describe a 40 nm perpendicular CoFeB/MgO junction. Sources:

- ``delta`` = 40, ``ic0`` around 49 uA and TMR above 120 %: Ikeda et al., "A perpendicular-anisotropy
  CoFeB-MgO magnetic tunnel junction", Nature Materials 9, 721 (2010) (40 nm diameter: TMR 124 %,
  Ic0 = 49 uA, Delta = 40).
- P->AP needs more current than AP->P (spin-torque efficiency asymmetry of MgO junctions, ratio
  about 1.2-1.5): ``ic0_p2ap`` = 60 uA, ``ic0_ap2p`` = 45 uA, averaging near Ikeda's 49 uA.
- ``r_p`` = 5 kOhm: resistance-area product of about 6 Ohm um^2 over a 40 nm disc (1.26e-3 um^2),
  typical of STT-MRAM stacks.
- ``v_h`` = 0.5 V: bias at which the TMR of MgO junctions halves (0.4-0.6 V is typical).
- ``tau0`` = 1 ns: thermal attempt time (Koch, Katine & Sun, PRL 92, 088302 (2004)).
- ``n_exponent`` = 2: barrier exponent of a uniaxial (perpendicular) macrospin.
- ``tau_d`` = 1 ns: precessional time constant of the Sun model, (1 + alpha^2)/(alpha gamma mu0 Hk_eff)
  for alpha = 0.01 and mu0 Hk_eff = 0.5 T (J. Z. Sun, PRB 62, 570 (2000)).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import param, validate
from . import physics

__all__ = ["MTJParams", "DIRECTIONS"]

DIRECTIONS = ("p2ap", "ap2p")


@dataclass(frozen=True)
class MTJParams:
    """Physical parameters of one MTJ (nominal values; spreads are sampled elsewhere)."""

    r_p: float = param(5.0e3, "ohm", "resistance of the parallel (low) state", lo=0.0, lo_open=True)
    tmr0: float = param(1.24, "1", "tunnel magnetoresistance ratio at zero bias, (R_AP - R_P)/R_P",
                        lo=0.0, lo_open=True, hi=10.0)
    v_h: float = param(0.5, "V", "bias at which the TMR falls to half its zero-bias value",
                       lo=0.0, lo_open=True)
    delta: float = param(40.0, "1", "thermal stability factor E_b/(k_B T)", lo=1.0, hi=200.0)
    ic0_p2ap: float = param(60e-6, "A", "critical current of P->AP switching", lo=0.0, lo_open=True)
    ic0_ap2p: float = param(45e-6, "A", "critical current of AP->P switching", lo=0.0, lo_open=True)
    tau0_p2ap: float = param(1e-9, "s", "attempt time of thermally activated P->AP switching",
                             lo=0.0, lo_open=True)
    tau0_ap2p: float = param(1e-9, "s", "attempt time of thermally activated AP->P switching",
                             lo=0.0, lo_open=True)
    n_exponent: float = param(2.0, "1", "exponent n of the barrier (1 - I/Ic0)^n", lo=1.0, hi=3.0)
    tau_d: float = param(1e-9, "s", "precessional (Sun model) time constant", lo=0.0, lo_open=True)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def r_ap(self) -> float:
        """Zero-bias antiparallel resistance, ohm."""
        return physics.ap_resistance_zero_bias(self.r_p, self.tmr0)

    def switching(self, direction: str) -> dict[str, float]:
        """The keyword arguments of :func:`switching_probability` for ``direction`` ('p2ap' or 'ap2p')."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction = {direction!r}: must be one of {DIRECTIONS}")
        suffix = direction
        return {
            "ic0": getattr(self, f"ic0_{suffix}"),
            "tau0": getattr(self, f"tau0_{suffix}"),
            "delta": self.delta,
            "n": self.n_exponent,
            "tau_d": self.tau_d,
        }
