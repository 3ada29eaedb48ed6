"""InSituSGD on convolutions: one rank-1 write per output position, in raster order, sample by sample; the
mean weight change against the request; state round trips; a conv + float model trains both."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.nn import HardwareConfig, MTJConv2d, TransferLinear, convert
from mtjxbar.optim import InSituSGD
from mtjxbar.periphery import TransferConfig

GAIN = 0.5


def _conv(device=None, seed: int = 0, **kw) -> MTJConv2d:
    hw = HardwareConfig() if device is None else HardwareConfig(device=device)
    layer = MTJConv2d(1, 2, 2, hw, GAIN, **kw)
    layer.randomize(torch.Generator().manual_seed(seed))
    return layer


def _step(layer, opt, x, delta) -> None:
    opt.zero_grad()
    layer(x).backward(delta)
    opt.step()


# one image 2x4 of +-1 pixels, a 2x2 kernel: 3 positions, every patch row |x| = 1 (the full pulse: the encoder
# is exact), and errors whose signs differ between positions, so the order of the writes matters
IMAGE = torch.tensor([[[[1.0, -1.0, -1.0, 1.0], [-1.0, 1.0, 1.0, 1.0]]]])
ERRORS = torch.tensor([[[[1.6, -1.5, 1.4]], [[-1.2, 1.6, -1.5]]]])  # (1, 2 channels, 1, 3 positions)


def _expected_after_positions(w0: torch.Tensor, requests: list[torch.Tensor]) -> torch.Tensor:
    """Exact mean of one-MTJ synapses after the rank-1 writes ``requests`` in order: a synapse at -1 moves
    to +1 with probability ``max(dW, 0) / 2``, one at +1 to -1 with ``max(-dW, 0) / 2`` (independent flips,
    the soft bound); the probability of +1 is carried through the writes (a two-state chain per cell)."""
    q = (w0 > 0).double()
    for dw in requests:
        up, down = dw.clamp(min=0).double() / 2.0, (-dw).clamp(min=0).double() / 2.0
        q = q * (1.0 - down) + (1.0 - q) * up
    return q


@pytest.mark.parametrize("engine", ["auto", "eager"])
def test_mean_weight_change_equals_the_per_position_requests_within_4_standard_errors(both_devices, engine):
    """Many single-sample steps from the same state; each of the 8 synapses' probability of ending at +1
    against the exact chain through the 3 position writes in raster order (which differs from the sum of
    the requests, and from the reversed order by up to 0.2 here): within 4 standard errors of the binomial.
    Both devices (a swapped polarity fails on the asymmetric one), both engines (the compiled stream, the
    per-position reference)."""
    layer = _conv(both_devices)
    start = layer.crossbar.parallel.clone()
    w0 = layer.weights().clone()
    lr, n = 1.0, 1500
    opt = InSituSGD(layer, lr=lr, generator=torch.Generator().manual_seed(7), engine=engine)
    ones = torch.zeros_like(w0, dtype=torch.float64)
    for _ in range(n):
        layer.crossbar.set_states(start)
        _step(layer, opt, IMAGE, ERRORS)
        ones += (layer.weights() > 0).double()
    assert layer.encoder.clipped == 0 and opt.counts["writes"] == 3 * n
    patches = layer.columns(IMAGE)[0]  # (3 positions, 4 rows)
    requests = [torch.outer(patches[p], ERRORS[0, :, 0, p] * (-lr * GAIN / layer.hardware.converters.input_range))
                for p in range(3)]
    q = _expected_after_positions(w0, requests)
    reversed_q = _expected_after_positions(w0, requests[::-1])
    assert float((q - reversed_q).abs().max()) > 0.1  # the order is visible in the statistics
    mean = ones / n
    se = torch.sqrt(q * (1.0 - q) / n)
    live = (q > 0) & (q < 1)
    assert bool(live.any())
    assert bool(((mean - q).abs() <= 4.0 * se + 1e-12)[live].all()), (mean - q) / se
    assert bool((mean[~live] == q[~live]).all())


@pytest.mark.parametrize("engine", ["eager", "auto"])
def test_positions_are_written_sample_major_in_raster_order(engine):
    """Two images of 3x3 pixels, kernel 2x2: 4 positions each; the layer is asked for exactly 8 writes, in the
    order sample 0 (positions (0,0), (0,1), (1,0), (1,1)), then sample 1, each the position's im2col patch and
    its error; a position whose error is zero writes nothing. ``eager``: one ``plan`` call per write;
    ``auto``: one ``plan_stream`` call per sample, its rows the writes in order."""
    layer = _conv()
    asked = []
    if engine == "eager":
        plan = layer.plan
        layer.plan = lambda row, col, rows=None: asked.append((row.clone(), col.clone())) or plan(row, col, rows)
    else:
        plan_stream = layer.plan_stream

        def record(rows, cols):
            asked.extend(zip(rows.clone(), cols.clone(), strict=True))
            return plan_stream(rows, cols)

        layer.plan_stream = record
    x = torch.rand(2, 1, 3, 3, generator=torch.Generator().manual_seed(1)) + 0.1
    delta = torch.randn(2, 2, 2, 2, generator=torch.Generator().manual_seed(2))
    opt = InSituSGD(layer, lr=0.5, generator=torch.Generator().manual_seed(3), engine=engine)
    _step(layer, opt, x, delta)
    assert opt.counts["writes"] == len(asked) == 8
    scale = -0.5 * GAIN / layer.hardware.converters.input_range
    for k, (row, col) in enumerate(asked):
        b, pos = divmod(k, 4)
        i, j = divmod(pos, 2)
        assert torch.equal(row, x[b, 0, i:i + 2, j:j + 2].flatten())
        torch.testing.assert_close(col, delta[b, :, i, j] * scale, rtol=0, atol=0)
    silent = delta.clone()
    silent[1, :, 0, 1] = 0.0
    asked.clear()
    _step(layer, opt, x, silent)
    assert len(asked) == 7


def _toy_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 6x6 images: a bright vertical, horizontal or diagonal bar, noise 0.2."""
    bars = torch.zeros(3, 6, 6)
    bars[0, :, 2:4], bars[1, 2:4, :] = 1.0, 1.0
    bars[2] = torch.eye(6) + torch.eye(6).roll(1, 1)
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    return (bars[y] + 0.2 * torch.randn(n, 6, 6, generator=g)).clamp(0.0, 1.0).unsqueeze(1), y


