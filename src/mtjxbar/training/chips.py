"""In-situ training of K chips at once: the per-sample loop of :mod:`.insitu`, batched over a chip dimension.

A Monte Carlo study over manufactured chips (variation, faults) trains K networks of the same architecture
on the same samples in the same order. Here the K networks are one :class:`ChipNetwork` of
:class:`~mtjxbar.nn.chips.MTJLinearChips` layers: each step is one set of tensor operations for all K chips
(reads are batched matrix products, the encoder works on (K, ...) requests, the sparse sampler draws for all
chips at once), so the per-sample cost, which is latency-bound, is paid once instead of K times.

Chip ``k`` is manufactured and initialised as a single run of seed ``seeds[k]`` (same generator names:
``variation.layer{i}``, ``faults.layer{i}``, ``init.layer{i}``); the write draws come from one generator
per layer for the batch (``write.layer{i}.chips`` of ``seeds[0]``), so the chips are independent in
distribution but their flips are not bit-identical to K single runs. A chip whose margin is met skips its
update (zero request: no events), as the single-chip loop does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..nn import HardwareConfig
from ..nn.chips import MTJLinearChips
from ..rng import generator
from .architecture import Architecture, class_scores
from .config import TrainingConfig
from .insitu import prepare_first_layer

__all__ = ["ChipNetwork", "ChipEpochStats", "train_chips", "evaluate_chips"]

PREPARE_BATCH = 256  # inputs whose first-layer read terms and row pulses are computed together


class ChipNetwork:
    """K chips of an MLP of MTJ layers with tanh hidden units (one batch of tensors per layer)."""

    def __init__(self, arch: Architecture, hardware: HardwareConfig, seeds: list[int], *, device: str = "cpu") -> None:
        if not seeds:
            raise ValueError("ChipNetwork: at least one chip (seed) is needed")
        self.arch, self.seeds, self.chips = arch, list(seeds), len(seeds)
        self.device = torch.device(device)
        self.input_range = hardware.converters.input_range
        self.layers = [MTJLinearChips(self.chips, n_in, n_out, hardware, gain, device=device)
                       for n_in, n_out, gain in zip(arch.sizes[:-1], arch.sizes[1:], arch.gains, strict=True)]
        for i, layer in enumerate(self.layers):
            layer.randomize([generator(s, f"init.layer{i}") for s in self.seeds])
            layer.manufacture(self.seeds, i)
        self.write_gens = [generator(self.seeds[0], f"write.layer{i}.chips", device=device)
                           for i in range(len(self.layers))]

    def forward(self, x: torch.Tensor, prepared: tuple | None = None) -> list[torch.Tensor]:
        """Activations ``[x, h1 (K, ...), ..., z_out (K, ...)]`` for inputs ``x`` shared by every chip;
        ``prepared``: this input's entry of :meth:`prepare_inputs` (the first layer then reads from it)."""
        acts = [self.arch.prepare(x) if prepared is None else prepared[0]]
        for i, layer in enumerate(self.layers):
            z = layer.forward_prepared(*prepared[1]) if i == 0 and prepared is not None else \
                layer(acts[-1], shared=i == 0)
            acts.append(torch.tanh(z) if i < len(self.layers) - 1 else z)
        return acts

    def prepare_inputs(self, x: torch.Tensor) -> list[tuple] | None:
        """Per input of a batch: (conditioned input, first-layer read terms, first-layer row pulses)."""
        batch = prepare_first_layer(self.arch, self.layers[0], x)
        if batch is None:
            return None
        x0, (base, extra, ref), (widths, signs, r_max) = batch
        return [(x0[n], (base[n], extra[n], ref[n]), (widths[n], signs[n], r_max[n])) for n in range(len(x0))]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class predictions (K, batch) of a batch of inputs (batch, features)."""
        return class_scores(self.forward(x)[-1], self.arch).argmax(dim=-1)


@dataclass
class ChipEpochStats:
    """What one epoch did, per chip."""

    correct: torch.Tensor  # (K,) samples classified right before their update
    updates: torch.Tensor  # (K,) samples that caused a write
    flips: torch.Tensor  # (K,)
    samples: int = 0
    train_accuracy: list[float] = field(default_factory=list)


def _output_error(z: torch.Tensor, label: int, arch: Architecture) -> torch.Tensor:
    """:func:`.architecture.output_error` per chip: z (K, outputs)."""
    probs = torch.softmax(class_scores(z, arch), dim=-1)
    probs[:, label] -= 1.0
    return probs.repeat_interleave(arch.outputs_per_class, dim=-1) / arch.outputs_per_class


def _needs_update(scores: torch.Tensor, label: int, margin: float | None) -> torch.Tensor:
    """Per chip: the stop-learning margin is not met (:func:`.architecture.margin_met`, negated)."""
    if margin is None:
        return torch.ones(scores.shape[0], dtype=torch.bool, device=scores.device)
    others = torch.cat([scores[:, :label], scores[:, label + 1:]], dim=-1)
    return (scores[:, label] - others.amax(-1)) < margin


def train_step(net: ChipNetwork, x: torch.Tensor, label: int, lr: float, config: TrainingConfig,
               stats: ChipEpochStats, prepared: tuple | None = None) -> None:
    """One per-sample in-situ step on every chip (``prepared``: the input's :meth:`ChipNetwork.prepare_inputs`
    entry, if computed; same result)."""
    acts = net.forward(x, prepared)
    z = acts[-1]
    scores = class_scores(z, net.arch)
    stats.correct += scores.argmax(-1) == label
    update = _needs_update(scores, label, config.margin)
    if not bool(update.any()):
        return
    deltas = [_output_error(z, label, net.arch) * update[:, None]]
    for layer, h in zip(reversed(net.layers[1:]), reversed(acts[1:-1]), strict=True):
        deltas.insert(0, layer.backward(deltas[0]) * (1.0 - h * h))
    scales = config.layer_lr_scales
    for i, (layer, h, d) in enumerate(zip(net.layers, acts[:-1], deltas, strict=True)):
        col = d * (-lr * scales[min(i, len(scales) - 1)] * layer.gain / net.input_range)  # rules.sgd_request
        rows = prepared[2] if i == 0 and prepared is not None else layer.encoder.row_pulses(h)
        plan = layer.plan(col, rows)
        stats.flips += layer.write(plan, net.write_gens[i])
    stats.updates += update


def train_chips(net: ChipNetwork, x: torch.Tensor, y: torch.Tensor, config: TrainingConfig, epoch: int,
                order: torch.Tensor) -> ChipEpochStats:
    """One epoch of per-sample in-situ training of every chip over ``order`` (learning rate decayed per epoch)."""
    lr = config.lr * config.lr_decay**epoch
    zeros = torch.zeros(net.chips, dtype=torch.long, device=net.device)
    stats = ChipEpochStats(correct=zeros.clone(), updates=zeros.clone(), flips=zeros.clone())
    labels = y.tolist()
    indices = order.tolist()
    batch = None
    for n, idx in enumerate(indices):
        if n % PREPARE_BATCH == 0:
            batch = net.prepare_inputs(x[order[n:n + PREPARE_BATCH]])
        train_step(net, x[idx], labels[idx], lr, config, stats, None if batch is None else batch[n % PREPARE_BATCH])
    stats.samples = len(order)
    stats.train_accuracy = (stats.correct.double() / max(len(order), 1)).tolist()
    return stats


def evaluate_chips(net: ChipNetwork, x: torch.Tensor, y: torch.Tensor, batch: int) -> list[float]:
    """Test accuracy of every chip."""
    right = torch.zeros(net.chips, dtype=torch.long, device=net.device)
    with torch.no_grad():
        for start in range(0, len(x), batch):
            right += (net.predict(x[start:start + batch]) == y[start:start + batch]).sum(-1)
    return (right.double() / len(x)).tolist()
