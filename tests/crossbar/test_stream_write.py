"""The stream writer (``Crossbar.write_stream``) and the batched encoder (``PulseEncoder.encode_stream``)
against their references: ``encode`` one request at a time (number for number), ``write`` one plan at a time
(in distribution: each cell's probability of ending parallel after the whole stream, against the exact
two-state chain through the plans in order), and the compiled loop against its own Python source (bit for
bit, same random stream)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtjxbar.crossbar import Crossbar, OuterPlans
from mtjxbar.crossbar.access import stream_write
from mtjxbar.device import MTJParams
from mtjxbar.nn import HardwareConfig, MTJLinear
from mtjxbar.periphery import EncoderConfig, MappingConfig

ROWS, COLS = 6, 5


def _requests(plans: int, seed: int, rows: int = ROWS, cols: int = COLS, scale: float = 1.0):
    """Row and column factors of ``plans`` rank-1 requests, mixed signs, some zero entries, one all-zero row
    factor (an empty plan) when there are more than two."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(plans, rows, generator=g)
    r[r.abs() < 0.2] = 0.0
    c = torch.randn(plans, cols, generator=g) * scale
    c[c.abs() < 0.1 * scale] = 0.0
    if plans > 2:
        r[2] = 0.0
    return r, c


def _layer(device: MTJParams, k: int = 1, **encoder) -> MTJLinear:
    hw = HardwareConfig(device=device, mapping=MappingConfig(mtjs_per_synapse=k), encoder=EncoderConfig(**encoder))
    return MTJLinear(ROWS, COLS, hw, 1.0)


@pytest.mark.parametrize("compiled", [False, True], ids=["tensors", "compiled"])
@pytest.mark.parametrize("k", [1, 3])
def test_encode_stream_equals_encode_request_by_request(both_devices, k, compiled):
    """Plan p of ``encode_stream`` is ``plan(r[p], c[p])``'s: to the last bit by the tensor operations (widths,
    signs, currents); by the compiled loop widths and signs to the last bit and currents within 1e-6 (libm's
    logarithms against torch's). An all-zero request gives the empty plan, and the clipped currents are
    counted alike (low drive limits here, so some are)."""
    r, c = _requests(9, 1, scale=0.8)
    one, many = _layer(both_devices, k), _layer(both_devices, k)
    one.encoder.limits = many.encoder.limits = (0.6 * both_devices.ic0_ap2p, 0.6 * both_devices.ic0_p2ap)
    plans = many.encoder.encode_stream(r, many.mapping.expand(c), many.mapping.full_swing, compiled=compiled)
    assert isinstance(plans, OuterPlans) and len(plans) == 9
    for p in range(9):
        want = one.plan(r[p], c[p])
        for field in ("row_widths", "row_sign", "col_sign", "col_currents"):
            got = getattr(plans[p], field)
            if compiled and field == "col_currents":
                torch.testing.assert_close(got, want.col_currents, rtol=1e-6, atol=0.0)
            else:
                assert torch.equal(got, getattr(want, field)), (p, field)
    assert not bool(plans.col_currents[2].any()) and not bool(plans.col_sign[2].any())
    assert one.encoder.clipped == many.encoder.clipped > 0


def _chain(xb: Crossbar, plans: OuterPlans, start: torch.Tensor, order) -> torch.Tensor:
    """Exact probability that each cell ends parallel after ``plans`` in ``order``: per plan each cell is
    pushed one way with the device model's probability (``switching_probabilities`` with every cell in the
    state the push can change), independently of the others."""
    probs = []
    for p in range(len(plans)):
        xb.set_states(torch.zeros(ROWS, COLS, dtype=torch.bool))
        to_p = xb.switching_probabilities(plans[p]).sum(0).double()
        xb.set_states(torch.ones(ROWS, COLS, dtype=torch.bool))
        to_ap = xb.switching_probabilities(plans[p]).sum(0).double()
        probs.append((to_p, to_ap))
    xb.set_states(start)
    q = start.double()
    for p in order:
        to_p, to_ap = probs[p]
        q = q * (1.0 - to_ap) + (1.0 - q) * to_p
    return q


@pytest.mark.parametrize("clip", [False, True], ids=["free", "clipped"])
@pytest.mark.parametrize("limit", [0.0, 1e9], ids=["dense", "sparse"])
def test_each_cell_ends_as_the_exact_chain_through_the_plans_in_order(both_devices, limit, clip):
    """5 plans (one empty) with switching probabilities up to p_max = 0.5 on a 6x5 array, 3000 streams from
    the same start: each cell's frequency of ending parallel is the exact chain's within 4 standard errors of
    the binomial, by the dense branch and by the sparse branch (forced with ``sparse_max_events_per_cell``).
    The chain through the reversed order differs by more than 0.1 somewhere, so order is tested. ``clipped``:
    the drivers clip the currents towards AP (not towards P), so a column's two rates differ and the sparse
    branch's thinning matters (the order is hardly visible then). Per plan, the flips it reports add up to
    the cells that moved when it is the only plan."""
    layer = _layer(both_devices)
    if clip:
        layer.encoder.limits = (math.inf, 0.6 * both_devices.ic0_p2ap)
    xb = layer.crossbar
    xb.sparse_max_events_per_cell = limit
    r, c = _requests(5, 2, scale=2.0)
    plans = layer.plan_stream(r, c)
    assert (layer.encoder.clipped > 0) == clip
    start = torch.rand(ROWS, COLS, generator=torch.Generator().manual_seed(3)) < 0.5
    q = _chain(xb, plans, start, range(5))
    assert clip or float((q - _chain(xb, plans, start, range(4, -1, -1))).abs().max()) > 0.1
    g, n = torch.Generator().manual_seed(4), 3000
    ones = torch.zeros(ROWS, COLS, dtype=torch.float64)
    for _ in range(n):
        xb.set_states(start)
        xb.write_stream(plans, g)
        ones += xb.parallel.double()
    mean, se = ones / n, torch.sqrt(q * (1.0 - q) / n)
    live = (q > 1e-9) & (q < 1.0 - 1e-9)
    assert bool(live.sum() > 10)
    assert bool(((mean - q).abs() <= 4.0 * se + 1e-12)[live].all()), ((mean - q) / se)
    assert bool((mean[~live] == q[~live].round()).all())
    for p in range(5):
        xb.set_states(start)
        result = xb.write_stream(OuterPlans(*(t[p:p + 1] for t in (plans.row_widths, plans.row_sign, plans.col_sign,
                                                                    plans.col_currents))), g)
        assert int(result.flips.sum()) == result.changed_cells.numel() == int((xb.parallel != start).sum())
        assert int(result.flips[0, 0]) == int((xb.parallel & ~start).sum())


