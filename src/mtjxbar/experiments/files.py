"""Safe files for runs: every write lands inside one output directory, atomically.

A write goes to a fresh temporary file in the target's folder (``mkstemp``: never follows a planted
link), is flushed and fsync'ed, then renamed over the target and the folder is fsync'ed; a crash leaves
either the old file or the new one, never a mix. Names are relative to the run's output directory and
may not leave it (``..``, absolute paths and links out of it are refused).

A run's output directory (:class:`RunDirectory`) is locked for the run's life and holds a manifest of the
files the run creates; an existing run is replaced (``overwrite``) only file by file as its manifest names
them, and only once the new run has its first checkpoint.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["OutputError", "MANIFEST", "PREVIOUS", "RUN_MANIFEST", "inside", "write_bytes", "write_text",
           "write_json", "atomic_path", "lock_directory", "RunDirectory"]


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


# ------------------------------------------------------------------------------------ run directories
#: Written first into a run's output directory: the files the run creates, by name, and the checkpoint's
#: rotating tensor files by their pattern. ``--overwrite`` removes only what an earlier run's manifest names.
MANIFEST = "mtjxbar-run.json"
MANIFEST_FORMAT = "mtjxbar-run-manifest"
#: An overwritten run, moved aside inside the output directory until the new run's first checkpoint.
PREVIOUS = ".mtjxbar-previous"
#: What a run creates (the manifest's content; also how a run written before manifests existed is read).
RUN_MANIFEST = {
    "files": [MANIFEST, "config.toml", "results.json", "accuracy.png", "final_states.safetensors",
              "checkpoint/state.json"],
    "patterns": ["checkpoint/state-[0-9][0-9][0-9][0-9][0-9][0-9].safetensors"],
}
# a temporary file of atomic_path: ".<stem>.<8 random characters>.tmp<suffix>"
_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.[A-Za-z0-9_]{8}\.tmp(?P<suffix>\.[^./]+)?$")


def lock_directory(path: Path, what: str = "run") -> int:
    """Hold an exclusive OS lock (``flock``) on the directory ``path`` until the returned descriptor is
    closed or the process ends (a killed run's lock goes with it); a directory locked by another process is
    an :class:`OutputError` naming it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    if fcntl is None:  # pragma: no cover - no flock on this platform: no lock
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        holder = ""
        try:
            pid = json.loads((path / MANIFEST).read_text()).get("pid")
            holder = f", process {int(pid)}" if pid else ""
        except (OSError, ValueError, AttributeError, TypeError):
            pass
        raise OutputError(f"{path}: another mtjxbar {what} is writing into this directory (it holds the "
                          f"directory's lock{holder}); wait for it to end, or choose another --out") from None
    return fd


def _manifest_rules(out: Path) -> tuple[set[str], list[str]] | None:
    """(names, patterns) of the run files in ``out``: from its manifest; for a run written before manifests,
    the run files when ``checkpoint/state.json`` is an mtjxbar checkpoint; None when nothing names them."""
    path = out / MANIFEST
    if path.is_file() and not path.is_symlink():
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            raise OutputError(f"{path}: not a readable run manifest (not JSON); move it away or choose "
                              "another --out") from None
        names, patterns = (record.get(k) if isinstance(record, dict) else None for k in ("files", "patterns"))
        ok = isinstance(record, dict) and record.get("format") == MANIFEST_FORMAT and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in (names, patterns))
        if not ok:
            raise OutputError(f"{path}: not an mtjxbar run manifest (no format {MANIFEST_FORMAT!r}); move it "
                              "away or choose another --out")
        return set(names), list(patterns)
    state = out / "checkpoint" / "state.json"
    try:
        legacy = json.loads(state.read_text()).get("format") == "mtjxbar-checkpoint"
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        legacy = False
    return (set(RUN_MANIFEST["files"]), list(RUN_MANIFEST["patterns"])) if legacy else None


def _owned(rel: str, rules: tuple[set[str], list[str]] | None) -> bool:
    """Whether the file ``rel`` (relative, '/'-separated) is named by ``rules``, or is a temporary file
    (left by a killed atomic write) of a file they name."""
    if rules is None:
        return False
    names, patterns = rules
    if rel in names or any(fnmatch.fnmatchcase(rel, p) for p in patterns):
        return True
    folder, _, name = rel.rpartition("/")
    m = _TEMPORARY.match(name)
    if m is None:
        return False
    target = m["stem"] + (m["suffix"] or "")
    return _owned(f"{folder}/{target}" if folder else target, (names, patterns)) and not target.startswith(".")


