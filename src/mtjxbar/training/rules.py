"""In-situ training rules: the per-sample request that :class:`mtjxbar.optim.InSituSGD` writes.

The rule itself lives under the optimizer that applies it (:mod:`mtjxbar.optim.rules`, as torch's
functional ``sgd()`` under ``SGD``); the training loop, the batched chips and the mean-field model use it
from here.
"""

from __future__ import annotations

from ..optim.rules import sgd_request

__all__ = ["sgd_request"]
