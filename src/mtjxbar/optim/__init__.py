"""Optimizers that train crossbar-backed layers in situ (the training level: they use its rules)."""

from .insitu_sgd import InSituSGD, split_parameters

__all__ = ["InSituSGD", "split_parameters"]
