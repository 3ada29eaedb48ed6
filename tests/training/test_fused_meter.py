"""The cost meter fed by the fused loop against the meter fed by the eager arrays' events.

Exact where the two loops see the same states and plans: with every cell stuck nothing ever flips, so both
loops read, encode and write the same pulses sample after sample (the current scheme's plans are
deterministic) and every figure must agree to float rounding (the eager events are float32). With cells
that flip, and for the coincidence scheme (random pulse streams), the two runs differ draw by draw: the
per-sample means must agree within their statistical spread. A kernel phase costed from the phases of a
drawn coincidence plan is compared exactly too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtjxbar.config import replace_path
from mtjxbar.crossbar.access.events import phase_event
from mtjxbar.crossbar.plan import CoincidencePlan
from mtjxbar.device import VariationConfig
from mtjxbar.hardware import CostConfig, attach_meter, phase_cost
from mtjxbar.hardware.ledger import ArraySpec
from mtjxbar.nn import HardwareConfig
from mtjxbar.rng import generator
from mtjxbar.training import InSituNetwork, TrainingConfig, train_insitu
from mtjxbar.training.architecture import Architecture
from mtjxbar.training.fused import FusedNetwork, unsupported
from mtjxbar.training.fused import kernels as K

COINCIDENCE = replace_path(replace_path(HardwareConfig(), "encoder.scheme", "coincidence"), "encoder.slots", 3)
TRANSFER = HardwareConfig()
for _path, _value in (("transfer.counter_bits", 3), ("transfer.buffer_mtjs", 2), ("transfer.samples_per_sweep", 4)):
    TRANSFER = replace_path(TRANSFER, _path, _value)
ALL_STUCK = VariationConfig(stuck_p_rate=0.5, stuck_ap_rate=0.5)


def _net(hardware: HardwareConfig, sizes=(20, 16, 6), seed: int = 0, stuck: bool = False) -> InSituNetwork:
    arch = Architecture(sizes=sizes, gains=tuple(1.5 / math.sqrt(n) for n in sizes[:-1]), n_classes=3,
                        outputs_per_class=2, input_mean=None)
    net = InSituNetwork(arch, hardware)
    for i, layer in enumerate(net.layers):
        layer.randomize(generator(seed, f"init.layer{i}"))
        if stuck:
            for name, xb in layer.arrays().items():
                xb.manufacture(ALL_STUCK, generator(seed, f"v{i}{name}"), generator(seed, f"f{i}{name}"))
    return net


def _data(n: int = 120, features: int = 20, seed: int = 3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, features, generator=gen)
    y = torch.randint(0, 3, (n,), generator=gen)
    return x, y


def _metered_run(hardware, engine: str, *, stuck: bool, n: int = 120, lr: float = 30.0, seed: int = 0) -> tuple:
    net = _net(hardware, stuck=stuck)
    meter = attach_meter(net, hardware)
    x, y = _data(n)
    config = TrainingConfig(lr=lr, engine=engine, margin=None)
    gens = [generator(seed, f"write.layer{i}") for i in range(len(net.layers))]
    with meter.epoch():
        stats = train_insitu(net, x, y, config, 0, torch.arange(n), gens)
    return meter.summary(), stats


def _close(a: dict, b: dict, rtol: float, path: str = "") -> None:
    """Every number of two summaries within ``rtol`` (relative to the larger, or 1e-30 absolute)."""
    assert a.keys() == b.keys(), path
    for key in a:
        va, vb = a[key], b[key]
        where = f"{path}.{key}"
        if isinstance(va, dict):
            _close(va, vb, rtol, where)
        elif isinstance(va, list):
            assert len(va) == len(vb), where
            for k, (ia, ib) in enumerate(zip(va, vb, strict=True)):
                _close(ia, ib, rtol, f"{where}[{k}]") if isinstance(ia, dict) else None
        elif isinstance(va, (int, float)):
            assert math.isclose(va, vb, rel_tol=rtol, abs_tol=1e-30), f"{where}: fused {va!r}, eager {vb!r}"


def test_metered_network_runs_fused():
    """A cost meter no longer sends the loop to the eager path (plain uniform layers)."""
    net = _net(HardwareConfig())
    attach_meter(net, HardwareConfig())
    assert unsupported(net) is None
    assert FusedNetwork(net, (1.0,)).meter is not None


@pytest.mark.parametrize("name", ["plain", "transfer"])
def test_fused_meter_equals_eager_meter_when_states_are_fixed(name):
    """Every cell stuck: the same reads, plans and (transfer layers) column transfers with their rewrite
    rounds in both loops, so every figure of the summary agrees (float32 events against float64 sums:
    1e-5)."""
    hw = {"plain": HardwareConfig(), "transfer": TRANSFER}[name]
    fused, fstats = _metered_run(hw, "fused", stuck=True)
    eager, estats = _metered_run(hw, "eager", stuck=True)
    assert (fstats.engine, estats.engine) == ("fused", "eager")
    assert fstats.phases == estats.phases > 0 and fstats.flips == estats.flips == 0
    assert fused["insitu_parallel"]["energy_breakdown_j"]["cells_write"] > 0
    if name == "transfer":
        assert fused["transfer"]["columns"] > 0 and fused["transfer"]["verifies"] > 0
        assert fused["transfer"]["insitu_parallel"]["energy_breakdown_j"]["cells_write"] > 0
    _close(fused, eager, rtol=1e-5)


def test_fused_meter_equals_eager_meter_with_flips():
    """Cells that flip: the two runs differ draw by draw, so per-sample energy and latency agree within a
    few per cent (measured: under 1 %), and the flips and phases per sample likewise."""
    hw = HardwareConfig()
    fused, _ = _metered_run(hw, "fused", stuck=False, n=300)
    eager, _ = _metered_run(hw, "eager", stuck=False, n=300)
    for s in ("insitu_parallel", "insitu_rowwise"):
        for key in ("energy_j", "latency_s"):
            assert fused[s][key] == pytest.approx(eager[s][key], rel=0.03), (s, key)
        assert fused[s]["flips"] == pytest.approx(eager[s]["flips"], rel=0.15)
        assert fused[s]["phases"] == pytest.approx(eager[s]["phases"], rel=0.05)


def test_fused_meter_transfer_in_distribution():
    """Transfer layers whose cells flip: per-sample figures (transfers apart too) within a few per cent."""
    fused, _ = _metered_run(TRANSFER, "fused", stuck=False, n=300)
    eager, _ = _metered_run(TRANSFER, "eager", stuck=False, n=300)
    for s in ("insitu_parallel", "insitu_rowwise"):
        for key in ("energy_j", "latency_s"):
            assert fused[s][key] == pytest.approx(eager[s][key], rel=0.05), (s, key)
            assert fused["transfer"][s][key] == pytest.approx(eager["transfer"][s][key], rel=0.05), (s, key)
    assert fused["transfer"]["columns"] == eager["transfer"]["columns"]


def test_fused_meter_coincidence_in_distribution():
    """Coincidence scheme: random pulse streams, so the per-sample figures agree within a few per cent."""
    fused, _ = _metered_run(COINCIDENCE, "fused", stuck=False, n=300)
    eager, _ = _metered_run(COINCIDENCE, "eager", stuck=False, n=300)
    for s in ("insitu_parallel", "insitu_rowwise"):
        for key in ("energy_j", "latency_s"):
            assert fused[s][key] == pytest.approx(eager[s][key], rel=0.05), (s, key)
        write = fused[s]["energy_breakdown_j"]["cells_write"]
        assert write == pytest.approx(eager[s]["energy_breakdown_j"]["cells_write"], rel=0.1)


def test_coincidence_phases_costed_as_the_drawn_plan():
    """One coincidence write by the kernel (with its log), its phases costed by ``meter_coincidence``,
    equal the eager phase events of the same drawn plan in the states before the write."""
    net = _net(COINCIDENCE)
    fused = FusedNetwork(net, (1.0,))
    layer, L = net.layers[0], fused.layer_arrays()[0]
    xb = layer.crossbar
    before = xb.parallel.clone()
    rows, cols = xb.rows, xb.cols
    gen = torch.Generator().manual_seed(5)
    r = (torch.rand(rows, generator=gen) - 0.5).double().numpy()
    c_out = ((torch.rand(layer.out_features, generator=gen) - 0.5) * 2.0).double().numpy()
    row_prob, row_sign, plan_sign = np.zeros(rows), np.zeros(rows), np.zeros(cols)
    col_prob = np.zeros((2, cols))
    slots = int(fused.ep[K.EP_SLOTS])
    assert K.encode_coincidence(r, c_out, fused.lps[0], fused.ep, L.sign, row_prob, row_sign, plan_sign, col_prob)
    slot_rows, slot_cols = np.zeros((slots, rows), np.int64), np.zeros((slots, 2, cols), np.int64)
    slot_n_rows, slot_n_cols = np.zeros(slots, np.int64), np.zeros((slots, 2), np.int64)
    flipped = np.zeros(rows * cols, np.int64)
    rng = np.zeros(4, dtype=np.uint64)
    K.seed_stream(rng, 11)
    _, _, n_flipped = K._coincidence(row_prob, row_sign, plan_sign, col_prob, L, slots, rng,
                                     np.zeros(rows, np.int64), np.zeros((2, cols), np.int64), True, slot_rows,
                                     slot_n_rows, slot_cols, slot_n_cols, flipped)
    assert n_flipped > 0  # the write changed states: the costing must set them back
    sums = np.zeros(K.M_COUNT)
    K.meter_coincidence(slot_rows, slot_n_rows, slot_cols, slot_n_cols, row_sign, plan_sign, L, fused.ep, flipped,
                        n_flipped, sums)
    # the same drawn plan, costed eagerly in the states before the write
    after = xb.parallel.clone()
    xb.set_states(before)
    row_on = torch.zeros(slots, rows, dtype=torch.bool)
    col_on = torch.zeros(slots, 2, cols, dtype=torch.bool)
    for b in range(slots):
        row_on[b, torch.from_numpy(slot_rows[b, :slot_n_rows[b]])] = True
        for pol in range(2):
            col_on[b, pol, torch.from_numpy(slot_cols[b, pol, :slot_n_cols[b, pol]])] = True
    currents = torch.tensor(fused.ep[K.EP_PULSE_CURRENT:K.EP_PULSE_CURRENT + 2])
    plan = CoincidencePlan(row_prob=torch.from_numpy(row_prob), row_sign=torch.from_numpy(row_sign),
                           col_prob=torch.from_numpy(col_prob), col_sign=torch.from_numpy(plan_sign),
                           currents=currents, width=float(fused.ep[K.EP_SLOT_WIDTH]), slots=slots, row_on=row_on,
                           col_on=col_on)
    spec = ArraySpec(rows=rows, cols=cols, in_features=rows, out_features=layer.out_features)
    cost = CostConfig()
    cells = widths = 0.0
    for phase in plan.phases:
        event = phase_event(xb, phase, torch.nonzero(phase.row_widths > 0).flatten())
        cells += phase_cost(event, spec, cost)[0].energy["cells_write"]
        widths += float(phase.row_widths.sum())
    assert len(plan.phases) == sums[K.M_PHASES] > 0
    assert sums[K.M_CELLS] == pytest.approx(cells, rel=1e-5)
    assert sums[K.M_WIDTH_SUM] == pytest.approx(widths, rel=1e-9)
    assert np.array_equal(L.parallel, after.numpy())  # the flips are back in place
