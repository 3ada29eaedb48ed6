"""Switching probability against current for several pulse widths (thermal and precessional regimes)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..device.params import DIRECTIONS, MTJParams
from ..device.switching import current_for_probability, switching_probability

__all__ = ["plot_switching_curves", "DIRECTION_LABELS"]

DIRECTION_LABELS = {"p2ap": "P \u2192 AP", "ap2p": "AP \u2192 P"}
P_FLOOR = 1e-6  # lower limit of the log-scale panels


def _current_grid(params: MTJParams, directions: tuple[str, ...], widths: tuple[float, ...]) -> torch.Tensor:
    """0 A up to 10 % beyond the current that switches the shortest pulse with probability 0.999."""
    top = 0.0
    for direction in directions:
        kw = params.switching(direction)
        i_max = current_for_probability(torch.tensor(0.999, dtype=torch.float64),
                                        torch.tensor(min(widths), dtype=torch.float64), **kw).item()
        top = max(top, 1.1 * i_max, 1.5 * kw["ic0"])
    return torch.linspace(0.0, top, 1501, dtype=torch.float64)


def plot_switching_curves(
    params: MTJParams,
    path: str | Path,
    widths: tuple[float, ...] = (1e-9, 3e-9, 10e-9, 100e-9),
    direction: str = "ap2p",
) -> None:
    """Write a PNG of switching probability against current (uA), one line per pulse width.

    ``direction`` is ``'p2ap'``, ``'ap2p'`` or ``'both'``; each direction drawn gets a column with a linear
    panel (top) and a log-probability panel from 1e-6 to 1 (bottom), where the exponential thermal tail
    below Ic0 and the steep precessional rise above it are both visible. Dashed lines mark Ic0.
    """
    if direction == "both":
        directions = DIRECTIONS
    elif direction in DIRECTIONS:
        directions = (direction,)
    else:
        raise ValueError(f"direction = {direction!r}: must be one of {DIRECTIONS + ('both',)}")
    if not widths or any(w <= 0 for w in widths):
        raise ValueError(f"widths = {widths!r}: need at least one pulse width, all > 0 s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    currents = _current_grid(params, directions, tuple(widths))
    fig, axes = plt.subplots(2, len(directions), figsize=(5.2 * len(directions), 7.2), sharex=True,
                             squeeze=False)
    for col, d in enumerate(directions):
        kw = params.switching(d)
        lin, log = axes[0, col], axes[1, col]
        for w in widths:
            p = switching_probability(currents, torch.tensor(w, dtype=torch.float64), **kw).numpy()
            label = f"{w * 1e9:g} ns"
            lin.plot(currents.numpy() * 1e6, p, label=label)
            log.plot(currents.numpy() * 1e6, p.clip(min=P_FLOOR * 1e-3), label=label)
        for ax in (lin, log):
            ax.axvline(kw["ic0"] * 1e6, color="0.3", linestyle="--", linewidth=1.0,
                       label=f"$I_{{c0}}$ = {kw['ic0'] * 1e6:.1f} \u00b5A")
            ax.grid(alpha=0.3)
        lin.set_ylim(-0.02, 1.02)
        lin.set_ylabel("switching probability")
        lin.set_title(f"{DIRECTION_LABELS[d]}: $\\Delta$ = {kw['delta']:g}, "
                      f"$\\tau_0$ = {kw['tau0'] * 1e9:g} ns")
        lin.legend(title="pulse width", fontsize="small", loc="lower right")
        log.set_yscale("log")
        log.set_ylim(P_FLOOR, 1.0)
        log.set_xlim(0.0, currents[-1].item() * 1e6)
        log.set_ylabel("switching probability (log scale)")
        log.set_xlabel("current (\u00b5A)")
    fig.suptitle("MTJ switching probability vs current (thermal below $I_{c0}$, precessional above)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
