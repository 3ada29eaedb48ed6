"""The coincidence pulse encoder: a rank-1 update request -> a :class:`CoincidencePlan` (stochastic pulses).

Why: the current scheme (:mod:`.encoder`) codes ``|delta|`` as a column current in the thermal regime,
where the switching rate ``exp(-Delta (1 - I/Ic0)^2) / tau0`` is exponential in ``I/Ic0``; a spread of Ic0
from cell to cell then gives every cell its own learning rate, spread over orders of magnitude. Here every
pulse is the same: current ``I_k = overdrive * Ic0_k`` (nominal Ic0 of polarity k) for ``slot_width``, well
above threshold (precessional regime), where a cell switches with a probability ``p0`` close to 1 that
depends on its own Ic0 only weakly. The update is coded in *how often* a cell sees such a pulse, as in
Gokmen & Vlasov's stochastic pulse coincidence (Front. Neurosci. 10, 333 (2016)).

The request is ``dW_ij = r_i c_j``; as in the current scheme each MTJ's target probability is
``T_ij = a_i T_j`` with ``a_i = |r_i| / max|r|`` and ``T_j = min(max|r| |c_j| / swing, p_max)`` (columns
below ``p_min`` idle), toward ``sign(r_i c_j)``. Encoding, with ``BL = slots`` and ``p0_k`` the nominal
device's switching probability of one pulse of polarity ``k``:

* the largest-|r| row must switch with exactly ``T_j``: over BL independent slots that asks for a
  per-slot coincidence probability ``x_kj`` with ``1 - (1 - x_kj p0_k)^BL = T_j``, i.e.
  ``x_kj = (1 - (1 - T_j)^(1/BL)) / p0_k``;
* it is split between rows and columns as in Gokmen & Vlasov, balanced so that the most likely row and
  the most likely column fire equally often: ``g = sqrt(max x)``, row ``i`` fires with ``a_i g`` and
  column ``j`` in polarity ``k`` with ``x_kj / g`` (both <= 1);
* so cell (i, j) sees a coincidence in each slot with probability ``a_i x_kj`` and switches (nominal
  device) with ``1 - (1 - a_i x_kj p0_k)^BL``.

Approximation: that is the request ``a_i T_j`` exactly for the largest row (a_i = 1), for every row when
``BL = 1``, and as ``T -> 0``. Otherwise, with ``y = x p0 = 1 - (1 - T)^(1/BL)``, the realised probability
exceeds ``a T`` by a relative ``(1 - a) y (BL - 1) / 2 ~ (1 - a) T (BL - 1) / (2 BL)`` to first order (the
current scheme's ``(1 - a) T / 2`` as BL -> infinity; below 1 % for T < 0.02), i.e. ``BL a x p0`` versus
``1 - (1 - a x p0)^BL``. A cell whose own parameters give ``p0_ij != p0_k`` is scaled by about
``p0_ij / p0_k`` (small T): the whole point is to make that ratio close to 1 (overdrive, slot width).
Cells of one row (or column) share its firings, so the flips of one update are correlated along rows and
columns (the fewer the slots, the more); their expectations are not affected.

The streams are random: :meth:`CoincidencePlan.draw` draws them from a ``torch.Generator``; the array's
writer does so with the write generator when the plan arrives undrawn (``generator=None`` here).
"""

from __future__ import annotations

import math

import torch

from ..crossbar.plan import CoincidencePlan
from ..device import MTJParams, switching_probability
from .config import EncoderConfig

__all__ = ["CoincidenceEncoder", "pulse_probabilities"]


def pulse_probabilities(config: EncoderConfig, device_params: MTJParams) -> tuple[tuple[float, float],
                                                                                  tuple[float, float]]:
    """``((I_P, I_AP), (p0_P, p0_AP))``: the coincidence pulse current (A) of each polarity (TO_P, TO_AP)
    and the probability that one pulse of ``slot_width`` switches a nominal cell."""
    dev = device_params
    currents, probs = [], []
    for direction in ("ap2p", "p2ap"):  # TO_P switches AP -> P
        kw = dev.switching(direction)
        current = config.overdrive * kw["ic0"]
        currents.append(current)
        probs.append(float(switching_probability(current, config.slot_width, **kw)))
    return (currents[0], currents[1]), (probs[0], probs[1])


class CoincidenceEncoder:
    """Turns update requests into :class:`CoincidencePlan` s for one array (nominal device parameters)."""

    def __init__(self, config: EncoderConfig, device_params: MTJParams) -> None:
        self.config, self.device_params = config, device_params
        self.currents, self.p0 = pulse_probabilities(config, device_params)
        need = -math.expm1(math.log1p(-config.p_max) / config.slots)  # per-slot probability the largest T needs
        if min(self.p0) < need:
            raise ValueError(
                f"encoder.overdrive = {config.overdrive} and encoder.slot_width = {config.slot_width:g} s give a "
                f"pulse that switches a nominal cell with only {min(self.p0):.3g}; p_max = {config.p_max} over "
                f"slots = {config.slots} needs >= {need:.3g} per pulse: raise overdrive, slot_width or slots")
        self._cache: dict = {}

    def _constants(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        key = (device, dtype)
        if key not in self._cache:
            self._cache[key] = (torch.tensor(self.currents, dtype=dtype, device=device),
                                torch.tensor(self.p0, dtype=torch.float64, device=device)[:, None])
        return self._cache[key]

    def encode(self, row_factor: torch.Tensor, col_factor: torch.Tensor, swing: float,
               rows: tuple[torch.Tensor, torch.Tensor, float] | None = None,
               generator: torch.Generator | None = None) -> CoincidencePlan:
        """Plan for ``dW_ij = row_factor[i] * col_factor[j]`` (see the module doc); ``rows``: the request's
        :meth:`PulseEncoder.row_pulses` (widths from which ``a_i = width_i / pulse_width``, signs, max |r|);
        ``generator``: draw the pulse streams now (else the writer draws them)."""
        cfg = self.config
        if rows is None:
            r_abs = row_factor.abs()
            r_max = float(r_abs.max()) if r_abs.numel() else 0.0
            a = r_abs / r_max if r_max > 0 else torch.zeros_like(r_abs)
            row_sign = torch.sign(row_factor)
        else:
            widths, row_sign, r_max = rows
            a = torch.clamp(widths / cfg.pulse_width, max=1.0)
        currents, p0 = self._constants(col_factor.device, col_factor.dtype)
        target = torch.clamp(col_factor.abs().double() * (r_max / swing), max=cfg.p_max)  # T_j
        target = torch.where(target >= max(cfg.p_min, 1e-300), target, 0.0)
        if not r_max > 0:
            target = torch.zeros_like(target)
        x = -torch.expm1(torch.log1p(-target) / cfg.slots)[None, :] / p0  # (2, cols) per-slot, largest row
        x_max = float(x.max()) if x.numel() else 0.0
        g = math.sqrt(x_max) if x_max > 0 else 1.0
        plan = CoincidencePlan(row_prob=a.double() * g,
                               row_sign=row_sign.to(col_factor.dtype), col_prob=torch.clamp(x / g, max=1.0),
                               col_sign=torch.sign(col_factor), currents=currents, width=cfg.slot_width,
                               slots=cfg.slots)
        return plan if generator is None else plan.draw(generator)