def test_phase_counts_are_the_plans_own(both_devices):
    """The phase count the stream reports per plan is ``len(plan)`` of that plan (empty plan: 0)."""
    layer = _layer(both_devices)
    r, c = _requests(12, 5)
    plans = layer.plan_stream(r, c)
    result = layer.write_stream(plans, torch.Generator().manual_seed(0))
    assert result.phases.tolist() == [len(plans[p]) for p in range(12)]
    assert result.phases[2] == 0 and result.flips.shape == (12, 2)


@pytest.mark.parametrize("limit", [0.0, 1e9], ids=["dense", "sparse"])
def test_compiled_loop_equals_its_python_source_bit_for_bit(limit):
    """The compiled loop and ``_write_plans.py_func`` (the same source run by Python: Numba's Mersenne Twister
    and NumPy's legacy one) from the same seed: identical final states, flips and phases."""
    layer = _layer(MTJParams())
    r, c = _requests(8, 6, scale=1.5)
    plans = layer.plan_stream(r, c)
    xb = layer.crossbar
    start = (torch.rand(ROWS, COLS, generator=torch.Generator().manual_seed(7)) < 0.5).numpy()
    frozen = np.zeros((ROWS, COLS), dtype=np.bool_)
    frozen[1, 2] = True
    dev = xb.device_params
    device = np.array([dev.ic0_ap2p, dev.ic0_p2ap, dev.tau0_ap2p, dev.tau0_p2ap, dev.delta, dev.n_exponent, dev.tau_d])
    fields = [t.numpy() for t in (plans.row_widths, plans.row_sign, plans.col_sign, plans.col_currents)]
    out = []
    for kernel in (stream_write._write_plans, stream_write._write_plans.py_func):
        states, flips, phases = start.copy(), np.zeros((8, 2), np.int64), np.zeros(8, np.int64)
        kernel(*fields, states, frozen, device, limit, 11, flips, phases)
        out.append((states, flips, phases))
    for a, b in zip(*out, strict=True):
        assert np.array_equal(a, b)
    assert out[0][1].sum() > 0 and out[0][0][1, 2] == start[1, 2]


@pytest.mark.parametrize("limit", [0.0, 1e9], ids=["dense", "sparse"])
def test_same_generator_state_same_result_and_stuck_cells_stay(limit):
    """Two arrays from the same states and the same generator state end identical; cells stuck at P or at
    AP never move, however hard they are pushed (by either branch)."""
    layers = [_layer(MTJParams()) for _ in range(2)]
    for layer in layers:
        layer.crossbar.sparse_max_events_per_cell = limit
    stuck_p = torch.zeros(ROWS, COLS, dtype=torch.bool)
    stuck_ap = torch.zeros(ROWS, COLS, dtype=torch.bool)
    stuck_p[0, :], stuck_ap[1, :] = True, True
    r, c = _requests(6, 8, scale=3.0)
    finals = []
    for layer in layers:
        layer.crossbar.set_stuck(stuck_p, stuck_ap)
        layer.crossbar.set_states(torch.rand(ROWS, COLS, generator=torch.Generator().manual_seed(9)) < 0.5)
        g = torch.Generator().manual_seed(10)
        for _ in range(20):
            layer.write_stream(layer.plan_stream(r, c), g)
            layer.write_stream(layer.plan_stream(r, -c), g)
        finals.append(layer.crossbar.parallel.clone())
    assert torch.equal(finals[0], finals[1])
    assert bool(finals[0][0].all()) and not bool(finals[0][1].any())


def test_what_the_stream_does_not_take_is_refused():
    """Per-cell parameters, cycle-to-cycle spread, an event sink and the dense sampler are named; the
    coincidence scheme is refused by the layer."""
    layer = _layer(MTJParams())
    xb = layer.crossbar
    assert layer.stream_unsupported() is None
    xb.sampler = "dense"
    assert "sampler" in xb.stream_unsupported()
    with pytest.raises(ValueError, match="sampler"):
        xb.write_stream(layer.plan_stream(*_requests(2, 0)), torch.Generator())
    xb.sampler = "sparse"
    params = {k: v.clone() for k, v in xb.params.items()}
    params["ic0_ap2p"][0, 0] *= 1.1
    xb.set_cell_params(params)
    assert "own parameters" in xb.stream_unsupported()
    assert "coincidence" in _layer(MTJParams(), scheme="coincidence").stream_unsupported()
