"""Hooking the meter onto a network of crossbar-backed layers (the runner's integration point).

Duck-typed so this layer does not import ``nn``/``training``: a network is anything with ``layers``,
each with ``crossbar``, ``in_features``, ``out_features``, ``g_ref`` and ``mapping.differential``
(``training.InSituNetwork`` of ``nn.MTJLinear`` layers).
"""

from __future__ import annotations

from typing import Any

from .config import CostConfig, ScheduleConfig
from .ledger import ArraySpec
from .meter import CostMeter

__all__ = ["network_specs", "attach_meter"]


def network_specs(net: Any, adc_bits: int | None = None) -> list[ArraySpec]:
    """One :class:`ArraySpec` per layer; the first layer propagates no error to its inputs."""
    specs = []
    for i, layer in enumerate(net.layers):
        xb = layer.crossbar
        specs.append(ArraySpec(rows=xb.rows, cols=xb.cols, in_features=layer.in_features,
                               out_features=layer.out_features,
                               reference_conductance=0.0 if layer.mapping.differential
                               else layer.mapping.k * float(layer.g_ref),
                               backward=i > 0, adc_bits=adc_bits))
    return specs


def attach_meter(net: Any, hardware: Any, cost: CostConfig | None = None,
                 schedule: ScheduleConfig | None = None) -> CostMeter:
    """A :class:`CostMeter` on every layer's crossbar of ``net``; record with ``with meter.epoch(): ...``
    and read the figures with ``meter.summary()`` (the ``"hardware"`` entry of results.json)."""
    meter = CostMeter(network_specs(net, hardware.converters.adc_bits), hardware, cost, schedule)
    meter.attach([layer.crossbar for layer in net.layers])
    return meter
