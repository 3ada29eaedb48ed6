"""The fused per-sample loop: whole chunks of in-situ training steps in one compiled call.

The eager loop (:func:`mtjxbar.training.insitu.train_step`) spends ~250 small PyTorch operations per sample;
here the forward reads, the error, the transposed reads, the encoder and the exact write sampler of every
layer run as compiled loops over the arrays' own state (NumPy views of the crossbars' tensors, changed in
place), one call per chunk of up to :data:`CHUNK` samples. Results are statistically identical to the
eager loop, not bit-identical: the random streams differ (see :mod:`.kernels`; same seed, same result).

It applies to what :func:`unsupported` accepts: ideal-wire 1T1MTJ arrays on the CPU, float32, an ideal
ADC, the sparse sampler, no cycle-to-cycle spread; stuck cells anywhere; with the 'current'
encoder scheme (thermal closed form) uniform arrays, with the 'coincidence' scheme also arrays whose cells
have their own parameters (per-cell Chebyshev reads, each cell's own switching probability of the fixed
pulse). Buffer-and-counter layers (:class:`~mtjxbar.nn.TransferLinear`) too, with per-cell parameters in
any of their arrays (:func:`transfer_cells`: the bit tiles' combined read matrices, each cell's threshold read
in either state and its own carry-pulse probabilities; the buffer's per-sample write needs the 'coincidence'
scheme then, as a plain layer's does). ``training.engine`` picks: ``auto`` uses it where it applies.

**Cost meter.** A network whose arrays report to a :class:`~mtjxbar.hardware.CostMeter` runs here too where
its layers are plain layers of uniform arrays: the kernel adds up, per sample and layer, what the meter
takes from the eager arrays' events (each read's ``sum v^2`` and ``sum v I``, each write phase's gated rows,
driven columns, pulse widths and ``sum t I^2 R`` terms over its cells in their states before the write; see
``kernels.M_*``) and :meth:`FusedNetwork.run` hands them to ``CostMeter.add_fused``, which costs them as
the eager events would be (``tests/training/test_fused_meter.py`` holds the two to the same figures).
Transfer layers too (their tiles' reads and each column transfer's reads, write rounds and verifies, costed
step by step as the meter costs the eager events). Arrays whose cells have their own parameters run eagerly
when metered (their read and write energies need each cell's own resistance; not in the kernel yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ...crossbar import CELL_PARAMETERS, Crossbar
from ...crossbar.access.sparse_write import SPARSE_MAX_EVENTS_PER_CELL
from ...crossbar.events import ap_resistance_at_current
from ...device import MTJParams, physics, switching_probability
from ...periphery.coincidence import pulse_probabilities
from ...periphery.config import ConverterConfig, EncoderConfig
from . import kernels as K

__all__ = ["unsupported", "FusedNetwork", "CHUNK", "chunk_ends", "device_vector"]

CHUNK = 256  # samples per compiled call (boundaries also at checkpoints and progress reports)


def unsupported(net) -> str | None:
    """Why the fused loop cannot run ``net`` (an :class:`~mtjxbar.training.InSituNetwork`), or None."""
    for i, layer in enumerate(net.layers):
        xb = layer.crossbar
        where = f"layer {i}: "
        scheme = layer.encoder.config.scheme
        if type(xb) is not Crossbar:  # first: the checks below ask what only the 1T1MTJ array has
            return where + f"{type(xb).__name__} arrays (only ideal-wire 1T1MTJ arrays)"
        if layer.hardware.transfer.enabled:
            if any(xb_.c2c.ic0_c2c > 0 for xb_ in layer.arrays().values()):
                return where + "cycle-to-cycle spread"
            v_read = layer.hardware.converters.v_read
            if any(not xb_.uniform and xb_.per_cell_reads(torch.zeros(1), v_read) is None
                   for xb_ in layer.arrays().values()):
                return where + "per-cell reads without a Chebyshev fit"
        if layer.hardware != net.layers[0].hardware:
            return where + "other hardware settings than layer 0 (the kernel takes one device and encoder)"
        if xb.uniform and any(not math.isclose(xb.nominal(name), getattr(layer.hardware.device, name),
                                                rel_tol=1e-6) for name in CELL_PARAMETERS):  # float32 storage
            return where + "uniform cell parameters other than hardware.device (the kernel's writes take " \
                           "hardware.device)"
        if xb.device.type != "cpu":
            return where + f"the array is on {xb.device} (the fused loop runs on the CPU)"
        if xb.dtype != torch.float32:
            return where + f"dtype {xb.dtype} (float32 only)"
        if xb.sampler != "sparse":
            return where + f"sampler = {xb.sampler!r} (the fused loop samples like 'sparse')"
        if not xb.uniform and scheme != "coincidence":
            return where + "cells with their own parameters under the 'current' encoder scheme (the fused loop " \
                           "runs per-cell parameters with the 'coincidence' scheme)"
        if not xb.uniform and xb.per_cell_reads(torch.zeros(1), layer.hardware.converters.v_read) is None:
            return where + "per-cell reads without a Chebyshev fit"
        if xb.c2c.ic0_c2c > 0:
            return where + "cycle-to-cycle spread"
        reason = _meter_unsupported(layer)
        if reason is not None:
            return where + reason
        if layer.hardware.converters.adc_bits is not None:
            return where + "a quantising ADC"
        if scheme == "current" and not layer.encoder.thermal_only:
            return where + "encoder currents above Ic0 (p_max beyond the thermal reach)"
        if scheme not in ("current", "coincidence"):
            return where + f"encoder scheme {scheme!r}"
    return None


def cost_meter(net):
    """The cost meter the arrays of ``net`` report to (their event sinks' ``meter``), or None."""
    for layer in net.layers:
        for xb in layer.arrays().values():
            if xb.events is not None:
                return getattr(xb.events, "meter", None)
    return None


def _meter_unsupported(layer) -> str | None:
    """Why the fused loop cannot feed the events ``layer``'s arrays report to, or None."""
    sinks = [xb.events for xb in layer.arrays().values()]
    if all(sink is None for sink in sinks):
        return None
    if any(not hasattr(getattr(sink, "meter", None), "add_fused") for sink in sinks):
        return "an event sink other than the cost meter is attached (the kernel reports no events)"
    if layer.hardware.transfer.enabled and layer.hardware.transfer.sense != "threshold":
        return f"the cost meter with transfer.sense = {layer.hardware.transfer.sense!r} (its reads are metered by " \
               "the eager loop)"
    if not all(xb.uniform for xb in layer.arrays().values()):
        return "the cost meter on cells with their own parameters (their read and write energies are metered " \
               "by the eager loop)"
    return None


class FusedNetwork:
    """The parameters and state views of an :class:`~mtjxbar.training.InSituNetwork` for the kernel."""

    def __init__(self, net, lr_scales: tuple[float, ...]) -> None:
        reason = unsupported(net)
        if reason is not None:
            raise ValueError(f"training.engine = 'fused' does not apply: {reason}")
        self.net = net
        first = net.layers[0]
        conv = first.hardware.converters
        self.ep = device_vector(first.hardware.device, first.encoder.config, conv, first.hardware.array.r_access)
        self.ep[K.EP_I_MAX:K.EP_I_MAX + 2] = first.encoder.limits  # the drive limits (PulseEncoder.limit_currents)
        self._metered_tail: np.ndarray | None = None  # the metered ep (times and R_AP table), built once
        self.lps = np.zeros((len(net.layers), K.LP_COUNT))
        # each cell's switching probability of the fixed coincidence pulse: constant, computed once
        self.p0 = [coincidence_p0(layer) if layer.encoder.config.scheme == "coincidence" else np.zeros((2, 0, 0))
                   for layer in net.layers]
        # a transfer layer with per-cell parameters: its cells' reads and carry probabilities (constant)
        self.cells = [transfer_cells(layer) if layer.hardware.transfer.enabled else None for layer in net.layers]
        self._counters: tuple | None = None  # the last run's counter arrays (reused while the tiles match)
        self.meter = cost_meter(net)  # fed with the kernel's sums after every run
        for i, layer in enumerate(net.layers):
            core = layer.buffer if layer.hardware.transfer.enabled else layer  # the per-sample write's array
            per, xb, m = core.periphery, core.crossbar, core.mapping
            lp = self.lps[i]
            lp[K.LP_OUT_SCALE] = layer.gain / per.scale
            lp[K.LP_G_REF_K] = 0.0 if m.differential else m.k * per.g_ref
            lp[K.LP_PER_OUTPUT] = m.per_output
            lp[K.LP_ERR_SCALE] = layer.gain / (per.scale * conv.input_range)
            lp[K.LP_LR_FACTOR] = -lr_scales[min(i, len(lr_scales) - 1)] * layer.gain / conv.input_range
            lp[K.LP_SWING] = m.full_swing
            lp[K.LP_CHEB_DEGREE] = lp[K.LP_T_CHEB_DEGREE] = -1
            if layer.hardware.transfer.enabled:
                lp[K.LP_LR_FACTOR] *= layer.request_scale
                transfer_parameters(layer, lp)
                if self.cells[i] is not None:
                    lp[K.LP_T_CHEB_DEGREE], lp[K.LP_T_CHEB_SPAN] = self.cells[i].degree, self.cells[i].span
            view = xb.kernel_view(conv.v_read)  # builds the read table (or fit) for |v| <= v_read
            lp[K.LP_G_P] = view.g_p if view.uniform else 0.0
            if view.uniform:
                lp[K.LP_SPAN], lp[K.LP_TABLE_SCALE] = view.table[0], view.table[3]
            else:
                lp[K.LP_CHEB_DEGREE], lp[K.LP_CHEB_SPAN] = view.cell_reads.degree, view.cell_reads.span

    def layer_arrays(self) -> tuple:
        """One :data:`~.kernels.LayerArrays` per layer: NumPy views of the arrays' states (and per-cell read
        matrices), written in place by the kernel, and their constant tables."""
        out = []
        for layer, p0 in zip(self.net.layers, self.p0, strict=True):
            xb = layer.crossbar
            f32 = np.float32
            table = slope = np.zeros(2, dtype=f32)
            cheb, cheb_p, cheb_ap = np.zeros((1, 0, 0), dtype=f32), np.zeros((1, 0), dtype=f32), np.zeros((1, 0), f32)
            view = xb.kernel_view(layer.hardware.converters.v_read)
            if view.uniform:
                table, slope = view.table[1].numpy(), view.table[2].numpy()
            else:
                fit = view.cell_reads
                cheb, cheb_p, cheb_ap = fit.matrices.numpy(), fit.p_terms.numpy(), fit.ap_terms.numpy()
            parallel = view.parallel.numpy()
            out.append(K.LayerArrays(states=view.states.numpy(), parallel=parallel,
                                     frozen=view.frozen.numpy(), table=table, slope=slope,
                                     sign=layer.mapping.col_sign.to(torch.float32).numpy(), cheb=cheb,
                                     cheb_p=cheb_p, cheb_ap=cheb_ap, p0=p0,
                                     p_rows=parallel.sum(axis=1, dtype=np.int64),
                                     p_cols=parallel.sum(axis=0, dtype=np.int64)))
        return tuple(out)

    def counter_arrays(self) -> tuple:
        """One :data:`~.kernels.CounterArrays` per layer: a transfer layer's bit tiles stacked (copied; the
        kernel's changes go back with :meth:`store_counters`), their sum ``u``, the column references (a
        view) and, with per-cell parameters, the tiles' combined read matrices (built from the bits) and the
        cells' constant reads and carry probabilities; empty placeholders for plain layers."""
        out = []
        f32 = np.float32
        for layer, cells in zip(self.net.layers, self.cells, strict=True):
            if not layer.hardware.transfer.enabled:
                out.append(K.CounterArrays(bits=np.zeros((0, 1, 1), dtype=np.bool_),
                                           frozen=np.zeros((0, 1, 1), dtype=np.bool_), u=np.zeros((1, 1), f32),
                                           reference=np.zeros(1, dtype=f32), p_rows=np.zeros(0, dtype=np.int64),
                                           p_cols=np.zeros(0, dtype=np.int64), **_UNIFORM_CELLS))
                continue
            tiles = [tile.crossbar for tile in layer.tiles]
            bits = np.stack([xb.parallel.numpy() for xb in tiles])
            frozen = np.stack([np.zeros((xb.rows, xb.cols), dtype=np.bool_) if xb.frozen_mask is None else
                               xb.frozen_mask.view(xb.rows, xb.cols).numpy() for xb in tiles])
            weights = (2.0 ** np.arange(len(tiles))).astype(f32)
            u = np.ascontiguousarray(np.tensordot(weights, bits.astype(f32), axes=1))
            per_cell = _UNIFORM_CELLS
            if cells is not None:
                per_cell = {"cheb": np.zeros((cells.degree + 1, *u.shape), dtype=f32), "g_p": cells.g_p,
                            "cheb_ap": cells.cheb_ap, "reads": cells.reads, "buffer_reads": cells.buffer_reads,
                            "p": cells.p, "buffer_p": cells.buffer_p}
            arrays = K.CounterArrays(bits=bits, frozen=frozen, u=u, reference=layer.reference.numpy(),
                                     p_rows=bits.sum(axis=(0, 2), dtype=np.int64),
                                     p_cols=bits.sum(axis=(0, 1), dtype=np.int64), **per_cell)
            if cells is not None:
                K.counter_matrices(arrays)
            out.append(arrays)
        return tuple(out)

    def _counters_current(self) -> bool:
        """Whether the counters of the last :meth:`run` still hold the tiles' states (nothing else wrote the
        tiles since): they are reused then, their combined read matrices with them, not rebuilt."""
        if self._counters is None:
            return False
        for layer, c in zip(self.net.layers, self._counters, strict=True):
            if layer.hardware.transfer.enabled and not all(
                    np.array_equal(bits, tile.crossbar.parallel.numpy()) for tile, bits in zip(layer.tiles, c.bits,
                                                                                              strict=True)):
                return False
        return True

    def store_counters(self, counters: tuple) -> None:
        """Write the kernel's counter bits back into the bit tiles (the cells that changed)."""
        for layer, c in zip(self.net.layers, counters, strict=True):
            if layer.hardware.transfer.enabled:
                for tile, bits in zip(layer.tiles, c.bits, strict=True):
                    xb = tile.crossbar
                    changed = np.flatnonzero(bits != xb.parallel.numpy())
                    if changed.size:
                        xb.set_cells(torch.from_numpy(changed), torch.from_numpy(bits.reshape(-1)[changed]))

    def _transfer_counts(self, transfer: np.ndarray) -> dict[str, np.ndarray]:
        """The cost meter's transfer counts (``t_`` + ``hardware.TRANSFER_COUNTS``), per sample and layer, of
        the ``TC_*`` counts (n, layers, TC_COUNT): a column reads each of its lines once, then verifies."""
        lines = np.array([layer.config.counter_bits + layer.config.buffer_mtjs if layer.hardware.transfer.enabled
                          else 0 for layer in self.net.layers])
        t = transfer.astype(np.float64)
        return {"t_columns": t[..., K.TC_COLUMNS], "t_reads": t[..., K.TC_READS],
                "t_verifies": t[..., K.TC_READS] - lines * t[..., K.TC_COLUMNS],
                "t_read_steps": t[..., K.TC_READ_PHASES], "t_write_phases": t[..., K.TC_WRITE_PHASES],
                "t_cell_writes": t[..., K.TC_CELL_WRITES], "t_flips": t[..., K.TC_FLIPS]}

    def _metered_ep(self) -> np.ndarray:
        """``ep`` with the cost meter's times (``EP_C_*``) and, behind ``EP_COUNT``, a table of R_AP(I) from 0
        to 1.05 times the largest current a write here drives (8193 points of the exact solve, as the eager
        events' table; relative error below 1e-7)."""
        if self._metered_tail is None:
            ep, cost = self.ep.copy(), self.meter.cost
            ep[K.EP_C_OP], ep[K.EP_C_DAC], ep[K.EP_C_SETTLE] = cost.digital_op_time, cost.dac_time, \
                cost.line_settle_time
            dev = self.net.layers[0].hardware.device
            t = self.net.layers[0].hardware.transfer
            span = 1.05 * max(dev.ic0_p2ap, dev.ic0_ap2p, *ep[K.EP_PULSE_CURRENT:K.EP_PULSE_CURRENT + 2],
                              t.carry_overdrive * max(dev.ic0_p2ap, dev.ic0_ap2p))
            grid = torch.linspace(0.0, span, 8193, dtype=torch.float64)
            table = ap_resistance_at_current(grid, r_p=dev.r_p, tmr0=dev.tmr0, v_h=dev.v_h).numpy()
            ep[K.EP_RT_POINTS], ep[K.EP_RT_SCALE] = len(table), (len(table) - 1) / span
            self._metered_tail = np.concatenate([ep, table])
        return self._metered_tail

    def _metered_lps(self) -> np.ndarray:
        """``lps`` with each layer's column-read time (``LP_T_COLUMN_READ``, ledger.column_read_cost)."""
        lps, cost, schedule = self.lps.copy(), self.meter.cost, self.meter.schedule
        for i, layer in enumerate(self.net.layers):
            bits = cost.adc_bits if layer.hardware.converters.adc_bits is None else layer.hardware.converters.adc_bits
            lps[i, K.LP_T_COLUMN_READ] = cost.dac_time + cost.line_settle_time + cost.read_pulse_width \
                + min(schedule.lines_per_adc, layer.in_features) * cost.adc_time / bits
        return lps

    def run(self, x: torch.Tensor, labels: torch.Tensor, lr: float, generators: list[torch.Generator],
            margin: float | None, sample0: int = 0) -> dict[str, np.ndarray]:
        """Train on the raw inputs ``x`` (n, features) with ``labels`` in order; one seed per sample and
        layer is drawn from each layer's generator; ``sample0``: the global index of ``x[0]`` (schedules
        transfers). Returns per-sample ``correct``, ``updated`` and per-layer ``phases``, ``flips_to_p``,
        ``flips_to_ap``, ``clipped`` (column currents clipped to the drive limits, also added to each layer's
        ``encoder.clipped``) and ``transfer`` (the :data:`~.kernels.TC_COUNT` transfer counts)."""
        n, layers = len(x), len(self.net.layers)
        if len(generators) < layers:
            raise ValueError(f"{len(generators)} write generators for {layers} layers")
        x0 = np.ascontiguousarray(self.net.arch.prepare(x).to(torch.float32).numpy())
        seeds = np.stack([torch.randint(0, 2**63 - 1, (n,), generator=g, dtype=torch.int64).numpy()
                          for g in generators[:layers]])
        out = {"correct": np.zeros(n, dtype=np.bool_), "updated": np.zeros(n, dtype=np.bool_),
               "phases": np.zeros((n, layers), dtype=np.int64), "flips_to_p": np.zeros((n, layers), dtype=np.int64),
               "flips_to_ap": np.zeros((n, layers), dtype=np.int64),
               "transfer": np.zeros((n, layers, K.TC_COUNT), dtype=np.int64)}
        arch = self.net.arch
        counters = self._counters if self._counters_current() else self.counter_arrays()
        args = (x0, labels.numpy().astype(np.int64), seeds.view(np.uint64), float(lr), self.layer_arrays(),
                counters, int(sample0), self.lps, self.ep, arch.n_classes, arch.outputs_per_class,
                math.nan if margin is None else float(margin), out["correct"], out["updated"], out["phases"],
                out["flips_to_p"], out["flips_to_ap"], out["transfer"])
        sums = np.zeros((n, layers, K.M_COUNT))
        out["clipped"] = np.zeros((n, layers), dtype=np.int64)
        if self.meter is not None:
            args = (*args[:7], self._metered_lps(), self._metered_ep(), *args[9:])
        K.run_chunk(*args, self.meter is not None, sums, out["clipped"])
        for layer, clipped in zip(self.net.layers, out["clipped"].sum(axis=0).tolist(), strict=True):
            layer.encoder.clipped += int(clipped)  # as the eager encoder counts them
        if self.meter is not None:
            self.meter.add_fused({**{name: sums[..., k] for k, name in enumerate(K.METER_FIELDS)},
                                  "updated": out["updated"], "write_phases": out["phases"],
                                  "flips_to_p": out["flips_to_p"], "flips_to_ap": out["flips_to_ap"],
                                  **self._transfer_counts(out["transfer"]),
                                  "v_read": float(self.ep[K.EP_V_READ])})
        self.store_counters(counters)
        self._counters = counters
        return out


# the per-cell fields of a CounterArrays where they do not apply (uniform arrays, plain layers)
_UNIFORM_CELLS = {"cheb": np.zeros((1, 0, 0), dtype=np.float32), "g_p": np.zeros((0, 0, 0), dtype=np.float32),
                  "cheb_ap": np.zeros((0, 0, 0, 1), dtype=np.float32), "reads": np.zeros((0, 0, 0, 2), dtype=np.bool_),
                  "buffer_reads": np.zeros((0, 0, 0, 2), dtype=np.bool_), "p": np.zeros((0, 0, 0, 2)),
                  "buffer_p": np.zeros((0, 0, 0, 2))}


@dataclass
class TransferCells:
    """The constant per-cell data of a transfer layer whose arrays have their own parameters (see
    :data:`~.kernels.CounterArrays`, in its layouts): the tiles' common Chebyshev fit (``degree``, ``span``;
    ``g_p`` (rows, n_out, bits) and ``cheb_ap`` (rows, n_out, bits, degree + 1) float32), the threshold reads
    of each cell in P and in AP (``reads`` (n_out, rows, bits, 2), ``buffer_reads`` (n_out, rows, k, 2) bool)
    and each cell's switching probability under a carry / reset pulse, towards P and towards AP (``p``,
    ``buffer_p``, float64, shaped as the reads)."""

    degree: int
    span: float
    g_p: np.ndarray
    cheb_ap: np.ndarray
    reads: np.ndarray
    buffer_reads: np.ndarray
    p: np.ndarray
    buffer_p: np.ndarray


def transfer_cells(layer) -> TransferCells | None:
    """:class:`TransferCells` of a transfer layer (:class:`~mtjxbar.nn.TransferLinear`) any of whose arrays
    has per-cell parameters; None where all are uniform (the kernel's uniform path). The tiles' fits are
    brought to one span (refitted at the widest where they differ) and padded to one degree, so that their
    reads weighted by ``2^m`` are one read of the combined matrices."""
    if all(xb.uniform for xb in layer.arrays().values()):
        return None
    v_read = layer.hardware.converters.v_read
    tiles = [tile.crossbar for tile in layer.tiles]
    fits = [xb.per_cell_reads(torch.zeros(1), v_read) for xb in tiles]  # uniform tiles get a fit too
    if len({fit.span for fit in fits}) > 1:
        v_max = max(fit.span for fit in fits) / 1.05
        for xb in tiles:
            xb.drop_cell_reads()
        fits = [xb.per_cell_reads(torch.zeros(1), v_max) for xb in tiles]
    if any(fit is None for fit in fits):
        raise ValueError("a bit tile's per-cell reads have no Chebyshev fit at the common span")
    degree, rows, n_out = max(fit.degree for fit in fits), layer.in_features, layer.out_features
    g_p = np.stack([fit.p_terms[0].view(rows, n_out).numpy() for fit in fits])
    cheb_ap = np.zeros((len(fits), degree + 1, rows, n_out), dtype=np.float32)
    for m, fit in enumerate(fits):
        cheb_ap[m, :fit.degree + 1] = fit.ap_terms.view(-1, rows, n_out).numpy()
    k = layer.config.buffer_mtjs

    def buffer_major(a: np.ndarray) -> np.ndarray:  # (2, rows, n_out * k) -> (n_out, rows, k, 2)
        return np.ascontiguousarray(a.reshape(2, rows, n_out, k).transpose(2, 1, 3, 0))

    return TransferCells(degree=degree, span=fits[0].span, g_p=np.ascontiguousarray(g_p.transpose(1, 2, 0)),
                         cheb_ap=np.ascontiguousarray(cheb_ap.transpose(2, 3, 0, 1)),
                         reads=np.ascontiguousarray(np.stack([threshold_reads(layer, tile) for tile in layer.tiles])
                                              .transpose(3, 2, 0, 1)),
                         buffer_reads=buffer_major(threshold_reads(layer, layer.buffer)),
                         p=np.ascontiguousarray(np.stack([carry_probabilities(layer, xb) for xb in tiles])
                                          .transpose(3, 2, 0, 1)),
                         buffer_p=buffer_major(carry_probabilities(layer, layer.buffer.crossbar)))



def threshold_reads(layer, mtj_layer) -> np.ndarray:
    """(2, rows, cols) bool: whether each cell of one array (``mtj_layer``) of the transfer layer ``layer``
    reads as P in its transfer sense when it is in P [0] and when it is in AP [1]
    (:meth:`~mtjxbar.nn.TransferLinear.sense_flags`)."""
    return np.ascontiguousarray(layer.sense_flags(mtj_layer).numpy())


def carry_probabilities(layer, xb: Crossbar) -> np.ndarray:
    """(2, rows, cols) float64: each cell's switching probability under the transfer's carry / reset pulse
    (``carry_overdrive`` times the nominal Ic0 for ``carry_width``, ``Crossbar.write_column`` with the cell's
    own Ic0, tau0 and Delta), towards P and towards AP."""
    t, dev = layer.config, layer.hardware.device
    out = []
    for suffix in ("ap2p", "p2ap"):  # towards P switches AP -> P
        current = torch.tensor(t.carry_overdrive * getattr(dev, f"ic0_{suffix}"), dtype=torch.float64)
        p = switching_probability(current, torch.tensor(t.carry_width, dtype=torch.float64),
                                  ic0=xb.params[f"ic0_{suffix}"].to(torch.float64),
                                  tau0=xb.params[f"tau0_{suffix}"].to(torch.float64),
                                  delta=xb.params["delta"].to(torch.float64), n=xb.device_params.n_exponent,
                                  tau_d=xb.device_params.tau_d)
        out.append(p.expand(xb.rows, xb.cols))
    return np.ascontiguousarray(torch.stack(out).numpy())


def transfer_parameters(layer, lp: np.ndarray) -> None:
    """The ``LP_T_*`` entries of a transfer layer (:class:`~mtjxbar.nn.TransferLinear`)."""
    t, tile = layer.config, layer.tiles[0]
    dev, conv = layer.hardware.device, layer.hardware.converters
    lp[K.LP_T_BITS], lp[K.LP_T_LEVELS], lp[K.LP_T_SWEEP] = t.counter_bits, t.levels, t.samples_per_sweep
    lp[K.LP_T_STEP], lp[K.LP_T_THRESHOLD], lp[K.LP_T_K] = t.step, t.threshold, t.buffer_mtjs
    lp[K.LP_T_BUFFER_WEIGHT], lp[K.LP_T_VERIFY] = layer.buffer_weight, t.verify_rounds
    for index, suffix in ((K.LP_T_P_TO_P, "ap2p"), (K.LP_T_P_TO_AP, "p2ap")):
        ic0 = getattr(dev, f"ic0_{suffix}")
        lp[index] = float(switching_probability(torch.tensor(t.carry_overdrive * ic0, dtype=torch.float64),
                                                t.carry_width, ic0=ic0, tau0=getattr(dev, f"tau0_{suffix}"),
                                                delta=dev.delta, n=dev.n_exponent, tau_d=dev.tau_d))
    lp[K.LP_T_CURRENT], lp[K.LP_T_CURRENT + 1] = t.carry_overdrive * dev.ic0_ap2p, t.carry_overdrive * dev.ic0_p2ap
    lp[K.LP_T_WIDTH] = t.carry_width
    lp[K.LP_T_OUT_SCALE] = layer.gain / tile.periphery.scale
    lp[K.LP_T_ERR_SCALE] = layer.gain / (tile.periphery.scale * conv.input_range)
    lp[K.LP_T_G_REF] = tile.mapping.k * tile.periphery.g_ref
    lp[K.LP_T_GAIN] = layer.gain


def coincidence_p0(layer) -> np.ndarray:
    """(2, rows, cols) float64: the probability that one coincidence pulse switches each cell, towards P
    and towards AP, from the device model with the cell's own parameters (the pulse is fixed)."""
    xb, enc = layer.crossbar, layer.encoder.coincidence
    dev, width = xb.device_params, enc.config.slot_width
    out = []
    for k, suffix in enumerate(("ap2p", "p2ap")):  # TO_P switches AP -> P
        p = switching_probability(torch.tensor(enc.currents[k], dtype=torch.float64), width,
                                  ic0=xb.params[f"ic0_{suffix}"].double(), tau0=xb.params[f"tau0_{suffix}"].double(),
                                  delta=xb.params["delta"].double(), n=dev.n_exponent, tau_d=dev.tau_d)
        out.append(p.expand(xb.rows, xb.cols))
    return np.ascontiguousarray(torch.stack(out).numpy())


def device_vector(dev: MTJParams, enc: EncoderConfig, conv: ConverterConfig, r_access: float = 0.0) -> np.ndarray:
    """The kernels' ``EP_*`` vector: converter, encoder and (nominal) device parameters; ``r_access``: the
    access transistor's on-resistance (ohm), for the cost meter's write resistances."""
    ep = np.zeros(K.EP_COUNT)
    ep[K.EP_V_READ], ep[K.EP_INPUT_RANGE] = conv.v_read, conv.input_range
    ep[K.EP_DAC_LEVELS] = 0.0 if conv.dac_bits is None else 2 ** (conv.dac_bits - 1) - 1
    ep[K.EP_PULSE_WIDTH], ep[K.EP_P_MAX] = enc.pulse_width, enc.p_max
    ep[K.EP_P_MIN] = max(enc.p_min, 1e-300)
    for pol, suffix in enumerate(("ap2p", "p2ap")):  # TO_P first
        ep[K.EP_IC0 + pol] = getattr(dev, f"ic0_{suffix}")
        ep[K.EP_TAU0 + pol] = getattr(dev, f"tau0_{suffix}")
        ep[K.EP_LOG_REACH + pol] = math.log(enc.pulse_width / ep[K.EP_TAU0 + pol])
    ep[K.EP_DELTA], ep[K.EP_N] = dev.delta, dev.n_exponent
    ep[K.EP_FLOOR] = physics.precessional_log_floor(dev.delta)
    ep[K.EP_SPARSE_LIMIT] = SPARSE_MAX_EVENTS_PER_CELL
    ep[K.EP_COINCIDENCE] = float(enc.scheme == "coincidence")
    ep[K.EP_SLOTS] = enc.slots
    ep[K.EP_R_P], ep[K.EP_TMR0], ep[K.EP_V_H] = dev.r_p, dev.tmr0, dev.v_h
    ep[K.EP_R_ACCESS] = r_access
    ep[K.EP_I_MAX:K.EP_I_MAX + 2] = math.inf
    if enc.scheme == "coincidence":
        currents, p0 = pulse_probabilities(enc, dev)
        ep[K.EP_P0:K.EP_P0 + 2] = p0
        ep[K.EP_PULSE_CURRENT:K.EP_PULSE_CURRENT + 2] = currents
        ep[K.EP_SLOT_WIDTH] = enc.slot_width
    return ep


def chunk_ends(start: int, total: int, checkpoint_every: int, progress_every: int) -> list[int]:
    """End indices of the chunks from ``start`` to ``total``: at most :data:`CHUNK` samples each, and a
    boundary at every multiple of ``checkpoint_every`` (if > 0) and of ``progress_every``."""
    ends, n = [], start
    while n < total:
        end = min(n + CHUNK, total)
        for every in (checkpoint_every, progress_every):
            if every > 0:
                end = min(end, (n // every + 1) * every)
        ends.append(end)
        n = end
    return ends

