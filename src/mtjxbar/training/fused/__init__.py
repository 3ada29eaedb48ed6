"""The fused per-sample loop (compiled with Numba): see :mod:`.loop` for what it covers."""

from .loop import CHUNK, FusedNetwork, chunk_ends, unsupported

__all__ = ["CHUNK", "FusedNetwork", "chunk_ends", "unsupported"]
