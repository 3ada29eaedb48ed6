"""A layer's read between ideal converters as one compiled loop: DAC, array, reference column, output scale.

:meth:`MTJLinear.read <.linear.MTJLinear.read>` and :meth:`~.linear.MTJLinear.backward` are a chain of
small tensor operations around the array's read (the DAC's scale and clip, the array, the reference
column's current, the ADC, the output scale; for the transposed read also the per-sample error scale).
At batch 1 their launch costs exceed the arithmetic. Where the converters are ideal (no DAC or ADC bits),
the synapse is one MTJ against the reference column and the array offers a compiled read
(:meth:`Crossbar.compiled_read <mtjxbar.crossbar.access.Crossbar.compiled_read>`: uniform, CPU, no event
sink), :func:`ideal_periphery_read` computes the same numbers in one loop (float64 inside; the tensor
path's up to rounding, which tests hold within 1e-5).

A convolution's forward read drives every patch of the image through the same DAC and table, so the
voltage terms are functions of single pixels: :func:`ideal_conv_read` computes them once per pixel
(:func:`ideal_pixel_terms`; 25 times fewer table lookups than per patch entry for a 5x5 kernel) and sums
them over each output position's patch with the states, skipping idle pixels (most of a digit). It is
the read of each position's im2col row, the same numbers up to rounding. Its backward,
:func:`ideal_conv_transposed`, is each position's transposed read added back onto the pixels of its patch
(what ``F.fold`` of the per-position reads gives) in the same loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..crossbar.access.read_kernel import ap_current, line_terms, sensed_currents

__all__ = ["dac_row", "ideal_conv_read", "ideal_conv_transposed", "ideal_periphery_read", "ideal_periphery_terms",
           "ideal_pixel_terms"]


@njit(cache=True)
def dac_row(x, normalize, tiny, in_gain, v_clip, v):
    """The DAC of one input vector ``x`` into ``v`` (float64, volts): scaled by ``1 / max(max |x|, tiny)``
    first where ``normalize`` (the transposed read's error scale), times ``in_gain``, clipped to
    ``+-v_clip``. Returns ``(scale, sum(v))``: the scale to undo after the read (1 without ``normalize``)
    and the reference column's drive."""
    s = 1.0
    if normalize:
        s = 0.0
        for i in range(x.shape[0]):
            s = max(s, abs(np.float64(x[i])))
        s = max(s, tiny)
    gain = in_gain / s
    sum_v = 0.0
    for i in range(x.shape[0]):
        vi = min(max(np.float64(x[i]) * gain, -v_clip), v_clip)
        v[i] = vi
        sum_v += vi
    return s, sum_v


@njit(cache=True)
def _any_nonzero(x):
    """Whether any entry of ``x`` is nonzero (a loop with an early exit: ``np.any(x != 0)`` allocates a
    temporary array, once per output position in :func:`ideal_conv_transposed`)."""
    for i in range(x.shape[0]):
        if x[i] != 0.0:
            return True
    return False


@njit(cache=True)
def ideal_periphery_read(x, normalize, tiny, in_gain, v_clip, ref_g, out_gain, states, transposed, g_p, span, scale,
                         table, slope, out):
    """``out`` (batch, sensed) <- the layer outputs of inputs ``x`` (batch, driven): each row scaled by
    ``1 / max(max |x_b|, tiny)`` first where ``normalize`` (the transposed read's error scale, undone at the
    end), times ``in_gain`` and clipped to ``+-v_clip`` (the DAC, volts), driven through the array
    (``states`` (rows, cols) 1.0 where parallel, ``transposed``: columns driven; the G_AP table as
    :func:`~mtjxbar.crossbar.access.read_kernel.ap_current`'s), minus the reference column's ``ref_g *
    sum(v)``, times ``out_gain`` (the ideal ADC's digital scale)."""
    batch, driven = x.shape
    sensed = out.shape[1]
    v = np.empty(driven)
    extra = np.empty(driven)
    acc = np.empty(sensed)
    for b in range(batch):
        s, sum_v = dac_row(x[b], normalize, tiny, in_gain, v_clip, v)
        base = line_terms(v, g_p, span, scale, table, slope, extra)
        sensed_currents(base - ref_g * sum_v, extra, states, transposed, acc)
        for c in range(sensed):
            out[b, c] = acc[c] * (out_gain * s)


@njit(cache=True)
def ideal_periphery_terms(x, normalize, tiny, in_gain, v_clip, ref_g, out_gain, g_p, span, scale, table, slope,
                          extra, base):
    """:func:`ideal_periphery_read` but for the state product: ``extra`` (batch, driven) and ``base``
    (batch, 1) with the outputs ``base + extra @ states`` (states as driven x sensed; the caller's BLAS
    product), the per-sample scale, the reference and ``out_gain`` folded in."""
    batch, driven = x.shape
    v = np.empty(driven)
    row = np.empty(driven)
    for b in range(batch):
        s, sum_v = dac_row(x[b], normalize, tiny, in_gain, v_clip, v)
        k = out_gain * s
        base[b, 0] = (line_terms(v, g_p, span, scale, table, slope, row) - ref_g * sum_v) * k
        for i in range(driven):
            extra[b, i] = row[i] * k


@njit(cache=True)
def ideal_pixel_terms(x, in_gain, v_clip, ref_g, out_gain, g_p, span, scale, table, slope, extra, own):
    """Per input value ``x_p`` (any shape, flattened): ``v = clip(x_p in_gain, +-v_clip)`` (the DAC),
    ``extra_p <- v (G_P - G_AP(v)) out_gain`` (what the value adds through a P instead of an AP cell) and
    ``own_p <- (v G_AP(v) - ref_g v) out_gain`` (its current through an AP cell less the reference
    column's). A read driving values ``p`` is then ``sum_p own_p + sum_p extra_p s_pj``, exactly as
    :func:`ideal_periphery_read` without ``normalize``."""
    flat, e, o = x.ravel(), extra.ravel(), own.ravel()
    for p in range(flat.shape[0]):
        v = min(max(np.float64(flat[p]) * in_gain, -v_clip), v_clip)
        i_ap = ap_current(v, span, scale, table, slope)
        e[p] = (v * g_p - i_ap) * out_gain
        o[p] = (i_ap - ref_g * v) * out_gain


@njit(cache=True)
def ideal_conv_read(x, in_gain, v_clip, ref_g, out_gain, g_p, span, scale, table, slope, states, kh, kw, sy, sx, py,
                    px, dy, dx, out):
    """``out`` (N, out_channels, H', W') <- the forward read of images ``x`` (N, C, H, W): every output
    position's patch (kernel ``kh x kw``, stride ``sy, sx``, zero padding ``py, px``, dilation ``dy, dx``)
    driven through the array as :func:`ideal_periphery_read` without ``normalize`` would drive its im2col
    row (row index ``c * kh * kw + ky * kw + kx`` of ``states``, F.unfold's order). Each driven pixel adds
    its terms to the positions whose patch holds it (idle pixels add nothing and are skipped)."""
    n_img, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    extra = np.empty(x.shape)
    own = np.empty(x.shape)
    ideal_pixel_terms(x, in_gain, v_clip, ref_g, out_gain, g_p, span, scale, table, slope, extra, own)
    sensed = out.shape[1]
    acc = np.zeros((out_h, out_w, sensed))  # one image's outputs, channels innermost (the states' rows)
    base = np.zeros((out_h, out_w))
    for n in range(n_img):
        acc[:] = 0.0
        base[:] = 0.0
        for c in range(channels):
            for iy in range(height):
                for ix in range(width):
                    e, mine = extra[n, c, iy, ix], own[n, c, iy, ix]
                    if e == 0.0 and mine == 0.0:
                        continue
                    for ky in range(kh):
                        oy = iy + py - ky * dy  # = oy * sy for the position whose patch row ky is iy
                        if sy != 1:
                            if oy < 0 or oy % sy != 0:
                                continue
                            oy //= sy
                        if oy < 0 or oy >= out_h:
                            continue
                        for kx in range(kw):
                            ox = ix + px - kx * dx
                            if sx != 1:
                                if ox < 0 or ox % sx != 0:
                                    continue
                                ox //= sx
                            if ox < 0 or ox >= out_w:
                                continue
                            base[oy, ox] += mine
                            row = (c * kh + ky) * kw + kx
                            for o in range(sensed):
                                acc[oy, ox, o] += e * states[row, o]
        for o in range(sensed):
            for oy in range(out_h):
                for ox in range(out_w):
                    out[n, o, oy, ox] = base[oy, ox] + acc[oy, ox, o]


@njit(cache=True)
def ideal_conv_transposed(delta, tiny, in_gain, v_clip, ref_g, out_gain, g_p, span, scale, table, slope, states, kh,
                          kw, sy, sx, py, px, dy, dx, out):
    """``out`` (N, C, H, W) <- the input errors of a convolution's output errors ``delta`` (N, out_channels,
    H', W'): every position's errors through :func:`ideal_periphery_read`'s transposed read (``normalize``:
    scaled to the DAC range per position; ``states`` (C * kh * kw, out_channels)), each row's result added
    onto the pixel its patch row reads (geometry as :func:`ideal_conv_read`'s). A position with no error
    adds nothing and is skipped."""
    n_img, sensed, out_h, out_w = delta.shape
    channels, height, width = out.shape[1], out.shape[2], out.shape[3]
    v = np.empty(sensed)
    extra = np.empty(sensed)
    acc = np.empty(states.shape[0])
    image = np.zeros((channels, height, width))
    for n in range(n_img):
        image[:] = 0.0
        for oy in range(out_h):
            for ox in range(out_w):
                errors = delta[n, :, oy, ox]
                if not _any_nonzero(errors):
                    continue
                s, sum_v = dac_row(errors, True, tiny, in_gain, v_clip, v)
                base = line_terms(v, g_p, span, scale, table, slope, extra)
                sensed_currents(base - ref_g * sum_v, extra, states, True, acc)
                k = out_gain * s
                for c in range(channels):
                    for ky in range(kh):
                        iy = oy * sy - py + ky * dy
                        if iy < 0 or iy >= height:
                            continue
                        for kx in range(kw):
                            ix = ox * sx - px + kx * dx
                            if 0 <= ix < width:
                                image[c, iy, ix] += acc[(c * kh + ky) * kw + kx] * k
        for c in range(channels):
            for iy in range(height):
                for ix in range(width):
                    out[n, c, iy, ix] = image[c, iy, ix]
