"""CPU threads of a run: torch's, Numba's (the passive arrays' tile solves) and BLAS's, limited together."""

from __future__ import annotations

__all__ = ["limit_threads"]


def limit_threads(threads: int):
    """Use at most ``threads`` CPU threads in torch, Numba and BLAS (numpy / scipy); returns the BLAS limit
    (a threadpoolctl context: it holds until the process ends or it is undone)."""
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threadpool_limits(threads)
