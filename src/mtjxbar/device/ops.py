"""The few elementwise operations the physics formulas need, for every kind of number they meet.

:mod:`.physics` writes each formula once with these names. Called from Python, each dispatches on its
argument: a torch tensor gets the torch function (any dtype or device), a Python float the ``math``
function, anything else (a numpy array or scalar) the numpy ufunc. Called from Numba-compiled code, each is
an ``overload`` that compiles to the numpy ufunc (``math``'s speed on scalars), inlined, so the compiled
kernels run the very same formula text as the tensor code. Importing this module also registers
:mod:`.numba_cache`, so that cached kernels are recompiled when a formula changes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba.extending import overload

from . import numba_cache

__all__ = ["exp", "expm1", "log", "log1p", "log1mexp", "power", "clamp_min", "clamp"]


def exp(x):
    if isinstance(x, torch.Tensor):
        return torch.exp(x)
    return math.exp(x) if isinstance(x, float) else np.exp(x)


def expm1(x):
    if isinstance(x, torch.Tensor):
        return torch.expm1(x)
    return math.expm1(x) if isinstance(x, float) else np.expm1(x)


def log(x):
    if isinstance(x, torch.Tensor):
        return torch.log(x)
    return math.log(x) if isinstance(x, float) else np.log(x)


def log1p(x):
    if isinstance(x, torch.Tensor):
        return torch.log1p(x)
    return math.log1p(x) if isinstance(x, float) else np.log1p(x)


_LN2 = math.log(2.0)


def log1mexp(a):
    """``log(1 - exp(-a))`` for ``a >= 0``, accurate for every ``a`` (Maechler 2012: ``log(-expm1(-a))`` up
    to ln 2, ``log1p(-exp(-a))`` above; either alone loses digits at one end)."""
    if isinstance(a, torch.Tensor):
        return torch.where(a <= _LN2, torch.log(-torch.expm1(-a)), torch.log1p(-torch.exp(-a)))
    if isinstance(a, float):
        return math.log(-math.expm1(-a)) if a <= _LN2 else math.log1p(-math.exp(-a))
    with np.errstate(divide="ignore"):
        return np.where(a <= _LN2, np.log(-np.expm1(-a)), np.log1p(-np.exp(-a)))


def power(x, p):
    """``x ** p`` for a number ``p``, as a product for ``p = 2`` and a square root for ``p = 1/2`` (the
    exponent of the usual macrospin and its inverse: exact, and many times faster than ``pow``)."""
    if p == 2.0:
        return x * x
    if p == 0.5:
        if isinstance(x, torch.Tensor):
            return torch.sqrt(x)
        return math.sqrt(x) if isinstance(x, float) else np.sqrt(x)
    return x**p


def clamp_min(x, lo: float):
    """``max(x, lo)`` elementwise (``lo`` a number)."""
    if isinstance(x, torch.Tensor):
        return torch.clamp(x, min=lo)
    return max(x, lo) if isinstance(x, float) else np.maximum(x, lo)


def clamp(x, lo, hi):
    """``min(max(x, lo), hi)`` elementwise (``lo`` and ``hi`` of x's kind or numbers)."""
    if isinstance(x, torch.Tensor):
        return torch.minimum(torch.maximum(x, torch.as_tensor(lo, dtype=x.dtype, device=x.device)),
                             torch.as_tensor(hi, dtype=x.dtype, device=x.device))
    return min(max(x, lo), hi) if isinstance(x, float) else np.minimum(np.maximum(x, lo), hi)


# ------------------------------------------------------------------------------------ Numba versions
numba_cache.register()


@overload(exp, inline="always")
def _exp(x):
    return lambda x: np.exp(x)


@overload(expm1, inline="always")
def _expm1(x):
    return lambda x: np.expm1(x)


@overload(log, inline="always")
def _log(x):
    return lambda x: np.log(x)


@overload(log1p, inline="always")
def _log1p(x):
    return lambda x: np.log1p(x)


@overload(log1mexp, inline="always")
def _log1mexp(a):
    def impl(a):
        if a <= _LN2:
            return np.log(-np.expm1(-a))
        return np.log1p(-np.exp(-a))
    return impl


@overload(power, inline="always")
def _power(x, p):
    def impl(x, p):
        if p == 2.0:
            return x * x
        if p == 0.5:
            return np.sqrt(x)
        return x**p
    return impl


@overload(clamp_min, inline="always")
def _clamp_min(x, lo):
    return lambda x, lo: np.maximum(x, lo)


@overload(clamp, inline="always")
def _clamp(x, lo, hi):
    return lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi)
