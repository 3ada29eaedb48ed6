"""MTJConv2d: the read against F.conv2d, the input gradient against the transposed read per position, the
recorded per-position pairs, module plumbing (state_dict, deepcopy, dtype and device moves), refusals."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from mtjxbar.crossbar import ArrayConfig, CircuitConfig
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, MTJConv2d, MTJLinear, TransferLinear, in_situ_layer, manufacture_layers
from mtjxbar.periphery import ConverterConfig, MappingConfig, TransferConfig

IDEAL = MTJParams(v_h=1e9)  # TMR bias roll-off effectively off: the read is gain * x @ W / input_range
GAIN, INPUT_RANGE = 0.7, 2.0
F64 = torch.float64
WIRES = CircuitConfig(r_wire_row=2.0, r_wire_col=2.0)
SPREAD = VariationConfig(r_p_dtod=0.1, ic0_p2ap_dtod=0.1, stuck_p_rate=0.05, stuck_ap_rate=0.05)
GEOMETRIES = [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1))]


def _conv(hw: HardwareConfig | None = None, c_in: int = 2, c_out: int = 3, kernel=3, seed: int = 0, **kw):
    layer = MTJConv2d(c_in, c_out, kernel, hw or HardwareConfig(), GAIN, **kw)
    manufacture_layers([layer], seed)
    layer.randomize(torch.Generator().manual_seed(seed))
    return layer


def _images(n: int = 2, c: int = 2, h: int = 9, w: int = 8, seed: int = 1, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2.0 - 1.0


def _ideal(k: int = 1, **conv) -> HardwareConfig:
    return HardwareConfig(device=IDEAL, mapping=MappingConfig(mtjs_per_synapse=k),
                          converters=ConverterConfig(input_range=INPUT_RANGE, **conv))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=["plain", "stride2-pad1", "mixed-dilated"])
@pytest.mark.parametrize("k", [1, 4])
def test_read_on_an_ideal_array_is_conv2d_with_the_logical_kernel(k, geometry):
    """``gain * F.conv2d(x, kernel) / input_range + bias`` within 1e-5 of the largest output (float32)."""
    layer = _conv(_ideal(k), bias=True, **geometry)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = _images() * INPUT_RANGE
    want = (GAIN * F.conv2d(x, layer.kernel(), **geometry) / INPUT_RANGE + layer.bias[:, None, None]).detach()
    got = layer(x).detach()
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())
    single = layer(x[1]).detach()  # one image, no batch dimension
    assert float((single - want[1]).abs().max()) <= 1e-5 * float(want.abs().max())


def _per_position_transposed_reads(layer: MTJConv2d, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """The oracle, spelled out: for every sample and output position, the tile's transposed read of that
    position's error, added onto the input pixels of its patch (zero padding cut off)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = layer.kernel_size, layer.stride, layer.padding, layer.dilation
    n, c, h, w = x.shape
    grad = torch.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=delta.dtype)
    for b in range(n):
        for i in range(delta.shape[2]):
            for j in range(delta.shape[3]):
                err = layer.tile.backward(delta[b, :, i, j]).reshape(c, kh, kw)
                for u in range(kh):
                    for v in range(kw):
                        grad[b, :, i * sh + u * dh, j * sw + v * dw] += err[:, u, v]
    return grad[:, :, ph:ph + h, pw:pw + w]


@pytest.mark.parametrize("hw", [HardwareConfig(), HardwareConfig(array=ArrayConfig(kind="passive", circuit=WIRES))],
                         ids=["1t1mtj", "passive-wires"])
def test_input_gradient_is_each_positions_transposed_read_folded_back(hw):
    """autograd's ``x.grad`` equals the per-position transposed reads added back onto their patches (the
    loop above) to float64 rounding (1e-12 of the largest entry)."""
    layer = MTJConv2d(2, 3, 3, hw, GAIN, stride=2, padding=1, dtype=F64)
    layer.randomize(torch.Generator().manual_seed(0))
    x = _images(h=7, w=6, dtype=F64).requires_grad_()
    y = layer(x)
    delta = torch.randn(y.shape, generator=torch.Generator().manual_seed(2), dtype=F64)
    y.backward(delta)
    want = _per_position_transposed_reads(layer, x.detach(), delta)
    assert float((x.grad - want).abs().max()) <= 1e-12 * float(want.abs().max())


def test_on_an_ideal_array_the_input_gradient_is_conv2ds():
    layer = _conv(_ideal(2), stride=2, padding=1)
    x = (_images() * INPUT_RANGE).requires_grad_()
    xr = x.detach().clone().requires_grad_()
    y = layer(x)
    delta = torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
    y.backward(delta)
    (GAIN * F.conv2d(xr, layer.kernel(), stride=2, padding=1) / INPUT_RANGE).backward(delta)
    assert float((x.grad - xr.grad).abs().max()) <= 1e-5 * float(xr.grad.abs().max())


def test_on_a_passive_array_with_wires_it_differs_from_the_forward_reads_gradient():
    """Default device, 2 ohm segments: the transposed reads and the forward read's gradient (central
    differences, float64) differ by more than 1 % of the gradient's largest entry, as for the linear layer
    (tests/nn/test_autograd.py)."""
    layer = MTJConv2d(1, 2, 2, HardwareConfig(array=ArrayConfig(kind="passive", circuit=WIRES)), GAIN, dtype=F64)
    layer.randomize(torch.Generator().manual_seed(0))
    x = _images(n=1, c=1, h=4, w=4, dtype=F64)
    delta = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    xg = x.clone().requires_grad_()
    layer(xg).backward(delta)
    h, fd = 1e-4, torch.zeros(16, dtype=F64)
    for i in range(16):
        step = torch.zeros(16, dtype=F64)
        step[i] = h
        up, down = (layer.read((x.flatten() + s).reshape(x.shape)) for s in (step, -step))
        fd[i] = float(((up - down) / (2.0 * h) * delta).sum())
    got = xg.grad.flatten()
    assert float((got - fd).abs().max()) > 1e-2 * float(fd.abs().max())


