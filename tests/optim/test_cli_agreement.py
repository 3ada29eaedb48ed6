"""InSituSGD writes what the CLI's eager step writes: the same MLP (the CLI's InSituNetwork layers in a
torch Sequential with Tanh between them), the CLI's loss (softmax cross-entropy of the population-coded
class scores) written as a torch loss, one generator for both. After every sample the arrays of both
paths are in identical states, plain layers and buffer-and-counter layers (transfers included): the API
path runs the same physics as the CLI's reference loop."""

from __future__ import annotations

import copy

import pytest
import torch

from mtjxbar.nn import HardwareConfig
from mtjxbar.optim import InSituSGD
from mtjxbar.periphery import TransferConfig
from mtjxbar.training import EpochStats, InSituNetwork, TrainingConfig, build_architecture, train_step
from mtjxbar.training.architecture import class_scores


@pytest.mark.parametrize("hardware", [HardwareConfig(),
                                      HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=2))],
                         ids=["plain", "transfer"])
def test_insitu_sgd_step_equals_the_clis_eager_train_step(hardware):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 10, generator=g)
    y = torch.randint(0, 3, (12,), generator=g)
    config = TrainingConfig(outputs_per_class=2, margin=None, engine="eager")
    arch = build_architecture(x, 3, (7,), config)
    net = InSituNetwork(arch, hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(torch.Generator().manual_seed(10 + i))
    twin = copy.deepcopy(net)
    model = torch.nn.Sequential(twin.layers[0], torch.nn.Tanh(), twin.layers[1])
    lr = 2.0
    cli_gen = torch.Generator().manual_seed(5)
    opt = InSituSGD(model, lr=lr, generator=torch.Generator().manual_seed(5), engine="eager")  # the CLI's
    stats = EpochStats(flips_per_layer=[0, 0])
    for n in range(len(x)):
        # the CLI: one generator for both layers, so both paths draw layer 0's write, then layer 1's
        train_step(net, x[n], int(y[n]), lr, config, [cli_gen, cli_gen], stats, sample=n)
        opt.zero_grad()
        z = model(arch.prepare(x[n])[None])
        torch.nn.functional.cross_entropy(class_scores(z, arch), y[n:n + 1]).backward()
        opt.step()
        for a, b in zip(net.layers, twin.layers, strict=True):
            for (name, xa), xb in zip(a.arrays().items(), b.arrays().values(), strict=True):
                assert torch.equal(xa.parallel, xb.parallel), (n, name)
    assert stats.flips == opt.counts["flips"] > 0 and stats.updates == opt.counts["writes"] // 2 == len(x)
