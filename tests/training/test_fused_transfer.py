"""The fused engine's buffer-and-counter layers against the eager TransferLinear: reads number for number,
transfers state for state where the carry pulses are deterministic, weak carry pulses at the device's
probability, and chunking / same seed invariance of whole runs."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from mtjxbar.device import MTJParams
from mtjxbar.nn import HardwareConfig, TransferCounts
from mtjxbar.periphery import TransferConfig
from mtjxbar.rng import generator
from mtjxbar.training import EpochStats, InSituNetwork, TrainingConfig, train_insitu
from mtjxbar.training.architecture import Architecture
from mtjxbar.training.fused import FusedNetwork, unsupported
from mtjxbar.training.fused import kernels as K
from mtjxbar.training.insitu import TRANSFER_FIELDS

DEVICE = MTJParams(ic0_p2ap=60e-6, ic0_ap2p=40e-6, tau0_p2ap=2e-9, tau0_ap2p=1e-9)


def _net(k=2, bits=4, sizes=(20, 12, 6), seed=0, **transfer) -> InSituNetwork:
    t = TransferConfig(counter_bits=bits, buffer_mtjs=k, samples_per_sweep=3, **transfer)
    arch = Architecture(sizes=sizes, gains=tuple(1.5 / math.sqrt(n) for n in sizes[:-1]), n_classes=sizes[-1] // 2,
                        outputs_per_class=2, input_mean=None)
    net = InSituNetwork(arch, HardwareConfig(device=DEVICE, transfer=t))
    gen = generator(seed, "init")
    for layer in net.layers:
        layer.randomize(gen)
        xb = layer.buffer.crossbar  # a buffer with many +-1 synapses
        xb.set_states(torch.rand(xb.rows, xb.cols, generator=gen) < 0.5)
    return net


@pytest.mark.parametrize("k", [1, 2])
def test_counter_reads_match_the_layer(k):
    net = _net(k=k)
    fused = FusedNetwork(net, (1.0,))
    counters = fused.counter_arrays()
    gen = torch.Generator().manual_seed(1)
    for i, (layer, L, C) in enumerate(zip(net.layers, fused.layer_arrays(), counters, strict=True)):
        lp, cols = fused.lps[i], L.states.shape[1]
        x = torch.randn(layer.in_features, generator=gen) * 0.6
        z, w = np.zeros(layer.out_features), np.zeros(4)
        K.layer_forward(x.double().numpy(), L, lp, fused.ep, np.zeros(cols, dtype=np.float32), w, z)
        K.counter_forward(x.double().numpy(), C, L, lp, fused.ep, np.zeros(cols, dtype=np.float32), z)
        np.testing.assert_allclose(z, layer(x).double().numpy(), rtol=2e-5, atol=1e-6)
        delta = torch.randn(layer.out_features, generator=gen) * 0.1
        err = np.zeros(layer.in_features)
        K.layer_backward(delta.double().numpy(), L, lp, fused.ep, np.zeros(cols, dtype=np.float32),
                         np.zeros((4, cols), dtype=np.float32), w, err)
        K.counter_backward(delta.double().numpy(), C, L, lp, fused.ep, np.zeros(cols, dtype=np.float32), err)
        np.testing.assert_allclose(err, layer.backward(delta).double().numpy(), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_transfers_match_the_eager_layer_state_for_state(k):
    """With strong carry pulses (failure ~1e-11) the transfer is deterministic: the kernel and the eager
    layer end in the same states with the same counts."""
    eager = _net(k=k, carry_overdrive=2.0, threshold=0.5 if k == 4 else 1.0)
    fast = copy.deepcopy(eager)
    fused = FusedNetwork(fast, (1.0,))
    layers, counters = fused.layer_arrays(), fused.counter_arrays()
    rng = np.zeros(4, dtype=np.uint64)
    gen = torch.Generator().manual_seed(2)
    for s in range(7):  # 7 samples: 12/3 = 4 columns per sample at layer 0, 2 at layer 1, cycling
        for i, layer in enumerate(eager.layers):
            expect = layer.transfer_after(s, gen)
            got = np.zeros(K.TC_COUNT, dtype=np.int64)
            K.seed_stream(rng, 11 + s)
            K.transfer_after(s, layers[i], counters[i], fused.lps[i], rng, got, np.zeros(64, dtype=np.int64))
            assert dict(zip(TRANSFER_FIELDS, got.tolist(), strict=True)) == vars(expect), (s, i)
    fused.store_counters(counters)
    for a, b in zip(eager.layers, fast.layers, strict=True):
        for name, xb in a.arrays().items():
            assert torch.equal(xb.parallel, b.arrays()[name].parallel), name
        assert torch.equal(a.reference, b.reference)
        np.testing.assert_array_equal(fused.counter_arrays()[0].u, counters[0].u)


def test_weak_carry_pulses_switch_with_the_device_probability():
    net = _net(k=2, bits=1, sizes=(4000, 2), carry_overdrive=0.8, verify_rounds=0)
    layer = net.layers[0]
    layer.tiles[0].crossbar.set_states(torch.zeros(4000, 2, dtype=torch.bool))
    layer.buffer.crossbar.set_states(torch.ones(4000, 4, dtype=torch.bool))  # +1: every bit 0 -> 1 asked
    fused = FusedNetwork(net, (1.0,))
    p = fused.lps[0, K.LP_T_P_TO_P]
    assert 0.05 < p < 0.95
    counters, rng = fused.counter_arrays(), np.zeros(4, dtype=np.uint64)
    K.seed_stream(rng, 5)
    got = np.zeros(K.TC_COUNT, dtype=np.int64)
    for s in range(3):  # 2 columns / 3 samples: both columns once
        K.transfer_after(s, fused.layer_arrays()[0], counters[0], fused.lps[0], rng, got, np.zeros(64, np.int64))
    done = counters[0].bits.mean()
    assert abs(done - p) < 4 * math.sqrt(p * (1 - p) / 8000)
    assert got[K.TC_FAILED] == (~counters[0].bits).sum() + fused.layer_arrays()[0].parallel[:, 1::2].sum()


def _train(net, order, **kwargs):
    tcfg = TrainingConfig(lr=0.5, engine="fused")
    x = torch.randn(40, 20, generator=torch.Generator().manual_seed(3))
    y = torch.arange(40) % 3
    gens = [generator(0, f"write.layer{i}") for i in range(2)]
    return train_insitu(net, x, y, tcfg, 1, order, gens, stats=EpochStats(flips_per_layer=[0, 0]), **kwargs)


def test_same_seed_same_states_and_chunking_changes_nothing():
    order = torch.randperm(40, generator=torch.Generator().manual_seed(4))
    a, b = _net(), _net()
    sa, sb = _train(a, order), _train(b, order)
    assert sa.engine == "fused" and sa.transfer["columns"] > 0 and sa.transfer == sb.transfer
    for la, lb in zip(a.layers, b.layers, strict=True):
        for name, xb in la.arrays().items():
            assert torch.equal(xb.parallel, lb.arrays()[name].parallel)
    # chunks cut at checkpoints (every 17 samples) give the same end: the schedule is the sample count's
    c, calls = _net(), []
    _train(c, order, checkpoint=lambda n, s: calls.append(n), checkpoint_every=17)
    assert calls == [17, 34]
    for la, lc in zip(a.layers, c.layers, strict=True):
        for name, xb in la.arrays().items():
            assert torch.equal(xb.parallel, lc.arrays()[name].parallel)


def test_eager_and_fused_transfer_counts_agree_in_law():
    """One epoch eager and one fused from the same start: the same number of columns (the schedule), and
    transfers (increments) per column within a few standard errors of each other."""
    order = torch.randperm(40, generator=torch.Generator().manual_seed(5))
    runs = {}
    for engine in ("eager", "fused"):
        net = _net()
        tcfg = TrainingConfig(lr=0.5, engine=engine)
        x = torch.randn(40, 20, generator=torch.Generator().manual_seed(3))
        y = torch.arange(40) % 3
        gens = [generator(0, f"write.layer{i}") for i in range(2)]
        runs[engine] = train_insitu(net, x, y, tcfg, 0, order, gens)
    e, f = runs["eager"].transfer, runs["fused"].transfer
    assert e["columns"] == f["columns"] == 40 * (12 + 6) // 3
    assert set(e) == set(f) == {fl for fl in vars(TransferCounts())}
    n_e, n_f = e["increments"], f["increments"]
    assert abs(n_e - n_f) < 5 * math.sqrt(n_e + n_f), (n_e, n_f)


def test_per_cell_parameters_run_eager():
    from mtjxbar.device import VariationConfig

    net = _net()
    xb = net.layers[0].tiles[0].crossbar
    xb.manufacture(VariationConfig(r_p_dtod=0.1), generator(0, "v"), generator(0, "f"))
    assert "per-cell parameters" in unsupported(net)
