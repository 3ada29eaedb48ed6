"""A crossbar's own state as the flat tensors of a module's ``state_dict``, and moving an array.

The array (:class:`~mtjxbar.crossbar.Crossbar`) is the one source of truth for its cells: it replaces its
tensors when it is programmed or given new parameters, and it keeps derived tables in step with them.
A layer therefore does not register the array's tensors as buffers (they would go stale at the next
``set_states``); it translates the array's own :meth:`~mtjxbar.crossbar.Crossbar.state_dict` to flat
tensors on save and hands them back through :meth:`~mtjxbar.crossbar.Crossbar.load_state_dict` on load.

Keys (under the layer's prefix): ``states`` (bool, rows x cols), ``cell_<name>`` for every per-cell
parameter, ``stuck_p`` / ``stuck_ap`` (bool; all False without faults) and ``table_span_read`` /
``table_span_write`` (float64 scalars, NaN where the table is not built): the spans of the uniform array's
interpolation tables, which depend on the voltages and currents seen so far, so a restored array reads and
reports exactly as the saved one did.
"""

from __future__ import annotations

import math

import torch

__all__ = ["array_tensors", "load_array", "array_keys", "moved_array"]


def array_keys(xb) -> list[str]:
    """The keys :func:`array_tensors` returns for ``xb``."""
    return ["states", *(f"cell_{name}" for name in xb.params), "stuck_p", "stuck_ap", "table_span_read",
            "table_span_write"]


def _span(value: float | None) -> torch.Tensor:
    return torch.tensor(math.nan if value is None else float(value), dtype=torch.float64)


def array_tensors(xb) -> dict[str, torch.Tensor]:
    """The array's state as flat tensors (copies)."""
    state = xb.state_dict()
    stuck = state["stuck"]
    none = torch.zeros(xb.rows, xb.cols, dtype=torch.bool, device=xb.device)
    out = {"states": state["states"]}
    out.update({f"cell_{name}": value for name, value in state["params"].items()})
    out["stuck_p"], out["stuck_ap"] = (none, none.clone()) if stuck is None else (stuck["p"], stuck["ap"])
    spans = state["table_spans"]
    out["table_span_read"], out["table_span_write"] = _span(spans["read"]), _span(spans["write"])
    return out


def load_array(xb, tensors: dict[str, torch.Tensor]) -> None:
    """Restore :func:`array_tensors` output into ``xb`` (any device: the array moves what it is given to its
    own); raises ValueError on a shape mismatch."""
    stuck_p, stuck_ap = tensors["stuck_p"].bool(), tensors["stuck_ap"].bool()
    stuck = None if not bool(stuck_p.any() or stuck_ap.any()) else {"p": stuck_p, "ap": stuck_ap}
    states = tensors["states"]
    if tuple(states.shape) != (xb.rows, xb.cols):
        raise ValueError(f"states of shape {tuple(states.shape)}: expected ({xb.rows}, {xb.cols})")

    def span(key: str) -> float | None:
        value = float(tensors[key])
        return None if math.isnan(value) else value

    xb.load_state_dict({"states": states.bool(), "params": {name: tensors[f"cell_{name}"] for name in xb.params},
                        "stuck": stuck, "table_spans": {"read": span("table_span_read"),
                                                        "write": span("table_span_write")}})


def moved_array(xb, build):
    """A copy of array ``xb`` built by ``build()`` (a fresh array of the same configs on the target device
    and dtype): its state, cycle-to-cycle spread, sampler settings and event sink carried over."""
    new = build()
    load_array(new, array_tensors(xb))
    new.set_c2c(xb.c2c)
    new.events, new.sampler = xb.events, xb.sampler
    new.sparse_max_events_per_cell, new.host_events_max = xb.sparse_max_events_per_cell, xb.host_events_max
    return new
