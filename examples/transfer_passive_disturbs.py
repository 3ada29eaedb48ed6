"""Why the buffer-and-counter rule loses on passive arrays (issue 23): the transfers' carry writes disturb, and
what a carry pulse of its own does about it.

The passive row of the rule (``examples/transfer_passive_row.py``: MNIST, 784-64-10 with 8 outputs per class,
the recipe of ``examples/mnist_insitu.toml``, the first 3,000 training images once, the first 2,000 test images)
trains 5 points below 1T1MTJ at 1 ohm with V/3 writes. A column transfer writes the counter's bits and resets
the buffer with pulses of ``carry_overdrive`` x Ic0 (1.2 by default) for ``carry_width`` (10 ns); under V/3
every unselected cell of the array sees -1/3 of the written cell's voltage meanwhile, and on the default
device (thermal stability delta = 40) a P cell there carries half its Ic0 and switches with some 5.3e-4 per
pulse. The verify reads only the written column, so the counters drift. Each case of this table is one
(array, wire resistance, delta, carry overdrive), run with three seeds:

* delta 40 against 60 on ideal wires (0 ohm: no IR drop to soften -V/3): the disturb rate falls by
  exp(-20 x 0.25), the selected cells' switching is set by the encoder either way;
* the carry pulse at 1.0 and 0.9 Ic0 instead of 1.2 (``--carry-overdrive``), on 0 and 1 ohm: the unselected
  cells see a third of a smaller voltage (a P cell there 0.44 and 0.41 of its Ic0 instead of 0.50), the written
  ones still switch within the verify rounds;
* the same cases on 1T1MTJ arrays, where nothing but the written cells sees a carry pulse.

In-situ accuracy against the transfers' disturb flips per sample (``results.json``:
``insitu_epochs[].transfer.disturbs``), their rewrites and the cells left wrong after the verify.

Each finished run leaves its summary in ``OUT/disturb_runs/NAME.json`` (committed), and a rerun skips it. The
table (``OUT/disturbs.md`` and ``disturbs.csv``) lists every case of ``CASES`` and of ``--cases`` that has
records, whichever cases this invocation runs.

    python examples/transfer_passive_disturbs.py            # every case, 2 runs at a time (0 ohm ~6 min, 1 ohm ~15)
    python examples/transfer_passive_disturbs.py --cases passive:1:40:1.0   # one case (array:ohm:delta:overdrive)
    python examples/transfer_passive_disturbs.py --dry-run  # the commands only
    python examples/transfer_passive_disturbs.py --table-only  # the table from the records, nothing run
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("array", "ohm", "delta", "carry_overdrive", "seed", "n_train", "n_test", "insitu", "float",
           "flips_per_sample", "transfer_flips_per_sample", "transfer_disturbs_per_sample",
           "transfer_rewrites_per_sample", "transfer_failed", "buffer_disturbs_per_sample", "s_per_sample")
# array:ohm:delta:carry_overdrive (ohm 0 on 1T1MTJ); the default carry pulse is 1.2 Ic0
CASES = ("1t1mtj:0:40:1.2", "1t1mtj:0:60:1.2", "1t1mtj:0:40:1.0", "1t1mtj:0:40:0.9", "passive:1:40:1.2",
         "passive:1:40:1.0", "passive:1:40:0.9", "passive:0:40:1.2", "passive:0:60:1.2", "passive:0:40:1.0",
         "passive:0:40:0.9")


def parse_case(text: str) -> dict:
    """``array:ohm:delta:overdrive`` as a dict (a ``ValueError`` naming the case if it is not one)."""
    parts = text.split(":")
    try:
        array, ohm, delta, overdrive = parts[0], float(parts[1]), float(parts[2]), float(parts[3])
    except (IndexError, ValueError):
        raise ValueError(f"case {text!r}: expected array:ohm:delta:overdrive, e.g. passive:1:40:1.0") from None
    if array not in ("passive", "1t1mtj") or len(parts) != 4:
        raise ValueError(f"case {text!r}: expected array:ohm:delta:overdrive with array passive or 1t1mtj")
    if not (math.isfinite(ohm) and ohm >= 0 and math.isfinite(delta) and delta > 0 and math.isfinite(overdrive)
            and overdrive > 0):
        raise ValueError(f"case {text!r}: ohm must be >= 0, delta and overdrive > 0 (finite)")
    if array == "1t1mtj" and ohm != 0:
        raise ValueError(f"case {text!r}: 1T1MTJ arrays have no wire resistance here; give 0 ohm")
    return {"array": array, "ohm": ohm, "delta": delta, "carry_overdrive": overdrive}


def _num(x: float) -> str:
    return f"{x:.10g}"


def case_label(case: dict) -> str:
    return "1T1MTJ" if case["array"] == "1t1mtj" else f"passive, {_num(case['ohm'])} ohm, V/3"


def run_name(case: dict, seed: int) -> str:
    wires = f"_{_num(case['ohm'])}ohm" if case["array"] == "passive" else ""
    return f"{case['array']}{wires}_delta{_num(case['delta'])}_carry{_num(case['carry_overdrive'])}_s{seed}"


def recorded_seeds(case: dict, records: Path) -> list[int]:
    """The seeds of the case's runs that have records (whatever ``--seeds`` says)."""
    prefix = run_name(case, 0).rsplit("_s", 1)[0]
    seeds = (p.stem.rsplit("_s", 1)[1] for p in records.glob(f"{prefix}_s*.json"))
    return sorted(int(s) for s in seeds if s.isdigit())


