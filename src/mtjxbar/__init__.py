"""mtjxbar: in-situ stochastic training of neural networks on simulated binary MTJ crossbar arrays.

The public API (docs/api.md): ``mtjxbar.convert(model, HardwareConfig())`` puts a torch model's linear
and convolution layers on crossbars (:class:`mtjxbar.nn.MTJLinear`, :class:`mtjxbar.nn.MTJConv2d`),
``mtjxbar.optim.InSituSGD`` trains them in situ in an ordinary torch loop. The names load on first use,
so ``import mtjxbar`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["nn", "optim", "convert", "HardwareConfig", "MTJLinear", "MTJConv2d", "InSituSGD", "__version__"]

_WHERE = {"convert": "nn", "HardwareConfig": "nn", "MTJLinear": "nn", "MTJConv2d": "nn", "InSituSGD": "optim"}


def __getattr__(name: str):
    if name in ("nn", "optim"):
        return importlib.import_module(f".{name}", __name__)
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'mtjxbar' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
