"""Safe files for runs: every write lands inside one output directory, atomically.

A write goes to a fresh temporary file in the target's folder (``mkstemp``: never follows a planted
link), is flushed and fsync'ed, then renamed over the target and the folder is fsync'ed; a crash leaves
either the old file or the new one, never a mix. Names are relative to the run's output directory and
may not leave it (``..``, absolute paths and links out of it are refused).

An existing run directory is not overwritten without ``overwrite``: :func:`prepare_output_dir`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["OutputError", "RUN_FILES", "inside", "write_bytes", "write_text", "write_json", "atomic_path",
           "prepare_output_dir"]

#: What ``mtjxbar train`` writes into its output directory (``checkpoint`` is a folder).
RUN_FILES = ("results.json", "config.toml", "accuracy.png", "final_states.safetensors", "checkpoint")


class OutputError(ValueError):
    """An output path is unsafe or already holds a run; the message names the path."""


def inside(root: Path, name: str | Path) -> Path:
    """``root / name``, refused unless it stays inside ``root`` once links and ``..`` are resolved."""
    name = Path(name)
    if name.is_absolute():
        raise OutputError(f"{name}: an absolute path; files of a run are written inside {root}")
    path = root / name
    real_root = root.resolve()
    real = path.parent.resolve() / path.name
    if real != real_root and real_root not in real.parents:
        raise OutputError(f"{path}: outside the output directory {root}; refusing to write there")
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(root: Path, name: str | Path) -> Iterator[Path]:
    """A temporary path next to ``root/name`` to write to; renamed over it (fsync'ed) when the block
    succeeds, removed when it fails. The temporary name keeps the target's suffix (for writers that go
    by it)."""
    path = inside(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes(root: Path, name: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``root/name`` atomically; returns the path."""
    with atomic_path(root, name) as tmp:
        tmp.write_bytes(data)
    return root / name


def write_text(root: Path, name: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``root/name`` atomically; returns the path."""
    return write_bytes(root, name, text.encode())


def write_json(root: Path, name: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``root/name`` atomically (floats round-trip exactly)."""
    return write_text(root, name, json.dumps(data, indent=2) + "\n")


def prepare_output_dir(out: Path, *, overwrite: bool = False, resume: bool = False) -> None:
    """Check (and create) a run's output directory.

    A fresh run refuses a directory that is not empty unless ``overwrite``; then it removes the files a
    run writes (:data:`RUN_FILES`) and nothing else. A resumed run needs the directory to exist.
    """
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if resume:
        if not out.is_dir():
            raise OutputError(f"{out}: no such run directory to resume")
        return
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"{out}: the output directory already exists and is not empty; pass --overwrite "
                              f"to replace the run in it, or --resume {out} to continue it")
        for name in RUN_FILES:
            path = inside(out, name)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
