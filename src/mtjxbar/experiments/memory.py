"""The memory a simulation will need, estimated before anything is allocated, against what the machine has.

Every MTJ of a simulated array holds its state and its own device parameters (and their per-polarity
stacks and the write temporaries) in the array's dtype: measured peaks of ``mtjxbar train`` (64-1024-1024-80
to 64-4096-4096-80) and of ``mtjxbar cost`` (2048x2048, 4096x4096 arrays) are above 60 bytes per cell over
the interpreter's own, so :data:`BYTES_PER_CELL` = 60 makes the estimate a lower bound: a configuration it
refuses could not have run. The machine's memory is what ``/proc/meminfo`` calls available (its control
group's limit, where lower), or ``os.sysconf`` where there is no ``/proc``; a CUDA run is checked against the
GPU's free memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..config import ConfigError

__all__ = ["BYTES_PER_CELL", "array_cells", "train_estimate", "machine_memory", "check_memory", "format_bytes"]

BYTES_PER_CELL = 60
_SOFTWARE_BYTES_PER_WEIGHT = 16  # two float32 software baselines, weights and gradients


def format_bytes(n: float) -> str:
    """``n`` bytes in GB (or MB below 1 GB), 3 significant figures."""
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


def array_cells(sizes: Sequence[int], mtjs_per_synapse: int = 1, scheme: str = "reference") -> int:
    """MTJ cells of a network with layer sizes ``sizes`` (inputs first): ``k`` MTJs per synapse, twice
    that for differential pairs; a reference column is periphery, not cells."""
    per = mtjs_per_synapse * (2 if scheme == "differential" else 1)
    return sum(a * b * per for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def train_estimate(config, n_inputs: int, n_classes: int) -> tuple[int, str]:
    """``(bytes, what they are)`` for training ``config`` (an ``ExperimentConfig``) on data with
    ``n_inputs`` features and ``n_classes`` classes: the in-situ network, the ex-situ one when asked, and
    the software baselines."""
    sizes = (n_inputs, *config.hidden, n_classes * config.training.outputs_per_class)
    mapping = config.hardware.mapping
    nets = 2 if "exsitu" in config.baselines.methods else 1
    cells = array_cells(sizes, mapping.mtjs_per_synapse, mapping.scheme) * nets
    weights = array_cells(sizes)
    what = f"{cells:,} MTJ cells in {nets} network{'s' if nets > 1 else ''}"
    return cells * BYTES_PER_CELL + weights * _SOFTWARE_BYTES_PER_WEIGHT, what


def _meminfo(path: Path = Path("/proc/meminfo")) -> dict[str, int]:
    out = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    except OSError:
        pass
    return out


def _cgroup_room() -> int | None:
    """Bytes the process's cgroup (v2) may still allocate, or None without a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if not limit.isdigit():
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def machine_memory(device: str = "cpu") -> tuple[int, int, str] | None:
    """``(available bytes, total bytes, where that comes from)``, or None when nothing says."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info()
        return int(free), int(total), "free GPU memory, torch.cuda.mem_get_info"
    info = _meminfo()
    if "MemAvailable" in info and "MemTotal" in info:
        available, total, source = info["MemAvailable"], info["MemTotal"], "MemAvailable in /proc/meminfo"
    else:
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            total = page * os.sysconf("SC_PHYS_PAGES")
            available = page * os.sysconf("SC_AVPHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            return None
        source = "os.sysconf"
    room = _cgroup_room()
    if room is not None and room < available:
        available, source = room, "the memory limit of this process's cgroup"
    return available, total, source


def check_memory(need: int, what: str, subject: str, device: str = "cpu", advice: str = "use smaller layers") -> None:
    """Refuse (:class:`ConfigError` naming ``subject``) when ``need`` bytes exceed the memory available."""
    have = machine_memory(device)
    if have is None or need <= have[0]:
        return
    available, total, source = have
    raise ConfigError(f"{subject}: needs at least {format_bytes(need)} of memory ({what}, about {BYTES_PER_CELL} "
                      f"bytes each), more than the {format_bytes(available)} available here ({source}; "
                      f"{format_bytes(total)} in all); {advice}")
