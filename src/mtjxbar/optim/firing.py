"""The positions of a sample that fire (input and error both nonzero somewhere), gathered in one compiled pass.

A convolution's sample is hundreds of rank-1 requests, one per output position; only those whose input
patch and output error are both nonzero write anything (the periphery skips the rest). Finding and
gathering them with tensor operations costs several reductions and two index copies per layer and sample,
more than the writes of a small layer themselves; :func:`gather_firing` does it in one loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["gather_firing"]


@njit(cache=True)
def gather_firing(x, delta):
    """``(at, rows, cols)``: the indices (ascending) of the rows ``p`` of ``x`` (positions, in) and ``delta``
    (positions, out) where both have a nonzero entry, and those rows of each, in order."""
    positions = x.shape[0]
    at = np.empty(positions, np.int64)
    k = 0
    for p in range(positions):
        live = False
        for i in range(x.shape[1]):
            if x[p, i] != 0:
                live = True
                break
        if not live:
            continue
        for j in range(delta.shape[1]):
            if delta[p, j] != 0:
                at[k] = p
                k += 1
                break
    rows = np.empty((k, x.shape[1]), x.dtype)
    cols = np.empty((k, delta.shape[1]), delta.dtype)
    for n in range(k):
        rows[n] = x[at[n]]
        cols[n] = delta[at[n]]
    return at[:k], rows, cols
