"""DAC and ADC: symmetric uniform quantisers with clipping; ideal (clip only / passthrough) without bits."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.periphery import adc, dac, quantize

F64 = torch.float64


def test_quantize_without_bits_only_clips():
    x = torch.tensor([-5.0, -0.3, 0.0, 0.123456789, 2.5], dtype=F64)
    torch.testing.assert_close(quantize(x, 2.0, None), torch.tensor([-2.0, -0.3, 0.0, 0.123456789, 2.0],
                                                                   dtype=F64), rtol=0.0, atol=0.0)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_quantize_levels_and_rounding(bits):
    fs = 0.7
    levels = 2 ** (bits - 1) - 1
    step = fs / levels
    x = torch.linspace(-1.5 * fs, 1.5 * fs, 2001, dtype=F64)
    q = quantize(x, fs, bits)
    allowed = torch.arange(-levels, levels + 1, dtype=F64) * step
    assert q.unique().numel() == 2 * levels + 1 == 2**bits - 1
    assert float((q[..., None] - allowed).abs().min(-1).values.max()) < 1e-12
    inside = x.abs() <= fs
    assert float((q - x)[inside].abs().max()) <= 0.5 * step + 1e-12  # round to nearest
    assert bool((q[x > fs] == fs).all()) and bool((q[x < -fs] == -fs).all())  # clip at full scale
    torch.testing.assert_close(quantize(-x, fs, bits), -q, rtol=0.0, atol=1e-15)  # symmetric
    assert float(quantize(torch.tensor([0.0], dtype=F64), fs, bits)) == 0.0


def test_dac_range():
    x = torch.tensor([-4.0, -2.0, -1.0, 0.0, 0.5, 2.0, 3.0], dtype=F64)
    v = dac(x, input_range=2.0, v_read=0.1, bits=None)
    torch.testing.assert_close(v, torch.tensor([-0.1, -0.1, -0.05, 0.0, 0.025, 0.1, 0.1], dtype=F64),
                               rtol=1e-15, atol=0.0)
    vq = dac(x, input_range=2.0, v_read=0.1, bits=3)  # 3 levels per sign: steps of 0.1 / 3
    torch.testing.assert_close(vq, torch.tensor([-0.1, -0.1, -0.1 / 3 * 2, 0.0, 0.1 / 3, 0.1, 0.1],
                                                dtype=F64), rtol=1e-14, atol=1e-17)
    assert float(vq.abs().max()) <= 0.1


def test_adc_passthrough_without_bits_and_clip_with_bits():
    i = torch.tensor([-3e-4, -1e-6, 0.0, 2.5e-5, 7e-4], dtype=F64)
    out = adc(i, full_scale=1e-4, bits=None)
    torch.testing.assert_close(out, i, rtol=0.0, atol=0.0)  # no clipping, no rounding
    q = adc(i, full_scale=1e-4, bits=4)  # 7 levels per sign
    step = 1e-4 / 7
    want = torch.tensor([-1e-4, 0.0, 0.0, round(2.5e-5 / step) * step, 1e-4], dtype=F64)
    torch.testing.assert_close(q, want, rtol=1e-12, atol=1e-20)
