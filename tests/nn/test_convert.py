"""mtjxbar.convert: nn.Linear and nn.Conv2d layers onto crossbars (programmed or random), everything else untouched."""

from __future__ import annotations

import pytest
import torch

import mtjxbar
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, MTJConv2d, MTJLinear, TransferLinear, convert
from mtjxbar.periphery import ConverterConfig, MappingConfig, TransferConfig

IDEAL = MTJParams(v_h=1e9)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.LayerNorm(8))
        self.head = torch.nn.Linear(8, 3, bias=False)

    def forward(self, x):
        return self.head(self.body(x))


def _net() -> Net:
    torch.manual_seed(0)
    return Net()


def test_linear_layers_are_replaced_and_everything_else_is_kept():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    out = convert(net, HardwareConfig())
    assert isinstance(out.body[0], MTJLinear) and isinstance(out.head, MTJLinear)
    assert isinstance(out.body[1], torch.nn.ReLU) and isinstance(out.body[2], torch.nn.LayerNorm)
    assert torch.equal(out.body[2].weight, net.body[2].weight) and out.body[2].weight is not net.body[2].weight
    assert torch.equal(out.body[0].bias, net.body[0].bias) and out.head.bias is None
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # the source is untouched
    assert isinstance(net.head, torch.nn.Linear)
    assert out(torch.rand(5, 12)).shape == (5, 3)


@pytest.mark.parametrize("k", [1, 4])
def test_program_maps_weights_to_the_nearest_representable_states(k):
    """gain = input_range * max|V|, logical weights = the synapse's nearest level of V.T / max|V|; with an
    ideal device the read is ``x @ levels.T * max|V|`` (+ bias), rel 1e-5."""
    net = torch.nn.Linear(12, 5)
    torch.nn.init.normal_(net.weight, generator=torch.Generator().manual_seed(2))
    hw = HardwareConfig(device=IDEAL, mapping=MappingConfig(mtjs_per_synapse=k),
                        converters=ConverterConfig(input_range=2.0))
    layer = convert(net, hw)
    v = net.weight.detach()
    scale = float(v.abs().max())
    assert layer.gain == pytest.approx(2.0 * scale)
    want = layer.mapping.levels(v.T / scale)
    assert torch.equal(layer.weights(), want)
    x = torch.rand(4, 12, generator=torch.Generator().manual_seed(3)) * 2.0 - 1.0
    with torch.no_grad():
        torch.testing.assert_close(layer(x), x @ want * scale + net.bias, rtol=1e-5, atol=1e-5)


def test_headroom_multiplies_the_gain_and_programs_the_weights_into_the_middle_of_the_range():
    """headroom h: gain h times the default, the float layer programmed at V.T / (h max|V|) (the 6-bit
    counter's nearest levels), so it still reads ``x @ V.T`` and its weights can grow h times; refusals."""
    net = torch.nn.Linear(12, 5)
    torch.nn.init.normal_(net.weight, generator=torch.Generator().manual_seed(2))
    hw = HardwareConfig(device=IDEAL, converters=ConverterConfig(input_range=2.0),
                        transfer=TransferConfig(counter_bits=6))
    plain, roomy = convert(net, hw), convert(net, hw, headroom=4.0)
    v = net.weight.detach()
    scale = float(v.abs().max())
    assert roomy.gain == 4.0 * plain.gain == pytest.approx(8.0 * scale)
    assert float(roomy.weights().abs().max()) == pytest.approx(0.25, abs=1.0 / 63)
    x = torch.rand(4, 12, generator=torch.Generator().manual_seed(3)) * 2.0 - 1.0
    with torch.no_grad():  # each weight within half a counter step (1/63) of gain / input_range = 4 max|V|
        assert (roomy(x) - net(x)).abs().max() <= 1.01 * 12 * (1.0 / 63) * 4.0 * scale
    for bad, match in ((dict(headroom=0.5), "headroom"), (dict(headroom=2.0, gain=1.0), "give one of them")):
        with pytest.raises(ValueError, match=match):
            convert(net, hw, **bad)


