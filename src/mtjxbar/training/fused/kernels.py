"""The per-sample in-situ step as compiled loops (Numba): reads, periphery, error, encoder, exact writes.

Each function here is the scalar-loop twin of a reference implementation in the layers below, for the cases
the fused loop supports (ideal-wire 1T1MTJ arrays, an ideal ADC; the current scheme's thermal closed form on
uniform arrays, the coincidence scheme also with per-cell parameters; stuck cells): tests compare them
number for number, and the write samplers and the whole step in distribution, with those references
(``tests/training/test_fused.py``). The device formulas are not copied here: the loops call
:mod:`mtjxbar.device.physics`, the same functions the tensor code runs.

* :func:`layer_forward` = ``MTJLinear.forward`` (DAC, table of G_AP(v), ``base + extra @ states``, mapping,
  reference column, output scale);
* :func:`layer_backward` = ``MTJLinear.backward`` (error drive, transposed read, ``combine_transposed``);
* :func:`output_error` = ``architecture.class_scores`` / ``output_error`` / ``margin_met``;
* :func:`encode` = ``PulseEncoder.encode`` (row widths and signs, column currents per polarity by the
  thermal inverse) plus ``OuterPlan.phase_count``;
* :func:`sample_write` = ``Crossbar.write`` of an ``OuterPlan``: the exact sparse Poisson-event sampler of
  :mod:`mtjxbar.crossbar.sampling`, falling back to one draw per reached cell where it expects too many
  events (the same rule as ``SparseWrites._write_outer``);
* :func:`counter_forward` / :func:`counter_backward` = the bit tiles' reads of ``TransferLinear.forward`` /
  ``backward`` weighted by ``2^m / L``, as one read (of ``u`` on uniform tiles, of the combined per-cell
  Chebyshev matrices ``sum_m 2^m M_k,m`` with spread); :func:`transfer_after` =
  ``TransferLinear.transfer_after`` (threshold column reads, each cell's own with spread: a cell can misread;
  carry, write-verify, buffer reset; each cell's own carry-pulse probability) (``test_fused_transfer.py``);
* :func:`train_chunk`: a chunk of per-sample steps in the order of ``training.insitu.train_step``
  (forward, error, backward, then each layer's write, then the transfers).

Random numbers: explicit stream state (a ``uint64`` array of 4), never global. Each sample's write of each
layer seeds its own stream from one 63-bit draw of that layer's ``torch.Generator``, so a run is
reproducible from the experiment seed, and cutting an epoch into chunks (or resuming it from a checkpoint)
does not change any sample's randomness. :func:`uniform`: xoshiro256** (Blackman & Vigna), 53-bit doubles;
:func:`poisson`: exact, inversion below ``lam = 10``, above it Hormann's transformed rejection with squeeze
(PTRS, 1993; the algorithm NumPy uses); :func:`categorical`: an index with probability proportional to
its weight, from cumulative sums, never one of weight 0.

The fused loop's compiled code lives in this one file on purpose: Numba's on-disk cache (``cache=True``)
recompiles a function when its own file changes, not when a function it calls in another file does; the
one exception, :mod:`mtjxbar.device.physics`, is covered by :mod:`mtjxbar.device.numba_cache` (a change to
a formula recompiles every cached kernel).

Per-layer scalars travel in one float64 row per layer (``LP_*`` columns), the encoder's and device's in
one float64 vector (``EP_*``): see :mod:`.loop` for how they are filled from the layer objects.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, uint64

from ...device import physics

# per-layer parameters (one float64 row per layer)
LP_OUT_SCALE = 0  # gain / (v_read k g_unit): column current -> layer output
LP_G_P = 1  # conductance of a P cell with its transistor (S)
LP_G_REF_K = 2  # k * g_ref of the reference column (0 for differential pairs)
LP_PER_OUTPUT = 3  # physical columns per logical output
LP_SPAN = 4  # G_AP table: +-span (V)
LP_TABLE_SCALE = 5  # G_AP table: points per volt
LP_ERR_SCALE = 6  # gain / (v_read k g_unit input_range): transposed row current -> input error
LP_LR_FACTOR = 7  # col factor per unit lr: -layer_lr_scale * gain / input_range
LP_SWING = 8  # SynapseMapping.full_swing
LP_CHEB_DEGREE = 9  # per-cell reads: degree of the Chebyshev fit of G_AP(v); -1: the uniform array's table
LP_CHEB_SPAN = 10  # per-cell reads: the fit covers |v| <= span (V)
# transfer layers (buffer + counter, nn/transfer_linear.py); LP_T_BITS = 0: a plain layer
LP_T_BITS = 11  # counter bit tiles
LP_T_LEVELS = 12  # L = 2^bits - 1
LP_T_SWEEP = 13  # samples per sweep V
LP_T_STEP = 14  # counter steps per transfer
LP_T_THRESHOLD = 15  # |buffer value| that transfers
LP_T_BUFFER_WEIGHT = 16  # gamma * step * LSB: the buffer's weight in reads
LP_T_K = 17  # buffer MTJs per synapse (1: against the alternating column reference)
LP_T_VERIFY = 18  # verify rounds
LP_T_P_TO_P = 19  # switching probability of a carry / reset pulse towards P (uniform array)
LP_T_P_TO_AP = 20  # ... towards AP
LP_T_OUT_SCALE = 21  # a bit tile's LP_OUT_SCALE
LP_T_ERR_SCALE = 22  # a bit tile's LP_ERR_SCALE
LP_T_G_REF = 23  # a bit tile's reference conductance (one MTJ per weight)
LP_T_GAIN = 24  # the layer's gain (a one-MTJ buffer's reference term)
LP_T_CHEB_DEGREE = 25  # per-cell counter: degree of the tiles' common Chebyshev fit; -1: the uniform read of u
LP_T_CHEB_SPAN = 26  # per-cell counter: the fit covers |v| <= span (V)
LP_T_CURRENT = 27  # 27, 28: the carry / reset pulse current (A) towards P, towards AP (the cost meter's)
LP_T_WIDTH = 29  # the carry / reset pulse width (s)
LP_T_COLUMN_READ = 30  # the cost meter's time (s) of a column read: DAC, settling, read pulse, one-bit decisions
LP_COUNT = 31

# encoder, converter and device parameters (one float64 vector)
EP_V_READ = 0
EP_INPUT_RANGE = 1
EP_DAC_LEVELS = 2  # 2^(bits-1) - 1, or 0 for an ideal DAC
EP_PULSE_WIDTH = 3
EP_P_MAX = 4
EP_P_MIN = 5  # max(p_min, 1e-300)
EP_IC0 = 6  # 6, 7: Ic0 of TO_P (AP->P), TO_AP (P->AP)
EP_TAU0 = 8  # 8, 9
EP_LOG_REACH = 10  # 10, 11: log(pulse_width / tau0)
EP_DELTA = 12
EP_N = 13
EP_FLOOR = 14  # physics.precessional_log_floor(Delta) (<= 0)
EP_SPARSE_LIMIT = 15  # the sparse sampler runs up to this many expected events per cell
EP_COINCIDENCE = 16  # 1: the coincidence scheme (periphery/coincidence.py), 0: the current scheme
EP_SLOTS = 17  # coincidence slots per update
EP_P0 = 18  # 18, 19: probability that one coincidence pulse switches a nominal cell, TO_P / TO_AP
EP_R_P = 20  # nominal R_P (ohm), TMR0, V_h (V): a write phase's cell resistances for the cost meter
EP_TMR0 = 21
EP_V_H = 22
EP_R_ACCESS = 23  # access transistor on-resistance (ohm)
EP_PULSE_CURRENT = 24  # 24, 25: the coincidence scheme's pulse currents (A), TO_P / TO_AP
EP_SLOT_WIDTH = 26  # the coincidence scheme's gate pulse (s)
# the cost meter's times (s) for the latencies of transfers (filled by a metered run; CostConfig)
EP_C_OP = 27  # a digital operation
EP_C_DAC = 28  # DAC settling
EP_C_SETTLE = 29  # line settling
EP_I_MAX = 30  # 30, 31: the largest column current (A) a write can drive, TO_P / TO_AP (inf: no limit)
EP_RT_POINTS = 32  # R_AP(I) table (ap_resistance): its points (0: none), stored from EP_COUNT on
EP_RT_SCALE = 33  # points per ampere
EP_COUNT = 34

# what the cost meter needs of one sample's work on one layer (``out_meter[s, layer]``; summed over the
# sample's reads and phases; hardware.CostMeter.add_fused turns them into joules and seconds):
# the forward read's sum v_i^2 and sum v_i I_i (I_i: the current driver i sources), the same of the
# transposed read (and whether it ran), whether the layer was written (its encoding), then over the write
# phases that reach a cell: their number, gated rows, driven columns, longest and summed row pulses,
# sum_k t_k sum_j I_j^2 R_kj, sum_j I_j^2 (mean_k R_kj)^2 and sum_j I_j^2 sum_k R_kj^2 (k: gated rows, j:
# driven columns, R_kj the cell's resistance with its transistor in the state before the write)
# A transfer layer (buffer + bit tiles): the fields above are its buffer's; its tiles' reads add up in
# M_TILE_* (sum over tiles of sum v I; the transposed reads' number and sum v^2 per tile), and its column
# transfers in M_T_*: the column reads' sum v I (initial and verify), the write phases, their gated cells
# summed over phases apart for the buffer and the tiles (word lines), sum I^2 R t over the gated cells,
# sum (I R)^2 per phase and sum n (I R)^2, and the transfers' latencies (s) under the two schedules (steps:
# every array at once, the slowest counts; one array's lines one after the other; columns in sequence).
M_FWD_V2, M_FWD_CELLS, M_BWD_READS, M_BWD_V2, M_BWD_CELLS, M_WRITES, M_PHASES, M_ROWS, M_COLS, M_WIDTH_MAX, \
    M_WIDTH_SUM, M_CELLS, M_BIT_MEAN, M_BIT_ROWS, M_TILE_FWD_CELLS, M_TILE_BWD_READS, M_TILE_BWD_V2, \
    M_TILE_BWD_CELLS, M_T_READ_CELLS, M_T_PHASES, M_T_WORD_BUFFER, M_T_WORD_TILES, M_T_CELLS, M_T_BIT_MEAN, \
    M_T_BIT_ROWS, M_T_LATENCY_PARALLEL, M_T_LATENCY_ROWWISE = range(27)
M_COUNT = 27
METER_FIELDS = ("fwd_v2", "fwd_cells", "bwd_reads", "bwd_v2", "bwd_cells", "writes", "phases", "rows", "cols",
                "width_max", "width_sum", "cells", "bit_mean", "bit_rows", "tile_fwd_cells", "tile_bwd_reads",
                "tile_bwd_v2", "tile_bwd_cells", "t_read_cells", "t_phases", "t_word_buffer", "t_word_tiles",
                "t_cells", "t_bit_mean", "t_bit_rows", "t_latency_parallel", "t_latency_rowwise")

# the arrays of one layer (a tuple of these, one per layer, goes to train_chunk):
# states (rows, cols) float32 0/1; parallel (rows, cols) bool; frozen (rows, cols) bool (stuck cells);
# table, slope (T,) float32: G_AP(v) of the uniform array; sign (cols,) float32: column signs;
# cheb (degree + 1, rows, cols) float32: per-cell read matrices, cheb_p / cheb_ap (degree + 1, cells)
# their P / AP columns (refreshed on flips); p0 (2, rows, cols) float64: each cell's switching probability
# for one coincidence pulse [TO_P, TO_AP]; p_rows (rows,) and p_cols (cols,) int64: P cells per row and per
# column (kept in step on every flip: the cost meter's read energies). Arrays a layer does not use are empty
# placeholders.
LayerArrays = namedtuple("LayerArrays", "states parallel frozen table slope sign cheb cheb_p cheb_ap p0 p_rows "
                                        "p_cols")
# the counter of a transfer layer: bits (nbits, rows, n_out) bool (bit m of significance 2^m), frozen (same
# shape: stuck bits), u (rows, n_out) float32 = sum_m 2^m bits[m] (kept in step: the uniform tiles' combined
# read), reference (n_out,) float32 (one-MTJ buffers: the column references, +-1). Plain layers: empty
# placeholders. A layer with per-cell parameters (any of its arrays; else these are empty placeholders):
# cheb (degree + 1, rows, n_out) float32 = sum_m 2^m M_k,m, the tiles' per-cell read matrices combined (one
# read of it is the sum of the tiles' reads weighted by 2^m; kept in step on every bit flip from) g_p
# (rows, n_out, nbits) float32, each tile cell's P conductance (its only read coefficient in P) and cheb_ap
# (rows, n_out, nbits, degree + 1) float32, its AP coefficients (a synapse's coefficients contiguous);
# reads (n_out, rows, nbits, 2) and buffer_reads (n_out, rows, k, 2) bool: whether a cell in P [.., 0] / in
# AP [.., 1] reads as P in the periphery's threshold read (a cell's spread can make it misread); p (n_out,
# rows, nbits, 2) and buffer_p (n_out, rows, k, 2) float64: each cell's switching probability under a carry /
# reset pulse [towards P, towards AP] (column-major: a transferred column's cells contiguous).
# p_rows (rows,) and p_cols (n_out,) int64: P bits per row / column summed over the tiles (kept in step; the
# cost meter's read energies).
CounterArrays = namedtuple("CounterArrays", "bits frozen u reference cheb g_p cheb_ap reads buffer_reads p buffer_p "
                                            "p_rows p_cols")
# transfer counts per sample and layer (the fields of nn.TransferCounts, in order)
# (TC_DISTURBS stays 0: the fused engine runs 1T1MTJ arrays, whose cells are isolated)
TC_COLUMNS, TC_READS, TC_READ_PHASES, TC_WRITE_PHASES, TC_INCREMENTS, TC_SATURATED, TC_CELL_WRITES, TC_REWRITES, \
    TC_FAILED, TC_FLIPS, TC_DISTURBS = range(11)
TC_COUNT = 11

F32_TINY = np.float32(1.1754944e-38)


# ------------------------------------------------------------------------------------------ random
@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def _splitmix(x):
    z = x + uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(cache=True)
def seed_stream(state, seed):
    """Seed ``state`` (uint64[4]) from a 64-bit ``seed`` by SplitMix64, as xoshiro's authors advise."""
    x = uint64(seed)
    for k in range(4):
        x = x + uint64(0x9E3779B97F4A7C15)
        state[k] = _splitmix(x)