def test_backward_records_every_positions_patch_and_error_in_raster_order():
    layer = _conv(stride=2, padding=1)
    x = _images()
    y = layer(x)
    delta = torch.randn(y.shape, generator=torch.Generator().manual_seed(5))
    y.backward(delta)
    (rx, rd), = layer.records
    h_out, w_out = y.shape[2:]
    assert rx.shape == (2, h_out * w_out, 18) and rd.shape == (2, h_out * w_out, 3)
    padded = F.pad(x, (1, 1, 1, 1))
    for b in range(2):
        for pos in range(h_out * w_out):
            i, j = divmod(pos, w_out)  # raster order: rows of output positions, left to right
            assert torch.equal(rx[b, pos], padded[b, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].flatten())
            assert torch.equal(rd[b, pos], delta[b, :, i, j])
    writes = layer.take_writes()
    assert writes[0].shape == rx.shape and layer.records == []


def test_records_of_batches_with_fewer_positions_are_padded_with_silent_rows():
    """Two backward passes on images of different sizes: take_writes pads the smaller one with zero rows,
    which write nothing."""
    layer = _conv()
    layer(_images(n=1, h=5, w=5)).sum().backward()  # 3x3 positions
    layer(_images(n=2, h=4, w=4)).sum().backward()  # 2x2 positions
    x, d = layer.take_writes()
    assert x.shape == (3, 9, 18) and d.shape == (3, 9, 3)
    assert bool((x[1:, 4:] == 0).all()) and bool((d[1:, 4:] == 0).all())


@pytest.mark.parametrize("hw", [HardwareConfig(variation=SPREAD),
                                HardwareConfig(transfer=TransferConfig(counter_bits=3, buffer_mtjs=1))],
                         ids=["spread", "transfer"])
def test_state_dict_round_trip_restores_the_chip_exactly(hw):
    src, dst = _conv(hw, seed=0, bias=True), _conv(hw, seed=1, bias=True)
    x = _images()
    src(x)  # read tables built: their spans are history
    state = src.state_dict()
    assert {"tile.states" if not hw.transfer.enabled else "tile.tiles.2.states", "bias"} <= set(state)
    assert str(dst.load_state_dict(state)) == "<All keys matched successfully>"
    for name, xb in src.arrays().items():
        assert torch.equal(dst.arrays()[name].parallel, xb.parallel), name
    assert torch.equal(dst(x), src(x)) and torch.equal(dst.kernel(), src.kernel())
    assert isinstance(src.tile, TransferLinear if hw.transfer.enabled else MTJLinear)


def test_deepcopy_double_and_handles():
    layer = _conv(HardwareConfig(variation=SPREAD))
    twin = copy.deepcopy(layer)
    x = _images()
    assert torch.equal(twin(x), layer(x))
    assert in_situ_layer(twin.handle) is twin and in_situ_layer(layer.handle) is layer
    assert not twin.tile.handle.requires_grad  # the tile is trained through the convolution only
    twin.crossbar.set_states(~twin.crossbar.parallel)
    assert not torch.equal(twin.kernel(), layer.kernel())
    want = layer(x).detach().double()
    layer.double()
    assert layer.crossbar.dtype == F64 and in_situ_layer(layer.handle) is layer
    torch.testing.assert_close(layer(x.double()), want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    with pytest.raises(TypeError, match="float32 or float64"):
        layer.half()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_to_cuda_moves_the_array_and_reads_the_same():
    layer = _conv(HardwareConfig(variation=SPREAD), bias=True)
    x = _images()
    want = layer(x).detach()
    layer.to("cuda")
    assert layer.crossbar.parallel.device.type == "cuda" and layer.bias.device.type == "cuda"
    torch.testing.assert_close(layer(x.cuda()).cpu(), want, rtol=1e-5, atol=1e-6)


def test_program_sets_the_nearest_kernel_and_checks_its_shape():
    layer = _conv(_ideal(4))
    kernel = torch.rand(3, 2, 3, 3, generator=torch.Generator().manual_seed(6)) * 2.0 - 1.0
    layer.program(kernel)
    want = layer.mapping.levels(kernel.reshape(3, -1).T).T.reshape(kernel.shape)
    assert torch.equal(layer.kernel(), want)
    with pytest.raises(ValueError, match="expected"):
        layer.program(kernel[:, :1])


def test_refusals_name_the_argument():
    with pytest.raises(ValueError, match="groups = 2"):
        MTJConv2d(2, 4, 3, HardwareConfig(), GAIN, groups=2)
    with pytest.raises(ValueError, match="stride"):
        MTJConv2d(2, 4, 3, HardwareConfig(), GAIN, stride=0)
    with pytest.raises(ValueError, match="kernel_size"):
        MTJConv2d(2, 4, (3, 3, 3), HardwareConfig(), GAIN)
    layer = _conv()
    with pytest.raises(ValueError, match=r"expected \(N, 2, H, W\)"):
        layer(torch.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        layer(torch.zeros(1, 2, 2, 2))
