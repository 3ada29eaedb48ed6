"""Cost of one in-situ update alone (encode + write) against array size, at a fixed expected number of flips.

    python bench/update_scaling.py [--sizes 256 1024 4096] [--flips 20] [--repeats 200] [--dense-repeats 20 5 3]

For each square array (default 1T1MTJ device, random states): row factors are centred-MNIST pixel values
(pixels of random training images and positions minus the per-pixel mean over the samples used, so border
pixels are 0 and their rows stay off, like the first layer's inputs), column factors are signed normal
values times a scale chosen so that the expected number of flips of the update, the sum over cells of
``Crossbar.switching_probabilities(plan)`` (exact, states included), equals ``--flips``. One update is
``PulseEncoder.encode(rows, cols, swing=2.0)`` followed by ``Crossbar.write(plan, generator)``; the states
are set back (untimed) before each, so every timed update sees the same plan and states. Timed for the
sparse sampler, the dense reference sampler (``Crossbar(..., sampler="dense")``, fewer repeats: its
cost grows with the array), and the fused loop's compiled encoder and sampler (``training.fused.kernels``:
``encode`` + ``sample_write`` on the same states, what one layer's update costs inside the fused step); the
median per update is reported. Ends with one line per headline figure: ``bench <name> <value> <unit>``
(sparse sampler, then fused).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from _data import bench_data

from mtjxbar.crossbar import Crossbar
from mtjxbar.device import MTJParams
from mtjxbar.periphery.config import ConverterConfig, EncoderConfig
from mtjxbar.periphery.encoder import PulseEncoder
from mtjxbar.training.fused import device_vector
from mtjxbar.training.fused import kernels as K

SWING = 2.0


def _row_factors(pixels: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` centred pixel values drawn at random (image, position) from ``pixels`` (samples, 784)."""
    centred = pixels - pixels.mean(dim=0)
    images = torch.randint(centred.shape[0], (n,), generator=gen)
    positions = torch.randint(centred.shape[1], (n,), generator=gen)
    return centred[images, positions].contiguous()


def _expected_flips(xbar: Crossbar, encoder: PulseEncoder, rows: torch.Tensor, cols: torch.Tensor) -> float:
    plan = encoder.encode(rows, cols, swing=SWING)
    return float(xbar.switching_probabilities(plan).sum(dtype=torch.float64))


def _scale_columns(xbar, encoder, rows, cols, target: float) -> tuple[torch.Tensor, float]:
    """Scale ``cols`` so that the exact expected flip count is ``target`` (fixed-point on the scale: the
    count is nearly proportional to it at small probabilities); returns the columns and the count."""
    scale = 1e-3
    for _ in range(30):
        expected = _expected_flips(xbar, encoder, rows, cols * scale)
        if abs(expected - target) <= 1e-4 * target:
            break
        scale *= target / max(expected, 1e-30)
    return cols * scale, expected


def _time_updates(xbar: Crossbar, encoder, rows, cols, states, repeats: int, gen) -> tuple[float, float]:
    """Median seconds per update (encode + write) and the mean number of flips, after 3 untimed updates."""
    times, flips = [], []
    for k in range(repeats + 3):
        xbar.set_states(states)
        t0 = time.perf_counter()
        plan = encoder.encode(rows, cols, swing=SWING)
        result = xbar.write(plan, gen)
        elapsed = time.perf_counter() - t0
        if k >= 3:
            times.append(elapsed)
            flips.append(result.flipped_cells.numel())
    return statistics.median(times), statistics.fmean(flips)


