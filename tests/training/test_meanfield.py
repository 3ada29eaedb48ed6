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
