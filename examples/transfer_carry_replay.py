"""What the transfers' carry pulses do to a passive V/3 array, phase by phase (issue 23, docs/passive.md,
seventh round).

One layer of the buffer-and-counter synapse (784 inputs, 64 outputs, a 2-MTJ buffer, a 3-bit counter; 64 x 64
tiles, V/3 writes, exact circuits, the default device at delta 40) from random states; all 64 columns are
transferred once, at each wire resistance and carry current. Every write phase of a transfer is watched:

* ``rewrites``: cells the verify found wrong and wrote again (as ``TransferCounts.rewrites``);
* ``aimed misses``: cells a pulse aimed at that did not switch;
* ``column half-selected``: cells of the written column the phase did not aim at that switched, in the
  pulse's own direction (the verify reads that column, so it rewrites them);
* ``other disturbs``: the rest of the transfers' disturbs (cells of other columns).

Then one to-P phase (column 5, half of the rows gated, the compensated write of the array) is solved and its
held pattern's cell voltages are reported by class: selected, half-selected in the written column,
half-selected in the gated rows, unselected.

    python examples/transfer_carry_replay.py          # 0 and 1 ohm, 1.2 and 1.0 Ic0 (about a minute)
"""

from __future__ import annotations

import argparse
import sys

import torch

from mtjxbar.crossbar import ArrayConfig
from mtjxbar.crossbar.config import CircuitConfig
from mtjxbar.crossbar.plan import TO_P, column_phase
from mtjxbar.nn import HardwareConfig, TransferCounts, TransferLinear
from mtjxbar.periphery import TransferConfig


def layer_for(ohm: float, overdrive: float, rows: int) -> TransferLinear:
    hw = HardwareConfig(array=ArrayConfig(kind="passive", write_scheme="v3", tile_rows=64, tile_cols=64,
                                          circuit=CircuitConfig(r_wire_row=ohm, r_wire_col=ohm)),
                        transfer=TransferConfig(counter_bits=3, buffer_mtjs=2, carry_overdrive=overdrive))
    layer = TransferLinear(rows, 64, hw, gain=0.3)
    states = torch.Generator().manual_seed(2)
    for xb in layer.arrays().values():
        xb.set_states(torch.rand(xb.rows, xb.cols, generator=states) > 0.5)
    return layer


def watched(xb, tally: dict):
    """``xb.write_column`` that tallies, per phase, the aimed cells left unswitched and the written column's
    other cells that switched."""
    write_column = xb.write_column

    def write(col, gated, width, current, polarity, generator):
        before = xb.parallel[:, col].clone()
        res = write_column(col, gated, width, current, polarity, generator)
        after, want = xb.parallel[:, col], polarity == TO_P
        tally["aimed_misses"] += int((gated & (after != want)).sum())
        changed = ~gated & (before != after)
        tally["column_half_selected"] += int(changed.sum())
        tally["column_against_pulse"] += int((changed & (after != want)).sum())
        return res
    return write


def transfers(ohm: float, overdrive: float, rows: int) -> dict:
    layer = layer_for(ohm, overdrive, rows)
    tally = dict.fromkeys(("aimed_misses", "column_half_selected", "column_against_pulse"), 0)
    for sub in (layer.buffer, *layer.tiles):
        sub.crossbar.write_column = watched(sub.crossbar, tally)
    g, counts = torch.Generator().manual_seed(4), TransferCounts()
    for col in range(64):
        counts.add(layer.transfer_column(col, g))
    return {**tally, "rewrites": counts.rewrites, "failed": counts.failed, "disturbs": counts.disturbs,
            "cell_writes": counts.cell_writes}


def phase_voltages(ohm: float, overdrive: float, rows: int, col: int = 5) -> dict:
    layer = layer_for(ohm, overdrive, rows)
    xb = layer.tiles[0].crossbar
    gated = torch.rand(xb.rows, generator=torch.Generator().manual_seed(3)) < 0.5
    current = overdrive * layer.hardware.device.ic0_ap2p
    held, _ = xb.phase_cell_voltages(column_phase(xb.rows, xb.cols, col, gated, 10e-9, current, TO_P))
    others = torch.arange(xb.cols) != col

    def span(v: torch.Tensor) -> str:
        return f"{float(v.min()):.3f} .. {float(v.max()):.3f}"
    return {"selected": span(held[gated, col]), "column half-selected": span(held[~gated, col]),
            "row half-selected": span(held[gated][:, others]), "unselected": span(held[~gated][:, others])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=784, help="inputs of the layer (rows of its arrays)")
    parser.add_argument("--ohms", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--overdrives", type=float, nargs="+", default=[1.2, 1.0])
    args = parser.parse_args()
    if args.rows < 1 or any(o < 0 for o in args.ohms) or any(o <= 0 for o in args.overdrives):
        parser.error("--rows must be >= 1, --ohms >= 0 and --overdrives > 0")
    torch.set_num_threads(1)
    print(f"64 column transfers of a {args.rows}-input, 64-output layer (2-MTJ buffer, 3-bit counter), passive "
          "V/3, 64 x 64 tiles, delta 40, random states\n")
    print("| wire (ohm) | carry | cell writes | rewrites | aimed misses | column half-selected switched (against "
          "the pulse) | failed | disturbs |")
    print("|---|---|---|---|---|---|---|---|")
    for ohm in args.ohms:
        for o in args.overdrives:
            r = transfers(ohm, o, args.rows)
            print(f"| {ohm:g} | {o:g} Ic0 | {r['cell_writes']} | {r['rewrites']} | {r['aimed_misses']} | "
                  f"{r['column_half_selected']} ({r['column_against_pulse']}) | {r['failed']} | {r['disturbs']} |",
                  flush=True)
    print("\nOne to-P phase (column 5, half of the rows gated), held pattern's cell voltages (V):\n")
    print("| wire (ohm) | carry | selected | column half-selected | row half-selected | unselected |")
    print("|---|---|---|---|---|---|")
    for ohm in args.ohms:
        for o in args.overdrives:
            v = phase_voltages(ohm, o, args.rows)
            print(f"| {ohm:g} | {o:g} Ic0 | {' | '.join(v.values())} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
