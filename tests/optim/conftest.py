"""What the optimizer tests share: a per-sample training loop, and the save-load-continue check of a model
with its optimizer."""

from __future__ import annotations

import copy

import pytest
import torch

from mtjxbar.optim import InSituSGD


def train(model, opt, x, y, batch: int = 2) -> None:
    """Cross-entropy steps of ``batch`` samples each (a batch of B is B rank-1 writes)."""
    for i in range(0, len(x), batch):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch]).backward()
        opt.step()


def continues_identically(model, fresh, x, y) -> InSituSGD:
    """Train ``model`` on the first half of ``x``, save model and optimizer, train on; load the saves into
    ``fresh`` (another random chip) and a fresh optimizer of another seed, train them on the second half:
    every state_dict entry must end bit-identical. Returns the loaded optimizer."""
    half = len(x) // 2
    opt = InSituSGD(model, lr=1.0, seed=0)
    train(model, opt, x[:half], y[:half])
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, x[half:], y[half:])
    other = InSituSGD(fresh, lr=1.0, seed=99)
    fresh.load_state_dict(saved_model)
    other.load_state_dict(saved_opt)
    train(fresh, other, x[half:], y[half:])
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, rtol=0, atol=0, equal_nan=True, msg=key)
    return other


@pytest.fixture
def train_loop():
    return train


@pytest.fixture
def round_trip():
    return continues_identically
