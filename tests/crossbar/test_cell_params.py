"""Changing per-cell parameters goes through set_cell_params, which drops the uniform fast path."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.crossbar import CELL_PARAMETERS, Crossbar
from mtjxbar.device import MTJParams


def test_set_cell_params_switches_to_the_per_cell_path():
    dev = MTJParams()
    xb = Crossbar(3, 2, dev, dtype=torch.float64)
    xb.set_states(torch.ones(3, 2, dtype=torch.bool))  # all parallel: G = 1 / (R_P + r_access)
    v = torch.tensor([0.1, 0.0, 0.0], dtype=torch.float64)
    before = xb.read(v)
    params = {n: xb.params[n] for n in CELL_PARAMETERS}
    r_p = params["r_p"].clone()
    r_p[0, 1] = 2 * dev.r_p
    xb.set_cell_params(params | {"r_p": r_p})
    after = xb.read(v)
    r_on = xb.array.r_access
    assert float(after[0]) == pytest.approx(float(before[0]), rel=1e-12)
    assert float(after[1]) == pytest.approx(0.1 / (2 * dev.r_p + r_on), rel=1e-12)


def test_set_cell_params_rejects_missing_and_wrong_shapes():
    xb = Crossbar(3, 2, MTJParams())
    with pytest.raises(ValueError, match="expected"):
        xb.set_cell_params({"r_p": torch.ones(3, 2)})
    params = {n: xb.params[n] for n in CELL_PARAMETERS}
    with pytest.raises(ValueError, match="r_p of shape"):
        xb.set_cell_params(params | {"r_p": torch.ones(4, 2)})
