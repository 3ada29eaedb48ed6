"""The current scheme's encoder as one compiled loop over many requests (the thermal closed form).

:func:`encode_thermal` is :meth:`~.encoder.PulseEncoder.encode_stream` for float32 requests to an encoder
whose currents all stay at or below Ic0 (``PulseEncoder.thermal_only``), as one Numba loop over the requests
instead of ~35 tensor operations per batch. It runs the float operations torch runs: row widths
``|r| * (1 / max|r| * pulse_width)`` and the request ``|c| * (max|r| / swing)`` in float32 (bit for bit),
then per polarity the current of :func:`mtjxbar.device.physics.thermal_current_for_hazard` (the formula the
tensor path calls, by name) in float64, clipped to the drive limits and counted, rounded to float32. Its
float64 logarithms and powers are libm's where torch may use its own vector versions, so a current can
differ from the tensor path's in the last bit (``tests/crossbar/test_stream_write.py`` holds them to 1e-6).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..device import physics

__all__ = ["encode_thermal"]


@njit(cache=True)
def encode_thermal(r, c, pulse_width, swing, p_max, p_min, floor, ic0, log_reach, delta, n, limits, widths,
                   row_sign, col_sign, currents):
    """Plans of ``dW_p = outer(r[p], c[p])`` (float32; ``c`` per physical column, column sign applied) into
    ``widths``, ``row_sign`` (plans, rows), ``col_sign`` (plans, cols) and ``currents`` (plans, 2, cols)
    [TO_P, TO_AP], float32; returns the number of currents clipped to ``limits`` (2,). ``ic0``, ``log_reach``
    (2,): per polarity; ``floor``: the precessional log floor; ``p_min``: at least 1e-300."""
    one, tiny, width = np.float32(1.0), np.float32(1.1754944e-38), np.float32(pulse_width)
    clipped = 0
    for p in range(r.shape[0]):
        r_max = np.float32(0.0)
        for i in range(r.shape[1]):
            r_max = max(r_max, abs(r[p, i]))
        if not r_max > 0:  # nothing to write: the empty plan
            widths[p] = 0
            row_sign[p] = 0
            col_sign[p] = 0
            currents[p] = 0
            continue
        scale = one / max(r_max, tiny) * width  # torch: pulse_width / t is t.reciprocal() * pulse_width
        for i in range(r.shape[1]):
            widths[p, i] = abs(r[p, i]) * scale
            row_sign[p, i] = np.sign(r[p, i])
        q_scale = np.float32(np.float64(r_max) / swing)
        for j in range(c.shape[1]):
            col_sign[p, j] = np.sign(c[p, j])
            q = min(np.float64(abs(c[p, j]) * q_scale), p_max)
            needed = -math.log1p(-q) + floor
            for pol in range(2):
                current = 0.0
                if q >= p_min and needed > 0.0:
                    current = physics.thermal_current_for_hazard(math.log(needed), log_reach[pol], ic0[pol], delta, n)
                if current > limits[pol]:
                    current = limits[pol]
                    clipped += 1
                currents[p, pol, j] = current
    return clipped
