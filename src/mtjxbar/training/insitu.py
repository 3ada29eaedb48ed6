"""In-situ training: forward on the crossbars, errors in the periphery, stochastic writes per sample."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial

import torch

from ..nn import HardwareConfig, TransferCounts, make_layer
from ..nn.autograd import CrossbarRead
from ..optim import InSituSGD
from .architecture import Architecture, class_scores, margin_met, output_error
from .config import TrainingConfig

__all__ = ["InSituNetwork", "EpochStats", "network_optimizer", "train_step", "train_insitu", "evaluate"]

Progress = Callable[[int, int], None]
PREPARE_BATCH = 256  # inputs whose first-layer read terms and row pulses are computed together
Checkpoint = Callable[[int, "EpochStats"], None]
TRANSFER_FIELDS = tuple(f.name for f in fields(TransferCounts))  # the fused kernel's TC_* order


class InSituNetwork(torch.nn.Module):
    """An MLP of :class:`~mtjxbar.nn.MTJLinear` layers (or :class:`~mtjxbar.nn.TransferLinear` where
    ``hardware.transfer`` has a counter) with tanh hidden units (computed in the periphery): a torch module
    built from the API's layers, trained by :class:`~mtjxbar.optim.InSituSGD` (:func:`train_step`) or, where
    it applies, by the fused loop that runs the same steps compiled."""

    def __init__(self, arch: Architecture, hardware: HardwareConfig, *, device: str = "cpu") -> None:
        super().__init__()
        self.arch = arch
        self.input_range = hardware.converters.input_range
        self.layers = torch.nn.ModuleList(
            make_layer(n_in, n_out, hardware, gain, device=device)
            for n_in, n_out, gain in zip(arch.sizes[:-1], arch.sizes[1:], arch.gains, strict=True))

    def forward(self, x: torch.Tensor, prepared: PreparedInput | None = None) -> torch.Tensor:
        """The output layer's pre-activations ``z_out`` (before the head) of conditioned inputs ``x``
        (``arch.prepare``), through the layers' autograd hooks: ``backward`` on a loss of it takes the
        hidden errors from the transposed reads and records what :class:`InSituSGD` writes. ``prepared``:
        the single input's :meth:`prepare_inputs` entry (``x`` is then its ``x[None]``); the first layer
        reads from its terms, as :meth:`activations` does."""
        for i, layer in enumerate(self.layers):
            if i == 0 and prepared is not None and torch.is_grad_enabled():
                read = partial(_prepared_read, layer.forward_prepared, prepared.terms)
                z = CrossbarRead.apply(x, layer.handle, layer, read)
                z = z if layer.bias is None else z + layer.bias.to(z.dtype)
            else:
                z = layer(x)
            x = torch.tanh(z) if i < len(self.layers) - 1 else z
        return x

    @torch.no_grad()
    def activations(self, x: torch.Tensor, prepared: PreparedInput | None = None) -> list[torch.Tensor]:
        """Activations of every layer: ``[x, h1, ..., z_out]`` (``x`` conditioned, ``z_out`` before the head),
        without autograd; ``prepared``: this input's :meth:`prepare_inputs` entry (the first layer then reads
        from it)."""
        acts = [self.arch.prepare(x) if prepared is None else prepared.x]
        for i, layer in enumerate(self.layers):
            z = layer(acts[-1]) if i or prepared is None else layer.forward_prepared(*prepared.terms)
            acts.append(torch.tanh(z) if i < len(self.layers) - 1 else z)
        return acts

    def prepare_inputs(self, x: torch.Tensor) -> list[PreparedInput] | None:
        """What the first layer's read and write need of a batch of raw inputs, computed for the batch at
        once (input conditioning, DAC, voltage-dependent read terms, row pulses); None where the first
        layer cannot fold its read (:meth:`MTJLinear.prepare`)."""
        batch = prepare_first_layer(self.arch, self.layers[0], x)
        if batch is None:
            return None
        x0, (base, extra, ref), (widths, signs, r_max) = batch
        return [PreparedInput(x=x0[n], terms=(base[n], extra[n], None if ref is None else ref[n]),
                              rows=(widths[n], signs[n], m)) for n, m in enumerate(r_max.flatten().tolist())]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return class_scores(self.activations(x)[-1], self.arch).argmax(dim=-1)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weights() for layer in self.layers]


def _prepared_read(forward_prepared, terms: tuple, x: torch.Tensor) -> torch.Tensor:
    """A first layer's read of one input (batch of 1) from its :meth:`MTJLinear.prepare` terms."""
    return forward_prepared(*terms)[None]


def prepare_first_layer(arch: Architecture, first, x: torch.Tensor) -> tuple | None:
    """For a batch of raw inputs ``x``: the conditioned inputs, the first layer's read terms
    (``prepare``) and its row pulses (``encoder.row_pulses``), all computed for the batch at once; None where
    the layer cannot fold its read. Shared by :class:`InSituNetwork` and the batched chips."""
    x0 = arch.prepare(x)
    terms = first.prepare(x0)
    if terms is None:
        return None
    return x0, terms, first.encoder.row_pulses(x0)


