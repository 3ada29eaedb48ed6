"""Parking an unfinished run: its folder (configuration, manifest, checkpoint) packed into one compressed
archive that can be committed, and unpacked into a later checkout to resume it there.

A run folder lives under ``runs/``, which is not committed: on a machine that does not keep it between
sittings, a run longer than a sitting would start over every time. :func:`park_run` packs the folder's
files (no temporary or hidden files) into ``NAME.tar.xz``; the checkpoint's per-cell parameter planes are
mostly constant, so xz packs the 35 MB checkpoint of a 784-512-160 passive run into about 2 MB.
:func:`unpark_run` unpacks it into a run folder that does not hold a checkpoint yet, and never writes outside
that folder (nor into one that holds any file). Both are atomic: a kill leaves the previous archive or
folder, or none. Parking holds the run
folder's lock (the one every ``mtjxbar train`` holds while it writes there), so a running run is never
packed half-written, and both check the checkpoint (sizes and sha256 of its tensor file) before an archive or
a folder is replaced.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from .checkpoint import Checkpoint, CheckpointError
from .files import OutputError, lock_directory

__all__ = ["ParkingError", "park_run", "parked_state", "unpark_run"]


class ParkingError(ValueError):
    """A run cannot be parked or unparked (no checkpoint, a checkpoint already in the way, a run still
    writing, or an archive that is not a parked run)."""


def parked_state(archive: Path) -> dict:
    """The ``state.json`` of a parked run's checkpoint (its configuration, ``step``: how many checkpoints the
    run has saved, ...), read without unpacking the rest; a :class:`ParkingError` if it is not a parked run."""
    try:
        with tarfile.open(archive, "r:xz") as tar:
            member = tar.extractfile("checkpoint/state.json")
            return json.loads(member.read())
    except (OSError, EOFError, KeyError, AttributeError, ValueError, tarfile.TarError, lzma.LZMAError) as err:
        raise ParkingError(f"{archive}: not a parked run ({type(err).__name__}: {err})") from None


def _checked(folder: Path) -> dict:
    """The folder's checkpoint record once its tensors are checked (a :class:`ParkingError` if they fail)."""
    try:
        return Checkpoint(folder).load()[0]
    except CheckpointError as err:
        raise ParkingError(str(err)) from None


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
    try:
        lock = lock_directory(folder)
    except OutputError:
        raise ParkingError(f"{folder}: a run is still writing there (it holds the folder's lock); stop it "
                           "first") from None
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".tmp")
    os.close(fd)
    try:
        step = _checked(folder)["step"]
        if archive.exists() and parked_state(archive).get("step", 0) > step:
            raise ParkingError(f"{archive}: holds a later checkpoint (step {parked_state(archive)['step']}) than "
                               f"{folder} (step {step}); it is not replaced")
        with tarfile.open(tmp, "w:xz", preset=9) as tar:  # a 64 MB window: repeated planes far apart
            for rel in _members(folder):
                tar.add(folder / rel, arcname=str(rel), recursive=False)
            for name, path in (extra or {}).items():
                if path.is_file():
                    tar.add(path, arcname=f".parked/{name}", recursive=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a file like any other (mkstemp's is private)
        os.replace(tmp, archive)
    finally:
        Path(tmp).unlink(missing_ok=True)
        os.close(lock)
    return archive.stat().st_size


def unpark_run(archive: Path, folder: Path, extra: dict[str, Path] | None = None) -> None:
    """Unpack ``archive`` into the run ``folder``, which must not hold a checkpoint (a parked run never
    replaces a newer local one); ``extra`` maps the names :func:`park_run` was given to where they go. A
    member that would land outside the folder stops it (:class:`ParkingError`)."""
    if Checkpoint(folder).exists():
        raise ParkingError(f"{folder}: holds a checkpoint already; it is not replaced by {archive}")
    if folder.exists() and any(folder.iterdir()):  # whatever is there stays the user's to move
        raise ParkingError(f"{folder}: holds files (no checkpoint); move them away to unpack {archive} there")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        try:
            with tarfile.open(archive, "r:xz") as tar:
                tar.extractall(staging, filter="data")
        except tarfile.FilterError as err:
            raise ParkingError(f"{archive}: {err}") from None
        except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as err:
            raise ParkingError(f"{archive}: not a parked run ({type(err).__name__}: {err})") from None
        if not Checkpoint(staging).exists():
            raise ParkingError(f"{archive}: holds no checkpoint")
        _checked(staging)
        for name, path in (extra or {}).items():
            source = staging / ".parked" / name
            if source.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, path)
        shutil.rmtree(staging / ".parked", ignore_errors=True)
        if folder.exists():  # empty (checked above)
            folder.rmdir()
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