def _foreign(out: Path, rules: tuple[set[str], list[str]] | None) -> list[str]:
    """Every file of ``out`` (recursively; links are not followed) that ``rules`` do not name, as paths
    relative to ``out``, and every empty folder that is not one of the run's (with a trailing '/')."""
    foreign: list[str] = []
    names, patterns = rules if rules is not None else (set(), [])

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir()):
            rel = prefix + entry.name
            if not prefix and entry.name == PREVIOUS:
                continue
            if entry.is_dir() and not entry.is_symlink():
                ours = any(n.startswith(rel + "/") for n in names) or any(p.startswith(rel + "/") for p in patterns)
                if not ours and not any(entry.iterdir()):
                    foreign.append(rel + "/")
                walk(entry, rel + "/")
            elif not _owned(rel, rules):
                foreign.append(rel)

    walk(out, "")
    return foreign


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class RunDirectory:
    """A run's output directory, locked for the run's life (:func:`lock_directory`).

    :meth:`open` refuses a directory that holds files unless ``overwrite``; then every file in it must be
    named by the earlier run's manifest (:data:`MANIFEST`; anything else is refused by name), and those files
    are moved aside into :data:`PREVIOUS`, inside the directory, not deleted: :meth:`commit` (call it once
    the new run has its first checkpoint, or has finished) deletes them, :meth:`rollback` (the new run
    failed before that) removes the new run's files and puts the old ones back. A process killed between
    the two leaves :data:`PREVIOUS`; the next :meth:`open` of the directory finishes the job (the new run's
    checkpoint kept if it has one, else the old run restored).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.notes: list[str] = []  # what open() found and did, for the user
        self._fd: int | None = None
        self._created = False
        self._pending = False  # a new run whose files are not yet committed (moved-aside files or a new dir)

    def open(self, *, overwrite: bool = False, resume: bool = False) -> RunDirectory:
        out = self.path
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out}: exists and is not a directory")
        if resume and not out.is_dir():
            raise OutputError(f"{out}: no such run directory to resume")
        self._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self._fd = lock_directory(out)
        try:
            self._recover()
            if not resume:
                self._clear(overwrite)
                self._pending = True
                self.claim()
        except BaseException:
            self.close()
            raise
        return self

    def claim(self) -> None:
        """Write the manifest (with this process's id); :meth:`open` does it for a new run, a resumed run
        once its checkpoint has been checked."""
        write_json(self.path, MANIFEST, {"format": MANIFEST_FORMAT, "format_version": 1, "version": _version(),
                                         **RUN_MANIFEST, "pid": os.getpid()})

    def _recover(self) -> None:
        """Finish an overwrite whose process was killed (see the class docstring)."""
        out, previous = self.path, self.path / PREVIOUS
        if not previous.is_dir():
            return
        if (out / "checkpoint" / "state.json").is_file():
            shutil.rmtree(previous)
            self.notes.append(f"{out}: an interrupted --overwrite had checkpointed its new run; the replaced "
                              "run's files are now removed")
            return
        rules = (set(RUN_MANIFEST["files"]), list(RUN_MANIFEST["patterns"]))
        for entry in list(out.iterdir()):
            if entry.name != PREVIOUS and not _foreign_entry(out, entry, rules):
                _remove(entry)
        self._restore(previous)
        self.notes.append(f"{out}: an interrupted --overwrite never reached its first checkpoint; the run it "
                          "was replacing is back")

    def _restore(self, previous: Path) -> None:
        for entry in list(previous.iterdir()):
            target = self.path / entry.name
            if target.exists() or target.is_symlink():
                raise OutputError(f"{target}: in the way of restoring {entry}; move one of them away")
            os.replace(entry, target)
        previous.rmdir()
        _fsync_dir(self.path)

    def _clear(self, overwrite: bool) -> None:
        out = self.path
        if not any(out.iterdir()):
            return
        if not overwrite:
            raise OutputError(f"{out}: the output directory already exists and is not empty; pass --overwrite "
                              f"to replace the run in it, or --resume {out} to continue it")
        rules = _manifest_rules(out)
        foreign = _foreign(out, rules)
        if foreign:
            shown = ", ".join(str(out / f) for f in foreign[:5]) + (f" and {len(foreign) - 5} more"
                                                                     if len(foreign) > 5 else "")
            why = f"not named by the manifest {out / MANIFEST} of the run there" if rules is not None else \
                f"no run manifest ({MANIFEST}) names them"
            raise OutputError(f"{shown}: not a file of an mtjxbar run ({why}); --overwrite removes only a run's "
                              "own files: move these away or choose another --out")
        previous = out / PREVIOUS
        previous.mkdir()
        for entry in list(out.iterdir()):
            if entry.name != PREVIOUS:
                os.replace(entry, previous / entry.name)
        _fsync_dir(out)

    def commit(self) -> None:
        """The new run has a checkpoint (or has finished): the replaced run's files go. Idempotent."""
        if not self._pending:
            return
        self._pending = False
        previous = self.path / PREVIOUS
        if previous.is_dir():
            shutil.rmtree(previous)
            _fsync_dir(self.path)

    def rollback(self) -> None:
        """The new run failed before its first checkpoint: remove its files, put back the run it replaced
        (or remove the directory if this run created it). A no-op after :meth:`commit`."""
        if not self._pending:
            return
        self._pending = False
        out, previous = self.path, self.path / PREVIOUS
        rules = (set(RUN_MANIFEST["files"]), list(RUN_MANIFEST["patterns"]))
        for entry in list(out.iterdir()):
            if entry.name != PREVIOUS and not _foreign_entry(out, entry, rules):
                _remove(entry)
        if previous.is_dir():
            self._restore(previous)
        elif self._created and not any(out.iterdir()):
            self.close()
            out.rmdir()

    def close(self) -> None:
        """Release the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.rollback()
        self.close()


def _foreign_entry(out: Path, entry: Path, rules: tuple[set[str], list[str]]) -> bool:
    """Whether the top-level ``entry`` of ``out`` holds anything ``rules`` do not name."""
    if entry.is_dir() and not entry.is_symlink():
        prefix = entry.name + "/"
        return any(f.startswith(prefix) for f in _foreign(out, rules)) or not (
            any(n.startswith(prefix) for n in rules[0]) or any(p.startswith(prefix) for p in rules[1]))
    return not _owned(entry.name, rules)


def _version() -> str:
    from .. import __version__

    return __version__
