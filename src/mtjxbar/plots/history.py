"""Test accuracy per epoch for each method of a results record."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["plot_history", "network_label", "LABELS"]

LABELS = {"insitu": "in-situ MTJ", "float": "float (software)", "binary_software": "binary (software)",
          "exsitu": "ex-situ (programmed)"}


def network_label(results: dict) -> str:
    """``784-256-10 (x8 outputs per class), k = 1, 1T1MTJ arrays`` (or the buffer-and-counter synapse; passive
    arrays with their tiles, wires and write scheme) from a results record."""
    config = results.get("config", {})
    per_class = config.get("training", {}).get("outputs_per_class", 1)
    sizes = list(results.get("sizes", []))
    if sizes and per_class > 1:
        sizes[-1] = f"{sizes[-1] // per_class} (x{per_class} outputs per class)"
    hardware = config.get("hardware", {})
    transfer = hardware.get("transfer", {})
    if transfer.get("counter_bits", 0) > 0:
        synapse = (f"buffer-and-counter synapses ({transfer['buffer_mtjs']}-MTJ buffer + "
                   f"{transfer['counter_bits']}-bit counter)")
    else:
        synapse = f"k = {hardware.get('mapping', {}).get('mtjs_per_synapse', '?')}"
    return "-".join(str(s) for s in sizes) + f", {synapse}" + _array_label(hardware.get("array"))


def _array_label(array: dict | None) -> str:
    """``, passive arrays (64x64 tiles, 1 ohm wires, V/3)`` or ``, 1T1MTJ arrays`` (nothing for a record
    without the array section)."""
    if not array or "kind" not in array:
        return ""
    if array["kind"] != "passive":
        return ", 1T1MTJ arrays"
    circuit = array.get("circuit", {})
    row, col = circuit.get("r_wire_row", 0.0), circuit.get("r_wire_col", 0.0)
    if row == col:
        wires = "ideal wires" if not row else f"{row:g} ohm wires"
    else:
        wires = f"wires {row:g} ohm (rows) / {col:g} ohm (columns)"
    scheme = str(array.get("write_scheme", "v2")).upper().replace("V", "V/")
    return f", passive arrays ({array.get('tile_rows')}x{array.get('tile_cols')} tiles, {wires}, {scheme})"


def plot_history(results: dict, path: str | Path) -> None:
    """Write a PNG of test accuracy (%) against epoch, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, hist in results["history"].items():
        epochs = range(1, len(hist) + 1)
        ax.plot(epochs, [100 * a for a in hist], marker="o", label=LABELS.get(method, method))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{results['dataset']}: {network_label(results)}, seed {results['seed']}"
    ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=9)  # a long label would run off the figure
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
