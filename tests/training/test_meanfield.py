"""The mean-field update equals the exact expectation of an in-situ write, for any k."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.nn import HardwareConfig, MTJLinear
from mtjxbar.periphery import MappingConfig
from mtjxbar.training.meanfield import expected_update


@pytest.mark.parametrize("k", [1, 3, 8])
def test_expected_update_is_the_mean_of_the_stochastic_write(k):
    hw = HardwareConfig(mapping=MappingConfig(mtjs_per_synapse=k))
    layer = MTJLinear(12, 5, hw, gain=1.0)
    layer.randomize(torch.Generator().manual_seed(k))
    g = torch.Generator().manual_seed(10 + k)
    row = torch.randn(12, generator=g)
    col = torch.randn(5, generator=g) * 0.2
    plan = layer.plan(row, col)
    p = layer.crossbar.switching_probabilities(plan).sum(0).double()  # per physical cell
    # a flip moves the synapse by +-2/k: up for an AP cell (it becomes P), down for a P cell
    direction = torch.where(layer.crossbar.parallel, -1.0, 1.0).double()
    exact = (p * direction * (2.0 / k)).unflatten(-1, (5, k)).sum(-1)
    want = expected_update(layer.weights().double(), row.double(), col.double(), hw.encoder.p_max)
    assert float(exact.abs().max()) > 1e-3
    torch.testing.assert_close(exact, want, rtol=2e-5, atol=1e-9)


def test_counter_variant_ignores_the_state_and_matches_the_soft_bound_where_every_mtj_can_move():
    g = torch.Generator().manual_seed(3)
    row, col = torch.randn(6, generator=g), torch.randn(4, generator=g) * 0.3
    s = torch.sign(row)[:, None] * torch.sign(col)[None, :]
    counter = expected_update(torch.rand(6, 4, generator=g) * 2 - 1, row, col, 0.5, soft_bound=False)
    assert torch.equal(counter, expected_update(torch.zeros(6, 4), row, col, 0.5, soft_bound=False))
    torch.testing.assert_close(counter, expected_update(-s, row, col, 0.5))  # W = -s: all MTJs can move


def test_transfer_meanfield_follows_the_sampled_buffer_and_counter():
    """TransferMeanField's buffer probabilities and expected counter change equal the sampled layer's
    frequencies (many synapses, the same requests; 4 standard errors) on an asymmetric device."""
    import math

    from mtjxbar.device import MTJParams
    from mtjxbar.nn import HardwareConfig, TransferLinear
    from mtjxbar.periphery import TransferConfig
    from mtjxbar.training.meanfield import TransferMeanField

    dev = MTJParams(ic0_p2ap=60e-6, ic0_ap2p=40e-6, tau0_p2ap=2e-9, tau0_ap2p=1e-9)
    t = TransferConfig(counter_bits=5, carry_overdrive=2.0)
    rows, cols = 300, 40
    layer = TransferLinear(rows, cols, HardwareConfig(device=dev, transfer=t), gain=1.0)
    gen = torch.Generator().manual_seed(0)
    layer.randomize(gen)
    u0 = torch.full((rows, cols), 15)
    for m, tile in enumerate(layer.tiles):
        tile.crossbar.set_states(((u0 >> m) & 1).bool())
    c0 = layer.counter_weights().clone()
    mf = TransferMeanField(c0.clone(), t, layer.request_scale)
    row = torch.linspace(0.2, 1.0, rows)
    for c in (0.02, -0.025, 0.03, -0.02):  # writes of mixed sign (p up to 0.45), row-dependent widths
        col = torch.full((cols,), c)
        layer.write(layer.plan(row, col), gen)
        mf.write(row, col, p_max=0.5)
    a = layer.buffer_values()
    n = 30 * cols  # groups of 30 neighbouring rows (nearly the same p): 1,200 independent synapses each
    for value, prob in ((1.0, mf.plus), (-1.0, mf.minus)):
        freq = (a == value).float().view(10, n).mean(1)
        p = prob.reshape(10, n).mean(1)
        se = torch.sqrt(p * (1 - p) / n).clamp(min=1e-3)
        assert bool(((freq - p).abs() < 4 * se).all()), (value, (freq - p).abs().max())
    for col in range(cols):
        layer.transfer_column(col, gen)
    mf.transfer(list(range(cols)))
    dc_sampled = (layer.counter_weights() - c0).mean()
    dc_mf = (mf.c - c0).mean()
    se = t.lsb / math.sqrt(rows * cols)
    assert abs(float(dc_sampled - dc_mf)) < 4 * se
    assert torch.allclose(mf.plus, torch.zeros(rows, cols))
