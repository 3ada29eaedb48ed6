"""InSituSGD: the requests it writes, their statistics, schedulers, float parameters, state round trips."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.nn import HardwareConfig, MTJLinear, TransferLinear, convert
from mtjxbar.optim import InSituSGD, split_parameters
from mtjxbar.periphery import TransferConfig

GAIN = 0.5


def _layer(device=None, seed: int = 0) -> MTJLinear:
    hw = HardwareConfig() if device is None else HardwareConfig(device=device)
    layer = MTJLinear(6, 4, hw, gain=GAIN)
    layer.randomize(torch.Generator().manual_seed(seed))
    return layer


def _step(layer, opt, x, delta) -> None:
    opt.zero_grad()
    layer(x).backward(delta)
    opt.step()


@pytest.mark.parametrize("engine", ["auto", "eager"])
def test_mean_weight_change_equals_the_request_within_4_standard_errors(both_devices, engine):
    """Many single-sample steps from the same state. The request is ``dW = x (-lr gain delta / input_range)``;
    a one-MTJ synapse moves by 2 with probability |dW| / 2 where it can move that way and never where it
    cannot (the soft bound), so ``E[dW] = dW (1 - sign(dW) W) / 2``. Every row has |x| = 1, so every row
    gets the full pulse and the encoder is exact (no thermal-regime over-shoot), and no current is
    clipped. Each of the 24 cells within 4 standard errors of the binomial; the cells that cannot move
    do not move at all. Both devices (a swapped polarity fails on the asymmetric one), both engines (the
    compiled stream, the eager reference)."""
    layer = _layer(both_devices)
    start = layer.crossbar.parallel.clone()
    w0 = layer.weights().clone()
    x = torch.tensor([[1.0, -1.0, 1.0, 1.0, -1.0, -1.0]])
    delta = torch.tensor([[0.9, -0.5, 0.25, -1.4]])  # |dW| / 2 = 0.0625 ... 0.35
    lr, n = 1.0, 1500
    opt = InSituSGD(layer, lr=lr, generator=torch.Generator().manual_seed(7), engine=engine)
    total = torch.zeros_like(w0)
    for _ in range(n):
        layer.crossbar.set_states(start)
        _step(layer, opt, x, delta)
        total += layer.weights() - w0
    assert layer.encoder.clipped == 0
    request = x.T @ delta * (-lr * GAIN / layer.hardware.converters.input_range)
    expected = request * (1.0 - torch.sign(request) * w0) / 2.0
    p = request.abs() / 2.0
    se = 2.0 * torch.sqrt(p * (1.0 - p) / n)
    mean = total / n
    movable = expected != 0
    assert bool(movable.any()) and bool((~movable).any())
    assert bool(((mean - expected).abs() <= 4.0 * se)[movable].all()), (mean - expected) / se
    assert bool((mean[~movable] == 0).all())


def test_a_batch_is_b_rank1_writes_in_sample_order():
    """One backward over 3 samples writes the same as 3 single-sample steps with the same generator
    (errors given, so they do not depend on the states): bit-identical states, 3 writes each."""
    x = torch.rand(3, 6, generator=torch.Generator().manual_seed(1)) * 2.0 - 1.0
    delta = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    a, b = _layer(), _layer()
    opt_a = InSituSGD(a, lr=2.0, generator=torch.Generator().manual_seed(3))
    opt_b = InSituSGD(b, lr=2.0, generator=torch.Generator().manual_seed(3))
    _step(a, opt_a, x, delta)
    for i in range(3):
        _step(b, opt_b, x[i:i + 1], delta[i:i + 1])
    assert opt_a.counts["writes"] == opt_b.counts["writes"] == 3 and opt_a.counts["flips"] > 0
    assert torch.equal(a.crossbar.parallel, b.crossbar.parallel)


def test_step_lr_scales_the_written_request():
    """A StepLR halves the group's lr; the column factor the layer is asked to write halves exactly."""
    layer = _layer()
    asked = []
    plan = layer.plan
    layer.plan = lambda row, col, rows=None: asked.append(col.clone()) or plan(row, col, rows)
    opt = InSituSGD(layer, lr=0.8, seed=0, engine="eager")  # the request as ``plan`` sees it
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, delta = torch.ones(1, 6), torch.tensor([[0.3, -0.2, 0.1, 0.05]])
    for _ in range(3):
        _step(layer, opt, x, delta)
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == [0.1]
    torch.testing.assert_close(asked[1], asked[0] * 0.5, rtol=0, atol=0)
    torch.testing.assert_close(asked[2], asked[0] * 0.25, rtol=0, atol=0)
    torch.testing.assert_close(asked[0], delta[0] * (-0.8 * GAIN))


