"""InSituSGD's two engines on convolutions: ``auto`` writes a sample's positions as one stream (batched
encoder, compiled loop over the positions), ``eager`` one ``plan`` / ``write`` per position (the reference).
Same writes, same phases, number for number; the flips agree in distribution (the stream's distribution
against the exact chain is ``test_insitu_conv.py``'s first test and ``tests/crossbar/test_stream_write.py``).
A buffer-and-counter tile (the project's best rule) streams its buffer's writes the same way, at its
request scale; its transfers run after the sample as before."""

from __future__ import annotations

import copy

import pytest
import torch

from mtjxbar.nn import HardwareConfig, MTJConv2d
from mtjxbar.optim import InSituSGD
from mtjxbar.periphery import EncoderConfig, TransferConfig


def _conv(hardware: HardwareConfig, seed: int = 0) -> MTJConv2d:
    layer = MTJConv2d(2, 3, 3, hardware, 0.5, padding=1)
    layer.randomize(torch.Generator().manual_seed(seed))
    return layer


def _batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.relu(torch.randn(2, 2, 5, 5, generator=g))  # zero pixels: some patches are all zero
    delta = torch.randn(2, 3, 5, 5, generator=g)
    delta[:, :, 1] = 0.0  # a row of positions without error
    return x, delta


def _step(layer, opt, x, delta) -> None:
    opt.zero_grad()
    layer(x).backward(delta)
    opt.step()


PLAIN = HardwareConfig()
# no transfer within a step's two samples when the clock is reset before it (3 columns over 1000 samples)
TRANSFER = HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=1000))
KINDS = pytest.mark.parametrize("hardware", [PLAIN, TRANSFER], ids=["plain", "transfer"])


@KINDS
def test_auto_and_eager_write_the_same_positions_with_the_same_phases(hardware):
    """From the same states, one step of two samples: the same number of writes (the firing positions) and
    the same phase count, exactly; the eager engine asks ``plan`` once per write, the stream never."""
    x, delta = _batch(1)
    layers = {e: _conv(hardware) for e in ("auto", "eager")}
    calls = {e: 0 for e in layers}
    for engine, layer in layers.items():
        plan = layer.plan

        def counted(row, col, rows=None, plan=plan, engine=engine):
            calls[engine] += 1
            return plan(row, col, rows)

        layer.plan = counted
    opts = {e: InSituSGD(layer, lr=1.0, seed=0, engine=e) for e, layer in layers.items()}
    for engine in layers:
        _step(layers[engine], opts[engine], x, delta)
    cols = layers["auto"].columns(x)
    errors = delta.reshape(2, 3, -1).transpose(1, 2)
    firing = int(((cols != 0).any(2) & (errors != 0).any(2)).sum())
    assert 0 < firing < 50
    assert opts["auto"].counts["writes"] == opts["eager"].counts["writes"] == firing
    assert opts["auto"].counts["phases"] == opts["eager"].counts["phases"] > 0
    assert calls == {"auto": 0, "eager": firing}


@KINDS
def test_auto_and_eager_move_the_weights_alike(hardware):
    """400 steps from the same start per engine: every kernel entry's mean final weight agrees between the
    engines within 4.5 standard errors of the difference (each mean is over independent repeats; with a
    buffer and counter the buffer moves and the counter, untouched in a step, does not)."""
    x, delta = _batch(2)
    base = _conv(hardware)
    start = base.crossbar.parallel.clone()
    n, sums = 400, {}
    for engine in ("auto", "eager"):
        layer = copy.deepcopy(base)
        opt = InSituSGD(layer, lr=0.3, seed=5, engine=engine)
        total, squares = torch.zeros_like(layer.weights(), dtype=torch.float64), 0.0
        for _ in range(n):
            layer.crossbar.set_states(start)
            opt.clock(0)
            _step(layer, opt, x, delta)
            w = layer.weights().double()
            total, squares = total + w, squares + w * w
        sums[engine] = (total / n, squares / n - (total / n) ** 2)
    (ma, va), (mb, vb) = sums["auto"], sums["eager"]
    se = torch.sqrt((va + vb) / n)
    moved = (va + vb) > 0
    assert bool(moved.sum() > 10)
    assert bool(((ma - mb).abs() <= 4.5 * se + 1e-12)[moved].all()), ((ma - mb) / se)


@pytest.mark.parametrize("hardware", [HardwareConfig(encoder=EncoderConfig(scheme="coincidence")),
                                      HardwareConfig(encoder=EncoderConfig(scheme="coincidence"),
                                                     transfer=TransferConfig(counter_bits=3, samples_per_sweep=2))],
                         ids=["coincidence", "transfer-coincidence"])
def test_layers_the_stream_does_not_take_are_written_one_position_at_a_time(hardware):
    """The coincidence scheme (also on a buffer-and-counter tile) falls back to ``plan`` / ``write`` per
    position."""
    layer = _conv(hardware)
    assert layer.stream_unsupported() is not None
    asked = []
    plan = layer.plan
    layer.plan = lambda row, col, rows=None: asked.append(1) or plan(row, col, rows)
    opt = InSituSGD(layer, lr=0.5, seed=0)
    _step(layer, opt, *_batch(3))
    assert len(asked) == opt.counts["writes"] > 0


def test_an_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        InSituSGD(_conv(HardwareConfig()), lr=0.1, engine="fused")
