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
``p_max`` are clipped per column. The error is measured by ``tests/periphery/test_encoder.py`` and reported in
docs/update.md.

**Drive limits** (1T1MTJ arrays, :meth:`PulseEncoder.limit_currents`): a column's current is at most what its
driver can push through a cell in the state the pulse switches from and its access transistor,
``min(I_sat, I(V_compliance))`` (:func:`driver_limits`; towards P the AP cell's bias-dependent resistance);
a current the request asks beyond it is clipped (and counted, :attr:`PulseEncoder.clipped`), so the
cell switches less often than asked. :func:`check_drivers` refuses hardware whose writes can never switch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..crossbar.plan import CoincidencePlan, OuterPlan, OuterPlans
from ..device import MTJParams, current_for_probability, physics, switching_probability
from ..device.switching import thermal_current_for_probability, thermal_reach
from .coincidence import CoincidenceEncoder, pulse_probabilities
from .config import EncoderConfig
from .encode_kernel import encode_thermal

__all__ = ["PulseEncoder", "driver_limits", "check_drivers"]


def driver_limits(dev: MTJParams, array) -> tuple[tuple[float, float], tuple[str, str]]:
    """``((I_to_P, I_to_AP), (field, field))``: the largest current (A) a 1T1MTJ write can drive through a cell
    it can switch, towards P (an AP cell: ``I (R_AP(V) + r_access) = V_compliance``) and towards AP (a P cell:
    ``V_compliance / (R_P + r_access)``), at most the access transistor's saturation current; and the
    ``hardware.array`` field that sets each (``driver_compliance_voltage`` or ``access_saturation_current``)."""
    v_c, i_sat, r_on = array.driver_compliance_voltage, array.access_saturation_current, array.r_access
    lo, hi = 0.0, v_c / r_on if r_on > 0 else v_c / dev.r_p
    for _ in range(200):  # I (R_AP(I) + r_on) rises with I
        mid = 0.5 * (lo + hi)
        if physics.ap_voltage_at_current(mid, dev.r_p, dev.tmr0, dev.v_h) + mid * r_on > v_c:
            hi = mid
        else:
            lo = mid
    by_voltage = (lo, v_c / (dev.r_p + r_on))
    limits = tuple(min(i_sat, i) for i in by_voltage)
    fields = tuple("access_saturation_current" if i_sat <= i else "driver_compliance_voltage" for i in by_voltage)
    return limits, fields


def check_drivers(hardware) -> None:
    """Refuse 1T1MTJ hardware (an ``nn.HardwareConfig``) whose writes can never switch, or whose fixed pulses
    ask for more current than the drivers deliver: the current scheme's largest deliverable current must
    switch a nominal cell with at least ``p_min`` over a full pulse in both directions; the coincidence
    scheme's pulses and a transfer layer's carry / reset pulses must be deliverable. The error names the
    field and the largest reachable current."""
    array, dev, enc = hardware.array, hardware.device, hardware.encoder
    if array.kind != "1t1mtj":
        return
    (limits, fields) = driver_limits(dev, array)
    names = ("towards P (AP -> P)", "towards AP (P -> AP)")
    for k, direction in enumerate(("ap2p", "p2ap")):
        limit, name = limits[k], f"hardware.array.{fields[k]}"
        if enc.scheme == "current":
            p = float(switching_probability(torch.tensor(limit, dtype=torch.float64), enc.pulse_width,
                                            **dev.switching(direction)))
            if not p >= max(enc.p_min, 1e-300):
                ic0 = getattr(dev, "ic0_" + direction)
                raise ValueError(f"{name}: writes can never switch {names[k]}: the largest current a write can "
                                 f"drive through a cell is {limit * 1e6:.4g} uA (Ic0 {ic0 * 1e6:.4g} uA), which "
                                 f"switches with probability {p:.3g} in a {enc.pulse_width * 1e9:.3g} ns pulse, "
                                 f"below encoder.p_min = {enc.p_min:g}")
        elif enc.scheme == "coincidence":
            current = pulse_probabilities(enc, dev)[0][k]
            if current > limit * (1.0 + 1e-9):
                raise ValueError(f"{name}: the coincidence pulse {names[k]} asks {current * 1e6:.4g} uA "
                                 f"(hardware.encoder.overdrive = {enc.overdrive:g} x Ic0), more than the "
                                 f"{limit * 1e6:.4g} uA a write can drive through a cell")
        transfer = getattr(hardware, "transfer", None)
        if transfer is not None and transfer.enabled:
            current = transfer.carry_overdrive * getattr(dev, "ic0_" + direction)
            if current > limit * (1.0 + 1e-9):
                raise ValueError(f"{name}: the transfer's carry / reset pulse {names[k]} asks {current * 1e6:.4g} "
                                 f"uA (hardware.transfer.carry_overdrive = {transfer.carry_overdrive:g} x Ic0), "
                                 f"more than the {limit * 1e6:.4g} uA a write can drive through a cell")


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
        self.limits = (math.inf, math.inf)  # largest column current (A) per polarity (limit_currents)
        self.clipped = 0  # column currents clipped to the limits so far (both polarities, every update)
        self._limit_cache: dict = {}
        self._kernel_constants: tuple | None = None  # (ic0, log_reach, floor, limits, as array) for encode_thermal

    def limit_currents(self, array) -> None:
        """Clip column currents to what the drivers deliver through a switchable cell of ``array`` (an
        ``ArrayConfig``; 1T1MTJ only, :func:`driver_limits`)."""
        if array.kind == "1t1mtj":
            self.limits = driver_limits(self.device_params, array)[0]

    def _polarity_params(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if device not in self._pol:
            dev = self.device_params
            ic0, tau0 = (torch.tensor([[a], [b]], dtype=torch.float64, device=device)
                         for a, b in ((dev.ic0_ap2p, dev.ic0_p2ap), (dev.tau0_ap2p, dev.tau0_p2ap)))
            self._pol[device] = (ic0, tau0, torch.log(self.config.pulse_width / tau0))
        return self._pol[device]

    def _limit_tensor(self, device: torch.device) -> torch.Tensor:
        """:attr:`limits` as a (2, 1) float64 tensor on ``device`` (built once per device and limits)."""
        key = (device, self.limits)
        if key not in self._limit_cache:
            self._limit_cache[key] = torch.tensor(self.limits, dtype=torch.float64, device=device)[:, None]
        return self._limit_cache[key]

    def column_currents(self, q: torch.Tensor) -> torch.Tensor:
        """Currents (A), shape (2, cols): row 0 for ``TO_P``, row 1 for ``TO_AP``, that switch with probability
        ``q`` over the full pulse width (0 where ``q < p_min``); both polarities in one evaluation of the
        exact device inverse. ``q`` may have leading axes, ``(..., cols)`` -> ``(..., 2, cols)`` (elementwise:
        each row as if alone). The current scheme only (batched chips use it directly)."""
        if self.coincidence is not None:
            raise ValueError("encoder.scheme = 'coincidence': column currents belong to the current scheme "
                             "(batched chips support only scheme = 'current' for now)")
        dev, cfg = self.device_params, self.config
        q = torch.clamp(q.double(), max=cfg.p_max).unsqueeze(-2)  # (..., 1, cols) against (2, 1) per polarity
        ic0, tau0, log_reach = self._polarity_params(q.device)
        if self.thermal_only:
            both = thermal_current_for_probability(q, cfg.pulse_width, ic0=ic0, tau0=tau0, delta=dev.delta,
                                                   n=dev.n_exponent, log_reach=log_reach)
        else:
            both = current_for_probability(q.expand(*q.shape[:-2], 2, q.shape[-1]), cfg.pulse_width, ic0=ic0,
                                           tau0=tau0, delta=dev.delta, n=dev.n_exponent, tau_d=dev.tau_d)
        both = torch.where(q >= max(cfg.p_min, 1e-300), both, 0.0)
        if math.isfinite(self.limits[0]) or math.isfinite(self.limits[1]):
            limit = self._limit_tensor(both.device)
            over = both > limit
            if bool(over.any()):
                self.clipped += int(over.sum())
                both = torch.minimum(both, limit)
        return both

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

    def encode_stream(self, row_factors: torch.Tensor, col_factors: torch.Tensor, swing: float,
                      compiled: bool = True) -> OuterPlans:
        """:meth:`encode` of many requests at once (the current scheme): ``dW_p = outer(row_factors[p],
        col_factors[p])`` for every ``p``, as one :class:`OuterPlans` whose plan ``p`` is, number for number,
        ``encode(row_factors[p], col_factors[p], swing)`` (and the clipped currents are counted alike). A
        convolution's output positions go through here together instead of one call each. ``compiled``:
        float32 requests on the CPU to a thermal-only encoder go through :func:`.encode_kernel.encode_thermal`
        (the same plans, a current possibly off in its last bit); False: always the tensor operations."""
        if self.coincidence is not None:
            raise ValueError("encoder.scheme = 'coincidence': encode_stream encodes the current scheme only")
        if compiled and self.thermal_only and row_factors.device.type == "cpu" \
                and row_factors.dtype == col_factors.dtype == torch.float32:
            return self._encode_compiled(row_factors, col_factors, swing)
        widths, row_sign, r_max = self.row_pulses(row_factors)  # r_max (plans, 1)
        live = r_max > 0
        # encode() scales by the Python float r_max / swing, which torch rounds to the tensor's dtype
        scale = (r_max.double() / swing).to(col_factors.dtype)
        currents = self.column_currents(col_factors.abs() * scale).to(col_factors.dtype)
        col_sign = torch.sign(col_factors)
        if not bool(live.all()):  # a request with no row to drive is the empty plan, as in encode()
            zero = torch.zeros((), dtype=col_factors.dtype, device=col_factors.device)
            col_sign, currents = torch.where(live, col_sign, zero), torch.where(live[:, :, None], currents, zero)
        return OuterPlans(row_widths=widths, row_sign=row_sign, col_sign=col_sign, col_currents=currents)

    def _encode_compiled(self, row_factors: torch.Tensor, col_factors: torch.Tensor, swing: float) -> OuterPlans:
        """:meth:`encode_stream` by :func:`.encode_kernel.encode_thermal` (float32, CPU, thermal only)."""
        cfg, dev = self.config, self.device_params
        if self._kernel_constants is None or self._kernel_constants[3] != self.limits:  # as the kernel takes them
            ic0, _, log_reach = self._polarity_params(torch.device("cpu"))
            self._kernel_constants = (ic0.flatten().numpy(), log_reach.flatten().numpy(),
                                      physics.precessional_log_floor(float(dev.delta)), self.limits,
                                      np.array(self.limits))
        ic0, log_reach, floor, _, limits = self._kernel_constants
        plans, rows, cols = row_factors.shape[0], row_factors.shape[1], col_factors.shape[1]
        out = OuterPlans(row_widths=torch.empty(plans, rows), row_sign=torch.empty(plans, rows),
                         col_sign=torch.empty(plans, cols), col_currents=torch.empty(plans, 2, cols))
        self.clipped += encode_thermal(row_factors.detach().numpy(), col_factors.detach().numpy(), cfg.pulse_width,
                                       float(swing), cfg.p_max, max(cfg.p_min, 1e-300), floor, ic0, log_reach,
                                       float(dev.delta), float(dev.n_exponent), limits,
                                       out.row_widths.numpy(), out.row_sign.numpy(), out.col_sign.numpy(),
                                       out.col_currents.numpy())
        return out