@dataclass(frozen=True)
class PreparedInput:
    """One input as the first layer sees it, computed in a batch (:meth:`InSituNetwork.prepare_inputs`)."""

    x: torch.Tensor  # conditioned input (the first layer's row factor)
    terms: tuple  # MTJLinear.prepare terms of this input
    rows: tuple  # PulseEncoder.row_pulses of this input: widths, signs, max |x| (float)


@dataclass
class EpochStats:
    """What one epoch of in-situ training did."""

    train_accuracy: float = 0.0
    updates: int = 0  # samples that caused a write (margin not met)
    flips: int = 0
    disturb_flips: int = 0  # of ``flips``: half-select disturbs of passive arrays (cells the write did not aim at)
    phases: int = 0
    flips_per_layer: list[int] = field(default_factory=list)
    correct: int = 0  # samples classified right before their update, so far
    engine: str = "eager"  # the loop that ran: "fused" or "eager" (training.engine)
    transfer: dict[str, int] = field(default_factory=dict)  # TransferCounts summed (transfer layers only)

    def add_transfer(self, counts: TransferCounts | dict[str, int]) -> None:
        """Add one sample's transfer counts."""
        items = counts.items() if isinstance(counts, dict) else vars(counts).items()
        for name, value in items:
            self.transfer[name] = self.transfer.get(name, 0) + int(value)


def network_optimizer(net: InSituNetwork, lr: float, config: TrainingConfig,
                      generators: list[torch.Generator]) -> InSituSGD:
    """The optimizer of the CLI's network: one param group per layer with its learning rate (``lr`` times
    ``config.layer_lr_scales``) and its own write generator. Its ``engine`` is ``"eager"``: this loop is the
    reference the fused engine is held to, and it keeps the random draws of ``plan`` / ``write``."""
    scales = config.layer_lr_scales
    return InSituSGD([{"params": [layer.handle], "lr": lr * scales[min(i, len(scales) - 1)], "generator": gen}
                      for i, (layer, gen) in enumerate(zip(net.layers, generators, strict=True))], lr=lr,
                     engine="eager")


def train_step(net: InSituNetwork, x: torch.Tensor, label: int, lr: float, config: TrainingConfig,
               generators: list[torch.Generator], stats: EpochStats, prepared: PreparedInput | None = None,
               sample: int = 0, optimizer: InSituSGD | None = None) -> bool:
    """One per-sample in-situ step through the torch API; returns whether the sample was classified right
    before the update. The forward pass reads the arrays; the periphery's output error (population-coded
    softmax cross-entropy, or nothing where the margin is met) is back-propagated by ``backward`` through
    the transposed reads and tanh' ; :class:`InSituSGD` writes each layer's rank-1 request and runs the
    transfers ``sample`` schedules (the global sample index over all epochs; they run whether or not the
    sample wrote: they are clocked by samples). ``prepared``: the input's :meth:`InSituNetwork.prepare_inputs`
    entry (same result); ``optimizer``: :func:`network_optimizer` of these ``lr``, ``config`` and
    ``generators``, built here if not given."""
    opt = optimizer if optimizer is not None else network_optimizer(net, lr, config, generators)
    opt.zero_grad()
    states = [opt.state[layer.handle] for layer in net.layers]
    before = [{**st, "transfer": dict(st.get("transfer", {}))} for st in states]
    opt.clock(sample)
    x0 = net.arch.prepare(x) if prepared is None else prepared.x
    with torch.enable_grad():
        z = net(x0[None], prepared)[0]
        correct = int(class_scores(z.detach(), net.arch).argmax()) == label
        if margin_met(z.detach(), label, net.arch, config.margin):
            opt.idle()
        else:
            (z * output_error(z.detach(), label, net.arch)).sum().backward()  # dL/dz = the periphery's error
            opt.step()
            stats.updates += 1
    for i, (layer, old) in enumerate(zip(net.layers, before, strict=True)):
        new = opt.state[layer.handle]
        flips = new.get("flips", 0) - old.get("flips", 0)
        stats.flips += flips
        stats.flips_per_layer[i] += flips
        stats.disturb_flips += new.get("disturb_flips", 0) - old.get("disturb_flips", 0)
        stats.phases += new.get("phases", 0) - old.get("phases", 0)
        moved = {k: v - old.get("transfer", {}).get(k, 0) for k, v in new.get("transfer", {}).items()}
        if moved:
            stats.add_transfer(moved)
    return correct


