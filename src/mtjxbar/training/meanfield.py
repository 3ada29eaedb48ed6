"""The mean-field limit of in-situ training: what the rule does with infinitely many MTJs per synapse.

Each synapse of k MTJs holds ``W = mean of its states (+-1)`` (reference scheme). Under a request
``dW_ij = r_i c_j`` the encoder asks each MTJ that can move toward ``sign(r_i c_j)`` to flip with
``p_ij = 1 - (1 - q_j)^(a_i)``, ``q_j = min(max|r| |c_j| / 2, p_max)`` and ``a_i = |r_i| / max|r|``
(thermal regime; see :mod:`mtjxbar.periphery.encoder`); a fraction ``(1 - s W)/2`` of them can, and
each flip moves W by ``2/k``. So the expected change is

    E[dW_ij] = s_ij * p_ij * (1 - s_ij * W_ij),    s_ij = sign(r_i c_j),

whatever k. As ``k -> infinity`` the realised weight concentrates on this deterministic trajectory (its
spread around it is ``sqrt((1 - W^2)/k)``), so training a float ``W`` with this update is the in-situ
rule's ceiling with perfect devices and infinite MTJs: the gap between it and float SGD is the rule's,
not the sampling's. Its fixed point makes that visible: ``E[s p] = W E[p]`` per synapse, i.e. ``W`` settles
at the *consistency* ``E[r c] / E|r c|`` of its gradient (for small p), not where the loss gradient
vanishes.

``soft_bound=False`` drops the factor ``(1 - s W)``: a hypothetical synapse whose flip rate does not
depend on its own state (a counter, clipped at +-1), i.e. what state-dependent switching could at best
give; comparing the two isolates how much of the gap that factor causes.

Forward and backward are the ideal crossbar's (``gain * h @ W / input_range``, the transposed read with
the same W), the output error and the learning-rate schedule are the in-situ loop's.
"""

from __future__ import annotations

import torch

from .architecture import class_scores, margin_met, output_error
from .baselines import SoftwareMLP
from .config import TrainingConfig
from .rules import sgd_request

__all__ = ["expected_update", "train_meanfield_epoch"]


def _check_scheme(scheme: str) -> None:
    if scheme != "current":
        raise ValueError(f"encoder.scheme = {scheme!r}: the mean-field model covers the 'current' scheme only "
                         "(the coincidence scheme's expected update is in mtjxbar.periphery.coincidence)")


def _encoder_probability(row: torch.Tensor, col: torch.Tensor, p_max: float) -> torch.Tensor | None:
    """Each MTJ's switching probability ``1 - (1 - q_j)^(a_i)`` under the request ``outer(row, col)`` (the
    'current' encoder, see the module doc); None when the request is zero."""
    r_max = row.abs().max()
    if not r_max > 0:
        return None
    a = (row.abs() / r_max)[:, None]
    q = torch.clamp(r_max * col.abs() / 2.0, max=p_max)[None, :]
    return -torch.expm1(a * torch.log1p(-q))


def _step(weights: list[torch.Tensor], model: SoftwareMLP, x: torch.Tensor, label: int,
          margin: float | None) -> tuple[bool, list[torch.Tensor], list[torch.Tensor] | None]:
    """Forward with the ideal crossbar's reads, then the output and hidden errors (None when the margin is
    met): ``(correct, activations, deltas)``, shared by both mean-field rules."""
    arch, gains = model.arch, model.arch.gains
    acts = [arch.prepare(x)]
    for i, (w, g) in enumerate(zip(weights, gains, strict=True)):
        z = (g / model.input_range) * (acts[-1] @ w)
        acts.append(torch.tanh(z) if i < len(weights) - 1 else z)
    z = acts[-1]
    correct = int(class_scores(z, arch).argmax()) == label
    if margin_met(z, label, arch, margin):
        return correct, acts, None
    deltas = [output_error(z, label, arch)]
    for w, g, h in zip(reversed(weights[1:]), reversed(gains[1:]), reversed(acts[1:-1]), strict=True):
        deltas.insert(0, (g / model.input_range) * (w @ deltas[0]) * (1.0 - h * h))
    return correct, acts, deltas


def expected_update(w: torch.Tensor, row: torch.Tensor, col: torch.Tensor, p_max: float,
                    soft_bound: bool = True, scheme: str = "current") -> torch.Tensor:
    """E[dW] of one in-situ write of the request ``outer(row, col)`` on weights ``w`` (see module doc);
    ``soft_bound=False``: the state-independent (counter) variant, to be clipped to [-1, 1] by the caller.
    ``scheme``: the encoder's (``hardware.encoder.scheme``); only 'current' is modelled."""
    _check_scheme(scheme)
    p = _encoder_probability(row, col, p_max)
    if p is None:
        return torch.zeros_like(w)
    s = torch.sign(row)[:, None] * torch.sign(col)[None, :]
    return s * p * (1.0 - s * w) if soft_bound else 2.0 * s * p


