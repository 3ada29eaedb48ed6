"""The uniform 1T1MTJ read as one compiled loop: the G_AP(v) table, the line sums and the state product.

A uniform array's read is ``out_j = sum_i v_i G_AP(v_i) + sum_i v_i (G_P - G_AP(v_i)) s_ij`` (``s`` 1.0
where the cell is parallel, G_AP from the array's interpolation table). As tensor operations
(:meth:`AccessReads._drive <.reads.AccessReads._drive>`) that is about ten small kernels per read, whose
launch costs dominate a batch-1 step. :func:`uniform_drive` computes it in one Numba loop: the same table,
the same interpolation, in float64, rounded once to the output's dtype (it differs from the float32 tensor
path by rounding only; tests hold the two within 1e-5). A batch of more than ``SMALL_BATCH`` vectors (an
evaluation), or a transposed read of a large array, takes :func:`drive_terms` and a BLAS product with the
states instead (:func:`use_blas`), which a scalar loop cannot match there. :func:`ap_current`, :func:`line_terms` and
:func:`sensed_currents` are its steps, for compiled callers that add their own periphery
(:mod:`mtjxbar.nn.read_kernel`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ap_current", "drive_terms", "line_terms", "sensed_currents", "uniform_drive", "use_blas"]

SMALL_BATCH = 16  # above: the loop computes only the voltage terms and BLAS takes the state product
LARGE_TRANSPOSED = 32768  # cells above which a transposed read's product goes to BLAS too (a loop of dot
# products, unlike the forward's row updates, does not vectorise)


def use_blas(batch: int, cells: int, transposed: bool) -> bool:
    """Whether a compiled read of ``batch`` vectors on an array of ``cells`` cells should leave the state
    product to BLAS (:func:`drive_terms`) rather than do it in the loop."""
    return batch > SMALL_BATCH or (transposed and cells > LARGE_TRANSPOSED)


@njit(cache=True)
def ap_current(v, span, scale, table, slope):
    """``v G_AP(v)`` (A) at one line voltage ``v`` (V, float64) from the G_AP table on ``[-span, span]``
    (``table``, ``slope``, ``scale`` points per volt) as
    :meth:`AccessReads._build_g_ap_table <.reads.AccessReads._build_g_ap_table>` builds it. ``|v| <= span``
    is the caller's guarantee (the table spans the largest voltage seen)."""
    if v == 0.0:  # an idle line carries no current (most of a digit's patches): no table lookup
        return 0.0
    pos = (v + span) * scale
    lo = min(max(int(pos), 0), table.shape[0] - 2)  # pos >= 0, so truncation is floor
    return v * (np.float64(table[lo]) + (pos - lo) * np.float64(slope[lo]))


@njit(cache=True)
def line_terms(v, g_p, span, scale, table, slope, extra):
    """``extra[i] <- v_i (G_P - G_AP(v_i))`` (float64) for one driven vector ``v`` (driven,) V; returns
    ``sum_i v_i G_AP(v_i)`` (A). ``g_p``: the P conductance (S); the table as :func:`ap_current`'s."""
    base = 0.0
    for i in range(v.shape[0]):
        vi = np.float64(v[i])
        i_ap = ap_current(vi, span, scale, table, slope)
        base += i_ap
        extra[i] = vi * g_p - i_ap
    return base


@njit(cache=True)
def sensed_currents(base, extra, states, transposed, acc):
    """``acc`` (sensed,) float64 <- ``base + sum_i extra_i s_ij``: the sensed-line currents from one vector's
    :func:`line_terms`; ``states`` (rows, cols), 1.0 where parallel; ``transposed``: columns driven."""
    if transposed:  # acc_r = base + sum_c extra_c s_rc: contiguous over c
        for r in range(acc.shape[0]):
            total = base
            for c in range(extra.shape[0]):
                total += extra[c] * states[r, c]
            acc[r] = total
        return
    acc[:] = base  # acc_c = base + sum_i extra_i s_ic: row by row, contiguous over c
    for i in range(extra.shape[0]):
        e = extra[i]
        if e != 0.0:
            for c in range(acc.shape[0]):
                acc[c] += e * states[i, c]


@njit(cache=True)
def uniform_drive(v, states, transposed, g_p, span, scale, table, slope, out):
    """Sensed-line currents ``out`` (batch, sensed) of a uniform array for driven-line voltages ``v``
    (batch, driven): :func:`line_terms` and :func:`sensed_currents` of each row."""
    batch, driven = v.shape
    sensed = out.shape[1]
    extra = np.empty(driven)
    acc = np.empty(sensed)
    for b in range(batch):
        base = line_terms(v[b], g_p, span, scale, table, slope, extra)
        sensed_currents(base, extra, states, transposed, acc)
        for c in range(sensed):
            out[b, c] = acc[c]


@njit(cache=True)
def drive_terms(v, g_p, span, scale, table, slope, extra, base):
    """:func:`line_terms` of every row of ``v`` (batch, driven): ``extra`` (batch, driven) and ``base``
    (batch, 1), so that the sensed currents are ``base + extra @ states`` (the caller's BLAS product)."""
    row = np.empty(v.shape[1])
    for b in range(v.shape[0]):
        base[b, 0] = line_terms(v[b], g_p, span, scale, table, slope, row)
        for i in range(v.shape[1]):
            extra[b, i] = row[i]