def train_insitu(net: InSituNetwork, x: torch.Tensor, y: torch.Tensor, config: TrainingConfig, epoch: int,
                 order: torch.Tensor, generators: list[torch.Generator], progress: Progress | None = None, *,
                 start: int = 0, stats: EpochStats | None = None, checkpoint: Checkpoint | None = None,
                 checkpoint_every: int = 0) -> EpochStats:
    """One epoch of per-sample in-situ training over ``order``; the learning rate decays per epoch.

    To continue an interrupted epoch, pass the samples already done as ``start`` and their ``stats``.
    With ``checkpoint`` and ``checkpoint_every`` > 0, ``checkpoint(done, stats)`` is called after every
    ``checkpoint_every``-th sample of the epoch (counted from its first sample, never after its last).
    """
    lr = config.lr * config.lr_decay**epoch
    stats = stats if stats is not None else EpochStats(flips_per_layer=[0] * len(net.layers))
    fused = fused_network(net, config)
    stats.engine = "eager" if fused is None else "fused"
    if fused is not None:
        return _train_fused(fused, x, y, config, lr, order, generators, progress, start, stats, checkpoint,
                            checkpoint_every, epoch * len(order))
    labels = y.tolist()
    indices = order.tolist()
    optimizer = network_optimizer(net, lr, config, generators)
    batch: list[PreparedInput] | None = None
    for n in range(start, len(indices)):
        idx = indices[n]
        if (n - start) % PREPARE_BATCH == 0:
            batch = net.prepare_inputs(x[order[n:n + PREPARE_BATCH]])
        prepared = batch[(n - start) % PREPARE_BATCH] if batch is not None else None
        stats.correct += train_step(net, x[idx], labels[idx], lr, config, generators, stats, prepared,
                                    sample=epoch * len(indices) + n, optimizer=optimizer)
        if progress is not None and (n + 1) % 500 == 0:
            progress(n + 1, len(indices))
        if checkpoint is not None and checkpoint_every > 0 and (n + 1) % checkpoint_every == 0 \
                and n + 1 < len(indices):
            checkpoint(n + 1, stats)
    stats.train_accuracy = stats.correct / max(len(indices), 1)
    return stats


def fused_network(net: InSituNetwork, config: TrainingConfig):
    """The fused loop's view of ``net`` (:mod:`.fused`) when ``config.engine`` asks for it and it applies;
    None for the eager loop. ``engine = 'fused'`` where it does not apply is an error that says why."""
    if config.engine == "eager":
        return None
    try:
        from .fused import FusedNetwork, unsupported
    except ImportError as err:  # numba missing
        if config.engine == "fused":
            raise ValueError(f"training.engine = 'fused' needs numba ({err})") from None
        return None
    reason = unsupported(net)
    if reason is not None:
        if config.engine == "fused":
            raise ValueError(f"training.engine = 'fused' does not apply: {reason}; use 'auto' or 'eager'")
        return None
    return FusedNetwork(net, config.layer_lr_scales)


def _train_fused(fused, x, y, config: TrainingConfig, lr: float, order: torch.Tensor,
                 generators: list[torch.Generator], progress: Progress | None, start: int, stats: EpochStats,
                 checkpoint: Checkpoint | None, checkpoint_every: int, first_sample: int = 0) -> EpochStats:
    """:func:`train_insitu` by the fused loop, chunk by chunk (progress and checkpoints between chunks, at
    the same sample counts as the eager loop)."""
    from .fused import chunk_ends

    total = len(order)
    every = checkpoint_every if checkpoint is not None else 0
    n = start
    for end in chunk_ends(start, total, every, 500 if progress is not None else 0):
        idx = order[n:end]
        out = fused.run(x[idx], y[idx], lr, generators, config.margin, sample0=first_sample + n)
        stats.correct += int(out["correct"].sum())
        stats.updates += int(out["updated"].sum())
        stats.phases += int(out["phases"].sum())
        per_layer = (out["flips_to_p"] + out["flips_to_ap"]).sum(axis=0).tolist()
        for i, flips in enumerate(per_layer):
            stats.flips_per_layer[i] += int(flips)
        stats.flips += int(sum(per_layer))
        for i, layer in enumerate(fused.net.layers):
            if out["transfer"][:, i].any():
                stats.add_transfer(kernel_transfer_counts(layer, out["transfer"][:, i].sum(axis=0)))
        n = end
        if progress is not None and n % 500 == 0:
            progress(n, total)
        if every > 0 and n % every == 0 and n < total:
            checkpoint(n, stats)
    stats.train_accuracy = stats.correct / max(total, 1)
    return stats


def kernel_transfer_counts(layer, counts) -> dict[str, int]:
    """The fused kernel's :data:`TRANSFER_FIELDS` counts of a transfer layer as :class:`TransferCounts`
    fields: the kernel counts one read per sense; a two-bias sense is ``layer.reads_per_sense`` = 2 reads."""
    out = dict(zip(TRANSFER_FIELDS, (int(c) for c in counts), strict=True))
    for name in ("reads", "read_phases"):
        out[name] *= layer.reads_per_sense
    return out


def evaluate(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             batch: int) -> float:
    """Accuracy of ``predict`` over a data set, in batches."""
    right = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            right += int((predict(x[start:start + batch]) == y[start:start + batch]).sum())
    return right / len(x)