def train_meanfield_epoch(model: SoftwareMLP, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, lr: float,
                          config: TrainingConfig, p_max: float, soft_bound: bool = True,
                          scheme: str = "current") -> float:
    """One epoch of the mean-field in-situ rule on ``model``'s float weights (in [-1, 1]); train accuracy.
    ``soft_bound=False``: the counter variant (see :func:`expected_update`), clipped to [-1, 1].
    ``scheme``: the encoder's (``hardware.encoder.scheme``); only 'current' is modelled (else ValueError)."""
    _check_scheme(scheme)
    weights, gains = list(model.weights), model.arch.gains
    scales = config.layer_lr_scales
    correct = 0
    with torch.no_grad():
        for idx in order.tolist():
            right, acts, deltas = _step(weights, model, x[idx], int(y[idx]), config.margin)
            correct += right
            if deltas is None:
                continue
            for i, (w, g, h, d) in enumerate(zip(weights, gains, acts[:-1], deltas, strict=True)):
                row, col = sgd_request(h, d, lr * scales[min(i, len(scales) - 1)], g, model.input_range)
                w.add_(expected_update(w, row, col, p_max, soft_bound))
                if not soft_bound:
                    w.clamp_(-1.0, 1.0)
    return correct / max(len(order), 1)


# ------------------------------------------------------------------------------ buffer-and-counter rule
class TransferMeanField:
    """The noise-free limit of the buffer-and-counter rule (:class:`~mtjxbar.nn.TransferLinear`, a buffer of
    two MTJs): each synapse carries the *probabilities* of its buffer's three values instead of a sample,
    and a counter ``C`` in [-1, 1] that moves by the expected transfer, not by sampled LSB steps.

    Per sample the buffer is asked for ``dA = request * request_scale``; each MTJ not yet on side
    ``s = sign(dA)`` flips with the encoder's ``p`` (as :func:`expected_update`), so from 0 the buffer
    reaches ``s`` with ``p``, and from ``-s`` (both MTJs away) it reaches ``s`` with ``p^2`` and 0 with
    ``2 p (1 - p)``: the exact Markov chain of the pair. At each column's transfer (the same schedule,
    :func:`~mtjxbar.periphery.counter.transfer_columns`) ``C += step LSB (P[A=+1] - P[A=-1])``, clipped to
    [-1, 1], and the buffer returns to 0. Reads see ``C + gamma step LSB E[A]``. What it leaves out is the
    sampling: the counter's +-1 LSB events and the buffer's random states; training a network this way
    measures the scheme's ceiling with perfect sampling (the 'expected update' row of the study).
    """

    def __init__(self, counter: torch.Tensor, transfer, request_scale: float) -> None:
        if transfer.buffer_mtjs != 2:
            raise ValueError(f"transfer.buffer_mtjs = {transfer.buffer_mtjs}: the mean-field model covers the "
                             "two-MTJ buffer")
        self.c = counter
        self.plus = torch.zeros_like(counter)  # P[A = +1]
        self.minus = torch.zeros_like(counter)  # P[A = -1]
        self.t, self.request_scale = transfer, request_scale
        self.unit = transfer.step * transfer.lsb

    def weights(self) -> torch.Tensor:
        return self.c + self.t.gamma * self.unit * (self.plus - self.minus)

    def write(self, row: torch.Tensor, col: torch.Tensor, p_max: float) -> None:
        """One per-sample write of the request ``outer(row, col)`` (on W) to the buffer."""
        col = col * self.request_scale
        p = _encoder_probability(row, col, p_max)
        if p is None:
            return
        up = (torch.sign(row)[:, None] * torch.sign(col)[None, :]) > 0
        toward, away = torch.where(up, self.plus, self.minus), torch.where(up, self.minus, self.plus)
        zero = 1.0 - toward - away
        new_toward = toward + p * zero + p * p * away
        new_away = away * (1.0 - p) ** 2
        self.plus = torch.where(up, new_toward, new_away)
        self.minus = torch.where(up, new_away, new_toward)

    def transfer(self, columns: list[int]) -> None:
        if not columns:
            return
        cols = torch.tensor(columns)
        self.c[:, cols] = (self.c[:, cols] + self.unit * (self.plus[:, cols] - self.minus[:, cols])).clamp(-1, 1)
        self.plus[:, cols] = 0.0
        self.minus[:, cols] = 0.0


def train_transfer_meanfield_epoch(model: SoftwareMLP, layers: list[TransferMeanField], x: torch.Tensor,
                                   y: torch.Tensor, order: torch.Tensor, lr: float, config: TrainingConfig,
                                   p_max: float, first_sample: int) -> float:
    """One epoch of :class:`TransferMeanField` layers (``model``'s weights are refreshed from them before
    every read); returns the train accuracy. ``first_sample``: global index of the epoch's first sample."""
    from ..periphery.counter import transfer_columns

    gains, scales = model.arch.gains, config.layer_lr_scales
    correct = 0
    with torch.no_grad():
        for n, idx in enumerate(order.tolist()):
            right, acts, deltas = _step([layer.weights() for layer in layers], model, x[idx], int(y[idx]),
                                        config.margin)
            correct += right
            if deltas is not None:
                for i, (layer, g, h, d) in enumerate(zip(layers, gains, acts[:-1], deltas, strict=True)):
                    row, col = sgd_request(h, d, lr * scales[min(i, len(scales) - 1)], g, model.input_range)
                    layer.write(row, col, p_max)
            for layer in layers:
                layer.transfer(transfer_columns(first_sample + n, layer.c.shape[1], layer.t.samples_per_sweep))
        for w, layer in zip(model.weights, layers, strict=True):
            w.copy_(layer.weights())
    return correct / max(len(order), 1)