@njit(cache=True, inline="always")
def _next(state):
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def uniform(state):
    """A double uniform on [0, 1) with 53 random bits."""
    return float(_next(state) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def poisson(state, lam):
    """A Poisson(``lam``) count (exact; ``lam`` >= 0)."""
    if lam <= 0.0:
        return 0
    if lam < 10.0:  # inversion: one uniform, sequential search of the CDF
        u = uniform(state)
        k = 0
        p = math.exp(-lam)
        cdf = p
        while u > cdf:
            k += 1
            p *= lam / k
            cdf += p
            if p < 1e-300 and k > lam:  # the tail beyond double precision: restart (probability < 1e-290)
                u = uniform(state)
                k = 0
                p = math.exp(-lam)
                cdf = p
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(state) - 0.5
        v = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return int(k)
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= \
                (-lam + k * loglam - math.lgamma(k + 1.0)):
            return int(k)


@njit(cache=True)
def categorical(state, cumulative, total):
    """An index ``i`` with probability ``(cumulative[i] - cumulative[i-1]) / total`` (``total`` > 0 is
    ``cumulative[-1]``); an index whose weight is 0 is never returned."""
    n = cumulative.shape[0]
    while True:
        x = uniform(state) * total
        i = np.searchsorted(cumulative, x, side="right")
        if i < n and (cumulative[i] > (cumulative[i - 1] if i > 0 else 0.0)):
            return i


@njit(cache=True, inline="always")
def _dac(x, full_scale, levels):
    x = min(max(x, -full_scale), full_scale)
    if levels > 0.0:
        step = full_scale / levels
        x = np.round(x / step) * step
    return x


@njit(cache=True, inline="always")
def _g_ap(v, table, slope, span, scale):
    pos = (v + span) * scale
    lo = min(int(pos), table.shape[0] - 2)
    return table[lo] + (pos - lo) * slope[lo]


@njit(cache=True, inline="always")
def _cheb_weights(v, span, degree, w):
    """``w[k] = v T_k(2 (v / span)^2 - 1)`` (cell_reads.chebyshev_weights)."""
    x = 2.0 * (v / span) ** 2 - 1.0
    t0, t1 = 1.0, x
    w[0] = v
    if degree >= 1:
        w[1] = v * x
    for k in range(2, degree + 1):
        t0, t1 = t1, 2.0 * x * t1 - t0
        w[k] = v * t1


@njit(cache=True, inline="always", fastmath={"reassoc", "contract"})
def _read_columns(a, states, cheb, table, slope, lp, ep, degree, cheb_span, out_cols, w):
    """The column sums of a forward read of the layer input ``a`` (rows,) into ``out_cols`` (the columns of
    ``states``): per row, the DAC voltage's AP current goes to ``base`` and ``extra = v g_p - i_ap`` weighted
    by the row's P states (with per-cell reads: ``sum_k w_k(v) cheb[k, i]``). Returns ``(base, sum_v)``: the
    current every column gets as if all its cells were AP, and the sum of the row voltages."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    gain_v = v_read / ep[EP_INPUT_RANGE]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    rows, cols = states.shape
    base = 0.0
    sum_v = 0.0
    out_cols[:cols] = 0.0
    for i in range(rows):
        v = _dac(a[i] * gain_v, v_read, levels)
        if v == 0.0:
            continue
        sum_v += v
        if degree >= 0:  # per-cell reads: sum_k w_k(v_i) M_k[i, :]
            _cheb_weights(np.float32(v), cheb_span, degree, w)
            for k in range(degree + 1):
                wk = np.float32(w[k])
                mk = cheb[k, i]
                for c in range(cols):
                    out_cols[c] += wk * mk[c]
            continue
        i_ap = v * _g_ap(v, table, slope, span, tscale)
        base += i_ap
        extra = np.float32(v * g_p - i_ap)
        row = states[i]
        for c in range(cols):
            out_cols[c] += extra * row[c]
    return base, sum_v


@njit(cache=True, fastmath={"reassoc", "contract"})
def layer_forward(a, L, lp, ep, out_cols, w, z):
    """Layer outputs ``z`` (n_out,) for layer inputs ``a`` (rows,); ``out_cols`` (cols,) float32 and ``w``
    (>= Chebyshev degree + 1,) are scratch."""
    base, sum_v = _read_columns(a, L.states, L.cheb, L.table, L.slope, lp, ep, int(lp[LP_CHEB_DEGREE]),
                                lp[LP_CHEB_SPAN], out_cols, w)
    per = int(lp[LP_PER_OUTPUT])
    ref = lp[LP_G_REF_K] * sum_v
    for o in range(z.shape[0]):
        s = 0.0
        for m in range(per):
            c = o * per + m
            s += L.sign[c] * (out_cols[c] + base)
        z[o] = (s - ref) * lp[LP_OUT_SCALE]


@njit(cache=True, fastmath={"reassoc", "contract"})
def layer_backward(delta, L, lp, ep, extra_cols, w_cols, w, err):
    """Errors at the layer inputs ``err`` (rows,) for output errors ``delta`` (n_out,), by the transposed
    read; ``extra_cols`` (cols,) float32, ``w_cols`` (degree + 1, cols) float32 and ``w`` (degree + 1,) are
    scratch."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    degree = int(lp[LP_CHEB_DEGREE])
    rows, cols = L.states.shape
    n_out = delta.shape[0]
    scale = 0.0
    for o in range(n_out):
        scale = max(scale, abs(delta[o]))
    scale = max(scale, F32_TINY)
    per = int(lp[LP_PER_OUTPUT])
    sum_u = 0.0
    base = 0.0
    for o in range(n_out):
        u = _dac(delta[o] / scale * v_read, v_read, levels)
        sum_u += u
        for m in range(per):
            c = o * per + m
            v = u * L.sign[c]
            if degree >= 0:
                _cheb_weights(np.float32(v), lp[LP_CHEB_SPAN], degree, w)
                for k in range(degree + 1):
                    w_cols[k, c] = w[k]
                continue
            i_ap = v * _g_ap(v, L.table, L.slope, span, tscale) if v != 0.0 else 0.0
            base += i_ap
            extra_cols[c] = np.float32(v * g_p - i_ap)
    ref = lp[LP_G_REF_K] * sum_u
    factor = scale * lp[LP_ERR_SCALE]
    for i in range(rows):
        s = np.float32(0.0)
        if degree >= 0:
            for k in range(degree + 1):
                mk = L.cheb[k, i]
                wk = w_cols[k]
                for c in range(cols):
                    s += wk[c] * mk[c]
        else:
            row = L.states[i]
            for c in range(cols):  # float32 products and sums, as the eager read's matrix-vector product
                s += row[c] * extra_cols[c]
        err[i] = (base + s - ref) * factor


@njit(cache=True)
def output_error(z, label, n_classes, per_class, margin, delta, scores):
    """Class scores of the population-coded outputs ``z`` (into the scratch ``scores``, n_classes); fills
    ``delta`` (d cross-entropy / dz) and returns ``(correct, update)``: whether the argmax class is
    ``label`` and whether to update (the margin, if not NaN, is not met)."""
    for k in range(n_classes):
        s = 0.0
        for m in range(per_class):
            s += z[k * per_class + m]
        scores[k] = s / per_class
    best = 0
    for k in range(1, n_classes):
        if scores[k] > scores[best]:
            best = k
    correct = best == label
    if not math.isnan(margin):
        other = -np.inf
        for k in range(n_classes):
            if k != label and scores[k] > other:
                other = scores[k]
        if scores[label] - other >= margin:
            return correct, False
    top = scores.max()
    total = 0.0
    for k in range(n_classes):
        scores[k] = math.exp(scores[k] - top)
        total += scores[k]
    for k in range(n_classes):
        p = scores[k] / total - (1.0 if k == label else 0.0)
        for m in range(per_class):
            delta[k * per_class + m] = p / per_class
    return correct, True


@njit(cache=True)
def _row_max_or_clear(r, row_values, row_sign, plan_sign, col_values):
    """``max |r|``; when it is 0 (nothing to write) the plan's arrays are cleared too."""
    r_max = 0.0
    for i in range(r.shape[0]):
        r_max = max(r_max, abs(r[i]))
    if not r_max > 0.0:
        row_values[:] = 0.0
        row_sign[:] = 0.0
        plan_sign[:] = 0.0
        col_values[:] = 0.0
    return r_max


@njit(cache=True)
def encode(r, c_out, col_sign, lp, ep, widths, row_sign, plan_sign, currents):
    """The write plan of ``dW = outer(r, c_out)``: row widths (s) and signs, each physical column's sign
    and currents (2, cols) [TO_P, TO_AP] (clipped to ``EP_I_MAX``); returns the number of phases (0: nothing
    to write)."""
    return encode_counted(r, c_out, col_sign, lp, ep, widths, row_sign, plan_sign, currents, np.zeros(1, np.int64))


@njit(cache=True)
def encode_counted(r, c_out, col_sign, lp, ep, widths, row_sign, plan_sign, currents, clipped):
    """:func:`encode` that adds the column currents it clipped to the drive limits to ``clipped[0]``
    (PulseEncoder.column_currents)."""
    rows = r.shape[0]
    r_max = _row_max_or_clear(r, widths, row_sign, plan_sign, currents)
    if not r_max > 0.0:
        return 0
    width_scale = ep[EP_PULSE_WIDTH] / max(r_max, F32_TINY)
    r_pos = False
    r_neg = False
    for i in range(rows):
        widths[i] = abs(r[i]) * width_scale
        row_sign[i] = np.sign(r[i])
        if widths[i] > 0.0:
            r_pos |= row_sign[i] > 0
            r_neg |= row_sign[i] < 0
    per = int(lp[LP_PER_OUTPUT])
    swing, p_max, p_min = lp[LP_SWING], ep[EP_P_MAX], ep[EP_P_MIN]
    delta_dev, n, floor = ep[EP_DELTA], ep[EP_N], ep[EP_FLOOR]
    d_pos = np.zeros(2, dtype=np.bool_)  # a driven column of sign + / - per polarity
    d_neg = np.zeros(2, dtype=np.bool_)
    for c in range(col_sign.shape[0]):
        f = np.float32(c_out[c // per] * col_sign[c])
        plan_sign[c] = np.sign(f)
        q = min(abs(f) * (r_max / swing), p_max)
        needed = -math.log1p(-q) + floor
        live = q >= p_min and needed > 0.0
        log_needed = math.log(needed) if live else 0.0
        for pol in range(2):
            current = 0.0
            if live:
                current = physics.thermal_current_for_hazard(log_needed, ep[EP_LOG_REACH + pol], ep[EP_IC0 + pol],
                                                             delta_dev, n)
                if current > ep[EP_I_MAX + pol]:
                    current = ep[EP_I_MAX + pol]
                    clipped[0] += 1
            currents[pol, c] = current
            if current > 0.0:
                d_pos[pol] |= plan_sign[c] > 0
                d_neg[pol] |= plan_sign[c] < 0
    return int(r_pos) * (int(d_pos[0]) + int(d_neg[1])) + int(r_neg) * (int(d_neg[0]) + int(d_pos[1]))


@njit(cache=True)
def _thermal_rate(current, pol, ep):
    if current <= 0.0:
        return 0.0
    return physics.thermal_rate(current, ep[EP_IC0 + pol], ep[EP_TAU0 + pol], ep[EP_DELTA], ep[EP_N])


@njit(cache=True)
def _flip(L, i, c, to_p):
    """Switch cell (i, c) to ``to_p`` unless it is there already or stuck; returns 1 if it flipped. Keeps
    the per-cell read matrices (if any) in step."""
    if L.parallel[i, c] == to_p or L.frozen[i, c]:
        return 0
    L.parallel[i, c] = to_p
    L.states[i, c] = 1.0 if to_p else 0.0
    if L.p_rows.shape[0] == L.states.shape[0]:
        d = 1 if to_p else -1
        L.p_rows[i] += d
        L.p_cols[c] += d
    if L.cheb.shape[1] == L.states.shape[0] and L.cheb.shape[2] == L.states.shape[1]:
        cell = i * L.states.shape[1] + c
        src = L.cheb_p if to_p else L.cheb_ap
        for k in range(L.cheb.shape[0]):
            L.cheb[k, i, c] = src[k, cell]
    return 1


@njit(cache=True)
def sample_write(widths, row_sign, plan_sign, currents, L, ep, rng, rates, cum_rows, cum_cols):
    """Apply a plan from :func:`encode` to the layer's arrays ``L`` (uniform parameters): sample every
    cell's flip from the device model (thermal regime: hazard ``t_i rate_j`` plus the precessional floor)
    and switch its state in place (stuck cells never). Returns ``(flips to P, flips to AP)``. ``rates``
    (2, cols), ``cum_rows`` (rows,), ``cum_cols`` (cols,) are scratch."""
    rows, cols = L.states.shape
    floor = ep[EP_FLOOR]
    floor_hazard = -floor
    total_w = 0.0
    for i in range(rows):
        w = widths[i] if row_sign[i] != 0.0 else 0.0
        total_w += w
        cum_rows[i] = total_w
    total_b = 0.0
    for c in range(cols):
        b = 0.0
        for pol in range(2):
            rates[pol, c] = _thermal_rate(currents[pol, c], pol, ep)
            b = max(b, rates[pol, c])
        total_b += b if plan_sign[c] != 0.0 else 0.0
        cum_cols[c] = total_b
    flips_p = 0
    flips_ap = 0
    lam = total_w * total_b
    if lam > ep[EP_SPARSE_LIMIT] * rows * cols:  # many attempts: one draw per reached cell
        for i in range(rows):
            if row_sign[i] == 0.0 or widths[i] <= 0.0:
                continue
            for c in range(cols):
                s = row_sign[i] * plan_sign[c]
                if s == 0.0:
                    continue
                pol = 0 if s > 0 else 1
                if currents[pol, c] <= 0.0 or L.parallel[i, c] == (s > 0):
                    continue
                p = -math.expm1(floor - widths[i] * rates[pol, c])
                if uniform(rng) < p:
                    if s > 0:
                        flips_p += _flip(L, i, c, True)
                    else:
                        flips_ap += _flip(L, i, c, False)
        return flips_p, flips_ap
    n_main = poisson(rng, lam)
    n_floor = poisson(rng, floor_hazard * rows * cols)
    for _ in range(n_main):
        i = categorical(rng, cum_rows, total_w)
        c = categorical(rng, cum_cols, total_b)
        s = row_sign[i] * plan_sign[c]
        pol = 0 if s > 0 else 1
        bound = max(rates[0, c], rates[1, c])
        if uniform(rng) * bound < rates[pol, c] and s != 0.0:
            if s > 0:
                flips_p += _flip(L, i, c, True)
            else:
                flips_ap += _flip(L, i, c, False)
    for _ in range(n_floor):  # precessional floor: ~1e-43 per cell at Delta = 40, kept for exactness
        i = min(int(uniform(rng) * rows), rows - 1)
        c = min(int(uniform(rng) * cols), cols - 1)
        uniform(rng)  # the thinning draw: the floor's hazard is its bound on a uniform array
        s = row_sign[i] * plan_sign[c]
        pol = 0 if s > 0 else 1
        if s != 0.0 and widths[i] > 0.0 and currents[pol, c] > 0.0:
            if s > 0:
                flips_p += _flip(L, i, c, True)
            else:
                flips_ap += _flip(L, i, c, False)
    return flips_p, flips_ap


@njit(cache=True)
def encode_coincidence(r, c_out, lp, ep, sign, row_prob, row_sign, plan_sign, col_prob):
    """The coincidence plan of ``dW = outer(r, c_out)`` (periphery/coincidence.py): per-slot firing
    probabilities of rows (``row_prob``) and of columns per polarity (``col_prob`` (2, cols)), the signs;
    returns the number of phases (slots x reaching classes; 0: nothing to write)."""
    rows = r.shape[0]
    r_max = _row_max_or_clear(r, row_prob, row_sign, plan_sign, col_prob)
    if not r_max > 0.0:
        return 0
    per = int(lp[LP_PER_OUTPUT])
    swing, p_max, p_min, slots = lp[LP_SWING], ep[EP_P_MAX], ep[EP_P_MIN], ep[EP_SLOTS]
    x_max = 0.0
    for c in range(sign.shape[0]):
        f = np.float32(c_out[c // per] * sign[c])
        plan_sign[c] = np.sign(f)
        target = min(abs(f) * (r_max / swing), p_max)
        if target < p_min:
            target = 0.0
        per_slot = -math.expm1(math.log1p(-target) / slots)
        for pol in range(2):
            col_prob[pol, c] = per_slot / ep[EP_P0 + pol]
            x_max = max(x_max, col_prob[pol, c])
    g = math.sqrt(x_max) if x_max > 0.0 else 1.0
    r_pos = False
    r_neg = False
    for i in range(rows):
        row_prob[i] = np.float32(abs(r[i]) / r_max) * g
        row_sign[i] = np.sign(r[i])
        if row_prob[i] > 0.0:
            r_pos |= row_sign[i] > 0
            r_neg |= row_sign[i] < 0
    d_pos = np.zeros(2, dtype=np.bool_)
    d_neg = np.zeros(2, dtype=np.bool_)
    for c in range(sign.shape[0]):
        for pol in range(2):
            col_prob[pol, c] = min(col_prob[pol, c] / g, 1.0)
            if col_prob[pol, c] > 0.0:
                d_pos[pol] |= plan_sign[c] > 0
                d_neg[pol] |= plan_sign[c] < 0
    classes = int(r_pos) * (int(d_pos[0]) + int(d_neg[1])) + int(r_neg) * (int(d_neg[0]) + int(d_pos[1]))
    return int(slots) * classes


@njit(cache=True)
def sample_coincidence(row_prob, row_sign, plan_sign, col_prob, L, slots, rng, fired_rows, fired_cols):
    """Apply a coincidence plan to the layer's arrays ``L``: in each slot draw which rows and which columns
    (per polarity) fire; every coincidence of a fired row and a fired column of the polarity that reaches
    the cell (towards P where the signs agree) switches a movable cell with its own ``p0``. Returns
    ``(flips to P, flips to AP)``; ``fired_rows`` (rows,) and ``fired_cols`` (2, cols) int64 are scratch."""
    none = np.zeros((0, 0), dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    to_p, to_ap, _ = _coincidence(row_prob, row_sign, plan_sign, col_prob, L, slots, rng, fired_rows, fired_cols,
                                  False, none, empty, np.zeros((0, 0, 0), dtype=np.int64), none, empty)
    return to_p, to_ap


@njit(cache=True)
def _coincidence(row_prob, row_sign, plan_sign, col_prob, L, slots, rng, fired_rows, fired_cols, log, slot_rows,
                 slot_n_rows, slot_cols, slot_n_cols, flipped):
    """:func:`sample_coincidence`; with ``log`` it also keeps each slot's fired rows (``slot_rows`` (slots,
    rows), their number ``slot_n_rows``), fired columns (``slot_cols`` (slots, 2, cols), ``slot_n_cols``
    (slots, 2)) and the flat index of every cell it flips (``flipped``); returns ``(flips to P, flips to
    AP, cells flipped)``."""
    rows, cols = L.states.shape
    flips_p = 0
    flips_ap = 0
    n_flipped = 0
    n_cols = np.zeros(2, dtype=np.int64)
    for b in range(slots):
        n_rows = 0
        for i in range(rows):
            if row_sign[i] != 0.0 and uniform(rng) < row_prob[i]:
                fired_rows[n_rows] = i
                n_rows += 1
        for pol in range(2):
            n_cols[pol] = 0
            for c in range(cols):
                if plan_sign[c] != 0.0 and uniform(rng) < col_prob[pol, c]:
                    fired_cols[pol, n_cols[pol]] = c
                    n_cols[pol] += 1
        if log:
            slot_n_rows[b] = n_rows
            slot_rows[b, :n_rows] = fired_rows[:n_rows]
            for pol in range(2):
                slot_n_cols[b, pol] = n_cols[pol]
                slot_cols[b, pol, :n_cols[pol]] = fired_cols[pol, :n_cols[pol]]
        for k in range(n_rows):
            i = fired_rows[k]
            for pol in range(2):
                want = row_sign[i] if pol == 0 else -row_sign[i]  # TO_P meets columns of the row's sign
                to_p = pol == 0
                for m in range(n_cols[pol]):
                    c = fired_cols[pol, m]
                    if plan_sign[c] != want or L.parallel[i, c] == to_p or L.frozen[i, c]:
                        continue
                    if uniform(rng) < L.p0[pol, i, c]:
                        done = _flip(L, i, c, to_p)
                        if to_p:
                            flips_p += done
                        else:
                            flips_ap += done
                        if log and done:
                            flipped[n_flipped] = i * cols + c
                            n_flipped += 1
    return flips_p, flips_ap, n_flipped


# ------------------------------------------------------------------------------------------- meter
@njit(cache=True)
def ap_resistance(current, ep):
    """Resistance (ohm) of a nominal AP junction carrying ``current`` (A), ``R = R_AP(V)`` at ``V = I R``:
    interpolated from the table of the exact solve behind ``EP_COUNT`` where it reaches (as the eager
    events interpolate theirs), else the exact solve (:func:`mtjxbar.device.physics.ap_voltage_at_current`)."""
    current = abs(current)
    points = int(ep[EP_RT_POINTS])
    pos = current * ep[EP_RT_SCALE]
    if points > 1 and pos < points - 1:
        lo = int(pos)
        a = ep[EP_COUNT + lo]
        return a + (pos - lo) * (ep[EP_COUNT + lo + 1] - a)
    r_p, tmr0, v_h = ep[EP_R_P], ep[EP_TMR0], ep[EP_V_H]
    return physics.ap_resistance(physics.ap_voltage_at_current(current, r_p, tmr0, v_h), r_p, tmr0, v_h)


@njit(cache=True)
def meter_forward(a, L, lp, ep, m):
    """Add the forward read's ``sum v_i^2`` and ``sum v_i I_i`` to the meter sums ``m`` (uniform arrays:
    row ``i`` sources ``v_i (G_AP(v_i) cols + (G_P - G_AP(v_i)) n_P,i)``, as events.read_event)."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    gain_v = v_read / ep[EP_INPUT_RANGE]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    cols = L.states.shape[1]
    v2 = 0.0
    cells = 0.0
    for i in range(L.states.shape[0]):
        v = _dac(a[i] * gain_v, v_read, levels)
        if v == 0.0:
            continue
        i_ap = v * _g_ap(v, L.table, L.slope, span, tscale)
        cells += v * (i_ap * cols + (v * g_p - i_ap) * L.p_rows[i])
        v2 += v * v
    m[M_FWD_V2] += v2
    m[M_FWD_CELLS] += cells


@njit(cache=True)
def meter_backward(delta, L, lp, ep, m):
    """:func:`meter_forward` of the transposed read that :func:`layer_backward` makes (columns driven)."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    rows = L.states.shape[0]
    scale = 0.0
    for o in range(delta.shape[0]):
        scale = max(scale, abs(delta[o]))
    scale = max(scale, F32_TINY)
    per = int(lp[LP_PER_OUTPUT])
    v2 = 0.0
    cells = 0.0
    for o in range(delta.shape[0]):
        u = _dac(delta[o] / scale * v_read, v_read, levels)
        for k in range(per):
            c = o * per + k
            v = u * L.sign[c]
            if v == 0.0:
                continue
            i_ap = v * _g_ap(v, L.table, L.slope, span, tscale)
            cells += v * (i_ap * rows + (v * g_p - i_ap) * L.p_cols[c])
            v2 += v * v
    m[M_BWD_READS] += 1.0
    m[M_BWD_V2] += v2
    m[M_BWD_CELLS] += cells


@njit(cache=True, inline="always")
def _meter_phase(m, nr, nc, w_max, w_sum, cells, bit_mean, bit_rows):
    if nr == 0 or nc == 0:
        return
    m[M_PHASES] += 1.0
    m[M_ROWS] += nr
    m[M_COLS] += nc
    m[M_WIDTH_MAX] += w_max
    m[M_WIDTH_SUM] += w_sum
    m[M_CELLS] += cells
    m[M_BIT_MEAN] += bit_mean
    m[M_BIT_ROWS] += bit_rows


@njit(cache=True)
def meter_outer(widths, row_sign, plan_sign, currents, L, ep, n_p, t_p, m):
    """Add the write phases of an :func:`encode` plan (before it is sampled: the states before the write)
    to the meter sums ``m``: per row sign, the P cells of each column among the gated rows (``n_p``) and
    their summed pulse widths (``t_p``, both (cols,) float64 scratch); a cell's resistance is ``R_P`` or
    ``R_AP`` at its column's current, plus the transistor's."""
    rows, cols = L.states.shape
    r_on = ep[EP_R_ACCESS]
    r1 = ep[EP_R_P] + r_on
    for s in (1.0, -1.0):
        nr = 0
        w_sum = 0.0
        w_max = 0.0
        n_p[:] = 0.0
        t_p[:] = 0.0
        for i in range(rows):
            w = widths[i]
            if row_sign[i] != s or not w > 0.0:
                continue
            nr += 1
            w_sum += w
            w_max = max(w_max, w)
            row = L.states[i]
            for c in range(cols):
                n_p[c] += row[c]
                t_p[c] += w * row[c]
        if nr == 0:
            continue
        for pol in range(2):
            want = s if pol == 0 else -s
            nc = 0
            cells = 0.0
            bit_mean = 0.0
            bit_rows = 0.0
            for c in range(cols):
                current = currents[pol, c]
                if plan_sign[c] != want or not current > 0.0:
                    continue
                nc += 1
                r2 = ap_resistance(current, ep) + r_on
                i2 = current * current
                n_ap = nr - n_p[c]
                cells += i2 * (t_p[c] * r1 + (w_sum - t_p[c]) * r2)
                mean = (n_p[c] * r1 + n_ap * r2) / nr
                bit_mean += i2 * mean * mean
                bit_rows += i2 * (n_p[c] * r1 * r1 + n_ap * r2 * r2)
            _meter_phase(m, nr, nc, w_max, w_sum, cells, bit_mean, bit_rows)


@njit(cache=True)
def meter_coincidence(slot_rows, slot_n_rows, slot_cols, slot_n_cols, row_sign, plan_sign, L, ep, flipped,
                      n_flipped, m):
    """Add the drawn phases of a coincidence write (``_coincidence`` with its log) to the meter sums ``m``,
    in the states before the write (the ``flipped`` cells are set back while they are costed): in each
    slot, per row sign and polarity, the fired rows of that sign and the fired columns that phase drives,
    every gated cell at the pulse's current for ``slot_width``."""
    cols = L.states.shape[1]
    for k in range(n_flipped):
        i, c = flipped[k] // cols, flipped[k] % cols
        L.parallel[i, c] = not L.parallel[i, c]
    r_on, width = ep[EP_R_ACCESS], ep[EP_SLOT_WIDTH]
    r1 = ep[EP_R_P] + r_on
    for b in range(slot_rows.shape[0]):
        for s in (1.0, -1.0):
            nr = 0
            for k in range(slot_n_rows[b]):
                nr += row_sign[slot_rows[b, k]] == s
            if nr == 0:
                continue
            for pol in range(2):
                want = s if pol == 0 else -s
                current = ep[EP_PULSE_CURRENT + pol]
                r2 = ap_resistance(current, ep) + r_on
                i2 = current * current
                nc = 0
                cells = 0.0
                bit_mean = 0.0
                bit_rows = 0.0
                for q in range(slot_n_cols[b, pol]):
                    c = slot_cols[b, pol, q]
                    if plan_sign[c] != want:
                        continue
                    nc += 1
                    n_p = 0
                    for k in range(slot_n_rows[b]):
                        i = slot_rows[b, k]
                        if row_sign[i] == s and L.parallel[i, c]:
                            n_p += 1
                    n_ap = nr - n_p
                    cells += i2 * width * (n_p * r1 + n_ap * r2)
                    mean = (n_p * r1 + n_ap * r2) / nr
                    bit_mean += i2 * mean * mean
                    bit_rows += i2 * (n_p * r1 * r1 + n_ap * r2 * r2)
                _meter_phase(m, nr, nc, width, nr * width, cells, bit_mean, bit_rows)
    for k in range(n_flipped):
        i, c = flipped[k] // cols, flipped[k] % cols
        L.parallel[i, c] = not L.parallel[i, c]


# ----------------------------------------------------------------------------------------- counter
@njit(cache=True, fastmath={"reassoc", "contract"})
def counter_forward(a, C, L, lp, ep, out_cols, w, z):
    """Add a transfer layer's counter read to ``z`` and its buffer's (already in ``z``, scaled): ``z`` on
    entry holds the buffer's :func:`layer_forward`. The bit tiles' reads weighted by ``2^m / L`` add up to
    one read: of ``u`` on uniform tiles, ``S ((base - g_ref sum v) + sum_i extra_i u_io / L)``; of the
    combined matrices ``C.cheb`` with per-cell parameters, ``S (sum_i sum_k w_k(v_i) cheb_kio / L - g_ref
    sum v)``. ``out_cols`` (>= n_out,) float32 and ``w`` (>= degree + 1,) are scratch."""
    v_read = ep[EP_V_READ]
    n_out = C.u.shape[1]
    # per-cell reads: sum_k w_k(v_i) (sum_m 2^m M_k,m)[i, :]
    base, sum_v = _read_columns(a, C.u, C.cheb, L.table, L.slope, lp, ep, int(lp[LP_T_CHEB_DEGREE]),
                                lp[LP_T_CHEB_SPAN], out_cols, w)
    bw, inv_levels, scale = lp[LP_T_BUFFER_WEIGHT], 1.0 / lp[LP_T_LEVELS], lp[LP_T_OUT_SCALE]
    one_mtj = lp[LP_T_K] == 1.0
    ref_sum = lp[LP_T_G_REF] * sum_v
    for o in range(n_out):
        buf = z[o]
        if one_mtj:  # buffer read against its column reference: (b - r) / 2
            buf = (buf - C.reference[o] * (lp[LP_T_GAIN] / v_read) * sum_v) * 0.5
        z[o] = bw * buf + scale * ((base - ref_sum) + out_cols[o] * inv_levels)


@njit(cache=True, fastmath={"reassoc", "contract"})
def counter_backward(delta, C, L, lp, ep, extra_cols, w_cols, w, err):
    """Add a transfer layer's counter to the input errors: ``err`` on entry holds the buffer's
    :func:`layer_backward`; the tiles' transposed reads weighted by ``2^m / L`` are one read of ``u`` (or of
    ``C.cheb``). ``extra_cols`` (>= n_out,) float32, ``w_cols`` (>= degree + 1, >= n_out) float32 and ``w``
    (>= degree + 1,) are scratch."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    degree = int(lp[LP_T_CHEB_DEGREE])
    rows, n_out = C.u.shape
    scale = 0.0
    for o in range(n_out):
        scale = max(scale, abs(delta[o]))
    scale = max(scale, F32_TINY)
    sum_u = 0.0
    base = 0.0
    ref_dot = 0.0
    for o in range(n_out):
        u = _dac(delta[o] / scale * v_read, v_read, levels)
        sum_u += u
        ref_dot += C.reference[o] * delta[o]
        if degree >= 0:
            _cheb_weights(np.float32(u), lp[LP_T_CHEB_SPAN], degree, w)
            for k in range(degree + 1):
                w_cols[k, o] = w[k]
            continue
        i_ap = u * _g_ap(u, L.table, L.slope, span, tscale) if u != 0.0 else 0.0
        base += i_ap
        extra_cols[o] = np.float32(u * g_p - i_ap)
    factor = scale * lp[LP_T_ERR_SCALE]
    bw, inv_levels = lp[LP_T_BUFFER_WEIGHT], 1.0 / lp[LP_T_LEVELS]
    ref = lp[LP_T_G_REF] * sum_u
    one_mtj = lp[LP_T_K] == 1.0
    gain_ref = lp[LP_T_GAIN] * ref_dot / ep[EP_INPUT_RANGE]
    for i in range(rows):
        s = np.float32(0.0)
        if degree >= 0:
            for k in range(degree + 1):
                mk = C.cheb[k, i]
                wk = w_cols[k]
                for o in range(n_out):
                    s += wk[o] * mk[o]
        else:
            row = C.u[i]
            for o in range(n_out):
                s += row[o] * extra_cols[o]
        buf = err[i]
        if one_mtj:
            buf = (buf - gain_ref) * 0.5
        err[i] = bw * buf + factor * ((base - ref) + s * inv_levels)


@njit(cache=True)
def _counter_cell(C, i, j, acc):
    """Rebuild the combined read matrices ``C.cheb[:, i, j]`` of one synapse from its bits (after a flip):
    ``sum_m 2^m M_k,m`` in float32, bit 0 first (a P bit adds ``2^m g_p`` to k = 0 only: M_k = 0 for k > 0);
    ``acc`` (>= degree + 1,) float32 is scratch."""
    degree = C.cheb.shape[0] - 1
    acc[:degree + 1] = 0.0
    for m in range(C.bits.shape[0]):
        weight = np.float32(1 << m)
        if C.bits[m, i, j]:
            acc[0] += weight * C.g_p[i, j, m]
        else:
            for k in range(degree + 1):
                acc[k] += weight * C.cheb_ap[i, j, m, k]
    for k in range(degree + 1):
        C.cheb[k, i, j] = acc[k]


@njit(cache=True)
def _program_cell(state, frozen, target, read_p, read_ap, p_to_p, p_to_ap, rounds, rng, counts, gated, moved, line):
    """Write-verify one cell whose state is ``state`` towards ``target`` as the periphery sees it: it writes
    while the cell *reads* other than ``target`` (a cell in P reads as P iff ``read_p``, in AP iff
    ``read_ap``: exact on uniform arrays, not always with spread), and a pulse switches the cell, if it is not
    at ``target`` already and not stuck, with probability ``p_to_p`` / ``p_to_ap``. Returns ``(new state,
    writes made)`` (counts: cell writes, rewrites, flips, and failed: the cell left other than ``target``).
    ``line`` >= 0: the cost meter's tallies of the cell's column line, ``gated[line, attempt, 0 | 1]`` (a
    pulse towards P | AP) and ``moved[line, attempt]`` (+1 a flip to P, -1 to AP); -1: none kept."""
    writes = 0
    for attempt in range(rounds + 1):
        if (read_p if state else read_ap) == target:
            break
        writes += 1
        counts[TC_CELL_WRITES] += 1
        if attempt > 0:
            counts[TC_REWRITES] += 1
        if line >= 0:
            gated[line, attempt, 0 if target else 1] += 1
        p = p_to_p if target else p_to_ap
        if uniform(rng) < p and not frozen and state != target:
            state = target
            counts[TC_FLIPS] += 1
            if line >= 0:
                moved[line, attempt] += 1 if target else -1
    if state != target:
        counts[TC_FAILED] += 1
    return state, writes


@njit(cache=True, inline="always")
def _reads_as_p(state, flags, misread):
    """What the threshold read of a cell in ``state`` gives (P = True): ``flags`` (2,) [read in P, read in AP]
    where the array has its own parameters (``misread``), else the state itself."""
    if not misread:
        return state
    return flags[0] if state else flags[1]


@njit(cache=True, inline="always")
def _popcount(x):
    n = 0
    while x:
        n += x & 1
        x >>= 1
    return n


@njit(cache=True)
def transfer_after(sample, L, C, lp, rng, counts, array_writes):
    """:func:`transfer_after_metered` without the cost meter's sums."""
    transfer_after_metered(sample, L, C, lp, rng, counts, array_writes, False, np.zeros(EP_COUNT),
                           np.zeros(M_COUNT))


@njit(cache=True)
def transfer_after_metered(sample, L, C, lp, rng, counts, array_writes, metered, ep, m):
    """The transfers scheduled after global sample ``sample`` (nn.TransferLinear.transfer_after): for each
    column, read the buffer and the counter bits (threshold reads: exact on uniform arrays, each cell's own
    read with per-cell parameters), add ``sign(A) * step`` where ``|A| >= threshold`` (clipped to 0 .. L),
    write-verify the bits that read other than the new value and reset the buffer cells; every cell of the
    column left other than its target counts as failed. Carry and reset pulses switch a cell with the
    array's probability or its own (per-cell parameters). ``array_writes`` (bits + k,) int64 is scratch:
    writes per array of a column. With ``metered`` (uniform arrays) each column's reads, write phases and
    latencies go to the meter sums ``m`` (``M_T_*``; ``ep`` holds the cost meter's times)."""
    rows, n_out = C.u.shape
    nbits, k = int(lp[LP_T_BITS]), int(lp[LP_T_K])
    levels, step, sweep = int(lp[LP_T_LEVELS]), int(lp[LP_T_STEP]), int(lp[LP_T_SWEEP])
    threshold, rounds = lp[LP_T_THRESHOLD] - 1e-6, int(lp[LP_T_VERIFY])
    p_to_p, p_to_ap = lp[LP_T_P_TO_P], lp[LP_T_P_TO_AP]
    misread = C.reads.shape[0] == n_out  # per-cell parameters: reads and probabilities per cell
    per_cell = C.p.shape[0] == n_out
    cheb = lp[LP_T_CHEB_DEGREE] >= 0.0
    acc = np.zeros(C.cheb.shape[0], dtype=np.float32)
    lines = nbits + k  # the column's lines: tile m is line m, buffer cell m line nbits + m
    gated = np.zeros((lines if metered else 0, rounds + 1, 2), dtype=np.int64)
    moved = np.zeros((lines if metered else 0, rounds + 1), dtype=np.int64)
    p_before = np.zeros(lines if metered else 0, dtype=np.int64)
    first = (sample * n_out) // sweep
    end = ((sample + 1) * n_out) // sweep
    for c in range(first, end):
        j = c % n_out
        counts[TC_COLUMNS] += 1
        counts[TC_READS] += nbits + k
        counts[TC_READ_PHASES] += 1
        array_writes[:] = 0
        ref = C.reference[j]
        if metered:
            gated[:] = 0
            moved[:] = 0
            p_before[:] = 0
        for i in range(rows):
            # the buffer's and the counter's states and reads as bit masks (misread: read != state)
            b_state = 0
            b_read = 0
            for b in range(k):
                state = L.parallel[i, j * k + b]
                b_state |= int(state) << b
                b_read |= int(_reads_as_p(state, C.buffer_reads[j, i, b], misread)) << b
                if metered:
                    p_before[nbits + b] += state
            if k == 1:
                value = ((1.0 if b_read else -1.0) - ref) * 0.5
            else:
                value = 0.0
                for b in range(k):
                    value += 1.0 if (b_read >> b) & 1 else -1.0
                value /= k
            inc = 0
            if abs(value) >= threshold:
                inc = step if value > 0 else -step
                counts[TC_INCREMENTS] += 1
            u = 0
            u_state = 0
            for b in range(nbits):
                state = C.bits[b, i, j]
                u_state |= int(state) << b
                u |= int(_reads_as_p(state, C.reads[j, i, b], misread)) << b
                if metered:
                    p_before[b] += state
            new_u = min(max(u + inc, 0), levels)
            if inc != 0 and new_u == u:
                counts[TC_SATURATED] += 1
            if new_u == u:  # nothing written; bits that misread are left off their target (u as read)
                counts[TC_FAILED] += _popcount(u_state ^ u)
            else:
                changed = False
                for b in range(nbits):
                    target = ((new_u >> b) & 1) == 1
                    old = C.bits[b, i, j]
                    read_p, read_ap = (C.reads[j, i, b, 0], C.reads[j, i, b, 1]) if misread else (True, False)
                    pp, pap = (C.p[j, i, b, 0], C.p[j, i, b, 1]) if per_cell else (p_to_p, p_to_ap)
                    state, writes = _program_cell(old, C.frozen[b, i, j], target, read_p, read_ap, pp, pap, rounds,
                                                  rng, counts, gated, moved, b if metered else -1)
                    array_writes[b] = max(array_writes[b], writes)
                    if state != old:
                        C.bits[b, i, j] = state
                        C.u[i, j] += np.float32((1 << b) if state else -(1 << b))
                        if C.p_rows.shape[0] == rows:
                            C.p_rows[i] += 1 if state else -1
                            C.p_cols[j] += 1 if state else -1
                        changed = True
                if changed and cheb:
                    _counter_cell(C, i, j, acc)
            if k > 1 and inc == 0:  # nothing written; cells that misread are left off their target (as read)
                counts[TC_FAILED] += _popcount(b_state ^ b_read)
            else:
                for b in range(k):
                    cell = j * k + b
                    state = L.parallel[i, cell]
                    read_p, read_ap = (C.buffer_reads[j, i, b, 0], C.buffer_reads[j, i, b, 1]) if misread \
                        else (True, False)
                    # k = 1: every cell to the inverted reference (those that moved are there); else balanced
                    target = ref < 0.0 if k == 1 else b < k // 2
                    pp, pap = (C.buffer_p[j, i, b, 0], C.buffer_p[j, i, b, 1]) if per_cell else (p_to_p, p_to_ap)
                    new, writes = _program_cell(state, L.frozen[i, cell], target, read_p, read_ap, pp, pap, rounds,
                                                rng, counts, gated, moved, nbits + b if metered else -1)
                    array_writes[nbits + b] = max(array_writes[nbits + b], writes)
                    if new != state:
                        _flip(L, i, cell, new)
        if k == 1:
            C.reference[j] = -ref
        most = 0
        for a in range(nbits + k):
            verifies = min(array_writes[a], rounds)
            counts[TC_READS] += verifies
            most = max(most, array_writes[a])
        counts[TC_WRITE_PHASES] += 2 * most
        counts[TC_READ_PHASES] += min(most, rounds)
        if metered:
            _meter_transfer(L, lp, ep, gated, moved, p_before, nbits, rows, m)


@njit(cache=True)
def _meter_transfer(L, lp, ep, gated, moved, p_before, nbits, rows, m):
    """Add one column transfer to the meter sums ``m`` (hardware.meter's costing of a transfer's events):
    every line read (``p_before``: its P cells), the carry, then per write round the phase towards P and the
    one towards AP of each line that writes (``gated``: its cells; a cell written towards P is in AP, and
    the other way round), and a verify read of those lines (their P cells after the round: ``moved``). A
    step lasts as long as its slowest array; the buffer's lines are one array (one after the other)."""
    v = ep[EP_V_READ]
    g_p = lp[LP_G_P]
    g_ap = _g_ap(v, L.table, L.slope, lp[LP_SPAN], lp[LP_TABLE_SCALE])
    lines = gated.shape[0]
    k = lines - nbits
    t_read, t_op, t_dac, t_settle = lp[LP_T_COLUMN_READ], ep[EP_C_OP], ep[EP_C_DAC], ep[EP_C_SETTLE]
    width = lp[LP_T_WIDTH]
    r_on = ep[EP_R_ACCESS]
    resistance = (ap_resistance(lp[LP_T_CURRENT], ep) + r_on, ep[EP_R_P] + r_on)  # towards P: from AP
    read_cells = 0.0
    for line in range(lines):
        read_cells += v * v * (g_ap * rows + (g_p - g_ap) * p_before[line])
    latency_par = max(k, 1) * t_read + t_op  # the column reads (the buffer's lines in turn), the carry
    latency_row = latency_par
    phases = 0
    word_buffer = 0
    word_tiles = 0
    cells = 0.0
    bit_mean = 0.0
    bit_rows = 0.0
    verify_rounds = gated.shape[1] - 1
    for attempt in range(gated.shape[1]):
        for pol in range(2):
            current = lp[LP_T_CURRENT + pol]
            r = resistance[pol]
            ir2 = (current * r) ** 2
            buffer_par = buffer_row = tiles_par = tiles_row = 0.0
            for line in range(lines):
                n = gated[line, attempt, pol]
                if n == 0:
                    continue
                phases += 1
                cells += current * current * r * width * n
                bit_mean += ir2
                bit_rows += n * ir2
                par = t_dac + t_settle + width
                row = t_dac + n * (t_settle + width)
                if line >= nbits:
                    word_buffer += n
                    buffer_par += par
                    buffer_row += row
                else:
                    word_tiles += n
                    tiles_par = max(tiles_par, par)
                    tiles_row = max(tiles_row, row)
            latency_par += max(buffer_par, tiles_par)
            latency_row += max(buffer_row, tiles_row)
        if attempt < verify_rounds:
            buffer_reads = 0
            tiles_reads = 0
            for line in range(lines):
                p_before[line] += moved[line, attempt]
                if gated[line, attempt, 0] + gated[line, attempt, 1] == 0:
                    continue
                read_cells += v * v * (g_ap * rows + (g_p - g_ap) * p_before[line])
                if line >= nbits:
                    buffer_reads += 1
                else:
                    tiles_reads = 1
            step = max(buffer_reads, tiles_reads) * (t_read + t_op)
            latency_par += step
            latency_row += step
    m[M_T_READ_CELLS] += read_cells
    m[M_T_PHASES] += phases
    m[M_T_WORD_BUFFER] += word_buffer
    m[M_T_WORD_TILES] += word_tiles
    m[M_T_CELLS] += cells
    m[M_T_BIT_MEAN] += bit_mean
    m[M_T_BIT_ROWS] += bit_rows
    m[M_T_LATENCY_PARALLEL] += latency_par
    m[M_T_LATENCY_ROWWISE] += latency_row


@njit(cache=True)
def meter_tiles_forward(a, C, L, lp, ep, m):
    """The bit tiles' forward reads (every tile reads the layer's inputs; uniform tiles): their sum of
    ``sum v_i I_i`` to ``m[M_TILE_FWD_CELLS]`` (each tile's ``sum v^2`` is the buffer's ``M_FWD_V2``)."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    gain_v = v_read / ep[EP_INPUT_RANGE]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    n_out = C.u.shape[1]
    nbits = C.bits.shape[0]
    cells = 0.0
    for i in range(C.u.shape[0]):
        v = _dac(a[i] * gain_v, v_read, levels)
        if v == 0.0:
            continue
        i_ap = v * _g_ap(v, L.table, L.slope, span, tscale)
        cells += v * (i_ap * n_out * nbits + (v * g_p - i_ap) * C.p_rows[i])
    m[M_TILE_FWD_CELLS] += cells


@njit(cache=True)
def meter_tiles_backward(delta, C, L, lp, ep, m):
    """The bit tiles' transposed reads (one MTJ per weight: column ``o`` at ``u_o``): the sum of their
    ``sum v I`` to ``m[M_TILE_BWD_CELLS]``, one tile's ``sum v^2`` to ``M_TILE_BWD_V2``."""
    v_read, levels = ep[EP_V_READ], ep[EP_DAC_LEVELS]
    g_p, span, tscale = lp[LP_G_P], lp[LP_SPAN], lp[LP_TABLE_SCALE]
    rows = C.u.shape[0]
    nbits = C.bits.shape[0]
    scale = 0.0
    for o in range(delta.shape[0]):
        scale = max(scale, abs(delta[o]))
    scale = max(scale, F32_TINY)
    v2 = 0.0
    cells = 0.0
    for o in range(delta.shape[0]):
        v = _dac(delta[o] / scale * v_read, v_read, levels)
        if v == 0.0:
            continue
        i_ap = v * _g_ap(v, L.table, L.slope, span, tscale)
        cells += v * (i_ap * rows * nbits + (v * g_p - i_ap) * C.p_cols[o])
        v2 += v * v
    m[M_TILE_BWD_READS] += 1.0
    m[M_TILE_BWD_V2] += v2
    m[M_TILE_BWD_CELLS] += cells


# ------------------------------------------------------------------------------------------- chunk
@njit(cache=True)
def train_chunk(x, labels, seeds, lr, layers, counters, sample0, lps, ep, n_classes, per_class, margin, out_correct,
                out_updated, out_phases, out_to_p, out_to_ap, out_transfer):
    """:func:`run_chunk` without the cost meter's sums and the clipped currents."""
    run_chunk(x, labels, seeds, lr, layers, counters, sample0, lps, ep, n_classes, per_class, margin, out_correct,
              out_updated, out_phases, out_to_p, out_to_ap, out_transfer, False,
              np.zeros((x.shape[0], len(layers), M_COUNT)), np.zeros((x.shape[0], len(layers)), dtype=np.int64))


@njit(cache=True)
def train_chunk_metered(x, labels, seeds, lr, layers, counters, sample0, lps, ep, n_classes, per_class, margin,
                        out_correct, out_updated, out_phases, out_to_p, out_to_ap, out_transfer, out_meter):
    """:func:`run_chunk` with the cost meter's sums, without the clipped currents."""
    run_chunk(x, labels, seeds, lr, layers, counters, sample0, lps, ep, n_classes, per_class, margin, out_correct,
              out_updated, out_phases, out_to_p, out_to_ap, out_transfer, True, out_meter,
              np.zeros((x.shape[0], len(layers)), dtype=np.int64))


@njit(cache=True)
def run_chunk(x, labels, seeds, lr, layers, counters, sample0, lps, ep, n_classes, per_class, margin, out_correct,
              out_updated, out_phases, out_to_p, out_to_ap, out_transfer, metered, out_meter, out_clipped):
    """Train on the conditioned inputs ``x`` (n, rows) with ``labels``; ``seeds`` (layers, n) seed each
    sample's write stream of each layer (and, mixed, its transfer stream); ``layers``: one
    :data:`LayerArrays` per layer, whose states are changed in place; ``counters``: one
    :data:`CounterArrays` per layer (transfer layers: their counters, changed in place); ``sample0``: the
    global index of ``x[0]`` (schedules the transfers); per-sample outcomes go to the ``out_*`` arrays. With
    ``metered`` what the cost meter needs of each sample and layer is added to ``out_meter`` (n, layers,
    :data:`M_COUNT`; uniform arrays, see ``M_*``); ``out_clipped`` (n, layers) gets the column currents the
    encoder clipped to the drive limits (``EP_I_MAX``)."""
    n_layers = len(layers)
    rows = [layers[ly].states.shape[0] for ly in range(n_layers)]
    cols = [layers[ly].states.shape[1] for ly in range(n_layers)]
    n_outs = [cols[ly] // int(lps[ly, LP_PER_OUTPUT]) for ly in range(n_layers)]
    degree = 0
    for ly in range(n_layers):
        degree = max(degree, int(lps[ly, LP_CHEB_DEGREE]), int(lps[ly, LP_T_CHEB_DEGREE]))
    outs = [np.zeros(n_outs[ly]) for ly in range(n_layers)]  # layer outputs (pre-activation)
    hs = [np.zeros(n_outs[ly]) for ly in range(n_layers)]  # tanh of hidden outputs
    deltas = [np.zeros(n_outs[ly]) for ly in range(n_layers)]
    c_out = [np.zeros(n_outs[ly]) for ly in range(n_layers)]  # the rule's column factors
    errs = [np.zeros(rows[ly]) for ly in range(n_layers)]
    widths = [np.zeros(rows[ly]) for ly in range(n_layers)]  # row widths (current) / probabilities (coincidence)
    row_sign = [np.zeros(rows[ly]) for ly in range(n_layers)]
    cum_rows = [np.zeros(rows[ly]) for ly in range(n_layers)]
    fired_rows = [np.zeros(rows[ly], dtype=np.int64) for ly in range(n_layers)]
    col_buf = [np.zeros(cols[ly], dtype=np.float32) for ly in range(n_layers)]
    cum_cols = [np.zeros(cols[ly]) for ly in range(n_layers)]
    plan_sign = [np.zeros(cols[ly]) for ly in range(n_layers)]
    currents = [np.zeros((2, cols[ly])) for ly in range(n_layers)]  # currents / column probabilities
    rates = [np.zeros((2, cols[ly])) for ly in range(n_layers)]
    fired_cols = [np.zeros((2, cols[ly]), dtype=np.int64) for ly in range(n_layers)]
    w_cols = [np.zeros((degree + 1, cols[ly]), dtype=np.float32) for ly in range(n_layers)]
    w = np.zeros(degree + 1)
    coincidence = ep[EP_COINCIDENCE] > 0.0
    slots = int(ep[EP_SLOTS])
    rng = np.zeros(4, dtype=np.uint64)
    rng_t = np.zeros(4, dtype=np.uint64)
    array_writes = np.zeros(64, dtype=np.int64)
    scores = np.zeros(n_classes)
    x64 = np.zeros(x.shape[1])
    # the cost meter's scratch: per-column sums of a phase, each slot's fired lines, the cells flipped
    n_p = [np.zeros(cols[ly] if metered else 0) for ly in range(n_layers)]
    t_p = [np.zeros(cols[ly] if metered else 0) for ly in range(n_layers)]
    m_slots = slots if metered and coincidence else 0
    slot_rows = [np.zeros((m_slots, rows[ly]), dtype=np.int64) for ly in range(n_layers)]
    slot_n_rows = np.zeros(m_slots, dtype=np.int64)
    slot_cols = [np.zeros((m_slots, 2, cols[ly]), dtype=np.int64) for ly in range(n_layers)]
    slot_n_cols = np.zeros((m_slots, 2), dtype=np.int64)
    flipped = [np.zeros(rows[ly] * cols[ly] if m_slots else 0, dtype=np.int64) for ly in range(n_layers)]
    for s in range(x.shape[0]):
        for i in range(x.shape[1]):
            x64[i] = x[s, i]
        a = x64
        for ly in range(n_layers):
            layer_forward(a, layers[ly], lps[ly], ep, col_buf[ly], w, outs[ly])
            if metered:
                meter_forward(a, layers[ly], lps[ly], ep, out_meter[s, ly])
            if lps[ly, LP_T_BITS] > 0:
                counter_forward(a, counters[ly], layers[ly], lps[ly], ep, col_buf[ly], w, outs[ly])
                if metered:
                    meter_tiles_forward(a, counters[ly], layers[ly], lps[ly], ep, out_meter[s, ly])
            if ly < n_layers - 1:
                for o in range(outs[ly].shape[0]):
                    hs[ly][o] = math.tanh(outs[ly][o])
                a = hs[ly]
        correct, update = output_error(outs[n_layers - 1], labels[s], n_classes, per_class, margin,
                                       deltas[n_layers - 1], scores)
        out_correct[s] = correct
        out_updated[s] = update
        if update:
            _update(x64, s, seeds, lr, layers, counters, lps, ep, deltas, errs, hs, c_out, col_buf, w_cols, w, widths,
                    row_sign, plan_sign, currents, rates, cum_rows, cum_cols, fired_rows, fired_cols, coincidence,
                    slots, rng, out_phases, out_to_p, out_to_ap, metered, out_meter, n_p, t_p, slot_rows, slot_n_rows,
                    slot_cols, slot_n_cols, flipped, out_clipped)
        for ly in range(n_layers):
            if lps[ly, LP_T_BITS] > 0:
                seed_stream(rng_t, seeds[ly, s] ^ uint64(0x5DEECE66DA3B1F27))
                transfer_after_metered(sample0 + s, layers[ly], counters[ly], lps[ly], rng_t, out_transfer[s, ly],
                                       array_writes, metered, ep, out_meter[s, ly])


@njit(cache=True)
def _update(x64, s, seeds, lr, layers, counters, lps, ep, deltas, errs, hs, c_out, col_buf, w_cols, w, widths,
            row_sign, plan_sign, currents, rates, cum_rows, cum_cols, fired_rows, fired_cols, coincidence, slots,
            rng, out_phases, out_to_p, out_to_ap, metered, out_meter, n_p, t_p, slot_rows, slot_n_rows, slot_cols,
            slot_n_cols, flipped, out_clipped):
    """Backward reads and every layer's write of sample ``s`` (:func:`train_chunk`)."""
    n_layers = len(layers)
    for ly in range(n_layers - 1, 0, -1):
        layer_backward(deltas[ly], layers[ly], lps[ly], ep, col_buf[ly], w_cols[ly], w, errs[ly])
        if lps[ly, LP_T_BITS] > 0:
            counter_backward(deltas[ly], counters[ly], layers[ly], lps[ly], ep, col_buf[ly], w_cols[ly], w,
                             errs[ly])
        if metered:
            if lps[ly, LP_T_BITS] == 0 or lps[ly, LP_T_BUFFER_WEIGHT] != 0.0:
                meter_backward(deltas[ly], layers[ly], lps[ly], ep, out_meter[s, ly])
            if lps[ly, LP_T_BITS] > 0:
                meter_tiles_backward(deltas[ly], counters[ly], layers[ly], lps[ly], ep, out_meter[s, ly])
        h = hs[ly - 1]
        for i in range(h.shape[0]):
            deltas[ly - 1][i] = errs[ly][i] * (1.0 - h[i] * h[i])
    for ly in range(n_layers):
        r = x64 if ly == 0 else hs[ly - 1]
        factor = lr * lps[ly, LP_LR_FACTOR]
        for o in range(c_out[ly].shape[0]):
            c_out[ly][o] = np.float32(deltas[ly][o] * factor)
        L = layers[ly]
        if coincidence:
            phases = encode_coincidence(r, c_out[ly], lps[ly], ep, L.sign, widths[ly], row_sign[ly],
                                        plan_sign[ly], currents[ly])
        else:
            phases = encode_counted(r, c_out[ly], L.sign, lps[ly], ep, widths[ly], row_sign[ly], plan_sign[ly],
                                    currents[ly], out_clipped[s, ly:ly + 1])
        out_phases[s, ly] = phases
        if metered:
            out_meter[s, ly, M_WRITES] += 1.0
        if phases == 0:
            continue
        seed_stream(rng, seeds[ly, s])
        if coincidence:
            to_p, to_ap, n_flipped = _coincidence(widths[ly], row_sign[ly], plan_sign[ly], currents[ly], L, slots,
                                                  rng, fired_rows[ly], fired_cols[ly], metered, slot_rows[ly],
                                                  slot_n_rows, slot_cols[ly], slot_n_cols, flipped[ly])
            if metered:
                meter_coincidence(slot_rows[ly], slot_n_rows, slot_cols[ly], slot_n_cols, row_sign[ly],
                                  plan_sign[ly], L, ep, flipped[ly], n_flipped, out_meter[s, ly])
        else:
            if metered:
                meter_outer(widths[ly], row_sign[ly], plan_sign[ly], currents[ly], L, ep, n_p[ly], t_p[ly],
                            out_meter[s, ly])
            to_p, to_ap = sample_write(widths[ly], row_sign[ly], plan_sign[ly], currents[ly], L, ep, rng,
                                       rates[ly], cum_rows[ly], cum_cols[ly])
        out_to_p[s, ly] = to_p
        out_to_ap[s, ly] = to_ap


@njit(cache=True)
def counter_matrices(C):
    """Fill ``C.cheb`` from the bits (a layer with per-cell parameters; :func:`_counter_cell` per synapse)."""
    rows, n_out = C.u.shape
    acc = np.zeros(C.cheb.shape[0], dtype=np.float32)
    for i in range(rows):
        for j in range(n_out):
            _counter_cell(C, i, j, acc)
