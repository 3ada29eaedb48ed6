"""Solve times of the crossbar circuit solver against scipy's sparse direct solver on the same system.

    python bench/circuit_solve.py [--sizes 64 256] [--vectors 20] [--threads 1]

Array: N x N cells, half of them parallel (R_P = 5 kOhm, TMR 100 %), 1 ohm wire segments, rows driven at
their near end (ideal drivers), columns sensed at their far end by TIAs; cells at their zero-bias
resistance (a linear system, the one ``spsolve`` gets too). Timed:

* ``first``: the first solve of a new array (preconditioner built, CG; node voltages and currents);
* ``transfer``: building the exact port admittance (direct Schur sweep, once per state set);
* ``next_vector``: the column and driver currents of each further input vector (same states) from the
  transfer, one matvec (``CircuitSolver.line_currents``); the CG solve per vector is shown for reference;
* ``after_flips``: 1 % of the cells flipped: ``set_states`` + the CG re-solve of the last vector (warm
  start), median of 5 rounds (each flips another 1 %); the transfer's rebuild after the flips is shown too;
* ``spsolve``: SuperLU on the same matrix and right-hand side once;
* ``relax``: the line relaxation passive arrays train with (:mod:`mtjxbar.crossbar.circuit.line_relaxation`: every
  line at a port, block Gauss-Seidel over whole lines, to 1e-9 V; no set-up, so it is also the time after
  flips), on the same read, and on a V/2 write pattern with bias-dependent TMR (``relax_write``).

The solver's Numba kernels are compiled (or loaded from the cache) on a 4 x 4 array before the timings.
BLAS, OpenMP, torch and Numba pools are limited to ``--threads`` (default 1: ``limit_threads``): on a shared
machine a second BLAS thread spinning against another job makes the transfer build many times slower
(measured: docs/passive.md). Column currents of the transfer, the CG solve and spsolve are compared. Ends with
``bench <name> <value> ms`` lines, the 256 x 256 figures last.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.sparse.linalg import spsolve

from mtjxbar.crossbar.circuit import CircuitSolver
from mtjxbar.crossbar.circuit.line_relaxation import LineEnds, solve_tiles_cells, solve_tiles_currents
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig
from mtjxbar.experiments.threads import limit_threads

R_P, TMR0, V_H = 5.0e3, 1.0, 0.5
FLIP_ROUNDS = 5


def _ms(seconds: float) -> float:
    return 1e3 * seconds


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def bench_size(n: int, vectors: int, rng: np.random.Generator) -> dict[str, float]:
    parallel = rng.random((n, n)) < 0.5
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)
    config = CircuitSolverConfig(bias_dependent=False)
    inputs = rng.uniform(0.0, 0.2, (vectors + 1, n))
    t0 = time.perf_counter()
    solver = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, solver=config)
    solver.transfer_after_vectors = 1  # line_currents below: always from the transfer
    first = solver.solve(inputs[0])
    first_s = time.perf_counter() - t0
    print(f"  {n}x{n}: first solve {_ms(first_s):.1f} ms ({first.cg_iterations} CG iterations)", flush=True)
    cg_times = []
    for v in inputs[1:4]:
        t0 = time.perf_counter()
        sol = solver.solve(v)
        cg_times.append(time.perf_counter() - t0)
    print(f"  {n}x{n}: further vectors by CG {', '.join(f'{_ms(t):.1f}' for t in cg_times)} ms "
          f"({sol.cg_iterations} CG iterations)", flush=True)
    t0 = time.perf_counter()
    solver.transfer()
    transfer_s = time.perf_counter() - t0
    times = []
    for v in inputs[1:]:
        t0 = time.perf_counter()
        _, cols = solver.line_currents(v)
        times.append(time.perf_counter() - t0)
    err_cg = _rel(cols[0], solver.solve(inputs[-1]).col_currents[0])
    print(f"  {n}x{n}: transfer built in {_ms(transfer_s):.1f} ms; further vectors from it "
          f"{_ms(float(np.median(times))):.3f} ms each (median of {len(times)}); break-even after "
          f"{transfer_s / max(np.median(cg_times) - np.median(times), 1e-12):.0f} vectors; agrees with the CG "
          f"solve to {err_cg:.1e}", flush=True)
    flipped, flip_times = parallel.copy(), []
    for _ in range(FLIP_ROUNDS):  # each round flips another 1 % of the cells and re-solves the last vector
        flipped = flipped.copy()
        flipped.flat[rng.choice(n * n, max(1, n * n // 100), replace=False)] ^= True
        t0 = time.perf_counter()
        solver.set_states(flipped)
        after = solver.solve(inputs[-1])
        flip_times.append(time.perf_counter() - t0)
    after_s = float(np.median(flip_times))
    t0 = time.perf_counter()
    _, cols_flipped = solver.line_currents(inputs[-1])
    rebuild_s = time.perf_counter() - t0
    print(f"  {n}x{n}: after 1 % flips {_ms(after_s):.1f} ms (median of {FLIP_ROUNDS}: "
          f"{', '.join(f'{_ms(t):.1f}' for t in flip_times)}; {after.cg_iterations} CG iterations, warm); "
          f"transfer rebuilt in {_ms(rebuild_s):.1f} ms", flush=True)
    net = solver._network
    matrix = net.sparse_matrix()
    b = net.rhs(np.atleast_2d(inputs[-1]), np.zeros((1, n)))[0].ravel()
    t0 = time.perf_counter()
    x = spsolve(matrix.tocsc(), b)
    sp_s = time.perf_counter() - t0
    g = solver.g0
    vr, vc = x[: n * n].reshape(n, n), x[n * n:].reshape(n, n).T
    direct = (g * (vr - vc)).sum(0)
    print(f"  {n}x{n}: spsolve {_ms(sp_s):.1f} ms; column currents agree to {_rel(after.col_currents[0], direct):.1e}"
          f" (CG) and {_rel(cols_flipped[0], direct):.1e} (transfer) relative", flush=True)
    relax_s, write_s, relax_err = _relaxation(flipped, inputs[-1], direct, rng)
    print(f"  {n}x{n}: line relaxation read {_ms(relax_s):.2f} ms (agrees with spsolve to {relax_err:.1e}); "
          f"V/2 write pattern, bias-dependent {_ms(write_s):.2f} ms", flush=True)
    return {"first": _ms(first_s), "next": _ms(float(np.median(times))), "flips": _ms(after_s),
            "spsolve": _ms(sp_s), "transfer": _ms(transfer_s), "next_cg": _ms(float(np.median(cg_times))),
            "transfer_flips": _ms(rebuild_s), "relax": _ms(relax_s), "relax_write": _ms(write_s)}


def _relaxation(parallel: np.ndarray, v_rows: np.ndarray, direct: np.ndarray, rng) -> tuple[float, float, float]:
    """Median times (s) of a read and of a V/2 write by line relaxation, and the read's error against
    ``direct`` (the spsolve column currents)."""
    n, m = parallel.shape
    params = {"r_p": R_P, "tmr0": TMR0, "v_h": V_H}
    ends = LineEnds(np.ones(n), np.ones(m), False, True, 1.0, 1.0)  # 1 ohm segment to ideal ports
    zeros = np.zeros((1, m))
    kw = {"tolerance": 1e-9}
    _, cols = solve_tiles_currents(v_rows[None], zeros, parallel, params, ends, [0, n], [0, m],
                                   bias_dependent=False, **kw)  # compiles on first use
    reads, writes = [], []
    rows_w = np.where(rng.random((1, n)) < 0.3, 0.25, 0.0)
    cols_w = np.where(rng.random((1, m)) < 0.5, -0.25, 0.0)
    solve_tiles_cells(rows_w, cols_w, parallel, params, ends, [0, n], [0, m], **kw)
    for _ in range(5):
        t0 = time.perf_counter()
        solve_tiles_currents(v_rows[None], zeros, parallel, params, ends, [0, n], [0, m], bias_dependent=False, **kw)
        reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        solve_tiles_cells(rows_w, cols_w, parallel, params, ends, [0, n], [0, m], **kw)
        writes.append(time.perf_counter() - t0)
    return float(np.median(reads)), float(np.median(writes)), _rel(cols[0], direct)


def _warm_up() -> None:
    """Compile (or load from Numba's cache) the solver's kernels on a 4 x 4 array, outside the timings."""
    small = np.random.default_rng(1).random((4, 4)) < 0.5
    CircuitSolver(small, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=CircuitConfig(r_wire_row=1.0, r_wire_col=1.0),
                  solver=CircuitSolverConfig(bias_dependent=False)).solve(np.full(4, 0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--vectors", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="BLAS, OpenMP, torch and Numba threads")
    args = parser.parse_args()
    limit_threads(args.threads)
    _warm_up()
    rng = np.random.default_rng(0)
    results = {}
    for n in args.sizes:
        print(f"solving {n}x{n} ...", flush=True)
        results[n] = bench_size(n, args.vectors, rng)
    print(f"{'size':>7} {'first':>8} {'transfer':>9} {'next vec':>9} {'next (CG)':>10} {'flips (CG)':>11} "
          f"{'transfer after flips':>21} {'spsolve':>8} {'relax':>7} {'relax write':>12}   (ms)")
    for n, r in results.items():
        print(f"{n:>3}x{n:<3} {r['first']:8.1f} {r['transfer']:9.1f} {r['next']:9.3f} {r['next_cg']:10.1f} "
              f"{r['flips']:11.1f} {r['transfer_flips']:21.1f} {r['spsolve']:8.1f} {r['relax']:7.2f} "
              f"{r['relax_write']:12.2f}")
    for n, r in sorted(results.items()):
        print(f"bench relax{n}_read_ms {r['relax']:.2f} ms")
        print(f"bench relax{n}_write_ms {r['relax_write']:.2f} ms")
        print(f"bench solve{n}_first_ms {r['first']:.1f} ms")
        print(f"bench transfer{n}_build_ms {r['transfer']:.1f} ms")
        print(f"bench solve{n}_next_vector_ms {r['next']:.3f} ms")
        print(f"bench solve{n}_after_flips_ms {r['flips']:.1f} ms")
        print(f"bench spsolve{n}_ms {r['spsolve']:.1f} ms")


if __name__ == "__main__":
    main()
