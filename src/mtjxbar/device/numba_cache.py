"""Numba's on-disk cache, made aware that mtjxbar's compiled code calls :mod:`.physics`.

Numba keeps a compiled function (``cache=True``) until the *source file it is defined in* changes; a change
to a function it calls in another file goes unnoticed, and the stale machine code would keep running the
old formula. Every compiled loop of mtjxbar calls the formulas of :mod:`.physics` (written with
:mod:`.ops`), so this module puts a locator in front of Numba's own ones: for files of the mtjxbar package it
delegates everything to the locator Numba would have picked, except the source stamp, which also carries a
hash of ``physics.py`` and ``ops.py``. Edit a formula and every kernel that inlined it is recompiled.

Registered once, when :mod:`.ops` is imported (before any kernel module is compiled).
"""

from __future__ import annotations

import hashlib
import os

from numba.core.caching import CacheImpl, _CacheLocator

__all__ = ["PHYSICS_STAMP", "register"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = os.path.dirname(_HERE)


def _physics_stamp() -> str:
    digest = hashlib.sha256()
    for name in ("physics.py", "ops.py"):
        with open(os.path.join(_HERE, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


PHYSICS_STAMP = _physics_stamp()
"""sha256 of the formula files (``physics.py``, ``ops.py``) as imported."""


class PhysicsAwareLocator(_CacheLocator):
    """Numba's locator for a file of the mtjxbar package, with :data:`PHYSICS_STAMP` in its source stamp."""

    def __init__(self, inner: _CacheLocator) -> None:
        self._inner = inner

    def ensure_cache_path(self):
        return self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return (self._inner.get_source_stamp(), PHYSICS_STAMP)

    def get_disambiguator(self):
        return self._inner.get_disambiguator()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(_PACKAGE + os.sep):
            return None
        for other in CacheImpl._locator_classes:
            if other is cls:
                continue
            inner = other.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None


def register() -> None:
    """Put :class:`PhysicsAwareLocator` first in Numba's list (idempotent)."""
    if PhysicsAwareLocator not in CacheImpl._locator_classes:
        CacheImpl._locator_classes.insert(0, PhysicsAwareLocator)
