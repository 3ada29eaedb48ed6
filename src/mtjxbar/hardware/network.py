"""Hooking the meter onto a network of crossbar-backed layers (the runner's integration point).

Duck-typed so this layer does not import ``nn``/``training``: a network is anything with ``layers``,
each with ``in_features``, ``out_features`` and either ``arrays()`` (every crossbar by name, the one the
per-sample forward read opens with first: ``nn.MTJLinear``, ``nn.TransferLinear``) or ``crossbar``; the
reference conductance of an array comes from the module that owns it (``mapping``, ``g_ref``).
"""

from __future__ import annotations

from typing import Any

from ..periphery import SynapseMapping
from .config import CostConfig, ScheduleConfig
from .ledger import ArraySpec
from .meter import CostMeter
from .passive import spec_fields

__all__ = ["network_specs", "exsitu_specs", "network_arrays", "attach_meter"]


def network_arrays(net: Any) -> list[tuple[int, str, Any]]:
    """``(layer index, name, crossbar)`` of every array of ``net``, layer by layer, in ``arrays()`` order."""
    out = []
    for i, layer in enumerate(net.layers):
        arrays = layer.arrays() if hasattr(layer, "arrays") else {"": layer.crossbar}
        out.extend((i, name, xb) for name, xb in arrays.items())
    return out


def _owner(layer: Any, xb: Any) -> Any:
    """The module of ``layer`` whose ``crossbar`` is ``xb`` and that knows its reference (``g_ref``)."""
    modules = layer.modules() if hasattr(layer, "modules") else [layer]
    for module in modules:
        if getattr(module, "crossbar", None) is xb and hasattr(module, "g_ref"):
            return module
    return layer


def network_specs(net: Any, adc_bits: int | None = None) -> list[ArraySpec]:
    """One :class:`ArraySpec` per array (:func:`network_arrays` order); the first layer propagates no error
    to its inputs. A transfer layer's bit tiles are one MTJ per weight against a reference column. A passive
    array's spec says so, with its tiles and read calibration (:func:`.passive.spec_fields`)."""
    specs = []
    for i, name, xb in network_arrays(net):
        layer = net.layers[i]
        owner = _owner(layer, xb)
        specs.append(ArraySpec(rows=xb.rows, cols=xb.cols, in_features=layer.in_features,
                               out_features=layer.out_features,
                               reference_conductance=0.0 if owner.mapping.differential
                               else owner.mapping.k * float(owner.g_ref),
                               backward=i > 0, adc_bits=adc_bits, layer=i, name=name, **spec_fields(xb)))
    return specs


def exsitu_specs(net: Any, hardware: Any, adc_bits: int | None = None) -> list[ArraySpec]:
    """The arrays the ex-situ schedule trains for and programs: one per layer, the layer's own array, or for
    a layer of several arrays (a transfer layer) the plain array of ``hardware.mapping`` that the ex-situ
    network programs instead."""
    specs = []
    for i, layer in enumerate(net.layers):
        arrays = layer.arrays() if hasattr(layer, "arrays") else {"": layer.crossbar}
        rows = next(iter(arrays.values())).rows
        cols = next(iter(arrays.values())).cols if len(arrays) == 1 else \
            SynapseMapping(layer.out_features, hardware.mapping).physical_cols
        specs.append(ArraySpec(rows=rows, cols=cols, in_features=layer.in_features, out_features=layer.out_features,
                               backward=i > 0, adc_bits=adc_bits, layer=i))
    return specs


def attach_meter(net: Any, hardware: Any, cost: CostConfig | None = None,
                 schedule: ScheduleConfig | None = None) -> CostMeter:
    """A :class:`CostMeter` on every array of every layer of ``net``; record with ``with meter.epoch(): ...``
    and read the figures with ``meter.summary()`` (the ``"hardware"`` entry of results.json)."""
    bits = hardware.converters.adc_bits
    meter = CostMeter(network_specs(net, bits), hardware, cost, schedule, exsitu_specs(net, hardware, bits))
    meter.attach([xb for _, _, xb in network_arrays(net)])
    return meter
