"""Test accuracy per epoch for each method of a results record."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_history", "LABELS"]

LABELS = {"insitu": "in-situ MTJ", "float": "float (software)", "binary_software": "binary (software)",
          "exsitu": "ex-situ (programmed)"}


def plot_history(results: dict, path: str | Path) -> None:
    """Write a PNG of test accuracy (%) against epoch, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, hist in results["history"].items():
        epochs = range(1, len(hist) + 1)
        ax.plot(epochs, [100 * a for a in hist], marker="o", label=LABELS.get(method, method))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    sizes = "-".join(str(s) for s in results.get("sizes", []))
    k = results.get("config", {}).get("hardware", {}).get("mapping", {}).get("mtjs_per_synapse", "?")
    ax.set_title(f"{results['dataset']} {sizes}, k = {k}, seed {results['seed']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