def _conv_model(hardware: HardwareConfig, seed: int = 0, init: str = "random") -> torch.nn.Sequential:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, bias=True), torch.nn.Tanh(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16, 3))
    model = convert(net, hardware, init=init, seed=seed)
    model[4] = net[4]  # the head stays float
    return model


def test_a_model_with_a_conv_layer_and_a_float_head_trains_both():
    """300 images one by one: the conv layer's cells flip, the float head moves, and held-out accuracy goes
    from chance to above 70 % (the float head alone on the random conv reaches about 50-60 %)."""
    model = _conv_model(HardwareConfig(), init="random")
    assert isinstance(model[0], MTJConv2d) and type(model[4]) is torch.nn.Linear
    opt = InSituSGD(model, lr=0.5, seed=0)
    x, y = _toy_images(300, 1)
    xt, yt = _toy_images(300, 2)
    states, head = model[0].crossbar.parallel.clone(), model[4].weight.detach().clone()
    for i in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        opt.step()
    with torch.no_grad():
        accuracy = float((model(xt).argmax(1) == yt).float().mean())
    assert int((model[0].crossbar.parallel != states).sum()) > 0
    assert not torch.equal(model[4].weight.detach(), head)
    assert accuracy > 0.7, accuracy


@pytest.mark.parametrize("hardware", [HardwareConfig(),
                                      HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=2))],
                         ids=["plain", "transfer"])
def test_state_dict_round_trip_continues_identically(hardware, round_trip):
    """Train, save model and optimizer, train on; a fresh model of another random chip and a fresh optimizer
    of another seed, loaded from the saves, end bit-identical after the same samples. With a counter, the
    conv layer's transfers ran (its counter tiles moved)."""
    model, fresh = _conv_model(hardware, seed=0), _conv_model(hardware, seed=1)
    x, y = _toy_images(24, 3)
    other = round_trip(model, fresh, x, y)
    assert other.state[fresh[0].handle]["samples"] == 24
    if hardware.transfer.enabled:
        assert isinstance(model[0].tile, TransferLinear)
        first = _conv_model(hardware, seed=0)
        assert any(not torch.equal(a.crossbar.parallel, b.crossbar.parallel)
                   for a, b in zip(model[0].tile.tiles, first[0].tile.tiles, strict=True))


def test_a_programmed_transfer_conv_runs_its_transfers(train_loop):
    """A Conv2d converted with init='program' onto buffer-and-counter hardware (the counter tiles programmed
    from a transposed kernel view) trains with per-sample transfers (samples_per_sweep = 1: every column
    each sample) and its counter moves."""
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=1))
    model = _conv_model(hw, init="program")
    counters = [t.crossbar.parallel.clone() for t in model[0].tile.tiles]
    opt = InSituSGD(model, lr=2.0, seed=0)
    x, y = _toy_images(8, 4)
    train_loop(model, opt, x, y, batch=1)
    assert any(not torch.equal(a, t.crossbar.parallel) for a, t in zip(counters, model[0].tile.tiles, strict=True))
