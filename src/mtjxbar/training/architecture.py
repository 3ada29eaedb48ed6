"""The network every method shares: layer sizes, gains, population-coded outputs, input centring.

The in-situ network, the float baseline and the binary software baseline are all built from one
:class:`Architecture`, so they differ only in how the weights are held and trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import TrainingConfig

__all__ = ["Architecture", "build_architecture", "class_scores", "output_error", "margin_met"]


@dataclass(frozen=True, eq=False)
class Architecture:
    """Sizes ``(inputs, hidden..., output neurons)``, a gain per layer, and the input offset."""

    sizes: tuple[int, ...]
    gains: tuple[float, ...]
    n_classes: int
    outputs_per_class: int
    input_mean: torch.Tensor | None  # subtracted from every input when centring

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Peripheral input conditioning (centring) applied before the first DAC."""
        return x - self.input_mean if self.input_mean is not None else x

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1


def build_architecture(train_x: torch.Tensor, n_classes: int, hidden: tuple[int, ...],
                       config: TrainingConfig) -> Architecture:
    """Gains: first layer ``scale / sqrt(E|x|^2)`` over the (conditioned) training inputs, later layers
    ``scale / sqrt(fan-in)``; so pre-activations have about unit spread with weights of +-1."""
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden = {list(hidden)}: every hidden layer size must be >= 1")
    mean = train_x.mean(dim=0) if config.center_inputs else None
    x = train_x - mean if mean is not None else train_x
    sizes = (train_x.shape[1], *hidden, n_classes * config.outputs_per_class)
    scales = config.gain_scales
    gains = []
    for layer in range(len(sizes) - 1):
        scale = scales[min(layer, len(scales) - 1)]
        energy = float((x**2).sum(dim=1).mean()) if layer == 0 else float(sizes[layer])
        gains.append(scale / math.sqrt(max(energy, 1e-12)))
    return Architecture(sizes=sizes, gains=tuple(gains), n_classes=n_classes,
                        outputs_per_class=config.outputs_per_class, input_mean=mean)


def class_scores(z: torch.Tensor, arch: Architecture) -> torch.Tensor:
    """Mean of each class's output neurons (population coding), shape (..., n_classes)."""
    return z.unflatten(-1, (arch.n_classes, arch.outputs_per_class)).mean(dim=-1)


def output_error(z: torch.Tensor, label: int, arch: Architecture) -> torch.Tensor:
    """d(cross-entropy of softmax(class scores))/dz for one sample, per output neuron."""
    probs = torch.softmax(class_scores(z, arch), dim=-1)
    probs[label] -= 1.0
    return probs.repeat_interleave(arch.outputs_per_class) / arch.outputs_per_class


def margin_met(z: torch.Tensor, label: int, arch: Architecture, margin: float | None) -> bool:
    """Stop-learning: True when the true class beats every other class by ``margin``."""
    if margin is None:
        return False
    scores = class_scores(z, arch)
    others = torch.cat([scores[:label], scores[label + 1:]])
    return bool(scores[label] - others.max() >= margin)
