"""Netlists of crossbar circuits for ngspice, and reading its ASCII raw output back (test helper)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

NGSPICE = shutil.which("ngspice")


def netlist(parallel, *, r_p, tmr0, v_h, circuit, row_modes, col_modes, v_rows, v_cols) -> str:
    """A DC netlist of the crossbar: wires as resistors, AP junctions as bias-dependent B-sources
    (``I = V / (R_P (1 + TMR0 / (1 + (V / V_h)^2)))``), P junctions as resistors; each connected port is a
    voltage source (0 V for sensed lines) behind the port resistance plus one wire segment, named so
    that ``i(v...)`` is the current the line delivers to its periphery."""
    n, m = parallel.shape
    lines = ["crossbar", ".options reltol=1e-12 abstol=1e-20 vntol=1e-15"]
    for i in range(n):
        for j in range(m):
            a, b = f"r{i}_{j}", f"c{i}_{j}"
            if parallel[i, j]:
                lines.append(f"rc{i}_{j} {a} {b} {r_p!r}")
            else:
                lines.append(f"bc{i}_{j} {a} {b} I = V({a},{b})/({r_p!r}*(1+{tmr0!r}/(1+(V({a},{b})/{v_h!r})^2)))")
            if j + 1 < m:
                lines.append(f"rwr{i}_{j} {a} r{i}_{j + 1} {circuit.r_wire_row!r}")
            if i + 1 < n:
                lines.append(f"rwc{i}_{j} {b} c{i + 1}_{j} {circuit.r_wire_col!r}")
    for kind, modes, count, other, port, r_wire, volts in (
            ("r", row_modes, n, m, circuit.row_port, circuit.r_wire_row, v_rows),
            ("c", col_modes, m, n, circuit.col_port, circuit.r_wire_col, v_cols)):
        for k in range(count):
            if modes[k] == "floating":
                continue
            pos = 0 if port == "near" else other - 1
            node = f"r{k}_{pos}" if kind == "r" else f"c{pos}_{k}"
            r_port = float(circuit.r_driver if modes[k] == "driven" else circuit.r_sense)
            volt = float(volts[k]) if modes[k] == "driven" else 0.0
            lines.append(f"rp{kind}{k} {node} p{kind}{k} {r_port + r_wire!r}")
            lines.append(f"v{kind}{k} p{kind}{k} 0 DC {volt!r}")
    lines += [".control", "op", "set filetype=ascii", "write out.raw all", ".endc", ".end"]
    return "\n".join(lines) + "\n"


def run(text: str, workdir: Path) -> dict[str, float]:
    """Run ngspice in batch mode on ``text``; every vector of the operating point by (lower-case) name."""
    (workdir / "x.cir").write_text(text)
    (workdir / "out.raw").unlink(missing_ok=True)
    done = subprocess.run([NGSPICE, "-b", "x.cir"], cwd=workdir, capture_output=True, text=True, timeout=120)
    if not (workdir / "out.raw").exists():  # ngspice -b may exit 1 after a .control run
        raise RuntimeError(f"ngspice failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    raw = (workdir / "out.raw").read_text().splitlines()
    start = raw.index("Variables:")
    count = int(next(x for x in raw if x.startswith("No. Variables:")).split(":")[1])
    names = [raw[start + 1 + k].split()[1].lower() for k in range(count)]
    values_at = raw.index("Values:")
    tokens = " ".join(raw[values_at + 1:]).split()
    values = [float(t) for t in tokens[1:1 + count]]
    return dict(zip(names, values, strict=True))


def unpack(result: dict[str, float], n: int, m: int, row_modes, col_modes):
    """Row nodes, column nodes (N, M) and the line currents into the periphery (NaN for floating lines).

    Every node voltage and the current of every connected line must be among ngspice's output vectors: a
    missing one raises (a comparison must not pass by silently leaving vectors out)."""
    wanted = [f"v(r{i}_{j})" for i in range(n) for j in range(m)] + [f"v(c{i}_{j})" for i in range(n) for j in range(m)]
    wanted += [f"i(vr{i})" for i in range(n) if row_modes[i] != "floating"]
    wanted += [f"i(vc{j})" for j in range(m) if col_modes[j] != "floating"]
    missing = [name for name in wanted if name not in result]
    if missing:
        raise KeyError(f"ngspice output lacks {len(missing)} of {len(wanted)} vectors, e.g. {missing[:5]} "
                       f"(it has {len(result)}: {sorted(result)[:5]} ...)")
    vr = np.array([[result[f"v(r{i}_{j})"] for j in range(m)] for i in range(n)])
    vc = np.array([[result[f"v(c{i}_{j})"] for j in range(m)] for i in range(n)])
    ir = np.array([result[f"i(vr{i})"] if row_modes[i] != "floating" else np.nan for i in range(n)])
    ic = np.array([result[f"i(vc{j})"] if col_modes[j] != "floating" else np.nan for j in range(m)])
    return vr, vc, ir, ic
