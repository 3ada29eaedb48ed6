"""A fully connected layer whose synapses are a fast stochastic MTJ buffer and a multi-bit MTJ counter.

Why: with independent stochastic flips a binary synapse settles where its up and down flip rates balance,
``E[dW] / E|dW|``, not where the loss gradient vanishes (docs/mnist.md). Here the per-sample
stochastic pulse goes to a *buffer* array (``buffer_mtjs`` MTJs per synapse, balanced = 0), and every
``samples_per_sweep`` samples the periphery hands each column's buffer over to a *counter*: ``bits``
one-MTJ tiles of significance 1, 2, 4, ..., read, incremented by ``+-step`` where the buffer reads ``+-1``
(carry in the per-row periphery, :mod:`mtjxbar.periphery.counter`), written back with strong pulses and
write-verify, and the buffer cells reset. The counter moves in symmetric whole steps and the buffer's
neutral state is exactly zero, so the weight stops only where up and down transfers balance: where the
expected gradient vanishes.

Reads (forward and transposed) see ``W = C + gamma * step * LSB * A`` with ``C = (2u - L) / L =
sum_m 2^m w_m / L`` (``w_m = +-1`` the bit tile's plain weight, ``L = 2^bits - 1``, ``LSB = 2 / L``): the
periphery adds the tiles' ADC outputs weighted by ``2^m / L`` (shift-and-add) and the buffer's by
``gamma * step * LSB``. Every array is an ordinary :class:`MTJLinear` (1T1MTJ or passive, any variation):
the tiles with one MTJ per weight against the reference column, the buffer with ``buffer_mtjs``. Per
synapse the layer holds MTJ states only; the per-column reference of a one-MTJ buffer is one bit per
column of periphery state (:attr:`reference`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, fields, replace

import torch

from ..crossbar import OuterPlans, StreamResult
from ..crossbar.plan import TO_AP, TO_P, OuterPlan, WriteResult
from ..periphery import MappingConfig, TransferConfig
from ..periphery.counter import balanced_states, buffer_value, carry, increments, transfer_columns, two_bias_midpoint
from .autograd import InSituLayer
from .config import HardwareConfig
from .linear import MTJLinear

__all__ = ["TransferLinear", "TransferCounts", "make_layer"]


@dataclass
class TransferCounts:
    """What the transfers of one or more samples did (summed)."""

    columns: int = 0  # column transfers
    reads: int = 0  # column reads of one array (one-hot transposed reads), verify reads included
    read_phases: int = 0  # read steps in time (all arrays of a column read at once)
    write_phases: int = 0  # write phases in time (all arrays of a column written at once, <= 2 per round)
    increments: int = 0  # counter steps asked (rows with a transfer)
    saturated: int = 0  # of those, counters already at their bound (nothing written)
    cell_writes: int = 0  # write pulses applied to cells (counter bits and buffer resets), rewrites included
    rewrites: int = 0  # of those, repeated after a failed verify
    failed: int = 0  # cells left in the wrong state after the last verify round (stuck cells, rare failures)
    flips: int = 0  # cells switched by the transfers
    # of ``flips``: switch events of cells a transfer's write pulse did not aim at (the half-selected and
    # unselected cells of a passive array's carry and reset writes; the verify reads, and rewrites, only the
    # written column, so those elsewhere stay). A run resumed from a checkpoint older than this field counts
    # only the disturbs after the resume.
    disturbs: int = 0

    def add(self, other: TransferCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _plain(hardware: HardwareConfig, mtjs: int) -> HardwareConfig:
    return replace(hardware, mapping=MappingConfig(mtjs_per_synapse=mtjs, scheme="reference"),
                   transfer=TransferConfig())


class TransferLinear(InSituLayer):
    """``in_features -> out_features`` on a buffer array and ``counter_bits`` bit-tile arrays; ``bias`` as
    :class:`MTJLinear`'s. As a module: one autograd hook for the layer (the arrays' reads and transposed
    reads combined), and ``state_dict`` / ``.to`` / ``deepcopy`` through the arrays' :class:`MTJLinear` s
    (``buffer.*``, ``tiles.{m}.*``) and the column ``reference`` buffer."""

    def __init__(self, in_features: int, out_features: int, hardware: HardwareConfig, gain: float,
                 *, bias: bool = False, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        t = hardware.transfer
        if not t.enabled:
            raise ValueError("TransferLinear needs hardware.transfer.counter_bits >= 1")
        self.in_features, self.out_features, self.gain = in_features, out_features, float(gain)
        self.hardware, self.config = hardware, t
        self.buffer = MTJLinear(in_features, out_features, _plain(hardware, t.buffer_mtjs), gain, device=device,
                                dtype=dtype)
        self.tiles = torch.nn.ModuleList([MTJLinear(in_features, out_features, _plain(hardware, 1), gain,
                                                    device=device, dtype=dtype) for _ in range(t.counter_bits)])
        for sub in (self.buffer, *self.tiles):  # trained as parts of this layer, never on their own
            sub.handle.requires_grad_(False)
        self.tile_weights = [2.0**m / t.levels for m in range(t.counter_bits)]
        self.buffer_weight = t.gamma * t.step * t.lsb  # buffer value 1 in units of W
        # a request dW on the logical weight -> the buffer is asked for dW * request_scale: from its neutral
        # state it then moves by dW / (step LSB) on average (the soft bound halves an even buffer's expected
        # change at 0; a one-MTJ buffer takes only the direction away from its reference, half the sweeps)
        self.request_scale = (4.0 if t.buffer_mtjs == 1 else 2.0) / (t.step * t.lsb)
        d = hardware.device  # the two-bias sense's decision level, from the nominal cell (periphery constant)
        self._sense_level = two_bias_midpoint(d.r_p, d.tmr0, d.v_h, hardware.array.r_access,
                                              hardware.converters.v_read, t.sense_bias)
        # one-MTJ buffer: per-column reference (+1 P / -1 AP), inverted at every transfer of the column
        self.register_buffer("reference", 1.0 - 2.0 * (torch.arange(out_features, device=device) % 2).float())
        self.init_in_situ(out_features, bias, device)

    @property
    def encoder(self):
        """The buffer's pulse encoder (the per-sample write)."""
        return self.buffer.encoder

    @property
    def mapping(self):
        return self.buffer.mapping

    # ------------------------------------------------------------------------------------------- state
    def arrays(self) -> dict[str, object]:
        """Every crossbar of the layer by name: ``""`` the buffer, ``"bit{m}"`` the counter tiles."""
        return {"": self.buffer.crossbar, **{f"bit{m}": tile.crossbar for m, tile in enumerate(self.tiles)}}

    @property
    def crossbar(self):
        """The array the per-sample writes go to (the buffer)."""
        return self.buffer.crossbar

    def randomize(self, generator: torch.Generator) -> None:
        """Random counters (each bit P with probability 1/2) and a balanced buffer."""
        for tile in self.tiles:
            tile.randomize(generator)
        self.reset_buffer()

    def reset_buffer(self) -> None:
        """The buffer at its neutral state (ideal programming): balanced, or at the column references."""
        k, xb = self.config.buffer_mtjs, self.buffer.crossbar
        if k == 1:
            states = (self.reference > 0)[None, :].expand(self.in_features, self.out_features)
        else:
            states = balanced_states(k, self.in_features, xb.device).T.repeat(1, self.out_features)
        xb.set_states(states.to(xb.device))

    def program(self, weights: torch.Tensor) -> None:
        """Set the counters to the nearest level of ``weights`` (ideal programming) and reset the buffer."""
        t = self.config
        # contiguous: a transposed view (convert's weight.T) would leave the bit tiles' states strided
        u = torch.round((weights.clamp(-1.0, 1.0) + 1.0) * 0.5 * t.levels).to(torch.int64).contiguous()
        for m, tile in enumerate(self.tiles):
            tile.crossbar.set_states(((u >> m) & 1).bool().to(tile.crossbar.device))
        self.reset_buffer()

    def counter_weights(self) -> torch.Tensor:
        """``C = (2u - L) / L`` that the bit tiles hold, (in_features, out_features)."""
        return sum(w * tile.weights() for w, tile in zip(self.tile_weights, self.tiles, strict=True))

    def buffer_values(self) -> torch.Tensor:
        """The buffer value ``A`` in [-1, 1] of every synapse."""
        a = self.buffer.weights()
        if self.config.buffer_mtjs == 1:
            return (a - self.reference.to(a.device)) * 0.5
        return a

    def weights(self) -> torch.Tensor:
        """Logical weights ``C + gamma * step * LSB * A`` (what the reads see on an ideal array)."""
        return self.counter_weights() + self.buffer_weight * self.buffer_values()

    # --------------------------------------------------------------------------------------- compute
    def read(self, x: torch.Tensor) -> torch.Tensor:
        """All arrays read at once (the buffer first: a cost meter opens a sample at its read)."""
        a = self.buffer.read(x)
        if self.config.buffer_mtjs == 1:  # read against the column reference: (b - r) / 2
            v = self.buffer.periphery.voltages(x)
            a = (a - self.reference.to(a.dtype) * (self.gain * v.sum(-1, keepdim=True)
                                                    / self.hardware.converters.v_read)) * 0.5
        z = sum(w * tile.read(x) for w, tile in zip(self.tile_weights, self.tiles, strict=True))
        return z + self.buffer_weight * a

    def prepare(self, x: torch.Tensor):
        """No folded first-layer read (several arrays): :meth:`read` runs."""
        return None

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        """Error at the inputs ``gain * W @ delta / input_range`` by the transposed reads of every array."""
        err = sum(w * tile.backward(delta) for w, tile in zip(self.tile_weights, self.tiles, strict=True))
        if self.buffer_weight:
            a = self.buffer.backward(delta)
            if self.config.buffer_mtjs == 1:
                ref = (delta * self.reference.to(delta.dtype)).sum(-1, keepdim=True)
                a = (a - self.gain * ref / self.hardware.converters.input_range) * 0.5
            err = err + self.buffer_weight * a
        return err

    # ---------------------------------------------------------------------------------------- update
    def plan(self, row_factor: torch.Tensor, col_factor: torch.Tensor, rows=None) -> OuterPlan:
        """Write plan of the requested change ``dW = outer(row_factor, col_factor)``: the buffer is asked
        for ``dW * request_scale``, so that from its neutral state its expected change, handed over to the
        counter, is the request."""
        return self.buffer.plan(row_factor, col_factor * self.request_scale, rows)

    def write(self, plan, generator: torch.Generator) -> WriteResult:
        return self.buffer.write(plan, generator)

    def stream_unsupported(self) -> str | None:
        """Why a sample's writes cannot go to the buffer as one stream (the buffer's reason), or None."""
        return self.buffer.stream_unsupported()

    def plan_stream(self, row_factors: torch.Tensor, col_factors: torch.Tensor) -> OuterPlans:
        """:meth:`plan` of many requests at once: the buffer's stream plans of ``dW * request_scale``."""
        return self.buffer.plan_stream(row_factors, col_factors * self.request_scale)

    def write_stream(self, plans: OuterPlans, generator: torch.Generator) -> StreamResult:
        """The buffer's compiled loop over ``plans`` (:meth:`MTJLinear.write_stream`); transfers stay with
        :meth:`transfer_after`."""
        return self.buffer.write_stream(plans, generator)

    def transfer_after(self, sample: int, generator: torch.Generator) -> TransferCounts:
        """The transfers scheduled after global sample ``sample`` (0-based over all epochs)."""
        counts = TransferCounts()
        for col in transfer_columns(sample, self.out_features, self.config.samples_per_sweep):
            counts.add(self.transfer_column(col, generator))
        return counts

    # -------------------------------------------------------------------------------------- transfer
    @property
    def reads_per_sense(self) -> int:
        """Array reads per sense of a column: 1 (threshold), 2 (two-bias)."""
        return 2 if self.config.sense == "two_bias" else 1

    def _column_current(self, layer: MTJLinear, phys_col: int, volts: float) -> torch.Tensor:
        """Row currents (rows,) of a one-hot transposed read of one physical column at ``volts``."""
        xb = layer.crossbar
        v = torch.zeros(xb.cols, dtype=xb.dtype, device=xb.device)
        v[phys_col] = volts
        return xb.read_transposed(v, volts)

    def sense_flags(self, layer: MTJLinear) -> torch.Tensor:
        """(2, rows, cols) bool: whether each cell of one of this layer's arrays (``layer``: the buffer or a
        bit tile) reads as P in :meth:`sense_column` when it is in P [0] and when it is in AP [1]; the fused
        engine's view of the sense. Uniform arrays read every state right. With per-cell parameters:
        ``threshold``, each cell's current in either state from the array's Chebyshev fit, as its transposed
        read computes it (float32, term by term); ``two_bias``, P reads right (ratio 1) and an AP cell reads
        as P where its own conductance ratio stays below the decision level (closed form, per-cell R_P,
        TMR0 and v_h)."""
        xb, v_read = layer.crossbar, self.hardware.converters.v_read
        right = torch.stack([torch.ones(xb.rows, xb.cols, dtype=torch.bool),
                             torch.zeros(xb.rows, xb.cols, dtype=torch.bool)])
        if xb.uniform:
            return right
        if self.config.sense == "two_bias":
            p = {n: xb.params[n].to(torch.float64).cpu() for n in ("r_p", "tmr0", "v_h")}

            def g_ap(volts: float) -> torch.Tensor:
                v = torch.full((xb.rows, xb.cols), volts, dtype=torch.float64)
                return xb.ap_conductance(v, p["r_p"], p["tmr0"], p["v_h"])

            right[1] = g_ap(self.config.sense_bias) < self._sense_level * g_ap(v_read)
            return right
        fit = xb.per_cell_reads(torch.zeros(1), v_read)
        w = fit.weights(torch.tensor([v_read], dtype=xb.dtype))[:, 0]  # (degree + 1,)
        ap = fit.ap_terms.view(-1, xb.rows, xb.cols)
        i_ap = w[0] * ap[0]
        for k in range(1, ap.shape[0]):
            i_ap = i_ap + w[k] * ap[k]
        i_p = w[0] * fit.p_terms[0].view(xb.rows, xb.cols)
        threshold = layer.g_ref * v_read
        return torch.stack([i_p > threshold, i_ap > threshold]).cpu()

    def _read_column(self, layer: MTJLinear, phys_col: int) -> torch.Tensor:
        """:meth:`sense_column`, what the periphery reads. A uniform 1T1MTJ array reads every state right
        (:meth:`sense_flags`), so without a cost meter listening (which counts the reads' energy) its states
        are that result without the one-hot reads (``tests/nn/test_transfer_linear.py`` checks it)."""
        xb = layer.crossbar
        if xb.uniform and xb.events is None and xb.array.kind == "1t1mtj":
            return xb.parallel[:, phys_col].clone()
        return self.sense_column(layer, phys_col)

    def sense_column(self, layer: MTJLinear, phys_col: int) -> torch.Tensor:
        """States (P = True) of one physical column as the periphery senses them (rows,): ``threshold``,
        the current at ``v_read`` against the reference conductance; ``two_bias``, each cell's own
        conductance ratio between ``sense_bias`` and ``v_read`` against :func:`two_bias_midpoint`."""
        t, v_read = self.config, self.hardware.converters.v_read
        i1 = self._column_current(layer, phys_col, v_read)
        if t.sense == "threshold":
            return i1 > layer.g_ref * v_read
        i2 = self._column_current(layer, phys_col, t.sense_bias)
        return i2 * v_read < self._sense_level * (i1 * t.sense_bias)

    def _program(self, layer: MTJLinear, phys_col: int, old: torch.Tensor, target: torch.Tensor,
                 generator: torch.Generator, counts: TransferCounts) -> tuple[int, int]:
        """Write ``target`` into one column whose read states are ``old``: strong pulses on the cells that
        differ, then read-verify-rewrite rounds (``verify_rounds``). Returns (write rounds, verify reads)."""
        t, xb, dev = self.config, layer.crossbar, layer.hardware.device
        current = {TO_P: t.carry_overdrive * dev.ic0_ap2p, TO_AP: t.carry_overdrive * dev.ic0_p2ap}
        wrong = old != target
        rounds = verifies = 0
        for attempt in range(t.verify_rounds + 1):
            if not bool(wrong.any()):
                break
            n = int(wrong.sum())
            counts.cell_writes += n
            counts.rewrites += n if attempt else 0
            rounds += 1
            for polarity, want in ((TO_P, True), (TO_AP, False)):
                gated = wrong & (target == want)
                if bool(gated.any()):
                    res = xb.write_column(phys_col, gated, t.carry_width, current[polarity], polarity, generator)
                    counts.flips += res.flips_to_p + res.flips_to_ap
                    counts.disturbs += res.disturb_flips
            if attempt < t.verify_rounds:
                verifies += 1
                wrong = self._read_column(layer, phys_col) != target
        counts.reads += verifies * self.reads_per_sense
        counts.failed += int((xb.parallel[:, phys_col].cpu() != target.cpu()).sum())
        return rounds, verifies

    def transfer_column(self, col: int, generator: torch.Generator) -> TransferCounts:
        """Hand column ``col`` of the buffer over to the counter (read, carry, write-verify, reset). An event
        sink of the arrays that has ``transfer()`` (a cost meter's) sees the column's events inside it."""
        with ExitStack() as scope:
            for xb in self.arrays().values():
                enter = getattr(xb.events, "transfer", None)
                if callable(enter):
                    scope.enter_context(enter())
            return self._transfer_column(col, generator)

    def _transfer_column(self, col: int, generator: torch.Generator) -> TransferCounts:
        t, counts = self.config, TransferCounts(columns=1)
        k = t.buffer_mtjs
        buf_cols = [col * k + m for m in range(k)]
        a_bits = torch.stack([self._read_column(self.buffer, c) for c in buf_cols])
        c_bits = torch.stack([self._read_column(tile, col) for tile in self.tiles])
        counts.reads += (k + len(self.tiles)) * self.reads_per_sense
        counts.read_phases += self.reads_per_sense
        ref = float(self.reference[col])
        inc = increments(buffer_value(a_bits, ref), t.threshold, t.step)
        new_bits = carry(c_bits, inc)
        counts.increments += int((inc != 0).sum())
        counts.saturated += int(((inc != 0) & (new_bits == c_bits).all(dim=0)).sum())
        steps = [self._program(tile, col, c_bits[m], new_bits[m], generator, counts)
                 for m, tile in enumerate(self.tiles)]
        if k == 1:  # the reference inverts: cells that moved away from it are there already
            self.reference[col] = -ref
            steps.append(self._program(self.buffer, buf_cols[0], a_bits[0], torch.full_like(a_bits[0], -ref > 0),
                                       generator, counts))
        else:
            moved = inc != 0
            balanced = balanced_states(k, self.in_features, a_bits.device)
            for m, c in enumerate(buf_cols):
                target = torch.where(moved, balanced[m], a_bits[m])
                steps.append(self._program(self.buffer, c, a_bits[m], target, generator, counts))
        # all arrays of the column are written (two polarities) and verified at the same time
        counts.write_phases += 2 * max(r for r, _ in steps)
        counts.read_phases += max(v for _, v in steps) * self.reads_per_sense
        return counts


def make_layer(in_features: int, out_features: int, hardware: HardwareConfig, gain: float, *, bias: bool = False,
               device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> MTJLinear | TransferLinear:
    """A :class:`TransferLinear` where ``hardware.transfer`` has a counter, else an :class:`MTJLinear`."""
    cls = TransferLinear if hardware.transfer.enabled else MTJLinear
    return cls(in_features, out_features, hardware, gain, bias=bias, device=device, dtype=dtype)
