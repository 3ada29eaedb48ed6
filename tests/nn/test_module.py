"""MTJLinear / TransferLinear as torch modules: state_dict round trip, deepcopy, dtype and device moves."""

from __future__ import annotations

import copy

import pytest
import torch

from mtjxbar.device import VariationConfig
from mtjxbar.nn import HardwareConfig, MTJLinear, TransferLinear, in_situ_layer, manufacture_layers
from mtjxbar.periphery import TransferConfig

SPREAD = VariationConfig(r_p_dtod=0.1, ic0_p2ap_dtod=0.1, stuck_p_rate=0.05, stuck_ap_rate=0.05)


def _layer(hw: HardwareConfig | None = None, seed: int = 0, bias: bool = True, n_in: int = 10) -> MTJLinear:
    layer = MTJLinear(n_in, 4, hw or HardwareConfig(), gain=0.6, bias=bias)
    manufacture_layers([layer], seed)
    layer.randomize(torch.Generator().manual_seed(seed))
    return layer


def _x(n: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 10, generator=torch.Generator().manual_seed(seed)) * 2.0 - 1.0


def test_state_dict_holds_the_arrays_state_and_restores_it_exactly():
    """Cell states, every per-cell parameter, stuck masks and table spans are in state_dict; loading them
    into a layer of another chip (other seed) makes it read bit-identically."""
    hw = HardwareConfig(variation=SPREAD)
    src, dst = _layer(hw, seed=0), _layer(hw, seed=1)
    src(_x())  # builds the read tables (their spans are history)
    state = src.state_dict()
    for key in ("states", "cell_r_p", "cell_ic0_p2ap", "stuck_p", "stuck_ap", "table_span_read", "bias"):
        assert key in state
    assert state["states"].dtype == torch.bool and state["states"].shape == (10, 4)
    assert bool(state["stuck_p"].any()) and not torch.equal(state["cell_r_p"], dst.state_dict()["cell_r_p"])
    assert str(dst.load_state_dict(state)) == "<All keys matched successfully>"
    assert torch.equal(dst.crossbar.parallel, src.crossbar.parallel)
    for name, value in src.crossbar.params.items():
        assert torch.equal(dst.crossbar.params[name], value), name
    assert torch.equal(dst.crossbar.stuck_p, src.crossbar.stuck_p)
    assert torch.equal(dst(_x(7, 2)), src(_x(7, 2)))


def test_state_dict_of_a_layer_without_faults_loads_without_masks():
    src, dst = _layer(seed=0), _layer(seed=1)
    dst.load_state_dict(src.state_dict())
    assert dst.crossbar.stuck_p is None and dst.crossbar.frozen_mask is None


def test_load_state_dict_reports_missing_and_mismatched_arrays():
    layer = _layer()
    state = layer.state_dict()
    del state["cell_tmr0"]
    with pytest.raises(RuntimeError, match="cell_tmr0"):
        layer.load_state_dict(state)
    other = MTJLinear(10, 5, HardwareConfig(), gain=0.6, bias=True).state_dict()
    with pytest.raises(RuntimeError):
        layer.load_state_dict(other)


def test_module_state_dict_nests_under_prefixes():
    model = torch.nn.Sequential(_layer(), torch.nn.Tanh(), _layer(seed=3, n_in=4))
    keys = model.state_dict().keys()
    assert "0.states" in keys and "2.cell_delta" in keys and "2.bias" in keys
    copy_ = torch.nn.Sequential(_layer(seed=5), torch.nn.Tanh(), _layer(seed=6, n_in=4))
    copy_.load_state_dict(model.state_dict())
    assert torch.equal(copy_(_x()), model(_x()))


def test_transfer_layer_round_trips_every_array_and_its_references():
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=3, buffer_mtjs=1))
    src = TransferLinear(10, 4, hw, gain=0.6)
    src.randomize(torch.Generator().manual_seed(0))
    src.reference[1] = -src.reference[1]  # periphery state of a one-MTJ buffer
    dst = TransferLinear(10, 4, hw, gain=0.6)
    dst.load_state_dict(src.state_dict())
    assert {"reference", "buffer.states", "tiles.2.states"} <= set(src.state_dict())
    assert torch.equal(dst.weights(), src.weights()) and torch.equal(dst.reference, src.reference)
    assert torch.equal(dst(_x()), src(_x()))


def test_deepcopy_is_independent_and_keeps_its_own_handle():
    layer = _layer()
    twin = copy.deepcopy(layer)
    assert torch.equal(twin(_x()), layer(_x()))
    assert in_situ_layer(twin.handle) is twin and in_situ_layer(layer.handle) is layer
    twin.crossbar.set_states(~twin.crossbar.parallel)
    assert not torch.equal(twin.weights(), layer.weights())
    assert in_situ_layer(torch.zeros(())) is None


def test_double_rebuilds_the_array_in_float64_with_the_same_state():
    """``.double()`` goes through the same path as ``.to(device)``: a fresh array and periphery on the
    target, the state carried over (float32 vs float64 reads within 1e-5 of the largest output: the float32
    per-cell read fit stops at 1e-7)."""
    layer = _layer(HardwareConfig(variation=SPREAD))
    want = layer(_x()).detach().double()
    states = layer.crossbar.parallel.clone()
    layer.double()
    assert layer.crossbar.dtype == torch.float64 and layer.bias.dtype == torch.float64
    assert torch.equal(layer.crossbar.parallel, states) and layer.crossbar.stuck_p is not None
    assert in_situ_layer(layer.handle) is layer
    got = layer(_x().double())
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    with pytest.raises(TypeError, match="float32 or float64"):
        layer.half()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_to_cuda_moves_the_arrays_and_reads_the_same():
    layer = _layer(HardwareConfig(variation=SPREAD))
    want = layer(_x()).detach()
    layer.to("cuda")
    assert layer.crossbar.parallel.device.type == "cuda" and layer.crossbar.params["r_p"].device.type == "cuda"
    assert layer.bias.device.type == "cuda" and layer.mapping.col_sign.device.type == "cuda"
    torch.testing.assert_close(layer(_x().cuda()).cpu(), want, rtol=1e-5, atol=1e-6)
    back = layer.to("cpu")
    assert back.crossbar.parallel.device.type == "cpu"
