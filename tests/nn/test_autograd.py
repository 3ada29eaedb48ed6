"""The autograd hook of crossbar layers: the input gradient is the transposed read, not the derivative of
the forward read, and backward records (input, output error) for the update.

Finding behind the choice of arrays: on a passive array of *linear* junctions (no TMR bias roll-off) with
wire resistance, the transposed read equals the forward read's Jacobian to 1e-11 (a linear resistive
network is reciprocal, wires or not); what makes them differ is the bias-dependent junction, so the
"differs" case is a passive array with wires and the default device.
"""

from __future__ import annotations

import pytest
import torch

from mtjxbar.crossbar import ArrayConfig, CircuitConfig
from mtjxbar.device import MTJParams
from mtjxbar.nn import HardwareConfig, MTJLinear, TransferLinear
from mtjxbar.periphery import TransferConfig

F64 = torch.float64
WIRES = CircuitConfig(r_wire_row=2.0, r_wire_col=2.0)
LINEAR_DEVICE = MTJParams(v_h=1e9)  # TMR bias roll-off effectively off


def _layer(hw: HardwareConfig) -> MTJLinear:
    layer = MTJLinear(16, 4, hw, gain=0.8, dtype=F64)
    layer.randomize(torch.Generator().manual_seed(0))
    return layer


def _data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 16, generator=g, dtype=F64) * 2.0 - 1.0, torch.randn(2, 4, generator=g, dtype=F64)


def forward_read_gradient(layer: MTJLinear, x: torch.Tensor, delta: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    """``delta @ d read / dx`` per sample by central differences (float64; error ~ h^2 times the third
    derivative, below 1e-10 relative here)."""
    n, out = x.shape[-1], []
    for b in range(x.shape[0]):
        step = torch.eye(n, dtype=F64) * h
        y = layer.read(torch.cat([x[b] + step, x[b] - step]))
        out.append(((y[:n] - y[n:]) / (2.0 * h)) @ delta[b])
    return torch.stack(out)


def _autograd(layer, x, delta) -> torch.Tensor:
    x = x.clone().requires_grad_()
    layer(x).backward(delta)
    return x.grad


@pytest.mark.parametrize("hw", [HardwareConfig(), HardwareConfig(array=ArrayConfig(kind="passive", circuit=WIRES))],
                         ids=["1t1mtj", "passive-wires"])
def test_input_gradient_is_the_transposed_read(hw):
    layer = _layer(hw)
    x, delta = _data()
    assert torch.equal(_autograd(layer, x, delta), layer.backward(delta))


def test_on_a_passive_array_with_wires_it_differs_from_the_forward_reads_gradient():
    """Default device, 2 ohm wire segments: the transposed read and the forward read's gradient differ by
    more than 1 % of the gradient's largest entry (measured 3.5 %); a finite-difference error of 1e-10
    cannot explain that."""
    layer = _layer(HardwareConfig(array=ArrayConfig(kind="passive", circuit=WIRES)))
    x, delta = _data()
    got, forward = _autograd(layer, x, delta), forward_read_gradient(layer, x, delta)
    assert float((got - forward).abs().max()) > 1e-2 * float(forward.abs().max())


@pytest.mark.parametrize("array", [ArrayConfig(), ArrayConfig(kind="passive", circuit=WIRES)],
                         ids=["1t1mtj", "passive"])
def test_on_linear_junctions_both_gradients_agree(array):
    """The control: with linear junctions the transposed read is the forward read's Jacobian (rel 1e-9;
    measured 1e-11), so the finite differences above measure what they claim."""
    layer = _layer(HardwareConfig(device=LINEAR_DEVICE, array=array))
    x, delta = _data()
    got, forward = _autograd(layer, x, delta), forward_read_gradient(layer, x, delta)
    assert float((got - forward).abs().max()) <= 1e-9 * float(forward.abs().max())


def test_backward_records_inputs_and_errors_per_sample_and_needs_no_input_gradient():
    layer = _layer(HardwareConfig())
    x, delta = _data()
    y = layer(x)  # x needs no gradient: the handle still carries the graph (a first layer)
    assert y.requires_grad
    y.backward(delta)
    assert len(layer.records) == 1
    rx, rd = layer.records[0]
    assert torch.equal(rx, x) and torch.equal(rd, delta)
    assert float(layer.handle.grad) == 0.0
    layer(x[0]).backward(delta[0])  # one sample, no batch dimension
    assert [r[0].shape for r in layer.take_records()] == [(2, 16), (1, 16)] and layer.records == []


def test_no_records_without_grad_or_for_a_frozen_layer():
    layer = _layer(HardwareConfig())
    x, delta = _data()
    with torch.no_grad():
        assert not layer(x).requires_grad
    layer.handle.requires_grad_(False)
    xg = x.clone().requires_grad_()
    layer(xg).backward(delta)
    assert layer.records == [] and torch.equal(xg.grad, layer.backward(delta))


def test_leading_dimensions_are_flattened_into_samples():
    layer = _layer(HardwareConfig())
    x = torch.rand(3, 2, 16, generator=torch.Generator().manual_seed(4), dtype=F64)
    y = layer(x)
    assert y.shape == (3, 2, 4)
    torch.testing.assert_close(y, layer.read(x.reshape(6, 16)).reshape(3, 2, 4))
    y.sum().backward()
    assert layer.records[0][0].shape == (6, 16)


def test_transfer_layer_records_once_for_all_its_arrays():
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=3))
    layer = TransferLinear(16, 4, hw, gain=0.8, dtype=F64)
    layer.randomize(torch.Generator().manual_seed(0))
    x, delta = _data()
    assert torch.equal(_autograd(layer, x, delta), layer.backward(delta))
    assert len(layer.records) == 1
    assert all(sub.records == [] for sub in (layer.buffer, *layer.tiles))
