"""``convert(model, hardware)``: a copy of any torch model with its ``nn.Linear`` layers on MTJ crossbars.

Each ``nn.Linear(in, out)`` with weight ``V`` (out x in) becomes a crossbar layer (:func:`make_layer`: an
:class:`MTJLinear`, or a :class:`TransferLinear` where ``hardware.transfer`` has a counter) computing
``y = gain * x @ W / input_range + bias`` with logical weights ``W`` in [-1, 1]. The gain is chosen so
that ``W = V.T / max|V|`` reproduces the float layer: ``gain = input_range * max|V|`` (``gain=`` overrides
it for every layer). The bias, if any, stays a float parameter added after the ADC.

``init="program"``: ex-situ programming, ``W`` set to the nearest representable states (ideal
write-verify; what the synapse can hold: 2 levels for one MTJ, k + 1 for k MTJs, the counter's levels of
a transfer layer). ``init="random"``: every MTJ parallel with probability 1/2 (a transfer layer's
counter random, its buffer neutral), the float weights used for the gain only.

Chips: the converted layers, numbered ``0, 1, ...`` in ``model.modules()`` order, get their arrays'
device variation and faults from ``hardware.variation`` with the generators of
:func:`manufacture_layers` (``seed``), their random states from ``generator(seed, "init.layer{i}")``.
Everything that is not an ``nn.Linear`` is copied untouched (``nn.Conv2d`` is not converted yet).
"""

from __future__ import annotations

import copy

import torch

from ..rng import generator
from .config import HardwareConfig
from .linear import manufacture_layers
from .transfer_linear import make_layer

__all__ = ["convert", "INITS"]

INITS = ("program", "random")


def convert(model: torch.nn.Module, hardware: HardwareConfig, init: str = "program", *, seed: int = 0,
            gain: float | None = None) -> torch.nn.Module:
    """A deep copy of ``model`` with every ``nn.Linear`` replaced by a crossbar layer (module docstring);
    ``model`` itself is left as it was. A bare ``nn.Linear`` returns its crossbar layer."""
    if init not in INITS:
        raise ValueError(f"init = {init!r}: must be one of {INITS}")
    if gain is not None and not gain > 0:
        raise ValueError(f"gain = {gain!r}: must be > 0")
    if isinstance(model, torch.nn.Linear):
        holder = torch.nn.Sequential(model)
        return convert(holder, hardware, init, seed=seed, gain=gain)[0]
    out = copy.deepcopy(model)
    pairs, done = [], {}  # (new layer, float weight); id of a converted Linear -> its layer (shared modules)
    for path, child in list(out.named_modules(remove_duplicate=False)):
        if isinstance(child, torch.nn.Linear):
            if id(child) not in done:
                done[id(child)] = _crossbar_layer(child, hardware, gain)
                pairs.append((done[id(child)], child.weight.detach()))
            parent, _, name = path.rpartition(".")
            setattr(out.get_submodule(parent), name, done[id(child)])
    manufacture_layers([layer for layer, _ in pairs], seed)
    for i, (layer, weight) in enumerate(pairs):
        if init == "program":
            scale = hardware.converters.input_range / layer.gain
            layer.program((weight.T * scale).clamp(-1.0, 1.0).to(torch.float32))
        else:
            layer.randomize(generator(seed, f"init.layer{i}"))
    return out


def _crossbar_layer(linear: torch.nn.Linear, hardware: HardwareConfig, gain: float | None):
    weight = linear.weight.detach()
    if gain is None:
        largest = float(weight.abs().max()) if weight.numel() else 0.0
        gain = hardware.converters.input_range * (largest if largest > 0 else linear.in_features ** -0.5)
    layer = make_layer(linear.in_features, linear.out_features, hardware, gain, bias=linear.bias is not None,
                       device=weight.device)
    if linear.bias is not None:
        with torch.no_grad():
            layer.bias.copy_(linear.bias.detach())
    layer.train(linear.training)
    return layer