def _toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes around fixed +-1 prototypes in 8 dimensions, noise 0.3."""
    protos = torch.sign(torch.randn(3, 8, generator=torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    return (protos[y] + 0.3 * torch.randn(n, 8, generator=g)).clamp(-1.0, 1.0), y


def _mixed(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(convert(torch.nn.Linear(8, 12), HardwareConfig(), init="random", seed=seed),
                               torch.nn.Tanh(), torch.nn.Linear(12, 3))


def test_float_parameters_get_plain_sgd_in_the_same_groups():
    model = _mixed()
    opt = InSituSGD(model, lr=0.3, seed=0)
    x, y = _toy(4, 1)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    head = model[2]
    want = torch.add(head.weight.detach(), head.weight.grad, alpha=-0.3)  # p -= lr * grad, as torch's SGD
    bias = torch.add(model[0].bias.detach(), model[0].bias.grad, alpha=-0.3)
    opt.step()
    assert torch.equal(head.weight.detach(), want) and torch.equal(model[0].bias.detach(), bias)
    assert opt.counts["writes"] == 4


@pytest.mark.parametrize("second", [False, True], ids=["insitu-sgd-only", "with-adam"])
def test_a_model_with_an_mtj_layer_and_a_float_layer_trains_both(second):
    """300 samples one by one on an easy 3-class task: the MTJ layer's cells flip, the float head moves,
    and held-out accuracy goes from chance to above 80 % (measured 90-97 %). With ``second``, the float
    parameters go to Adam and InSituSGD gets only the crossbar handles (split_parameters)."""
    model = _mixed()
    handles, floats = split_parameters(model)
    assert handles == [model[0].handle] and len(floats) == 3  # the crossbar layer's bias is a float parameter
    opts = [InSituSGD(handles, lr=0.3, seed=0), torch.optim.Adam(floats, lr=0.01)] if second else \
        [InSituSGD(model, lr=0.3, seed=0)]
    x, y = _toy(300, 1)
    xt, yt = _toy(300, 2)
    states, head = model[0].crossbar.parallel.clone(), model[2].weight.detach().clone()
    for i in range(300):
        for opt in opts:
            opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for opt in opts:
            opt.step()
    with torch.no_grad():
        accuracy = float((model(xt).argmax(1) == yt).float().mean())
    assert int((model[0].crossbar.parallel != states).sum()) > 0
    assert not torch.equal(model[2].weight.detach(), head)
    assert accuracy > 0.8, accuracy


def _trained_pair(hardware: HardwareConfig):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    return convert(net, hardware, init="random", seed=0), convert(net, hardware, init="random", seed=1)


@pytest.mark.parametrize("hardware", [HardwareConfig(),
                                      HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=2))],
                         ids=["plain", "transfer"])
def test_state_dict_round_trip_continues_identically(hardware, round_trip):
    """Train, save model and optimizer, train on; a fresh model of another random chip and a fresh
    optimizer of another seed, loaded from the saves and trained on the same samples, end bit-identical
    (cell states of every array, transfer references, write generator, transfer clock)."""
    model, fresh = _trained_pair(hardware)
    x, y = _toy(40, 3)
    other = round_trip(model, fresh, x, y)
    assert other.state[fresh[0].handle]["samples"] == 40
    if hardware.transfer.enabled:  # the transfers ran: the counters moved
        assert isinstance(model[0], TransferLinear)
        first = _trained_pair(hardware)[0]
        assert any(not torch.equal(a.crossbar.parallel, b.crossbar.parallel)
                   for a, b in zip(model[0].tiles, first[0].tiles, strict=True))


def test_zero_grad_forgets_recorded_samples_and_lr_is_checked():
    layer = _layer()
    opt = InSituSGD(layer, lr=0.5)
    layer(torch.ones(2, 6)).sum().backward()
    assert len(layer.records) == 1
    opt.zero_grad()
    assert layer.records == [] and layer.handle.grad is None
    with pytest.raises(ValueError, match="lr"):
        InSituSGD(layer, lr=-1.0)


def test_a_linear_layer_programmed_from_a_transposed_weight_runs_its_transfers(train_loop):
    """convert(init='program') hands TransferLinear.program ``weight.T`` (a strided view); the counter tiles
    must still take column transfers (they failed in write_column's view(-1) before)."""
    hw = HardwareConfig(transfer=TransferConfig(counter_bits=3, samples_per_sweep=1))
    torch.manual_seed(0)
    model = convert(torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)), hw)
    counters = [t.crossbar.parallel.clone() for t in model[0].tiles]
    x, y = _toy(8, 5)
    train_loop(model, InSituSGD(model, lr=2.0, seed=0), x, y, batch=1)
    assert any(not torch.equal(a, t.crossbar.parallel) for a, t in zip(counters, model[0].tiles, strict=True))
