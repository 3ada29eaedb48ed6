"""Cost of in-situ training for any array or network size, from a short run on random data.

No data set or trained network is needed: arrays of the requested sizes (random states) go through the
same read, transposed read, encode and write code as training, with the meter attached, for a few
samples of a stated representative activity (:class:`ActivityConfig`):

* every layer's inputs: non-zero with probability ``input_density``, uniform in the full DAC range;
* every error vector (transposed reads): standard normal, scaled to the DAC range per sample as
  ``nn/linear.py`` does;
* every update: rank one, rows from the inputs, columns asking the cells of the strongest row for a
  switching probability uniform in ``[0, 2 update_probability]`` with a random sign.

A single ``rows x cols`` array is costed as a layer inside a network (forward read, transposed read,
update), one MTJ per weight against a reference column; a network (``layers``) uses the configured
mapping, and its first layer has no transposed read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..config import param, to_dict, validate
from ..crossbar import Crossbar
from ..periphery import MappingConfig, PulseEncoder, SynapseMapping, dac
from .config import CostConfig, ScheduleConfig
from .ledger import ArraySpec
from .meter import CostMeter

__all__ = ["ActivityConfig", "estimate"]


@dataclass(frozen=True)
class ActivityConfig:
    """The representative activity of an estimate (what the random training samples look like)."""

    samples: int = param(4, "1", "training samples simulated (per-sample figures are their mean)", lo=1,
                         hi=100000)
    input_density: float = param(1.0, "1", "fraction of a layer's inputs that are non-zero (uniform in the "
                                 "full DAC range); 1: dense inputs", lo=0.0, lo_open=True, hi=1.0)
    update_probability: float = param(1e-3, "1", "mean switching probability an update asks of the cells of "
                                      "its strongest row (column targets uniform in [0, 2x]); 1e-3 is the "
                                      "mean measured in the first epoch of the embedded digits run, "
                                      "64-128-80 (1.8e-3 first layer, 0.7e-3 second)", lo=0.0, lo_open=True,
                                      hi=0.5)
    seed: int = param(0, "1", "seed of the random states and activity", lo=0, hi=2**63 - 1)

    def __post_init__(self) -> None:
        validate(self)


def _sizes(layers: Sequence[int] | None, rows: int | None, cols: int | None) -> tuple[list[int], bool]:
    if layers is not None:
        if len(layers) < 2 or any(n < 1 for n in layers):
            raise ValueError(f"layers = {list(layers)}: give at least two sizes >= 1, e.g. 784,256,10")
        if rows is not None or cols is not None:
            raise ValueError("give either layers or rows and cols, not both")
        return list(layers), True
    if rows is None or cols is None:
        raise ValueError("give the size of an array (rows and cols) or of a network (layers)")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows = {rows}, cols = {cols}: an array needs rows >= 1 and cols >= 1")
    return [rows, cols], False


def estimate(hardware: Any, *, layers: Sequence[int] | None = None, rows: int | None = None,
             cols: int | None = None, cost: CostConfig | None = None, schedule: ScheduleConfig | None = None,
             activity: ActivityConfig | None = None) -> dict:
    """Per-sample latency and energy of the three schedules for a network (``layers``) or an array.

    ``hardware`` is an ``nn.HardwareConfig`` (device, array, solver, converters, mapping, encoder).
    Returns :meth:`CostMeter.summary` (ex-situ programming amortised over
    ``schedule.training_samples``) plus ``"network"`` and ``"activity"``.
    """
    sizes, is_network = _sizes(layers, rows, cols)
    schedule, activity = schedule or ScheduleConfig(), activity or ActivityConfig()
    gen = torch.Generator().manual_seed(activity.seed)
    dev, conv = hardware.device, hardware.converters
    g_p, g_ap = 1.0 / (dev.r_p + hardware.array.r_access), 1.0 / (dev.r_ap + hardware.array.r_access)
    mapping_cfg = hardware.mapping if is_network else MappingConfig()
    encoder = PulseEncoder(hardware.encoder, dev)
    maps, xbs, specs = [], [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mapping = SynapseMapping(n_out, mapping_cfg)
        xb = Crossbar(n_in, mapping.physical_cols, dev, hardware.array, hardware.solver)
        xb.set_states(torch.rand(xb.rows, xb.cols, generator=gen) < 0.5)
        maps.append(mapping)
        xbs.append(xb)
        specs.append(ArraySpec(rows=n_in, cols=xb.cols, in_features=n_in, out_features=n_out,
                               reference_conductance=0.0 if mapping.differential else mapping.k * 0.5 * (g_p + g_ap),
                               backward=i > 0 or not is_network, adc_bits=conv.adc_bits))
    meter = CostMeter(specs, hardware, cost, schedule)
    meter.attach(xbs)
    with meter.epoch():
        for _ in range(activity.samples):
            inputs = []
            for xb in xbs:
                x = (torch.rand(xb.rows, generator=gen) * 2.0 - 1.0) * conv.input_range
                x = x * (torch.rand(xb.rows, generator=gen) < activity.input_density)
                inputs.append(x)
                xb.read(dac(x, conv.input_range, conv.v_read, conv.dac_bits))
            for xb, mapping, spec in reversed(list(zip(xbs, maps, specs, strict=True))):
                if spec.backward:
                    delta = torch.randn(mapping.n_out, generator=gen)
                    u = dac(delta / delta.abs().max().clamp(min=1e-30), 1.0, conv.v_read, conv.dac_bits)
                    xb.read_transposed(mapping.expand(u))
            for xb, mapping, x in zip(xbs, maps, inputs, strict=True):
                q = torch.rand(mapping.n_out, generator=gen) * (2.0 * activity.update_probability)
                sign = torch.where(torch.rand(mapping.n_out, generator=gen) < 0.5, -1.0, 1.0)
                r_max = float(x.abs().max())
                if r_max > 0:
                    col = sign * q * (mapping.full_swing / r_max)
                    xb.write(encoder.encode(x, mapping.expand(col), mapping.full_swing), gen)
    out = meter.summary(amortise_over=schedule.training_samples)
    out["network"] = {"sizes": sizes, "arrays": [[s.rows, s.cols] for s in specs], "kind": "network" if
                      is_network else "array", "mapping": to_dict(mapping_cfg)}
    out["activity"] = to_dict(activity)
    return out
