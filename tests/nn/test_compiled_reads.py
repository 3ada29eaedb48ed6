"""The compiled reads (``mtjxbar.nn.read_kernel``, ``mtjxbar.crossbar.access.read_kernel``) against the tensor
path they replace, on bias-dependent cells (default device: the TMR falls with the voltage, so every cell's
G_AP differs with its line voltage), clipping inputs, both orientations and every convolution geometry.

The tensor path is what runs where autograd records through the read (an input that requires a gradient
with grad mode on), so each test reads the same input both ways. Tolerance: 1e-5 relative to the largest
output, the float32 rounding of sums over tens of lines (the compiled loop sums in float64). Batches
above 16 vectors (``SMALL_BATCH``: the compiled voltage terms and a BLAS product) are checked alike.
"""

from __future__ import annotations

import pytest
import torch

import mtjxbar.nn.linear as linear_module
from mtjxbar.crossbar import Crossbar
from mtjxbar.device import MTJParams
from mtjxbar.nn import HardwareConfig, MTJConv2d, MTJLinear
from mtjxbar.periphery import ConverterConfig

HW = HardwareConfig(converters=ConverterConfig(input_range=1.5))
GEOMETRIES = [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
              dict(stride=3, padding=(0, 2))]


def _tensor_path(read, x: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        return read(x.clone().requires_grad_()).detach()


def _close(fast: torch.Tensor, slow: torch.Tensor) -> None:
    assert fast.shape == slow.shape and fast.dtype == slow.dtype
    assert (fast - slow).abs().max() <= 1e-5 * slow.abs().max()


def _inputs(shape, seed: int, sparse: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g) * 4.0 - 2.0  # beyond input_range: the DAC clips
    if sparse:
        x[torch.rand(shape, generator=g) < 0.6] = 0.0  # idle lines, as a digit's background
    return x


@pytest.mark.parametrize("shape", [(7, 30), (30,), (40, 30)])  # (40, 30): above 16 vectors, BLAS takes the product
@pytest.mark.parametrize("transposed", [False, True])
def test_the_arrays_compiled_read_is_its_tensor_read(shape, transposed):
    xb = Crossbar(30, 30, MTJParams())
    xb.set_states(torch.rand(30, 30, generator=torch.Generator().manual_seed(3)) < 0.5)
    v = _inputs(shape, 4) * 0.1
    read = xb.read_transposed if transposed else xb.read
    with torch.no_grad():
        _close(read(v), _tensor_path(read, v))


@pytest.mark.parametrize("shape", [(5, 40), (40,), (24, 40)])  # (24, 40): above 16 vectors
def test_a_linear_layers_compiled_forward_and_transposed_read_are_its_tensor_reads(shape):
    layer = MTJLinear(40, 12, HW, gain=1.3)
    layer.randomize(torch.Generator().manual_seed(0))
    x, delta = _inputs(shape, 1), _inputs((*shape[:-1], 12), 2, sparse=False)
    with torch.no_grad():
        _close(layer.read(x), _tensor_path(layer.read, x))
        _close(layer.backward(delta), _tensor_path(layer.backward, delta))


def test_a_large_arrays_transposed_read_by_blas_is_its_tensor_read():
    """Above 32768 cells a single transposed read leaves the state product to BLAS (use_blas)."""
    layer = MTJLinear(250, 140, HW, gain=1.1)
    layer.randomize(torch.Generator().manual_seed(4))
    delta, x = _inputs((140,), 7, sparse=False), _inputs((250,), 8)
    with torch.no_grad():
        _close(layer.backward(delta), _tensor_path(layer.backward, delta))
        _close(layer.read(x), _tensor_path(layer.read, x))


def test_a_large_arrays_single_transposed_read_keeps_its_shape():
    """One vector in, one vector out on the BLAS path too (it answered (1, rows), which a transfer layer's
    metered column sense on a 784-row array passed on as a 2-D write pattern)."""
    xb = Crossbar(250, 140, MTJParams())
    xb.set_states(torch.rand(250, 140, generator=torch.Generator().manual_seed(5)) < 0.5)
    v = _inputs((140,), 9, sparse=False) * 0.1
    with torch.no_grad():
        _close(xb.read_transposed(v), _tensor_path(xb.read_transposed, v))  # shapes (250,) both


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_a_convolutions_compiled_read_is_its_im2col_read(geometry):
    layer = MTJConv2d(3, 5, 3, HW, gain=0.8, **geometry)
    layer.randomize(torch.Generator().manual_seed(0))
    x = _inputs((2, 3, 11, 9), 5)
    with torch.no_grad():
        _close(layer.read(x), _tensor_path(layer.read, x))


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_a_convolutions_compiled_transposed_read_is_its_folded_per_position_read(geometry):
    layer = MTJConv2d(3, 5, 3, HW, gain=0.8, **geometry)
    layer.randomize(torch.Generator().manual_seed(0))
    with torch.no_grad():
        h, w = layer.output_size(11, 9)
        delta = _inputs((2, 5, h, w), 6)  # positions with no error at all among them
        _close(layer.backward(delta, (11, 9)), _tensor_path(lambda d: layer.backward(d, (11, 9)), delta))


def test_reads_without_a_graph_take_the_compiled_path(monkeypatch):
    """The dispatch itself: without autograd through the read, the layer reads by the kernels (a planted
    failure in them surfaces), and only there."""
    layer = MTJLinear(40, 12, HW, gain=1.3)
    conv = MTJConv2d(3, 5, 3, HW, gain=0.8)

    def planted(*args):
        raise RuntimeError("compiled read used")

    monkeypatch.setattr(linear_module, "ideal_periphery_read", planted)
    monkeypatch.setattr(linear_module, "ideal_conv_read", planted)
    monkeypatch.setattr(linear_module, "ideal_conv_transposed", planted)
    x = _inputs((2, 40), 1)
    for call in (lambda: layer.read(x), lambda: layer.backward(x[:, :12]), lambda: conv.read(_inputs((1, 3, 8, 8), 2)),
                 lambda: conv.backward(_inputs((1, 5, 6, 6), 3), (8, 8))):
        with torch.no_grad(), pytest.raises(RuntimeError, match="compiled read used"):
            call()
    _tensor_path(layer.read, x)  # the graph path does not touch them


def test_quantising_converters_keep_the_tensor_path(monkeypatch):
    """A DAC or ADC with bits rounds in the tensor path's float32; the compiled read is not used there."""
    monkeypatch.setattr(linear_module, "ideal_periphery_read", None)  # calling it would fail
    layer = MTJLinear(20, 6, HardwareConfig(converters=ConverterConfig(dac_bits=6)), gain=1.0)
    with torch.no_grad():
        assert layer.read(_inputs((2, 20), 3)).shape == (2, 6)
