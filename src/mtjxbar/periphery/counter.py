"""The digital side of the buffer-and-counter synapse: the transfer schedule and the per-row carry.

A synapse of a transfer layer (:class:`~mtjxbar.nn.TransferLinear`, configured by
:class:`~mtjxbar.periphery.config.TransferConfig`) holds only MTJ states: a buffer of ``k`` MTJs and a
counter of ``bits`` one-MTJ tiles (bit ``m`` has significance ``2^m``). Everything here is what the
periphery computes between a column read and the writes that follow it, per row or per column, from bits
it has just read: no per-synapse memory outside the arrays. The functions are pure and vectorised over
rows.

* **Schedule**: every ``V = samples_per_sweep`` samples each of the layer's ``n`` output columns is
  transferred once, in order, cycling: after the global sample ``s`` (0-based, counted over all epochs)
  the columns ``floor(s n / V) .. floor((s + 1) n / V) - 1`` (mod ``n``) are transferred. The schedule is a
  function of the sample count alone, so a checkpoint needs no schedule state.
* **Buffer value** ``A`` in [-1, 1]: for ``k`` >= 2 the mean of the MTJs' ``+-1`` (P = +1), balanced (half
  P, half AP) = 0; for ``k = 1`` the MTJ against a per-column reference ``r = +-1``: ``A = (b - r) / 2`` in
  {-1, 0, +1}, where the reference alternates every time the column is transferred (one MTJ can only
  register a move away from its reference; alternating lets both directions through, one sweep each).
* **Two-bias sense** (``TransferConfig.sense = "two_bias"``): a cell reads as AP when the ratio of its own
  conductances at the two read voltages, ``G(v2) / G(v1)``, exceeds the midpoint between P's ratio (1: an
  ohmic junction and transistor) and the nominal AP cell's (above 1: R_AP falls with bias); each cell is
  its own reference, so R_P spread cannot make it misread (only a TMR or v_h spread large enough to flatten
  its bias dependence can).
* **Carry**: rows whose ``|A|`` reaches the threshold add ``sign(A) * step`` to their counter ``u``,
  clipped to ``0 .. L``; the changed bits are written and those buffer cells reset.
"""

from __future__ import annotations

import torch

from ..device import physics

__all__ = ["transfer_columns", "transfers_of_column", "column_reference", "buffer_value", "counter_value",
           "counter_bits", "increments", "carry", "balanced_states", "two_bias_ratio", "two_bias_midpoint"]


def transfer_columns(sample: int, n_cols: int, samples_per_sweep: int) -> list[int]:
    """Columns transferred right after global sample ``sample`` (0-based), in order."""
    if sample < 0:
        raise ValueError(f"sample = {sample}: must be >= 0")
    first, end = (sample * n_cols) // samples_per_sweep, ((sample + 1) * n_cols) // samples_per_sweep
    return [c % n_cols for c in range(first, end)]


def transfers_of_column(col: int, samples: int, n_cols: int, samples_per_sweep: int) -> int:
    """How many times column ``col`` has been transferred after ``samples`` samples (all epochs)."""
    done = (samples * n_cols) // samples_per_sweep  # transfers so far, all columns
    return max(done - col + n_cols - 1, 0) // n_cols


def column_reference(col: int | torch.Tensor, transfers: int | torch.Tensor) -> torch.Tensor:
    """A one-MTJ buffer's reference state (+1 P / -1 AP) of column ``col`` after ``transfers`` transfers of it:
    +1 for even columns at the start, -1 for odd ones, inverted by every transfer."""
    col, transfers = torch.as_tensor(col), torch.as_tensor(transfers)
    return 1.0 - 2.0 * ((col + transfers) % 2).to(torch.float32)


def buffer_value(parallel: torch.Tensor, reference: torch.Tensor | float | None = None) -> torch.Tensor:
    """Buffer value per row from its MTJ states ``parallel`` (k, rows) (bool, P = True): the mean of
    ``+-1`` for k >= 2; ``(b - reference) / 2`` for k = 1."""
    b = parallel.to(torch.float32) * 2.0 - 1.0
    if parallel.shape[0] == 1:
        if reference is None:
            raise ValueError("a one-MTJ buffer is read against its column reference: pass reference")
        return (b[0] - reference) * 0.5
    return b.mean(dim=0)


def counter_value(bits: torch.Tensor) -> torch.Tensor:
    """``u = sum_m 2^m bit_m`` per row from ``bits`` (nbits, rows) (bool or 0/1); int64."""
    weights = 2 ** torch.arange(bits.shape[0], device=bits.device, dtype=torch.int64)
    return (bits.to(torch.int64) * weights[:, None]).sum(dim=0)


def counter_bits(u: torch.Tensor, nbits: int) -> torch.Tensor:
    """The bits (nbits, rows) bool of counter values ``u`` (rows,) in 0 .. 2^nbits - 1."""
    shifts = torch.arange(nbits, device=u.device, dtype=torch.int64)
    return ((u.to(torch.int64)[None, :] >> shifts[:, None]) & 1).bool()


def increments(value: torch.Tensor, threshold: float, step: int) -> torch.Tensor:
    """Counter change per row (int64): ``sign(A) * step`` where ``|A| >= threshold``, else 0."""
    hit = value.abs() >= threshold - 1e-6
    return torch.where(hit, torch.sign(value).to(torch.int64) * step, torch.zeros_like(value, dtype=torch.int64))


def carry(bits: torch.Tensor, inc: torch.Tensor) -> torch.Tensor:
    """New bits after adding ``inc`` (rows,) to the counters read as ``bits`` (nbits, rows), clipped to
    ``0 .. 2^nbits - 1`` (a saturating counter: the per-row adder of the periphery)."""
    nbits = bits.shape[0]
    u = (counter_value(bits) + inc.to(torch.int64)).clamp(0, 2**nbits - 1)
    return counter_bits(u, nbits)


def balanced_states(k: int, rows: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The balanced buffer (k, rows): the first k/2 MTJs P, the rest AP (value 0)."""
    if k < 2 or k % 2:
        raise ValueError(f"k = {k}: a balanced buffer needs an even number of MTJs")
    return (torch.arange(k, device=device) < k // 2)[:, None].expand(k, rows).clone()


def two_bias_ratio(r_p: float, tmr0: float, v_h: float, r_access: float, v1: float, v2: float) -> float:
    """``G_AP(v2) / G_AP(v1)`` of an AP junction in series with its access transistor at applied voltages
    ``v1 < v2`` (the junction voltage solved self-consistently, as the arrays read it); P's ratio is 1."""
    # G_AP(v) R_P = g / (1 + (r_access / R_P) g), g the junction's conductance times R_P: the ratio written so
    # that neither r_access / R_P nor its inverse is formed where it could overflow (any R_P the config allows)
    g1, g2 = (physics.ap_conductance(physics.junction_voltage(v, r_p, tmr0, v_h, r_access), 1.0, tmr0, v_h)
              for v in (v1, v2))
    if r_access <= r_p:
        x = r_access / r_p
        return g2 * (1.0 + x * g1) / (g1 * (1.0 + x * g2))
    y = r_p / r_access
    return g2 * (y + g1) / (g1 * (y + g2))


def two_bias_midpoint(r_p: float, tmr0: float, v_h: float, r_access: float, v1: float, v2: float) -> float:
    """The periphery's decision level for the two-bias sense: halfway between P's conductance ratio (1)
    and the nominal AP cell's (:func:`two_bias_ratio`); a cell whose ratio exceeds it reads as AP."""
    return 0.5 * (1.0 + two_bias_ratio(r_p, tmr0, v_h, r_access, v1, v2))
