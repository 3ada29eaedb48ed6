"""One experiment seed -> one independent, named ``torch.Generator`` per component.

Every stochastic function in mtjxbar takes an explicit generator. Components ask for theirs by name
(``"init.layer0"``, ``"write.layer1"``, ``"data.order"``...), so adding a component never shifts the random
stream of another, and the same seed always gives the same result.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "generator"]


def derive_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the experiment seed and a component name (stable across runs)."""
    digest = hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh generator for component ``name`` under experiment ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, name))
    return gen
