"""Latency and energy per training sample of square arrays, 16x16 to 1024x1024, under the three schedules.

    python bench/cost_scaling.py [--out docs/results] [--samples 8] [--sizes 16 32 ... 1024]

Each size is costed by ``mtjxbar.hardware.estimate`` (default device, CostConfig and ScheduleConfig; the
stated representative activity of ActivityConfig: dense uniform inputs, mean update probability 1e-3) and
the figures go to ``<out>/cost_scaling.csv``, ``cost_scaling.png`` and ``cost_scaling.md`` (the
snippet that docs/cost.md reports). Ends with one line per headline figure: ``bench <name> <value> <unit>``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from mtjxbar.hardware import ActivityConfig, ScheduleConfig, estimate
from mtjxbar.hardware.report import si
from mtjxbar.nn import HardwareConfig

SIZES = (16, 32, 64, 128, 256, 512, 1024)
SCHEDULES = ("insitu_parallel", "insitu_rowwise", "exsitu")
LABELS = {"insitu_parallel": "in-situ, parallel update", "insitu_rowwise": "in-situ, row-by-row update",
          "exsitu": "ex-situ: software (A100 peak) + write-verify, amortised"}
RATIOS = (0.6, 0.7, 0.8, 0.9, 1.0)


def _row(n: int, s: dict) -> dict:
    prog = s["programming"]
    row = {"size": n, "cells": n * n}
    for key in SCHEDULES:
        row[f"{key}_latency_s"] = s[key]["latency_s"]
        row[f"{key}_energy_j"] = s[key]["energy_j"]
    row.update(insitu_parallel_phases=s["insitu_parallel"]["phases"],
               insitu_rowwise_phases=s["insitu_rowwise"]["phases"], flips=s["insitu_parallel"]["flips"],
               insitu_write_cell_energy_j=s["insitu_parallel"]["energy_breakdown_j"].get("cells_write", 0.0),
               exsitu_software_latency_s=s["exsitu"]["software_latency_s"],
               exsitu_software_energy_j=s["exsitu"]["software_energy_j"],
               programming_latency_s=prog["latency_s"], programming_energy_j=prog["energy_j"],
               programming_pulses_per_changed_cell=prog["pulses_per_changed_cell"],
               programming_rounds_per_row=sum(prog["arrays"][0]["rounds_per_row"].values()))
    return row


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what, unit in ((axes[0], "latency_s", "latency (s) per training sample; dotted: once"),
                           (axes[1], "energy_j", "energy (J) per training sample; dotted: once")):
        for key, style in zip(SCHEDULES, ("o-", "s-", "^-"), strict=True):
            ax.plot(sizes, [r[f"{key}_{what}"] for r in rows], style, label=LABELS[key])
        prog = "programming_latency_s" if what == "latency_s" else "programming_energy_j"
        ax.plot(sizes, [r[prog] for r in rows], "k:", label="ex-situ write-verify, once (not amortised)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("square array size n (n x n cells)")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("mtjxbar cost model: per-sample cost of training one n x n 1T1MTJ array")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(rows: list[dict], ratios: list[tuple[float, dict]], samples: int, amortise: int,
              breakdown: dict) -> str:
    first, last = rows[0], rows[-1]
    head = ("| n x n | in-situ parallel | in-situ row-by-row | ex-situ (software + programming / "
            f"{amortise:,}) | write-verify once | flips / sample |\n|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['size']} | {si(r['insitu_parallel_latency_s'], 's')}, {si(r['insitu_parallel_energy_j'], 'J')} "
        f"| {si(r['insitu_rowwise_latency_s'], 's')}, {si(r['insitu_rowwise_energy_j'], 'J')} "
        f"| {si(r['exsitu_latency_s'], 's')}, {si(r['exsitu_energy_j'], 'J')} "
        f"| {si(r['programming_latency_s'], 's')}, {si(r['programming_energy_j'], 'J')} | {r['flips']:.1f} |\n"
        for r in rows)
    pulses = "".join(f"| {ratio:g} | {d['ap2p']['switch_probability']:.4g} "
                     f"| {d['ap2p']['pulses_per_changed_cell']:.4g} "
                     f"| {si(d['ap2p']['pulse_energy_j'], 'J')} / {si(d['p2ap']['pulse_energy_j'], 'J')} |\n"
                     for ratio, d in ratios)
    par_ratio = last["insitu_parallel_latency_s"] / first["insitu_parallel_latency_s"]
    row_ratio = last["insitu_rowwise_latency_s"] / first["insitu_rowwise_latency_s"]
    e_lo = first["exsitu_energy_j"] / first["insitu_parallel_energy_j"]
    e_hi = last["exsitu_energy_j"] / last["insitu_parallel_energy_j"]
    faster = [r["size"] for r in rows if r["exsitu_latency_s"] < r["insitu_parallel_latency_s"]]
    crossover = (f"below the in-situ one up to {max(faster)}x{max(faster)} and above it beyond"
                 if faster else "above the in-situ one at every size")
    default = ratios[-1][1]["ap2p"]
    parts = ", ".join(f"{k.replace('_', ' ')} {si(v, 'J')}" for k, v in breakdown.items())
    return f"""### Hardware cost: latency and energy per training sample