def test_random_init_is_seeded_and_variation_is_manufactured():
    hw = HardwareConfig(variation=VariationConfig(r_p_dtod=0.1))
    a, b, c = (convert(_net(), hw, init="random", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.head.crossbar.parallel, b.head.crossbar.parallel)
    assert not torch.equal(a.head.crossbar.parallel, c.head.crossbar.parallel)
    assert not a.head.crossbar.uniform and torch.equal(a.head.crossbar.params["r_p"], b.head.crossbar.params["r_p"])
    assert not torch.equal(a.body[0].crossbar.params["r_p"], a.head.crossbar.params["r_p"][:, :3].T)
    with pytest.raises(ValueError, match="init"):
        convert(_net(), hw, init="zeros")


def test_transfer_hardware_gives_transfer_layers_programmed_on_the_counter():
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=4))
    out = convert(_net(), hw, gain=1.5)
    assert isinstance(out.head, TransferLinear) and out.head.gain == 1.5
    v = _net().head.weight.detach().T / 1.5
    levels = torch.round((v.clamp(-1, 1) + 1) * 0.5 * 15) / 15 * 2 - 1
    torch.testing.assert_close(out.head.counter_weights(), levels, rtol=0, atol=1e-6)


def test_shared_linear_layers_stay_shared_and_the_package_exports_the_api():
    lin = torch.nn.Linear(4, 4)
    out = mtjxbar.convert(torch.nn.Sequential(lin, torch.nn.Tanh(), lin), mtjxbar.HardwareConfig())
    assert out[0] is out[2] and isinstance(out[0], mtjxbar.nn.MTJLinear)
    assert mtjxbar.MTJLinear is MTJLinear and mtjxbar.optim.InSituSGD is mtjxbar.InSituSGD


@pytest.mark.parametrize("k", [1, 4])
def test_conv2d_layers_are_converted_and_programmed_to_the_nearest_kernel(k):
    """A Conv2d (stride, padding, bias) becomes an MTJConv2d with gain = input_range * max|V| and logical
    kernel = the synapse's nearest level of V / max|V|; on an ideal device it reads as the float conv with
    those levels, rel 1e-5."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 3 * 3, 4))
    hw = HardwareConfig(device=IDEAL, mapping=MappingConfig(mtjs_per_synapse=k),
                        converters=ConverterConfig(input_range=2.0))
    out = convert(net, hw)
    layer, v = out[0], net[0].weight.detach()
    assert isinstance(layer, MTJConv2d) and isinstance(out[3], MTJLinear)
    assert (layer.stride, layer.padding, layer.dilation) == ((2, 2), (1, 1), (1, 1))
    scale = float(v.abs().max())
    assert layer.gain == pytest.approx(2.0 * scale)
    want = layer.mapping.levels((v / scale).reshape(3, -1).T).T.reshape(v.shape)
    assert torch.equal(layer.kernel(), want)
    x = torch.rand(2, 2, 6, 5, generator=torch.Generator().manual_seed(3)) * 2.0 - 1.0
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(x, want * scale, net[0].bias, stride=2, padding=1)
        torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
        assert out(x).shape == (2, 4)


def test_conv2d_random_init_padding_modes_and_refusals():
    hw = HardwareConfig()
    conv = torch.nn.Conv2d(2, 4, 3, padding="same", bias=False)
    a, b = convert(conv, hw, init="random", seed=0), convert(conv, hw, init="random", seed=1)
    assert isinstance(a, MTJConv2d) and a.padding == (1, 1) and a.bias is None
    assert not torch.equal(a.crossbar.parallel, b.crossbar.parallel)
    assert convert(torch.nn.Conv2d(2, 4, 3, padding="valid"), hw).padding == (0, 0)
    assert isinstance(convert(conv, HardwareConfig(transfer=TransferConfig(counter_bits=3))).tile, TransferLinear)
    with pytest.raises(ValueError, match="groups = 2"):
        convert(torch.nn.Conv2d(2, 4, 3, groups=2), hw)
    with pytest.raises(ValueError, match="padding_mode = 'reflect'"):
        convert(torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), hw)
    with pytest.raises(ValueError, match="asymmetric"):
        convert(torch.nn.Conv2d(2, 4, 2, padding="same"), hw)
    assert mtjxbar.nn.MTJConv2d is MTJConv2d
