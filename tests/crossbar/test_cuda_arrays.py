"""Arrays on CUDA (skipped cleanly where no GPU exists): reads equal the CPU's, and the sparse sampler's
flips on the GPU follow the device probabilities (the tensor path; the CPU takes a host path for few events)."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from mtjxbar.crossbar import Crossbar
from mtjxbar.crossbar.config import ArrayConfig, BiasSolverConfig, CircuitConfig, CircuitSolverConfig
from mtjxbar.device import MTJParams, VariationConfig
from mtjxbar.periphery import PulseEncoder
from mtjxbar.periphery.arrays import make_array
from mtjxbar.periphery.config import EncoderConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

P = MTJParams()


def _pair(varied: bool) -> tuple[Crossbar, Crossbar]:
    arrays = []
    for device in ("cpu", "cuda"):
        xb = Crossbar(24, 16, P, device=device)
        if varied:
            spread = VariationConfig(r_p_dtod=0.1, tmr0_dtod=0.1, ic0_p2ap_dtod=0.1, ic0_ap2p_dtod=0.1)
            xb.manufacture(spread, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2))
        xb.set_states(torch.rand(24, 16, generator=torch.Generator().manual_seed(3)) < 0.5)
        arrays.append(xb)
    return arrays[0], arrays[1]


@pytest.mark.parametrize("varied", [False, True])
def test_reads_on_cuda_equal_the_cpu(varied):
    cpu, gpu = _pair(varied)
    v = torch.rand(5, 24, generator=torch.Generator().manual_seed(4)) * 0.2 - 0.1
    torch.testing.assert_close(gpu.read(v.cuda(), 0.1).cpu(), cpu.read(v, 0.1), rtol=1e-5, atol=1e-12)
    u = torch.rand(5, 16, generator=torch.Generator().manual_seed(5)) * 0.2 - 0.1
    torch.testing.assert_close(gpu.read_transposed(u.cuda(), 0.1).cpu(), cpu.read_transposed(u, 0.1),
                               rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("varied", [False, True])
def test_sparse_writes_on_cuda_follow_the_device_probabilities(varied):
    """4,000 writes of one plan from the same states on the GPU: chi-square of per-cell flip counts
    against the array's switching probabilities, p > 1e-4."""
    _, gpu = _pair(varied)
    gpu.sparse_max_events_per_cell = 1e9
    g = torch.Generator().manual_seed(6)
    r, c = torch.randn(24, generator=g), torch.randn(16, generator=g) * 0.3
    plan = PulseEncoder(EncoderConfig(), P).encode(r.cuda(), c.cuda(), 2.0)
    expected = gpu.switching_probabilities(plan).sum(0).double().cpu()
    start = gpu.parallel.clone()
    gen = torch.Generator(device="cuda").manual_seed(7)
    draws, counts = 4000, torch.zeros(24, 16, dtype=torch.float64)
    for _ in range(draws):
        gpu.set_states(start)
        gpu.write(plan, gen)
        counts += (gpu.parallel != start).cpu()
    live = (expected > 0) & (expected < 1)
    assert bool((counts[expected == 0] == 0).all())
    p, k = expected[live], counts[live]
    chi2 = float(((k - draws * p) ** 2 / (draws * p * (1 - p))).sum())
    assert stats.chi2.sf(chi2, df=int(live.sum())) > 1e-4


def test_passive_array_on_cuda_reads_and_writes_like_the_cpu():
    """A passive array with 1-ohm wires, two tiles, on CUDA: reads equal the CPU's (the circuit is solved
    on the CPU either way) and come back on the GPU; a V/2 write runs and reports its flips."""
    array = ArrayConfig(kind="passive", circuit=CircuitConfig(r_wire_row=1.0, r_wire_col=1.0), tile_rows=8)
    cpu, gpu = (make_array(12, 6, P, array, BiasSolverConfig(), CircuitSolverConfig(), device=d)
                for d in ("cpu", "cuda"))
    states = torch.rand(12, 6, generator=torch.Generator().manual_seed(8)) < 0.5
    cpu.set_states(states)
    gpu.set_states(states)
    v = torch.rand(3, 12, generator=torch.Generator().manual_seed(9)) * 0.1
    out = gpu.read(v.cuda(), 0.1)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), cpu.read(v, 0.1), rtol=1e-6, atol=1e-15)
    plan = PulseEncoder(EncoderConfig(), P).encode(torch.randn(12).cuda(), torch.randn(6).cuda() * 0.3, 2.0)
    result = gpu.write(plan, torch.Generator(device="cuda").manual_seed(1))
    assert result.flips_to_p + result.flips_to_ap == result.flipped_cells.numel()


def test_batched_chips_on_cuda_read_like_the_cpu():
    """K = 3 chips with spread (per-cell Chebyshev fits made on the GPU) read as on the CPU."""
    from mtjxbar.crossbar.chips import ChipArrays

    spread = VariationConfig(r_p_dtod=0.1, tmr0_dtod=0.1)
    chips = []
    for device in ("cpu", "cuda"):
        xb = ChipArrays(3, 10, 6, P, device=device)
        xb.manufacture(spread, [torch.Generator().manual_seed(k) for k in range(3)],
                       [torch.Generator().manual_seed(10 + k) for k in range(3)])
        xb.set_states(torch.rand(3, 10, 6, generator=torch.Generator().manual_seed(4)) < 0.5)
        chips.append(xb)
    v = torch.rand(3, 10, generator=torch.Generator().manual_seed(5)) * 0.1
    torch.testing.assert_close(chips[1].read(v.cuda(), 0.1).cpu(), chips[0].read(v, 0.1), rtol=1e-5, atol=1e-12)
