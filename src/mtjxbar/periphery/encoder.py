"""The pulse encoder: a rank-1 weight update request -> row pulse widths and column currents.

The training rule asks for ``dW_ij = r_i * c_j`` (signed; for SGD ``r = x``, ``c = -lr * gain * delta``).
A cell can only flip; every MTJ of a synapse sees the same
pulses, and all of them flipping moves the weight by ``swing`` (``SynapseMapping.full_swing``, 2 for both
schemes), so the target switching probability of each MTJ is ``p_ij = min(|r_i c_j| / swing, p_max)``
toward the side of ``sign(r_i c_j)``: the expected change of the synapse equals the request while all its
MTJs can still move that way (for k = 1 this is the request divided by the change one flip makes).

Encoding (every cell of the array at once, 4 phases at most whatever the array size: rows split by
the sign of ``r``, times the two polarities):

* row ``i`` gets the pulse width ``t_i = pulse_width * a_i`` with ``a_i = |r_i| / max|r|``;
* column ``j`` gets the current ``I_j`` that switches a cell with exactly ``q_j = min(max|r| |c_j| /
  swing, p_max)`` over the full width ``pulse_width`` (inverse of the device model, nominal
  parameters of the direction the phase drives).

The row holding the largest ``|r|`` therefore gets exactly its target. In the thermal regime a cell on
another row switches with ``1 - (1 - q_j)^(a_i)`` instead of ``a_i q_j``: exact as ``q_j -> 0``,
over-shooting by a relative ``(1 - a) q / 2`` to first order (below 1 % for q < 0.02, the bulk of
training; +17 % at q = 0.5, a = 0.5, and up to 2 ln 2 - 1 = +39 % as a -> 0 at q = 0.5). Requests above
``p_max`` are clipped per column. The error is measured by ``tests/periphery/test_encoder.py`` and in
the README.
"""

from __future__ import annotations

import torch

from ..crossbar import TO_AP, TO_P, UpdatePlan, WritePhase
from ..device import MTJParams, current_for_probability
from .config import EncoderConfig

__all__ = ["PulseEncoder"]


class PulseEncoder:
    """Turns update requests into :class:`UpdatePlan` s for one array (nominal device parameters)."""

    def __init__(self, config: EncoderConfig, device_params: MTJParams) -> None:
        self.config = config
        self.device_params = device_params

    def column_currents(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Currents (A) per polarity that switch with probability ``q`` over the full pulse width
        (0 where ``q < p_min``): both polarities in one evaluation of the exact device inverse."""
        dev = self.device_params
        q = torch.clamp(q, max=self.config.p_max).double()
        ic0 = torch.tensor([[dev.ic0_ap2p], [dev.ic0_p2ap]], dtype=torch.float64, device=q.device)
        tau0 = torch.tensor([[dev.tau0_ap2p], [dev.tau0_p2ap]], dtype=torch.float64, device=q.device)
        both = current_for_probability(q.expand(2, -1), self.config.pulse_width, ic0=ic0, tau0=tau0,
                                       delta=dev.delta, n=dev.n_exponent, tau_d=dev.tau_d)
        both = torch.where(q >= max(self.config.p_min, 1e-300), both, torch.zeros_like(both))
        return {TO_P: both[0], TO_AP: both[1]}

    def encode(self, row_factor: torch.Tensor, col_factor: torch.Tensor, swing: float) -> UpdatePlan:
        """Plan for ``dW_ij = row_factor[i] * col_factor[j]``; ``col_factor`` is per physical column with
        the column sign already applied (a positive value asks the column's conductance to rise)."""
        r_max = row_factor.abs().max()
        zero_rows = torch.zeros_like(row_factor)
        zero_cols = torch.zeros_like(col_factor)
        if r_max <= 0 or not bool((col_factor != 0).any()):
            return UpdatePlan(phases=())
        widths = self.config.pulse_width * row_factor.abs() / r_max
        q = (r_max * col_factor.abs()) / swing
        currents = {pol: c.to(col_factor.dtype) for pol, c in self.column_currents(q).items()}
        phases = []
        for row_sign in (1.0, -1.0):
            rows_on = torch.sign(row_factor) == row_sign
            if not bool(rows_on.any()):
                continue
            row_widths = torch.where(rows_on, widths, zero_rows)
            for polarity, col_sign in ((TO_P, row_sign), (TO_AP, -row_sign)):
                cols_on = torch.sign(col_factor) == col_sign
                if not bool(cols_on.any()):
                    continue
                phases.append(WritePhase(row_widths=row_widths,
                                         col_currents=torch.where(cols_on, currents[polarity], zero_cols),
                                         polarity=polarity))
        return UpdatePlan(phases=tuple(phases))