def unique_cases(cases: list[dict]) -> list[dict]:
    """The cases once each, in their first order."""
    out = []
    for c in cases:
        if c not in out:
            out.append(c)
    return out


def plan(cases: list[dict], args, seeds: list[list[int]] | None = None) -> list[dict]:
    """The runs of ``cases`` with ``args.seeds`` (or ``seeds[i]`` for the i-th case)."""
    base = ["--config", "examples/mnist_insitu.toml", "--data-dir", str(args.data_dir), "--hidden", "64",
            "--outputs-per-class", "8", "--epochs", "1", "--max-train", str(args.train), "--max-test",
            str(args.test), "--methods", "float", "--no-cost", "--threads", "1"]
    out = []
    for i, case in enumerate(cases):
        passive = ["--array", "passive", "--tile-size", "64", "--fidelity", "exact", "--write-scheme", "v3",
                   "--wire-resistance", _num(case["ohm"])] if case["array"] == "passive" else []
        for s in dict.fromkeys(args.seeds if seeds is None else seeds[i]):
            flags = [*base, *passive, "--delta", _num(case["delta"]), "--carry-overdrive",
                     _num(case["carry_overdrive"]), "--seed", str(s)]
            out.append({"name": run_name(case, s), **case, "seed": s, "flags": flags})
    return out


def summarise(run: dict, results: dict) -> dict:
    epochs, acc = results["insitu_epochs"], results["accuracy"]
    samples = results["n_train"] * results["epochs"]
    transfer = {}
    for e in epochs:
        for k, v in (e.get("transfer") or {}).items():
            transfer[k] = transfer.get(k, 0) + v
    return {"array": run["array"], "ohm": run["ohm"], "delta": run["delta"],
            "carry_overdrive": run["carry_overdrive"], "seed": run["seed"], "n_train": results["n_train"],
            "n_test": results["n_test"], "insitu": 100 * acc["insitu"],
            "float": 100 * acc["float"], "flips_per_sample": sum(e["flips"] for e in epochs) / samples,
            "transfer_flips_per_sample": transfer.get("flips", 0) / samples,
            "transfer_disturbs_per_sample": transfer.get("disturbs", 0) / samples,
            "transfer_rewrites_per_sample": transfer.get("rewrites", 0) / samples,
            "transfer_failed": transfer.get("failed", 0),
            "buffer_disturbs_per_sample": sum(e.get("disturb_flips", 0) for e in epochs) / samples,
            "s_per_sample": results["train_seconds"]["insitu"] / samples}


def _pm(values: list[float]) -> str:
    m = statistics.fmean(values)
    return f"{m:.2f} %" if len(values) == 1 else f"{m:.2f} ± {statistics.stdev(values):.2f} %"


