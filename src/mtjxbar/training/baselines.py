"""Software baselines on the same architecture: float SGD, and binary weights with float shadow weights.

Both train per sample (batch size 1, plain SGD, softmax cross-entropy on the class scores), from the
same shadow weights (uniform in [-1, 1], drawn from the experiment seed). The binary baseline
(BinaryConnect: Courbariaux, Bengio & David, NeurIPS 2015) keeps float shadow weights clipped to
[-1, 1], computes forward and backward with the nearest weights the MTJ synapse can hold (``levels``:
sign for k = 1) and passes the gradient straight through to the shadow weights. Its quantised weights
are what ex-situ programming writes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .architecture import Architecture, class_scores

__all__ = ["SoftwareMLP", "train_software_epoch"]


class SoftwareMLP(torch.nn.Module):
    """``z = gain * h @ W / input_range`` per layer, tanh hidden units; optional weight quantiser."""

    def __init__(self, arch: Architecture, weights: list[torch.Tensor], input_range: float,
                 quantizer: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__()
        self.arch, self.input_range, self.quantizer = arch, input_range, quantizer
        self.weights = torch.nn.ParameterList(torch.nn.Parameter(w.detach().clone().float()) for w in weights)

    def effective(self, w: torch.Tensor) -> torch.Tensor:
        """The weight the forward pass uses (straight-through quantised for the binary baseline)."""
        if self.quantizer is None:
            return w
        return w + (self.quantizer(w) - w).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.arch.prepare(x)
        for i, (w, gain) in enumerate(zip(self.weights, self.arch.gains, strict=True)):
            h = (gain / self.input_range) * (h @ self.effective(w))
            if i < len(self.weights) - 1:
                h = torch.tanh(h)
        return class_scores(h, self.arch)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x).argmax(dim=-1)

    def quantized_weights(self) -> list[torch.Tensor]:
        q = self.quantizer or (lambda w: w)
        return [q(w.detach()) for w in self.weights]


def train_software_epoch(model: SoftwareMLP, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor,
                         lr: float, clip: bool, progress: Callable[[int, int], None] | None = None) -> float:
    """One epoch of per-sample SGD; ``clip`` keeps shadow weights in [-1, 1]. Returns train accuracy."""
    params = list(model.weights)
    correct = 0
    for n, idx in enumerate(order.tolist()):
        scores = model(x[idx:idx + 1])
        target = y[idx:idx + 1]
        correct += int(scores.argmax(dim=-1) == target)
        loss = F.cross_entropy(scores, target)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(lr * g)
                if clip:
                    p.clamp_(-1.0, 1.0)
        if progress is not None and (n + 1) % 500 == 0:
            progress(n + 1, len(order))
    return correct / max(len(order), 1)
