"""mtjxbar.convert: nn.Linear layers onto crossbars (programmed or random), everything else untouched."""

from __future__ import annotations

import pytest
import torch

import mtjxbar
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, MTJLinear, TransferLinear, convert
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