def _time_fused(rows, cols, states, repeats: int) -> tuple[float, float]:
    """:func:`_time_updates` for the fused loop's compiled ``encode`` + ``sample_write`` (one layer)."""
    n_rows, n_cols = len(rows), len(cols)
    ep = device_vector(MTJParams(), EncoderConfig(), ConverterConfig())
    lp = np.zeros(K.LP_COUNT)
    lp[K.LP_PER_OUTPUT], lp[K.LP_SWING] = 1, SWING
    r, c = rows.double().numpy(), cols.double().numpy()
    sign = np.ones(n_cols, dtype=np.float32)
    plan = (np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_cols), np.zeros((2, n_cols)))
    scratch = (np.zeros((2, n_cols)), np.zeros(n_rows), np.zeros(n_cols))
    start_b = states.numpy()
    start_f = start_b.astype(np.float32)
    f32 = np.float32
    layer = K.LayerArrays(states=start_f, parallel=start_b, frozen=np.zeros_like(start_b), table=np.zeros(2, f32),
                          slope=np.zeros(2, f32), sign=sign, cheb=np.zeros((1, 0, 0), f32),
                          cheb_p=np.zeros((1, 0), f32), cheb_ap=np.zeros((1, 0), f32), p0=np.zeros((2, 0, 0)))
    rng = np.zeros(4, dtype=np.uint64)
    times, flips = [], []
    for k in range(repeats + 3):
        L = layer._replace(states=start_f.copy(), parallel=start_b.copy())
        K.seed_stream(rng, k + 1)
        t0 = time.perf_counter()
        K.encode(r, c, sign, lp, ep, *plan)
        to_p, to_ap = K.sample_write(*plan, L, ep, rng, *scratch)
        elapsed = time.perf_counter() - t0
        if k >= 3:
            times.append(elapsed)
            flips.append(to_p + to_ap)
    return statistics.median(times), statistics.fmean(flips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--flips", type=float, default=20.0, help="expected flips per update")
    parser.add_argument("--repeats", type=int, default=200, help="timed updates per size, sparse sampler")
    parser.add_argument("--dense-repeats", type=int, nargs="+", default=[20, 5, 3],
                        help="timed updates per size, dense sampler (last value for the larger sizes; 0: skip)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pixels, _, source = bench_data(1000)
    params, encoder = MTJParams(), PulseEncoder(EncoderConfig(), MTJParams())
    table = []
    for index, n in enumerate(args.sizes):
        gen = torch.Generator().manual_seed(1000 + n)
        rows = _row_factors(pixels, n, gen)
        states = torch.rand(n, n, generator=gen) < 0.5
        xbar = Crossbar(n, n, params, sampler="sparse")
        xbar.set_states(states)
        cols, expected = _scale_columns(xbar, encoder, rows, torch.randn(n, generator=gen), args.flips)
        plan = encoder.encode(rows, cols, swing=SWING)
        print(f"{n}x{n}: {int((rows != 0).sum())} rows on, {int((cols != 0).sum())} columns, {len(plan)} phases, "
              f"expected flips {expected:.3f}, largest cell probability "
              f"{float(xbar.switching_probabilities(plan).max()):.3g}", file=sys.stderr)
        sparse_s, sparse_flips = _time_updates(xbar, encoder, rows, cols, states, args.repeats, gen)
        del xbar
        dense_repeats = args.dense_repeats[min(index, len(args.dense_repeats) - 1)]
        dense_s, dense_flips = float("nan"), float("nan")
        if dense_repeats > 0:
            xbar = Crossbar(n, n, params, sampler="dense")
            dense_s, dense_flips = _time_updates(xbar, encoder, rows, cols, states, dense_repeats, gen)
            del xbar
        fused_s, fused_flips = _time_fused(rows, cols, states, args.repeats)
        table.append((n, expected, sparse_s, sparse_flips, args.repeats, dense_s, dense_flips, dense_repeats,
                      fused_s, fused_flips))
        print(f"{n}x{n}: sparse {sparse_s * 1e6:.1f} us, dense {dense_s * 1e6:.1f} us, fused {fused_s * 1e6:.1f} us",
              file=sys.stderr)

    print(f"one update (PulseEncoder.encode + Crossbar.write), median; row factors from {source}, random states, "
          f"{torch.get_num_threads()} torch thread(s)")
    print(f"{'array':>11} {'E[flips]':>9} {'sparse us':>10} {'flips':>7} {'n':>5} {'dense us':>11} {'flips':>7} "
          f"{'n':>4} {'dense/sparse':>12} {'fused us':>9} {'flips':>7}")
    for n, expected, s, sf, sr, d, df, dr, fu, ff in table:
        print(f"{f'{n}x{n}':>11} {expected:9.3f} {s * 1e6:10.1f} {sf:7.2f} {sr:5d} {d * 1e6:11.1f} {df:7.2f} "
              f"{dr:4d} {d / s:12.1f} {fu * 1e6:9.1f} {ff:7.2f}")
    for prefix, column in (("", 2), ("fused_", 8)):  # the eager sparse sampler, then the fused kernels
        by_size = {row[0]: row[column] for row in table}
        for n in (256, 1024, 4096):
            if n in by_size:
                print(f"bench {prefix}update{n}_us {by_size[n] * 1e6:.1f} us")
        if 256 in by_size and 4096 in by_size:
            print(f"bench {prefix}update_growth_256_to_4096 {by_size[4096] / by_size[256]:.2f} x")

if __name__ == "__main__":
    main()
