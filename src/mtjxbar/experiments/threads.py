"""CPU threads of a run: torch's, Numba's (the passive arrays' tile solves) and BLAS's, limited together.

Per-sample training works on one sample at a time: intra-op threads gain nothing there and, on a machine
shared with other work, make it many times slower. Every entry point therefore runs single-threaded
unless asked otherwise (:data:`DEFAULT_THREADS`), and a request is capped at the cores this process may use.
"""

from __future__ import annotations

import os

from ..config import ConfigError

__all__ = ["DEFAULT_THREADS", "available_cores", "resolve_threads", "limit_threads"]

DEFAULT_THREADS = 1


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None, flag: str = "--threads") -> tuple[int, str | None]:
    """``(threads to use, note or None)``: :data:`DEFAULT_THREADS` when not given, a request above
    :func:`available_cores` capped there (the note says so); below 1 is a :class:`ConfigError` naming ``flag``."""
    if threads is None:
        return DEFAULT_THREADS, None
    if threads < 1:
        raise ConfigError(f"{flag} {threads}: must be >= 1")
    cores = available_cores()
    if threads > cores:
        return cores, f"{flag} {threads}: this machine gives the process {cores} cores; using {cores} threads"
    return threads, None


def limit_threads(threads: int):
    """Use at most ``threads`` CPU threads in torch, Numba and BLAS (numpy / scipy); returns the BLAS limit
    (a threadpoolctl context: it holds until the process ends or it is undone)."""
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threadpool_limits(threads)
