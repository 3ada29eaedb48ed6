"""Configuration of an array (physical) and of its bias solver (numerical), kept apart."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import param, validate

__all__ = ["ArrayConfig", "BiasSolverConfig"]


@dataclass(frozen=True)
class ArrayConfig:
    """Physical description of a crossbar array of MTJ cells."""

    kind: str = param("1t1mtj", "", "array kind: one access transistor in series with each MTJ",
                      choices=("1t1mtj",))
    r_access: float = param(2.0e3, "ohm", "on-resistance of the access transistor in series with each MTJ "
                            "(a minimum-size NMOS in the triode region: 1-3 kOhm is typical)", lo=0.0)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class BiasSolverConfig:
    """Numerical settings of the self-consistent junction-voltage solve (bias-dependent TMR)."""

    tolerance: float = param(1e-9, "V", "stop when the junction voltage changes less than this", lo=0.0,
                             lo_open=True)
    max_iterations: int = param(30, "1", "fixed-point iterations at most", lo=1, hi=1000)

    def __post_init__(self) -> None:
        validate(self)
