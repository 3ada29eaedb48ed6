"""Solve times of the crossbar circuit solver against scipy's sparse direct solver on the same system.

    OMP_NUM_THREADS=1 python bench/circuit_solve.py [--sizes 64 256] [--vectors 5]

Array: N x N cells, half of them parallel (R_P = 5 kOhm, TMR 100 %), 1 ohm wire segments, rows driven at
their near end (ideal drivers), columns sensed at their far end by TIAs; cells at their zero-bias
resistance (a linear system, the one ``spsolve`` gets too). Timed: the first solve (building the
preconditioner included), each further input vector (same states), and the re-solve of the last vector
after 1 % of the cells flipped (rebuild + warm start). ``spsolve`` (SuperLU) solves the same matrix and
right-hand side once; the column currents of both are compared. Ends with ``bench <name> <value> ms`` lines.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.sparse.linalg import spsolve

from mtjxbar.crossbar.circuit import CircuitSolver
from mtjxbar.crossbar.config import CircuitConfig, CircuitSolverConfig

R_P, TMR0, V_H = 5.0e3, 1.0, 0.5


def _ms(seconds: float) -> float:
    return 1e3 * seconds


def bench_size(n: int, vectors: int, rng: np.random.Generator) -> dict[str, float]:
    parallel = rng.random((n, n)) < 0.5
    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)
    config = CircuitSolverConfig(bias_dependent=False)
    inputs = rng.uniform(0.0, 0.2, (vectors + 1, n))
    t0 = time.perf_counter()
    solver = CircuitSolver(parallel, r_p=R_P, tmr0=TMR0, v_h=V_H, circuit=circuit, solver=config)
    first = solver.solve(inputs[0])
    first_s = time.perf_counter() - t0
    print(f"  {n}x{n}: first solve {_ms(first_s):.1f} ms ({first.cg_iterations} CG iterations)", flush=True)
    times = []
    for v in inputs[1:]:
        t0 = time.perf_counter()
        sol = solver.solve(v)
        times.append(time.perf_counter() - t0)
    print(f"  {n}x{n}: further vectors {', '.join(f'{_ms(t):.1f}' for t in times)} ms "
          f"({sol.cg_iterations} CG iterations)", flush=True)
    flipped = parallel.copy()
    flipped.flat[rng.choice(n * n, max(1, n * n // 100), replace=False)] ^= True
    t0 = time.perf_counter()
    solver.set_states(flipped)
    after = solver.solve(inputs[-1])
    after_s = time.perf_counter() - t0
    print(f"  {n}x{n}: after 1 % flips {_ms(after_s):.1f} ms ({after.cg_iterations} CG iterations, warm)",
          flush=True)
    net = solver._network
    matrix = net.sparse_matrix()
    b = net.rhs(np.atleast_2d(inputs[-1]), np.zeros((1, n)))[0].ravel()
    t0 = time.perf_counter()
    x = spsolve(matrix.tocsc(), b)
    sp_s = time.perf_counter() - t0
    g = solver.g0
    vr, vc = x[: n * n].reshape(n, n), x[n * n:].reshape(n, n).T
    direct = (g * (vr - vc)).sum(0)
    err = np.abs(direct - after.col_currents[0]).max() / np.abs(direct).max()
    print(f"  {n}x{n}: spsolve {_ms(sp_s):.1f} ms; column currents agree to {err:.1e} relative", flush=True)
    return {"first": _ms(first_s), "next": _ms(float(np.median(times))), "flips": _ms(after_s), "spsolve": _ms(sp_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--vectors", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = {}
    for n in args.sizes:
        print(f"solving {n}x{n} ...", flush=True)
        results[n] = bench_size(n, args.vectors, rng)
    for n, r in results.items():
        print(f"bench solve{n}_first_ms {r['first']:.1f} ms")
        print(f"bench solve{n}_next_vector_ms {r['next']:.1f} ms")
        print(f"bench solve{n}_after_flips_ms {r['flips']:.1f} ms")
        print(f"bench spsolve{n}_ms {r['spsolve']:.1f} ms")


if __name__ == "__main__":
    main()
