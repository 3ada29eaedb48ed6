"""The fused per-sample loop (compiled with Numba): see :mod:`.loop` for what it covers."""

from .loop import CHUNK, FusedNetwork, chunk_ends, device_vector, unsupported

__all__ = ["CHUNK", "FusedNetwork", "chunk_ends", "device_vector", "unsupported"]
