"""The buffer-and-counter layer against the prototype's law (../shared/notes/prototypes/transfer_rule.py):
exact counter steps where the buffer says so (carries across tiles, nothing elsewhere), the buffer's mean
update equals the request, the transfer schedule and counts, reads of W = C + gamma step LSB A, stuck bits."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from mtjxbar.config import ConfigError
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.nn import HardwareConfig, TransferCounts, TransferLinear, manufacture_layers
from mtjxbar.periphery import MappingConfig, TransferConfig
from mtjxbar.periphery.counter import counter_bits, counter_value

# an asymmetric device (the two directions differ in Ic0 and tau0), so a swapped direction shows
DEVICE = MTJParams(ic0_p2ap=60e-6, ic0_ap2p=40e-6, tau0_p2ap=2e-9, tau0_ap2p=1e-9)


def _layer(rows=24, cols=5, bits=6, k=2, **transfer) -> TransferLinear:
    t = TransferConfig(counter_bits=bits, buffer_mtjs=k, **{"carry_overdrive": 2.0, **transfer})
    return TransferLinear(rows, cols, HardwareConfig(device=DEVICE, transfer=t), gain=0.3)


def _set_counters(layer: TransferLinear, u: torch.Tensor) -> None:
    bits = counter_bits(u.flatten(), layer.config.counter_bits).view(-1, *u.shape)
    for m, tile in enumerate(layer.tiles):
        tile.crossbar.set_states(bits[m])


def _counters(layer: TransferLinear) -> torch.Tensor:
    bits = torch.stack([tile.crossbar.parallel for tile in layer.tiles])
    return counter_value(bits.flatten(1)).view(layer.in_features, layer.out_features)


def test_counter_takes_exactly_one_step_where_the_buffer_says_so():
    layer = _layer()
    gen = torch.Generator().manual_seed(0)
    rows, cols = layer.in_features, layer.out_features
    u = torch.randint(0, 64, (rows, cols), generator=gen)
    u[:6] = torch.tensor([31, 32, 63, 0, 15, 47])[:, None]  # carries across tiles, both bounds
    _set_counters(layer, u)
    # buffer per synapse: +1 (P, P), -1 (AP, AP), 0 (P, AP) or 0 (AP, P)
    kind = torch.randint(0, 4, (rows, cols), generator=gen)
    kind[:6, 0], kind[:6, 1] = 0, 1
    kind[:6, 2] = torch.tensor([0, 1, 0, 1, 0, 1])  # up through a carry, down through a borrow, both bounds
    pair = torch.stack([kind == 0, kind == 1, kind == 2, kind == 3])
    first, second = pair[0] | pair[2], pair[0] | pair[3]
    layer.buffer.crossbar.set_states(torch.stack([first, second], dim=-1).reshape(rows, 2 * cols))
    before_buffer = layer.buffer.crossbar.parallel.clone()
    inc = torch.where(kind == 0, 1, torch.where(kind == 1, -1, 0))
    counts = layer.transfer_column(2, gen)
    expect = u.clone()
    expect[:, 2] = (u[:, 2] + inc[:, 2]).clamp(0, 63)
    assert torch.equal(_counters(layer), expect)  # column 2 moved by exactly +-1 LSB, nothing else
    buf = layer.buffer.crossbar.parallel.view(rows, cols, 2)
    moved = inc[:, 2] != 0
    assert buf[moved, 2, 0].all() and not buf[moved, 2, 1].any()  # reset to balanced (P, AP)
    assert torch.equal(buf[~moved, 2], before_buffer.view(rows, cols, 2)[~moved, 2])  # (AP, P) stays too
    others = [c for c in range(cols) if c != 2]
    assert torch.equal(buf[:, others], before_buffer.view(rows, cols, 2)[:, others])
    assert counts.columns == 1 and counts.increments == int(moved.sum()) and counts.failed == 0
    at_bound = ((u[:, 2] == 63) & (inc[:, 2] > 0)) | ((u[:, 2] == 0) & (inc[:, 2] < 0))
    assert counts.saturated == int(at_bound.sum())
    # one read of the 8 arrays' column, one write step (2 polarities), one verify read of each written array
    tiles_written = int((counter_bits(u[:, 2], 6) != counter_bits(expect[:, 2], 6)).any(dim=1).sum())
    buffer_written = int(bool((moved & (kind[:, 2] == 1)).any())) + int(bool((moved & (kind[:, 2] == 0)).any()))
    assert (counts.read_phases, counts.write_phases, counts.rewrites) == (2, 2, 0)
    assert counts.reads == 8 + tiles_written + buffer_written
    # a transfer leaves the read weight unchanged (gamma = 1): W before == W after, up to saturation
    layer2 = _layer()
    _set_counters(layer2, u)
    layer2.buffer.crossbar.set_states(before_buffer)
    w0 = layer2.weights()
    layer2.transfer_column(2, gen)
    changed = (w0 - layer2.weights()).abs() > 1e-6
    assert torch.equal(changed[:, 2], at_bound) and not changed[:, others].any()


def test_transfer_schedule_and_counts_are_exact():
    layer = _layer(rows=8, cols=10, samples_per_sweep=4)
    gen = torch.Generator().manual_seed(1)
    layer.randomize(gen)
    cols = [layer.transfer_after(s, gen).columns for s in range(8)]
    assert cols == [2, 3, 2, 3, 2, 3, 2, 3]  # 10 columns per 4 samples, every column twice in 8 samples
    # a balanced buffer transfers nothing and writes nothing
    c = layer.transfer_after(0, gen)
    assert c.increments == 0 and c.cell_writes == 0 and c.write_phases == 0 and c.reads == 2 * (2 + 6)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_buffer_mean_update_equals_the_request(sign):
    """From the neutral buffer one write moves W = C + step LSB A by the request on average (4 SE), in both
    directions on an asymmetric device; also after the transfer that hands it to the counter."""
    rows, cols = 200, 60
    layer = _layer(rows=rows, cols=cols, bits=5)
    gen = torch.Generator().manual_seed(3)
    layer.randomize(gen)
    _set_counters(layer, torch.full((rows, cols), 15))
    request = 0.004  # per synapse: well inside p_max
    row = torch.full((rows,), 1.0)
    col = torch.full((cols,), sign * request)
    trials, total, totals_sq = 40, 0.0, 0.0
    for _ in range(trials):
        layer.reset_buffer()
        w0 = layer.weights()
        layer.write(layer.plan(row, col), gen)
        dw = layer.weights() - w0
        total += float(dw.sum())
        totals_sq += float((dw**2).sum())
    n = trials * rows * cols
    mean = total / n
    se = math.sqrt(max(totals_sq / n - mean**2, 0.0) / n)
    assert abs(mean - sign * request) < 4 * se, (mean, sign * request, se)
    before = _counters(layer).sum()
    for c in range(cols):
        layer.transfer_column(c, gen)
    assert torch.allclose(layer.buffer_values(), torch.zeros(rows, cols))
    assert (int(_counters(layer).sum() - before) > 0) == (sign > 0)


def test_one_mtj_buffer_alternates_its_reference():
    layer = _layer(rows=6, cols=2, bits=3, k=1)
    gen = torch.Generator().manual_seed(4)
    layer.randomize(gen)
    _set_counters(layer, torch.full((6, 2), 3))
    assert layer.reference.tolist() == [1.0, -1.0]
    assert torch.allclose(layer.buffer_values(), torch.zeros(6, 2))
    states = layer.buffer.crossbar.parallel.clone()
    states[0, 0] = False  # moved away from reference +1: a -1 event on row 0
    states[1, 1] = True  # moved away from -1: +1 on row 1
    layer.buffer.crossbar.set_states(states)
    assert layer.buffer_values()[0, 0] == -1.0 and layer.buffer_values()[1, 1] == 1.0
    layer.transfer_column(0, gen)
    layer.transfer_column(1, gen)
    u = _counters(layer)
    assert u[:, 0].tolist() == [2, 3, 3, 3, 3, 3] and u[:, 1].tolist() == [3, 4, 3, 3, 3, 3]
    assert layer.reference.tolist() == [-1.0, 1.0]
    assert torch.equal(layer.buffer.crossbar.parallel, torch.tensor([[False, True]] * 6))
    assert torch.allclose(layer.buffer_values(), torch.zeros(6, 2))


@pytest.mark.parametrize("k", [1, 2])
def test_reads_see_counter_plus_buffer(k):
    """forward = gain x W / input_range and backward = gain W delta / input_range for W = weights()
    (ideal reads at zero wire resistance, bias-dependent TMR off so the read is linear)."""
    dev = replace(DEVICE, v_h=1e6)
    t = TransferConfig(counter_bits=4, buffer_mtjs=k, gamma=1.0)
    layer = TransferLinear(30, 7, HardwareConfig(device=dev, transfer=t), gain=0.7)
    gen = torch.Generator().manual_seed(5)
    layer.randomize(gen)
    noise = torch.rand(layer.buffer.crossbar.rows, layer.buffer.crossbar.cols, generator=gen) < 0.3
    layer.buffer.crossbar.set_states(layer.buffer.crossbar.parallel ^ noise)
    w = layer.weights()
    assert w.abs().max() <= 1.0 + layer.buffer_weight
    x = torch.randn(30, generator=gen) * 0.3
    torch.testing.assert_close(layer(x), 0.7 * x @ w, rtol=1e-4, atol=1e-5)
    d = torch.randn(7, generator=gen)
    torch.testing.assert_close(layer.backward(d), 0.7 * w @ d, rtol=1e-4, atol=1e-5)


def test_a_stuck_bit_does_not_break_the_carry():
    """A stuck bit keeps its state: the periphery reads the counter as it is, adds the step, writes the
    other bits, and the verify reports the stuck cell as failed. Bit 0 stuck at P: incrementing u = 1
    (001) asks for 010, the array holds 011 = 3; decrementing from there asks 010, holds 011 again."""
    layer = _layer(rows=1, cols=1, bits=3)
    stuck = torch.zeros(1, 1, dtype=torch.bool)
    layer.tiles[0].crossbar.set_stuck(~stuck, stuck)
    _set_counters(layer, torch.tensor([[1]]))
    gen = torch.Generator().manual_seed(6)
    layer.buffer.crossbar.set_states(torch.tensor([[True, True]]))  # +1
    c = layer.transfer_column(0, gen)
    assert _counters(layer).item() == 3 and c.failed == 1 and c.rewrites == layer.config.verify_rounds
    layer.buffer.crossbar.set_states(torch.tensor([[False, False]]))  # -1
    c = layer.transfer_column(0, gen)
    assert _counters(layer).item() == 3 and c.failed == 1


def test_carry_pulses_fail_with_the_device_probability_and_verify_repairs():
    """Weak carry pulses (thermal regime) switch with the device model's probability; without verify the
    failures stay, with verify rounds they are rewritten."""
    from mtjxbar.device import switching_probability

    t = dict(carry_overdrive=0.8, carry_width=10e-9)
    p = float(switching_probability(torch.tensor(0.8 * DEVICE.ic0_ap2p, dtype=torch.float64), 10e-9,
                                    ic0=DEVICE.ic0_ap2p, tau0=DEVICE.tau0_ap2p, delta=DEVICE.delta,
                                    n=DEVICE.n_exponent, tau_d=DEVICE.tau_d))
    assert 0.05 < p < 0.95
    for rounds in (0, 3):
        layer = _layer(rows=2000, cols=1, bits=1, verify_rounds=rounds, **t)
        _set_counters(layer, torch.zeros(2000, 1, dtype=torch.long))
        layer.buffer.crossbar.set_states(torch.ones(2000, 2, dtype=torch.bool))  # +1 everywhere: bit 0 -> P
        counts = layer.transfer_column(0, torch.Generator().manual_seed(rounds))
        done = float(layer.tiles[0].crossbar.parallel.float().mean())
        expect = 1 - (1 - p) ** (rounds + 1)
        assert abs(done - expect) < 4 * math.sqrt(expect * (1 - expect) / 2000) + 1e-9, (rounds, done, expect)
        wrong_bits = int((~layer.tiles[0].crossbar.parallel).sum())
        wrong_resets = int(layer.buffer.crossbar.parallel.view(2000, 2)[:, 1].sum())  # (P, P) -> (P, AP)
        assert counts.failed == wrong_bits + wrong_resets and wrong_bits > 0
        assert counts.rewrites > 0 if rounds else counts.rewrites == 0


def test_config_refuses_what_cannot_be_built():
    with pytest.raises(ConfigError, match="buffer_mtjs = 3"):
        TransferConfig(counter_bits=4, buffer_mtjs=3)
    with pytest.raises(ConfigError, match="leave mapping at its default"):
        HardwareConfig(mapping=MappingConfig(mtjs_per_synapse=2), transfer=TransferConfig(counter_bits=2))
    assert TransferConfig(counter_bits=6).mtjs_per_synapse == 8 and TransferConfig().enabled is False


def test_every_array_gets_its_own_chip():
    var = VariationConfig(r_p_dtod=0.1, stuck_p_rate=0.05)
    layer = TransferLinear(16, 4, HardwareConfig(variation=var, transfer=TransferConfig(counter_bits=3)), 0.5)
    manufacture_layers([layer], seed=0)
    r_p = [xb.params["r_p"] for xb in layer.arrays().values()]
    assert len(r_p) == 4 and all(not torch.equal(r_p[0][:, :4], r[:, :4]) for r in r_p[1:])


@pytest.mark.parametrize("sense", ["threshold", "two_bias"])
@pytest.mark.parametrize("k", [1, 2])
def test_a_uniform_arrays_column_read_is_what_its_sense_reads(sense, k):
    """On uniform 1T1MTJ arrays (asymmetric device) the transfer's column read skips the one-hot reads and
    takes the states: for random states of the buffer and every bit tile, column by column, that equals
    :meth:`TransferLinear.sense_column` (the reads through the array and the periphery's decision)."""
    layer = _layer(rows=40, cols=3, bits=3, k=k, sense=sense)
    g = torch.Generator().manual_seed(int(sense == "two_bias"))
    for sub in (layer.buffer, *layer.tiles):
        xb = sub.crossbar
        xb.set_states(torch.rand(xb.rows, xb.cols, generator=g) < 0.5)
        assert xb.uniform and xb.events is None
        for c in range(xb.cols):
            read = layer._read_column(sub, c)
            assert torch.equal(read, layer.sense_column(sub, c))
            assert 0 < int(read.sum()) < xb.rows


def test_carry_disturbs_of_a_passive_array_are_counted_apart():
    """A column transfer's carry pulses on a passive V/3 array put -V/3 across every unselected cell (+V/3 across
    the half-selected ones); with the default device (delta 40) some of them switch (issue 23: the transfer
    row's gap). ``disturbs`` counts switch events the pulses did not aim at: at least every cell the transfer
    changed outside the columns it wrote (a cell of a written column, or one switched back by the other
    polarity, adds events without a net change there), at most all of its flips; a 1T1MTJ array has none."""
    from mtjxbar.crossbar import ArrayConfig

    t = TransferConfig(counter_bits=3, buffer_mtjs=2)
    g = torch.Generator().manual_seed(4)
    for kind, expect_some in (("passive", True), ("1t1mtj", False)):
        hw = HardwareConfig(array=ArrayConfig(kind=kind, write_scheme="v3", tile_rows=64, tile_cols=64), transfer=t)
        layer = TransferLinear(64, 64, hw, gain=0.3)
        torch.manual_seed(2)
        for sub in (layer.buffer, *layer.tiles):
            sub.crossbar.set_states(torch.rand(sub.crossbar.rows, sub.crossbar.cols) > 0.5)
        total = 0
        for col in range(0, 64, 3):
            before = [sub.crossbar.parallel.clone() for sub in (layer.buffer, *layer.tiles)]
            written = [[2 * col, 2 * col + 1]] + [[col]] * len(layer.tiles)  # the buffer's two columns per output
            counts = layer.transfer_column(col, g)
            outside = 0
            for old, sub, cols in zip(before, (layer.buffer, *layer.tiles), written, strict=True):
                changed = old != sub.crossbar.parallel
                changed[:, cols] = False
                outside += int(changed.sum())
            assert outside <= counts.disturbs <= counts.flips
            total += counts.disturbs
        assert (total > 0) == expect_some, (kind, total)


def test_a_weaker_carry_pulse_disturbs_a_passive_array_less():
    """The carry pulse's current sets the voltage across the other cells of a passive V/3 array: the unselected
    ones see -1/3 of the selected cell's voltage. At 1.0 Ic0 instead of 1.2 a P cell there carries 0.44 instead
    of 0.50 of its Ic0 (the AP cell driven to P needs 0.396 instead of 0.454 V), and the device model (delta
    40, 10 ns) gives 3.6e-5 instead of 5.3e-4 switching per pulse: 1/14.7. Over the same 64 column transfers
    from the same states the disturbs must fall by more than 5x (some 290 against 20 expected; a 5x margin is
    over 6 Poisson sd of the second count) while the aimed writes still land within the verify rounds. Fails
    if the passive carry current ignores ``carry_overdrive``."""
    from mtjxbar.crossbar import ArrayConfig

    totals = {}
    for overdrive in (1.2, 1.0):
        t = TransferConfig(counter_bits=3, buffer_mtjs=2, carry_overdrive=overdrive)
        hw = HardwareConfig(array=ArrayConfig(kind="passive", write_scheme="v3", tile_rows=64, tile_cols=64),
                            transfer=t)
        layer = TransferLinear(64, 64, hw, gain=0.3)
        states = torch.Generator().manual_seed(2)
        for sub in (layer.buffer, *layer.tiles):
            sub.crossbar.set_states(torch.rand(sub.crossbar.rows, sub.crossbar.cols, generator=states) > 0.5)
        g, counts = torch.Generator().manual_seed(4), TransferCounts()
        for col in range(64):
            counts.add(layer.transfer_column(col, g))
        assert counts.failed == 0 and counts.cell_writes > 4000, (overdrive, counts)
        totals[overdrive] = counts.disturbs
    assert totals[1.2] > 150 and totals[1.0] * 5 < totals[1.2], totals


def test_a_metered_1t1mtj_transfer_senses_through_reads():
    """With a cost meter listening, a uniform 1T1MTJ array's columns are sensed through one-hot transposed reads
    (not copied from the states): on an array large enough for the BLAS read path (784 rows) the sensed column
    is one value per row (it was (1, rows), and the eager loop's metered transfers stopped with 'row_widths and
    col_currents must be 1-D')."""
    layer = _layer(rows=784, cols=64, k=2)  # 50,176 cells: above LARGE_TRANSPOSED
    torch.manual_seed(3)
    for sub in (layer.buffer, *layer.tiles):
        sub.crossbar.set_states(torch.rand(sub.crossbar.rows, sub.crossbar.cols) > 0.5)
        sub.crossbar.events = []
    sensed = layer._read_column(layer.tiles[0], 2)
    assert sensed.shape == (layer.in_features,)
    assert torch.equal(sensed, layer.tiles[0].crossbar.parallel[:, 2])
    counts = layer.transfer_column(2, torch.Generator().manual_seed(0))
    assert counts.columns == 1 and counts.failed == 0 and counts.disturbs == 0
