"""``convert(model, hardware)``: a copy of any torch model with its ``nn.Linear`` and ``nn.Conv2d`` layers on
MTJ crossbars.

Each ``nn.Linear(in, out)`` with weight ``V`` (out x in) becomes a crossbar layer (:func:`make_layer`: an
:class:`MTJLinear`, or a :class:`TransferLinear` where ``hardware.transfer`` has a counter) computing
``y = gain * x @ W / input_range + bias`` with logical weights ``W`` in [-1, 1]. The gain is chosen so
that ``W = V.T / max|V|`` reproduces the float layer: ``gain = input_range * max|V|`` (``gain=`` overrides
it for every layer). ``headroom=h`` multiplies the derived gain: the float layer's weights then take
``[-1/h, 1/h]`` of the logical range and training can grow them ``h`` times beyond the largest initial
weight (the initial weights are a poor bound on trained ones: torch initialises at about
``1 / sqrt(fan_in)``). The bias, if any, stays a float parameter added after the ADC. Each ``nn.Conv2d``
(``groups = 1``, zero padding) becomes an :class:`MTJConv2d` the same way, its logical kernel ``V / max|V|``
(a buffer-and-counter tile where ``hardware.transfer`` has a counter).

``init="program"``: ex-situ programming, ``W`` set to the nearest representable states (ideal
write-verify; what the synapse can hold: 2 levels for one MTJ, k + 1 for k MTJs, the counter's levels of
a transfer layer). ``init="random"``: every MTJ parallel with probability 1/2 (a transfer layer's
counter random, its buffer neutral), the float weights used for the gain only.

Chips: the converted layers, numbered ``0, 1, ...`` in ``model.modules()`` order, get their arrays'
device variation and faults from ``hardware.variation`` with the generators of
:func:`manufacture_layers` (``seed``), their random states from ``generator(seed, "init.layer{i}")``.
Everything that is not an ``nn.Linear`` or an ``nn.Conv2d`` is copied untouched.
"""

from __future__ import annotations

import copy

import torch

from ..rng import generator
from .config import HardwareConfig
from .conv import MTJConv2d
from .linear import manufacture_layers
from .transfer_linear import make_layer

__all__ = ["convert", "INITS"]

INITS = ("program", "random")
CONVERTED = (torch.nn.Linear, torch.nn.Conv2d)


def convert(model: torch.nn.Module, hardware: HardwareConfig, init: str = "program", *, seed: int = 0,
            gain: float | None = None, headroom: float = 1.0) -> torch.nn.Module:
    """A deep copy of ``model`` with every ``nn.Linear`` and ``nn.Conv2d`` replaced by a crossbar layer (module
    docstring); ``model`` itself is left as it was. A bare ``nn.Linear`` or ``nn.Conv2d`` returns its
    crossbar layer."""
    if init not in INITS:
        raise ValueError(f"init = {init!r}: must be one of {INITS}")
    if gain is not None and not gain > 0:
        raise ValueError(f"gain = {gain!r}: must be > 0")
    if not headroom >= 1.0:
        raise ValueError(f"headroom = {headroom!r}: must be >= 1 (a factor on the derived gain)")
    if gain is not None and headroom != 1.0:
        raise ValueError(f"gain = {gain!r} and headroom = {headroom!r}: headroom scales the derived gain; "
                         "give one of them")
    if isinstance(model, CONVERTED):
        holder = torch.nn.Sequential(model)
        return convert(holder, hardware, init, seed=seed, gain=gain, headroom=headroom)[0]
    out = copy.deepcopy(model)
    pairs, done = [], {}  # (new layer, float weight); id of a converted Linear -> its layer (shared modules)
    for path, child in list(out.named_modules(remove_duplicate=False)):
        if isinstance(child, CONVERTED):
            if id(child) not in done:
                done[id(child)] = _crossbar_layer(child, hardware, gain, headroom)
                pairs.append((done[id(child)], child.weight.detach()))
            parent, _, name = path.rpartition(".")
            setattr(out.get_submodule(parent), name, done[id(child)])
    manufacture_layers([layer for layer, _ in pairs], seed)
    for i, (layer, weight) in enumerate(pairs):
        if init == "program":
            scale = hardware.converters.input_range / layer.gain
            logical = weight if isinstance(layer, MTJConv2d) else weight.T  # a kernel as is, a matrix (in, out)
            layer.program((logical * scale).clamp(-1.0, 1.0).to(torch.float32))
        else:
            layer.randomize(generator(seed, f"init.layer{i}"))
    return out


def _crossbar_layer(module: torch.nn.Module, hardware: HardwareConfig, gain: float | None, headroom: float = 1.0):
    weight = module.weight.detach()
    if gain is None:
        largest = float(weight.abs().max()) if weight.numel() else 0.0
        fan_in = weight[0].numel() if weight.numel() else 1
        gain = hardware.converters.input_range * ((largest if largest > 0 else fan_in ** -0.5) * headroom)
    has_bias = module.bias is not None
    if isinstance(module, torch.nn.Conv2d):
        layer = MTJConv2d(module.in_channels, module.out_channels, module.kernel_size, hardware, gain,
                          stride=module.stride, padding=_conv_padding(module), dilation=module.dilation,
                          groups=module.groups, bias=has_bias, device=weight.device)
    else:
        layer = make_layer(module.in_features, module.out_features, hardware, gain, bias=has_bias,
                           device=weight.device)
    if has_bias:
        with torch.no_grad():
            layer.bias.copy_(module.bias.detach())
    layer.train(module.training)
    return layer


def _conv_padding(conv: torch.nn.Conv2d) -> tuple[int, int]:
    """The explicit zero padding of ``conv`` (``"valid"`` and ``"same"`` resolved); other modes refused."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"padding_mode = {conv.padding_mode!r} of {conv}: only 'zeros' can be converted (the "
                         "crossbar's rows see zero volts outside the image)")
    if conv.padding == "valid":
        return 0, 0
    if conv.padding == "same":
        total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size, strict=True)]
        if any(t % 2 for t in total):
            raise ValueError(f"padding = 'same' of {conv}: asymmetric padding (even kernel extent) is not "
                             "supported; pad the input explicitly")
        return total[0] // 2, total[1] // 2
    return tuple(conv.padding)