def markdown(rows: list[dict], tabulated: list[dict], cmds: list[str], args) -> str:
    lines = ["# The buffer-and-counter rule on passive arrays: the transfers' disturbs (issue 23)", "",
             "`python examples/transfer_passive_disturbs.py` (module docstring): MNIST "
             f"(`../shared/data/mnist-train10k`, the first {args.train:,} training images once, the first "
             f"{args.test:,} test images), 784-64-10 with "
             "8 outputs per class, the recipe of `examples/mnist_insitu.toml`; passive: 64 x 64 tiles, V/3 "
             "writes, exact circuits. Carry: the current of the transfers' counter and buffer-reset pulses (10 ns) "
             "in units of Ic0 (`--carry-overdrive`). Accuracies: mean ± sd over the seeds; per training sample: "
             "the buffer's flips, the transfers' flips and, of those, their disturbs (cells a carry or reset pulse "
             "switched without aiming at them), the transfers' rewrites after a failed verify; the cells left wrong "
             "after the last verify round (all samples); the buffer writes' disturbs.", "",
             "| array | delta | carry | seeds | in situ | float | buffer flips / sample | transfer flips / sample "
             "| transfer disturbs / sample | rewrites / sample | failed | buffer-write disturbs / sample "
             "| s / sample |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case in tabulated:
        group = [r for r in rows if all(r[k] == case[k] for k in ("array", "ohm", "delta", "carry_overdrive"))]
        if not group:
            continue
        mean = {k: statistics.fmean(r[k] for r in group) for k in COLUMNS[9:]}
        lines.append(f"| {case_label(case)} | {_num(case['delta'])} | {_num(case['carry_overdrive'])} Ic0 | "
                     f"{','.join(str(r['seed']) for r in group)} | {_pm([r['insitu'] for r in group])} | "
                     f"{_pm([r['float'] for r in group])} | {mean['flips_per_sample']:.0f} | "
                     f"{mean['transfer_flips_per_sample']:.0f} | {mean['transfer_disturbs_per_sample']:.2f} | "
                     f"{mean['transfer_rewrites_per_sample']:.2f} | {sum(r['transfer_failed'] for r in group)} | "
                     f"{mean['buffer_disturbs_per_sample']:.4f} | {mean['s_per_sample']:.3g} |")
    lines += ["", "Commands (from the repository root; `--out runs/transfer_disturbs/NAME`):", "", "```", *cmds,
              "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist-train10k"))
    parser.add_argument("--train", type=int, default=3000, help="training images (the first N), one epoch")
    parser.add_argument("--test", type=int, default=2000, help="test images (the first N)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cases", nargs="+", default=list(CASES), metavar="ARRAY:OHM:DELTA:OVERDRIVE",
                        help="the cases to run and tabulate (default: all of them)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "transfer_disturbs")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "transfer_passive")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="write the table from the records, run nothing")
    args = parser.parse_args()
    try:
        args.cases = unique_cases([parse_case(c) for c in args.cases])
    except ValueError as err:
        parser.error(str(err))
    runs = plan(args.cases, args)
    tabulated = unique_cases([parse_case(c) for c in CASES] + args.cases)
    if args.dry_run:
        print("\n".join(shlex.join(["mtjxbar", "train", *r["flags"]]) for r in runs))
        return 0
    if not any(args.data_dir.glob("train-images-idx3-ubyte*")):
        parser.error(f"--data-dir {args.data_dir}: no MNIST training images there")
    records = args.out / "disturb_runs"
    records.mkdir(parents=True, exist_ok=True)

    def run_one(run: dict) -> None:
        record = records / f"{run['name']}.json"
        if record.exists():
            return
        folder = args.runs / run["name"]
        folder.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "mtjxbar.cli.main", "train", *run["flags"], "--out", str(folder), "--overwrite",
               "--quiet"]
        code = subprocess.run(cmd, cwd=ROOT).returncode
        if code == 0:
            row = summarise(run, json.loads((folder / "results.json").read_text()))
            record.write_text(json.dumps(row, indent=1) + "\n")
        print(f"{'done' if code == 0 else f'FAILED ({code})'} {run['name']}", flush=True)

    if not args.table_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run_one, runs))
    # the table: every recorded seed of every case, of runs with this invocation's image counts
    done = plan(tabulated, args, [recorded_seeds(c, records) for c in tabulated])
    rows = [json.loads((records / f"{r['name']}.json").read_text()) for r in done]
    keep = [(r["n_train"], r["n_test"]) == (args.train, args.test) for r in rows]
    done = [r for r, k in zip(done, keep, strict=True) if k]
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    cmds = [shlex.join(["mtjxbar", "train", *r["flags"]]) for r in done]
    if not rows:  # a table of nothing would replace the committed one
        print(f"no records of {args.train:,} / {args.test:,}-image runs in {records}: table not written",
              file=sys.stderr)
        return 1
    with open(args.out / "disturbs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(rows, tabulated, cmds, args)
    (args.out / "disturbs.md").write_text(text)
    print(text)
    missing = [r["name"] for r in runs if not (records / f"{r['name']}.json").exists()]
    if missing:
        print(f"not finished: {', '.join(missing)}", file=sys.stderr)
    return 1 if missing and not args.table_only else 0


if __name__ == "__main__":
    sys.exit(main())
