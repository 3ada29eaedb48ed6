"""The pulse encoder: a rank-1 weight update request -> row pulse widths and column currents.

This is ``EncoderConfig.scheme = "current"`` (the default); ``"coincidence"`` (fixed strong pulses fired
at random, robust to a spread of Ic0) is :mod:`.coincidence`, reached through the same :class:`PulseEncoder`.

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

from ..crossbar.plan import CoincidencePlan, OuterPlan
from ..device import MTJParams, current_for_probability
from ..device.switching import thermal_current_for_probability, thermal_reach
from .coincidence import CoincidenceEncoder
from .config import EncoderConfig

__all__ = ["PulseEncoder"]


class PulseEncoder:
    """Turns update requests into :class:`OuterPlan` s for one array (nominal device parameters); with
    ``config.scheme == "coincidence"`` into :class:`CoincidencePlan` s (:mod:`.coincidence`)."""

    def __init__(self, config: EncoderConfig, device_params: MTJParams) -> None:
        self.config = config
        self.device_params = device_params
        self.coincidence = CoincidenceEncoder(config, device_params) if config.scheme == "coincidence" else None
        dev = device_params
        # Whether every current the encoder can ask for stays at or below Ic0 (then a closed form suffices)
        reach = min(thermal_reach(config.pulse_width, tau0=t, delta=dev.delta) for t in (dev.tau0_ap2p, dev.tau0_p2ap))
        # (the coincidence scheme drives above Ic0 by design: never thermal-only, so no thermal fast path of
        # the current scheme, e.g. a fused training loop, mistakes its plans for the current scheme's)
        self.thermal_only = config.p_max <= reach and self.coincidence is None
        self._pol = {}  # per device: (ic0, tau0) as (2, 1) float64 tensors, TO_P row first

    def _polarity_params(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if device not in self._pol:
            dev = self.device_params
            ic0, tau0 = (torch.tensor([[a], [b]], dtype=torch.float64, device=device)
                         for a, b in ((dev.ic0_ap2p, dev.ic0_p2ap), (dev.tau0_ap2p, dev.tau0_p2ap)))
            self._pol[device] = (ic0, tau0, torch.log(self.config.pulse_width / tau0))
        return self._pol[device]

    def column_currents(self, q: torch.Tensor) -> torch.Tensor:
        """Currents (A), shape (2, cols): row 0 for ``TO_P``, row 1 for ``TO_AP``, that switch with probability
        ``q`` over the full pulse width (0 where ``q < p_min``); both polarities in one evaluation of the
        exact device inverse. The current scheme only (batched chips use it directly)."""
        if self.coincidence is not None:
            raise ValueError("encoder.scheme = 'coincidence': column currents belong to the current scheme "
                             "(batched chips support only scheme = 'current' for now)")
        dev, cfg = self.device_params, self.config
        q = torch.clamp(q.double(), max=cfg.p_max)
        ic0, tau0, log_reach = self._polarity_params(q.device)
        if self.thermal_only:
            both = thermal_current_for_probability(q, cfg.pulse_width, ic0=ic0, tau0=tau0, delta=dev.delta,
                                                   n=dev.n_exponent, log_reach=log_reach)
        else:
            both = current_for_probability(q.expand(2, -1), cfg.pulse_width, ic0=ic0, tau0=tau0,
                                           delta=dev.delta, n=dev.n_exponent, tau_d=dev.tau_d)
        return torch.where(q >= max(cfg.p_min, 1e-300), both, 0.0)

    def row_pulses(self, row_factor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The row half of :meth:`encode` for one request or a batch (rows last): widths (s), signs and
        ``max |r|`` (shape (..., 1)); computed for a batch of inputs at once by the training loop."""
        r_abs = row_factor.abs()
        r_max = r_abs.amax(dim=-1, keepdim=True)
        widths = r_abs * (self.config.pulse_width / torch.clamp(r_max, min=torch.finfo(r_abs.dtype).tiny))
        return widths, torch.sign(row_factor), r_max

    def encode(self, row_factor: torch.Tensor, col_factor: torch.Tensor, swing: float,
               rows: tuple[torch.Tensor, torch.Tensor, float] | None = None,
               generator: torch.Generator | None = None) -> OuterPlan | CoincidencePlan:
        """Plan for ``dW_ij = row_factor[i] * col_factor[j]``; ``col_factor`` is per physical column with
        the column sign already applied (a positive value asks the column's conductance to rise).
        ``rows``: this request's :meth:`row_pulses` if already computed (``row_factor`` is then unused),
        with ``max |r|`` as a float. ``generator``: the coincidence scheme's pulse streams are drawn from it
        now (None: the array's writer draws them from the write generator); unused by the current scheme."""
        if self.coincidence is not None:
            return self.coincidence.encode(row_factor, col_factor, swing, rows, generator)
        if rows is None:
            widths, row_sign, r_max = self.row_pulses(row_factor)
            r_max = float(r_max)
        else:
            widths, row_sign, r_max = rows
        if not r_max > 0:
            zeros = torch.zeros_like(col_factor)
            return OuterPlan(row_widths=torch.zeros_like(widths), row_sign=torch.zeros_like(widths),
                             col_sign=zeros, col_currents=torch.stack([zeros, zeros]))
        currents = self.column_currents(col_factor.abs() * (r_max / swing)).to(col_factor.dtype)
        return OuterPlan(row_widths=widths, row_sign=row_sign, col_sign=torch.sign(col_factor),
                         col_currents=currents)
