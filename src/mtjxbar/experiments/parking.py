"""Parking an unfinished run: its folder (configuration, manifest, checkpoint) packed into one compressed
archive that can be committed, and unpacked into a later checkout to resume it there.

A run folder lives under ``runs/``, which is not committed: on a machine that does not keep it between
sittings, a run longer than a sitting would start over every time. :func:`park_run` packs the folder's
files (no temporary or hidden files) into ``NAME.tar.xz``; the checkpoint's per-cell parameter planes are
mostly constant, so xz packs the 35 MB checkpoint of a 784-512-160 passive run into about 2 MB.
:func:`unpark_run` unpacks it into a run folder that does not hold a checkpoint yet, and never writes outside
that folder. Both are atomic: a kill leaves the previous archive or folder, or none.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from .checkpoint import Checkpoint

__all__ = ["ParkingError", "park_run", "unpark_run"]


class ParkingError(ValueError):
    """A run cannot be parked or unparked (no checkpoint, or a checkpoint already in the way)."""


def _members(folder: Path) -> list[Path]:
    """The folder's regular files, relative to it, sorted (hidden and temporary files left out)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not p.is_symlink()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def park_run(folder: Path, archive: Path, extra: dict[str, Path] | None = None) -> int:
    """Pack the run ``folder`` (it must hold a checkpoint) into ``archive`` (``.tar.xz``), replacing it
    atomically; ``extra`` adds files under names of their own (a progress log, say). Returns the archive's
    size in bytes."""
    if not Checkpoint(folder).exists():
        raise ParkingError(f"{folder}: no checkpoint to park")
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:xz", preset=9) as tar:  # a 64 MB window: repeated planes far apart
            for rel in _members(folder):
                tar.add(folder / rel, arcname=str(rel), recursive=False)
            for name, path in (extra or {}).items():
                if path.is_file():
                    tar.add(path, arcname=f".parked/{name}", recursive=False)
        os.replace(tmp, archive)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return archive.stat().st_size


def unpark_run(archive: Path, folder: Path, extra: dict[str, Path] | None = None) -> None:
    """Unpack ``archive`` into the run ``folder``, which must not hold a checkpoint (a parked run never
    replaces a newer local one); ``extra`` maps the names :func:`park_run` was given to where they go. A
    member that would land outside the folder stops it (:class:`ParkingError`)."""
    if Checkpoint(folder).exists():
        raise ParkingError(f"{folder}: holds a checkpoint already; it is not replaced by {archive}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        with tarfile.open(archive, "r:xz") as tar:
            try:
                tar.extractall(staging, filter="data")
            except tarfile.FilterError as err:
                raise ParkingError(f"{archive}: {err}") from None
        for name, path in (extra or {}).items():
            source = staging / ".parked" / name
            if source.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, path)
        shutil.rmtree(staging / ".parked", ignore_errors=True)
        if not Checkpoint(staging).exists():
            raise ParkingError(f"{archive}: holds no checkpoint")
        if folder.exists():  # a folder left by a run stopped before its first checkpoint
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
