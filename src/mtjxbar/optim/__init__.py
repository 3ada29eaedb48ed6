"""Optimizers that train crossbar-backed layers in situ, and the rules they write (:mod:`.rules`)."""

from .insitu_sgd import InSituSGD, split_parameters

__all__ = ["InSituSGD", "split_parameters"]