Latency and energy of one training sample on one n x n 1T1MTJ array (`bench/cost_scaling.py`;
`mtjxbar cost --rows n --cols n` for one size): a forward read, a transposed read and one rank-1
stochastic update, costed from the events the simulated array reports during {samples} random samples
per size (dense inputs uniform in the DAC range; mean update probability 1e-3, the mean of the digits
run's first epoch). Default device (40 nm pMTJ), an 8-bit ADC per line (10 fJ/conv-step), 10 ns read
and write pulses; every constant and its source: `mtjxbar.hardware.CostConfig`. Each cell: latency, energy.

{head}{body}
![cost scaling](docs/results/cost_scaling.png)

- **In-situ, parallel update**: the same time at every size, 2 reads and at most 4 write phases
  ({si(first['insitu_parallel_latency_s'], 's')} at {first['size']}x{first['size']},
  {si(last['insitu_parallel_latency_s'], 's')} at {last['size']}x{last['size']}: x{par_ratio:.3f}, the longest
  pulse of each phase nearing the full 10 ns as rows multiply). The energy
  grows with the cells that see a write pulse (all of them, once per update), about as n^2. At
  {last['size']}x{last['size']}: {parts}.
- **In-situ, row-by-row update**: one row at a time, so the latency grows linearly in n (x{row_ratio:.0f}
  from {first['size']} to {last['size']}); the cells dissipate the same, the driven bit lines are charged
  again for every row.
- **Ex-situ**: training in software on the reference processor (an NVIDIA A100 at its peak FP32 rate and
  board power, 41 pJ and 0.1 ps per multiply-accumulate, 3 n^2 of them per sample: a best case for the
  GPU), then write-verify programming of every cell once, amortised over {amortise:,} training samples
  (one MNIST epoch; the "write-verify once" column is the whole programming). Energy per sample:
  {e_lo:.0f}x (at {first['size']}x{first['size']}) to {e_hi:.0f}x (at {last['size']}x{last['size']}) the
  in-situ parallel figure. Latency per sample at the GPU's peak rate: {crossover}, growing as n^2.
- **Write-verify pulses** from the switching model: a cell that must change needs 1/p pulses on average,
  p the switching probability of the programming pulse (10 ns at `program_current_ratio` x Ic0; default
  1.0: p = {default['switch_probability']:.5f}, {default['pulses_per_changed_cell']:.5f} pulses). Half the
  cells are assumed to change; a row programs its columns in parallel, one polarity after the other, and
  needs E[max of geometric] rounds ({last['programming_rounds_per_row']:.3f} for both polarities of a
  {last['size']}-cell row). Weaker pulses need more:

| I / Ic0 | p per pulse | pulses per changed cell | energy per pulse (AP->P / P->AP) |
|---|---|---|---|
{pulses}
Not modelled: wire resistance and IR drop, line RC delay, sense-amplifier/TIA power beyond the ADC
figure of merit, current-driver compliance overhead (only I^2 R t in the cell is counted), area, and
data movement in the digital periphery.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "results")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    hw, activity, schedule = HardwareConfig(), ActivityConfig(samples=args.samples), ScheduleConfig()
    t0 = time.perf_counter()
    results = {n: estimate(hw, rows=n, cols=n, activity=activity, schedule=schedule) for n in args.sizes}
    seconds = time.perf_counter() - t0
    rows = [_row(n, s) for n, s in results.items()]
    ratios = []
    for ratio in RATIOS:
        s = estimate(hw, rows=16, cols=16, activity=ActivityConfig(samples=1),
                     schedule=ScheduleConfig(program_current_ratio=ratio))
        ratios.append((ratio, s["programming"]["directions"]))

    print(f"{'n':>6} {'parallel':>22} {'row-by-row':>22} {'ex-situ':>22} {'program once':>22} {'flips':>8}")
    for r in rows:
        cells = [f"{si(r[f'{k}_latency_s'], 's')} {si(r[f'{k}_energy_j'], 'J')}" for k in SCHEDULES]
        once = f"{si(r['programming_latency_s'], 's')} {si(r['programming_energy_j'], 'J')}"
        print(f"{r['size']:>6} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} {once:>22} {r['flips']:>8.1f}")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cost_scaling.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot(rows, args.out / "cost_scaling.png")
    breakdown = results[args.sizes[-1]]["insitu_parallel"]["energy_breakdown_j"]
    (args.out / "cost_scaling.md").write_text(_markdown(rows, ratios, args.samples, schedule.training_samples,
                                                         breakdown))
    print(f"wrote {args.out / 'cost_scaling.csv'}, .png, .md")

    first, last = rows[0], rows[-1]
    tag = f"{last['size']}_over_{first['size']}"
    print(f"bench insitu_parallel_latency_{tag} "
          f"{last['insitu_parallel_latency_s'] / first['insitu_parallel_latency_s']:.4f} x")
    print(f"bench insitu_rowwise_latency_{tag} "
          f"{last['insitu_rowwise_latency_s'] / first['insitu_rowwise_latency_s']:.2f} x")
    print(f"bench insitu_parallel_latency_{last['size']} {last['insitu_parallel_latency_s'] * 1e9:.2f} ns")
    print(f"bench insitu_parallel_energy_{last['size']} {last['insitu_parallel_energy_j'] * 1e9:.2f} nJ")
    print(f"bench insitu_rowwise_latency_{last['size']} {last['insitu_rowwise_latency_s'] * 1e6:.3f} us")
    print(f"bench exsitu_over_insitu_energy_{last['size']} "
          f"{last['exsitu_energy_j'] / last['insitu_parallel_energy_j']:.0f} x")
    print(f"bench exsitu_pulses_per_changed_cell {last['programming_pulses_per_changed_cell']:.6f} pulses")
    print(f"bench cost_scaling_seconds {seconds:.1f} s")


if __name__ == "__main__":
    main()
