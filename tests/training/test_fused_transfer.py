"""The fused engine's buffer-and-counter layers against the eager TransferLinear: reads number for number,
transfers state for state where the carry pulses are deterministic, weak carry pulses at the device's
probability, and chunking / same seed invariance of whole runs."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats

from mtjxbar.crossbar.plan import TO_AP, TO_P, UpdatePlan, WritePhase
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, TransferCounts, manufacture_layers
from mtjxbar.periphery import EncoderConfig, TransferConfig
from mtjxbar.rng import generator
from mtjxbar.training import EpochStats, InSituNetwork, TrainingConfig, train_insitu
from mtjxbar.training.architecture import Architecture
from mtjxbar.training.fused import FusedNetwork, unsupported
from mtjxbar.training.fused import kernels as K
from mtjxbar.training.insitu import kernel_transfer_counts

DEVICE = MTJParams(ic0_p2ap=60e-6, ic0_ap2p=40e-6, tau0_p2ap=2e-9, tau0_ap2p=1e-9)
# a chip with 20 % spreads of every device parameter and 5 % of the cells stuck (half at P, half at AP)
SPREAD = VariationConfig(r_p_dtod=0.2, tmr0_dtod=0.2, ic0_p2ap_dtod=0.2, ic0_ap2p_dtod=0.2, delta_dtod=0.2,
                         tau0_dtod=0.2, stuck_p_rate=0.025, stuck_ap_rate=0.025)
COINCIDENCE = EncoderConfig(scheme="coincidence", slots=3)  # the per-sample write of a buffer with spread


def _net(k=2, bits=4, sizes=(20, 12, 6), seed=0, variation=None, encoder=COINCIDENCE, **transfer) -> InSituNetwork:
    """A transfer network with random counters and buffers; ``variation``: a chip of it (every array, as a
    run manufactures them), with ``encoder``."""
    t = TransferConfig(counter_bits=bits, buffer_mtjs=k, samples_per_sweep=3, **transfer)
    arch = Architecture(sizes=sizes, gains=tuple(1.5 / math.sqrt(n) for n in sizes[:-1]), n_classes=sizes[-1] // 2,
                        outputs_per_class=2, input_mean=None)
    hw = HardwareConfig(device=DEVICE, transfer=t)
    if variation is not None:
        hw = replace(hw, variation=variation, encoder=encoder)
    net = InSituNetwork(arch, hw)
    gen = generator(seed, "init")
    for layer in net.layers:
        layer.randomize(gen)
        xb = layer.buffer.crossbar  # a buffer with many +-1 synapses
        xb.set_states(torch.rand(xb.rows, xb.cols, generator=gen) < 0.5)
    if variation is not None:
        manufacture_layers(net.layers, seed)
    return net


def _one_tile_spread(k: int) -> InSituNetwork:
    """Only bit tile 0 of layer 0 with its own parameters (the others uniform: a mixed layer)."""
    net = _net(k=k)
    net.layers[0].tiles[0].crossbar.manufacture(VariationConfig(r_p_dtod=0.1, tmr0_dtod=0.1), generator(0, "v"),
                                                generator(0, "f"))
    return net


NETS = {"uniform": lambda k: _net(k=k), "spread + stuck": lambda k: _net(k=k, variation=SPREAD),
        "one tile with spread": _one_tile_spread}


def _check_reads(net, fused, counters, gen):
    """The kernel's forward and transposed reads of every layer (buffer + counter) against the layer's."""
    for i, (layer, L, C) in enumerate(zip(net.layers, fused.layer_arrays(), counters, strict=True)):
        lp, cols = fused.lps[i], L.states.shape[1]
        x = torch.randn(layer.in_features, generator=gen) * 0.6
        z, w = np.zeros(layer.out_features), np.zeros(32)
        K.layer_forward(x.double().numpy(), L, lp, fused.ep, np.zeros(cols, dtype=np.float32), w, z)
        K.counter_forward(x.double().numpy(), C, L, lp, fused.ep, np.zeros(cols, dtype=np.float32), w, z)
        np.testing.assert_allclose(z, layer.read(x).double().numpy(), rtol=2e-5, atol=1e-6)
        delta = torch.randn(layer.out_features, generator=gen) * 0.1
        err = np.zeros(layer.in_features)
        K.layer_backward(delta.double().numpy(), L, lp, fused.ep, np.zeros(cols, dtype=np.float32),
                         np.zeros((32, cols), dtype=np.float32), w, err)
        K.counter_backward(delta.double().numpy(), C, L, lp, fused.ep, np.zeros(cols, dtype=np.float32),
                           np.zeros((32, cols), dtype=np.float32), w, err)
        np.testing.assert_allclose(err, layer.backward(delta).double().numpy(), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("chip", list(NETS))
def test_counter_reads_match_the_layer(k, chip):
    """Forward and transposed reads number for number: on uniform arrays one read of u, with per-cell
    parameters one read of the tiles' combined Chebyshev matrices (and still so after transfers flipped bits,
    the matrices kept in step by the kernel)."""
    net = NETS[chip](k)
    fused = FusedNetwork(net, (1.0,))
    per_cell = {"uniform": [False, False], "spread + stuck": [True, True], "one tile with spread": [True, False]}
    assert (fused.lps[:, K.LP_T_CHEB_DEGREE] >= 0).tolist() == per_cell[chip]
    counters = fused.counter_arrays()
    gen = torch.Generator().manual_seed(1)
    _check_reads(net, fused, counters, gen)
    # transfers flip counter bits (and buffer cells) in the kernel; the reads follow
    layers, rng = fused.layer_arrays(), np.zeros(4, dtype=np.uint64)
    K.seed_stream(rng, 3)
    before = [c.bits.copy() for c in counters]
    for s in range(6):
        for i in range(len(net.layers)):
            K.transfer_after(s, layers[i], counters[i], fused.lps[i], rng, np.zeros(K.TC_COUNT, dtype=np.int64),
                             np.zeros(64, dtype=np.int64))
    assert any((b != c.bits).any() for b, c in zip(before, counters, strict=True))
    fused.store_counters(counters)
    _check_reads(net, fused, counters, gen)


def _plant_misreads(net) -> dict[str, list[tuple[int, int]]]:
    """Make a few cells of layer 0 misread beyond doubt: R_P x 3 (P reads as AP) and TMR0 0.05 (AP reads as
    P), in bit tiles 0 and 1 and in the buffer. Returns the cells by array name."""
    planted = {"bit0": [(0, 0), (5, 1)], "bit1": [(1, 0), (6, 2)], "": [(2, 0), (3, 1)]}
    arrays = net.layers[0].arrays()
    for name, cells in planted.items():
        xb = arrays[name]
        params = {n: v.clone() for n, v in xb.params.items()}
        (i0, j0), (i1, j1) = cells
        params["r_p"][i0, j0] *= 3.0
        params["tmr0"][i1, j1] = 0.05
        xb.set_cell_params(params)
        if xb.frozen_mask is not None:  # free them: their state decides their read
            xb.stuck_p[i0, j0] = xb.stuck_ap[i0, j0] = xb.stuck_p[i1, j1] = xb.stuck_ap[i1, j1] = False
            xb.set_stuck(xb.stuck_p, xb.stuck_ap)
        states = xb.parallel.clone()
        states[i0, j0], states[i1, j1] = True, False  # in the state they misread
        xb.set_states(states)
    return planted


def _array_reads(cells, name: str) -> np.ndarray:
    """(2, rows, cols) of one array from a TransferCells' synapse-major reads: whether a cell in P [0] / in
    AP [1] reads as P; ``name``: "" the buffer, "bit{m}" a tile."""
    if name:
        return cells.reads[:, :, int(name[3:])].transpose(2, 1, 0)
    n_out, rows, k, _ = cells.buffer_reads.shape
    return cells.buffer_reads.transpose(3, 1, 0, 2).reshape(2, rows, n_out * k)


@pytest.mark.parametrize("sense", ["threshold", "two_bias"])
def test_threshold_reads_are_the_eager_column_reads(sense):
    """Each cell's read in P and in AP, as the kernel takes it, is what TransferLinear's one-hot column
    sense gives, on every array of a chip with spread (where some cells misread) and planted misreads. The
    threshold sense misreads many cells of a 20 % chip; the two-bias sense none in P, and in AP only cells
    whose TMR is nearly gone (the planted TMR0 = 0.05 ones)."""
    net = _net(k=2, variation=SPREAD, sense=sense)
    planted = _plant_misreads(net)
    fused = FusedNetwork(net, (1.0,))
    misread = p_misread = 0
    for i, layer in enumerate(net.layers):
        flags = {name: _array_reads(fused.cells[i], name) for name in layer.arrays()}
        mtj = {"": layer.buffer, **{f"bit{m}": tile for m, tile in enumerate(layer.tiles)}}
        for name, xb in layer.arrays().items():
            probe = copy.deepcopy(mtj[name])
            free = ~probe.crossbar.frozen_mask.view(xb.rows, xb.cols) if xb.frozen_mask is not None else True
            for state in (0, 1):  # 0: every cell P, 1: every cell AP (stuck cells keep theirs: not compared)
                probe.crossbar.set_states(torch.full((xb.rows, xb.cols), state == 0))
                eager = torch.stack([layer._read_column(probe, c) for c in range(xb.cols)], dim=1)
                expect = torch.where(free, eager, torch.from_numpy(flags[name][state]))
                np.testing.assert_array_equal(flags[name][state], expect.numpy(), err_msg=f"{i} {name} {state}")
            misread += int((~flags[name][0]).sum() + flags[name][1].sum())
            p_misread += int((~flags[name][0]).sum())
            if i == 0 and name in planted:
                (i0, j0), (i1, j1) = planted[name]
                assert flags[name][1][i1, j1], name  # TMR0 0.05: AP reads as P either way
                assert flags[name][0][i0, j0] == (sense == "two_bias"), name  # R_P x 3: only the threshold errs
    if sense == "threshold":
        assert misread > 20  # the chip's own spread misreads cells too
    else:
        assert p_misread == 0 and misread <= 6 + 3  # the 3 planted TMR0 cells, a few of the chip's own at most


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("chip", ["uniform", "spread + stuck + misreads", "two-bias sense"])
def test_transfers_match_the_eager_layer_state_for_state(k, chip):
    """With strong carry pulses (failure ~1e-11 on the uniform array, < 1e-13 for every cell of the chip) the
    transfer is deterministic: the kernel and the eager layer end in the same states with the same counts,
    misread cells included (rewritten while they read wrong, failed where left other than the target)."""
    threshold = 0.5 if k == 4 else 1.0
    if chip == "uniform":
        eager = _net(k=k, carry_overdrive=2.0, threshold=threshold)
    else:
        sense = "two_bias" if chip == "two-bias sense" else "threshold"
        eager = _net(k=k, carry_overdrive=4.0, threshold=threshold, variation=SPREAD, sense=sense)
        planted = _plant_misreads(eager)
    fast = copy.deepcopy(eager)
    fused = FusedNetwork(fast, (1.0,))
    if chip != "uniform":
        c0 = fused.cells[0]
        assert c0.p.min() > 1 - 1e-12 and c0.buffer_p.min() > 1 - 1e-12
        (i0, j0), (i1, j1) = planted["bit0"]
        assert _array_reads(c0, "bit0")[0, i0, j0] == (sense == "two_bias") and _array_reads(c0, "bit0")[1, i1, j1]
    layers, counters = fused.layer_arrays(), fused.counter_arrays()
    rng = np.zeros(4, dtype=np.uint64)
    gen = torch.Generator().manual_seed(2)
    failed = rewrites = 0
    for s in range(7):  # 7 samples: 12/3 = 4 columns per sample at layer 0, 2 at layer 1, cycling
        for i, layer in enumerate(eager.layers):
            expect = layer.transfer_after(s, gen)
            got = np.zeros(K.TC_COUNT, dtype=np.int64)
            K.seed_stream(rng, 11 + s)
            K.transfer_after(s, layers[i], counters[i], fused.lps[i], rng, got, np.zeros(64, dtype=np.int64))
            assert kernel_transfer_counts(layer, got) == vars(expect), (s, i)
            failed, rewrites = failed + expect.failed, rewrites + expect.rewrites
    if chip != "uniform":
        assert failed > 0 and rewrites > 0  # stuck and misread cells were met
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


def _binned_chi2(p: np.ndarray, flipped: np.ndarray, bins: int = 10) -> float:
    """p-value of the flips of cells with switching probabilities ``p``: cells binned by p (quantiles), the
    flip count of each bin against its expectation (variance sum p (1 - p)), chi-square with ``bins`` dof."""
    order = np.argsort(p, kind="stable")
    chi2 = 0.0
    for part in np.array_split(order, bins):
        expect, var = p[part].sum(), (p[part] * (1 - p[part])).sum()
        chi2 += (flipped[part].sum() - expect) ** 2 / max(var, 1e-9)
    return float(stats.chi2.sf(chi2, bins))


def test_weak_carry_pulses_follow_each_cells_probability():
    """Weak carry and reset pulses on a chip with spreads of Ic0, tau0 and Delta (not of the reads: nothing
    misreads here) and 2 % stuck cells: a tile bit asked 0 -> 1 becomes P, a buffer cell asked back to
    balanced becomes AP, each with its own probability (Crossbar.switching_probabilities of the pulse),
    chi-square over the cells binned by it; stuck cells never move, and every cell left off its target counts
    as failed."""
    spread = VariationConfig(ic0_p2ap_dtod=0.2, ic0_ap2p_dtod=0.2, delta_dtod=0.2, tau0_dtod=0.2, stuck_p_rate=0.01,
                             stuck_ap_rate=0.01)
    net = _net(k=2, bits=1, sizes=(4000, 2), carry_overdrive=0.8, verify_rounds=0, variation=spread)
    layer = net.layers[0]
    tile, buffer = layer.tiles[0].crossbar, layer.buffer.crossbar
    tile.set_states(torch.zeros(4000, 2, dtype=torch.bool))  # counters at 0 (stuck-P bits at 1)
    buffer.set_states(torch.ones(4000, 4, dtype=torch.bool))  # +1 (stuck-AP cells aside)
    fused = FusedNetwork(net, (1.0,))
    reads = fused.cells[0].reads
    assert not reads[..., 1].any() and reads[..., 0].all()  # nothing misreads
    t, dev = layer.config, layer.hardware.device
    expect = {}
    for name, xb, polarity, ic0 in (("tile", tile, TO_P, dev.ic0_ap2p), ("buffer", buffer, TO_AP, dev.ic0_p2ap)):
        phase = WritePhase(row_widths=torch.full((xb.rows,), t.carry_width, dtype=torch.float64),
                           col_currents=torch.full((xb.cols,), t.carry_overdrive * ic0, dtype=torch.float64),
                           polarity=polarity)
        expect[name] = xb.switching_probabilities(UpdatePlan((phase,)))[0].double().numpy()
    tile_free, buffer_free = (~(xb.stuck_p | xb.stuck_ap).numpy() for xb in (tile, buffer))
    start_bits, start_buffer = tile.parallel.numpy().copy(), buffer.parallel.numpy().copy()
    counters, rng = fused.counter_arrays(), np.zeros(4, dtype=np.uint64)
    K.seed_stream(rng, 5)
    got = np.zeros(K.TC_COUNT, dtype=np.int64)
    L = fused.layer_arrays()[0]
    for s in range(3):  # 2 columns / 3 samples: both columns once
        K.transfer_after(s, L, counters[0], fused.lps[0], rng, got, np.zeros(64, np.int64))
    bits = counters[0].bits[0]
    # what the periphery asks: +-1 where both buffer MTJs read P / AP, the counter clipped to 0 .. 1
    inc = start_buffer[:, 0::2].astype(int) + start_buffer[:, 1::2] - 1
    target_bits = np.clip(start_bits + inc, 0, 1).astype(bool)
    target_buffer = start_buffer.copy()
    target_buffer[:, 0::2] = np.where(inc != 0, True, start_buffer[:, 0::2])
    target_buffer[:, 1::2] = np.where(inc != 0, False, start_buffer[:, 1::2])
    asked = target_bits & ~start_bits & tile_free
    p_tile = expect["tile"][asked]
    assert asked.sum() > 7000 and p_tile.min() < 0.05 and p_tile.max() > 0.95  # probabilities spread widely
    assert _binned_chi2(p_tile, bits[asked]) > 1e-4
    assert (bits[~tile_free] == start_bits[~tile_free]).all()
    asked = ~target_buffer & start_buffer & buffer_free
    assert asked.sum() > 7000 and _binned_chi2(expect["buffer"][asked], ~L.parallel[asked]) > 1e-4
    assert (L.parallel[~buffer_free] == start_buffer[~buffer_free]).all()
    assert got[K.TC_FAILED] == (bits != target_bits).sum() + (L.parallel != target_buffer).sum()


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


@pytest.mark.parametrize("variation", [None, SPREAD])
def test_eager_and_fused_transfer_counts_agree_in_law(variation):
    """One epoch eager and one fused from the same start: the same number of columns (the schedule), and
    transfers (increments) per column within a few standard errors of each other; on a chip with spread and
    stuck cells too (fused by default now)."""
    order = torch.randperm(40, generator=torch.Generator().manual_seed(5))
    runs = {}
    for engine in ("eager", "fused"):
        net = _net(variation=variation)
        tcfg = TrainingConfig(lr=0.5, engine=engine)
        x = torch.randn(40, 20, generator=torch.Generator().manual_seed(3))
        y = torch.arange(40) % 3
        gens = [generator(0, f"write.layer{i}") for i in range(2)]
        runs[engine] = train_insitu(net, x, y, tcfg, 0, order, gens)
    assert runs["fused"].engine == "fused"
    e, f = runs["eager"].transfer, runs["fused"].transfer
    assert e["columns"] == f["columns"] == 40 * (12 + 6) // 3
    assert set(e) == set(f) == {fl for fl in vars(TransferCounts())}
    for name in ("increments",) if variation is None else ("increments", "failed", "rewrites"):
        n_e, n_f = e[name], f[name]
        assert abs(n_e - n_f) < 5 * math.sqrt(n_e + n_f + 1), (name, n_e, n_f)


def test_per_cell_parameters_run_fused():
    """A transfer network on a chip with spreads and stuck cells runs fused (coincidence scheme); what still
    runs eager says why: cycle-to-cycle spread, a buffer with spread under the 'current' scheme."""
    net = _net(variation=SPREAD)
    assert unsupported(net) is None
    order = torch.randperm(40, generator=torch.Generator().manual_seed(4))
    a, b = _train(net, order), _train(_net(variation=SPREAD), order)
    assert a.engine == "fused" and a.transfer["columns"] > 0 and a.transfer == b.transfer
    assert "cycle-to-cycle" in unsupported(_net(variation=replace(SPREAD, ic0_c2c=0.05)))
    assert "'current' encoder scheme" in unsupported(_net(variation=SPREAD, encoder=EncoderConfig()))
