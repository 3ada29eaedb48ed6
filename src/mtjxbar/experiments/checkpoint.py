"""Checkpoints of a training run: tensors in safetensors, everything else in JSON; no executable content.

A checkpoint is a folder (``OUT/checkpoint``) holding

* ``state-NNNNNN.safetensors``: the tensors (cell states and per-cell parameters of every array, the
  software baselines' weights, the random generators' states as uint8), ``NNNNNN`` the save counter;
* ``state.json``, written last: format and package versions, the configuration and its sha256, the
  position in the data order, history so far, the cost meter's accumulators, the name, size and sha256
  of the tensor file it belongs to, and a checksum of itself.

Both are written atomically (:mod:`.files`) and the JSON names its tensor file, so a kill at any moment
leaves a consistent pair: the previous one or the new one. Loading checks everything and raises
:class:`CheckpointError`, one line naming the file: missing, truncated, corrupted, not a checkpoint,
from a newer format, tensors missing or of the wrong shape for the configuration.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from .files import MANIFEST, inside, write_bytes, write_json

__all__ = ["CheckpointError", "Checkpoint", "FORMAT", "FORMAT_VERSION", "STATE_JSON", "config_sha256",
           "config_diff", "save_tensors", "load_tensors", "check_tensors"]

FORMAT = "mtjxbar-checkpoint"
FORMAT_VERSION = 1
STATE_JSON = "state.json"
_TENSORS_PREFIX = "state-"
_MAX_HEADER = 100_000_000


class CheckpointError(ValueError):
    """A checkpoint (or tensor file) is missing, corrupt, of another run, or does not fit the config."""


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def config_sha256(config: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of a config's ``to_dict``."""
    return hashlib.sha256(_canonical(config)).hexdigest()


def config_diff(stored: dict, asked: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted path, stored value, asked value)`` for every field that differs (absent = None)."""
    out = []
    for key in sorted(set(stored) | set(asked)):
        a, b = stored.get(key), asked.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(config_diff(a, b, f"{prefix}{key}."))
        elif a != b or type(a) is not type(b):
            out.append((f"{prefix}{key}", a, b))
    return out


# --------------------------------------------------------------------------------------------- tensors
def save_tensors(root: Path, name: str, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> bytes:
    """Write ``tensors`` as a safetensors file ``root/name`` atomically; returns the bytes written."""
    from safetensors.torch import save

    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    data = save(plain, metadata=metadata)
    write_bytes(root, name, data)
    return data


def _header(path: Path, data: bytes) -> dict:
    """The JSON header of a safetensors file (checked for truncation and shape/offset sanity)."""
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated safetensors file ({len(data)} bytes, too short for a header)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(len(data) - 8, _MAX_HEADER):
        raise CheckpointError(f"{path}: not a safetensors file or truncated (header of {size} bytes, "
                              f"file of {len(data)})")
    try:
        header = json.loads(data[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not a table)")
    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"
               and isinstance(v, dict) and "data_offsets" in v), default=0)
    if 8 + size + end > len(data):
        raise CheckpointError(f"{path}: truncated safetensors file ({len(data)} bytes, its header describes "
                              f"{8 + size + end})")
    return header


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file: ``(tensors, metadata)``; every problem is a :class:`CheckpointError`."""
    return _parse_tensors(path, _read_bytes(path))


def _read_bytes(path: Path, named_by: Path | None = None) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`CheckpointError` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing" + (f" (named by {named_by})" if named_by else "")) from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read ({err.strerror})") from None


def _parse_tensors(path: Path, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    header = _header(path, data)
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a valid safetensors file ({reason})") from None
    meta = header.get("__metadata__") or {}
    return tensors, meta if isinstance(meta, dict) else {}


def check_tensors(path: Path, tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Every tensor of ``expected`` present in ``tensors`` with its shape and dtype, and nothing else."""
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise CheckpointError(f"{path}: tensor {missing[0]!r} missing ({len(missing)} of {len(expected)} "
                              f"expected tensors absent)")
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise CheckpointError(f"{path}: unexpected tensor {extra[0]!r} (not part of a run of this config)")
    for name, want in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(got.shape)}, expected "
                                  f"{tuple(want.shape)} for this config")
        if got.dtype != want.dtype:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {got.dtype}, expected {want.dtype}")


# ------------------------------------------------------------------------------------------ checkpoint
class Checkpoint:
    """The checkpoint folder ``directory`` of a run inside the output directory ``root``."""

    def __init__(self, root: Path, name: str = "checkpoint") -> None:
        self.root, self.name = root, name
        self.directory = inside(root, name)
        self.step = 0

    @property
    def json_path(self) -> Path:
        return self.directory / STATE_JSON

    def exists(self) -> bool:
        return self.json_path.exists()

    def save(self, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
        """Write a new tensor file, then ``state.json`` naming it, then drop older tensor files."""
        self.step += 1
        name = f"{_TENSORS_PREFIX}{self.step:06d}.safetensors"
        data = save_tensors(self.root, f"{self.name}/{name}", tensors, {"format": FORMAT, "step": str(self.step)})
        record = {"format": FORMAT, "format_version": FORMAT_VERSION, "version": __version__,
                  "torch": torch.__version__, **meta, "step": self.step, "tensors": name,
                  "tensors_bytes": len(data), "tensors_sha256": hashlib.sha256(data).hexdigest()}
        record["checksum"] = hashlib.sha256(_canonical(record)).hexdigest()
        write_json(self.root, f"{self.name}/{STATE_JSON}", record)
        stale = [*self.directory.glob(f"{_TENSORS_PREFIX}*.safetensors"), *self.directory.glob(".*.tmp*")]
        for old in stale:  # older tensor files, and temporary files of a write that was killed
            if old.name != name:
                old.unlink(missing_ok=True)

    def load_meta(self) -> dict:
        """``state.json``, checked: present, JSON, a checkpoint of a known format, checksum and config hash."""
        path = self.json_path
        try:
            text = path.read_text()
        except FileNotFoundError:
            if not (self.root / MANIFEST).exists() and not self.directory.exists():  # no run started here
                raise CheckpointError(f"{self.root}: not an mtjxbar run (neither {MANIFEST} nor a checkpoint "
                                      "folder); nothing to resume there") from None
            raise CheckpointError(f"{path}: missing; no checkpoint to resume in {self.root} (the run stopped "
                                  "before its first checkpoint: start it again with --overwrite)") from None
        except (OSError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{path}: cannot read ({getattr(err, 'strerror', None) or err})") from None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{path}: corrupt or truncated checkpoint: not valid JSON ({err})") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an mtjxbar checkpoint (no format {FORMAT!r})")
        if not isinstance(record.get("format_version"), int) or record["format_version"] > FORMAT_VERSION:
            raise CheckpointError(f"{path}: checkpoint format {record.get('format_version')!r} is newer than this "
                                  f"mtjxbar ({__version__}) reads (format {FORMAT_VERSION})")
        checksum = record.pop("checksum", None)
        if checksum != hashlib.sha256(_canonical(record)).hexdigest():
            raise CheckpointError(f"{path}: corrupted checkpoint (its checksum does not match its content)")
        if not isinstance(record.get("config"), dict) or config_sha256(record["config"]) != record.get(
                "config_sha256"):
            raise CheckpointError(f"{path}: corrupted checkpoint (the config does not match its sha256)")
        self.step = int(record.get("step", 0))
        return record

    def load(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(state.json record, tensors)``; the tensor file is checked against the size and sha256 the
        record gives."""
        record = self.load_meta()
        name = record.get("tensors")
        if not isinstance(name, str) or "/" in name or not name.startswith(_TENSORS_PREFIX):
            raise CheckpointError(f"{self.json_path}: corrupted checkpoint (bad tensor file name {name!r})")
        path = self.directory / name
        data = _read_bytes(path, named_by=self.json_path)
        if len(data) != record.get("tensors_bytes"):
            raise CheckpointError(f"{path}: truncated or altered: {len(data)} bytes, the checkpoint recorded "
                                  f"{record.get('tensors_bytes')}")
        if hashlib.sha256(data).hexdigest() != record.get("tensors_sha256"):
            raise CheckpointError(f"{path}: corrupted (sha256 differs from the one recorded in {STATE_JSON})")
        tensors, meta = _parse_tensors(path, data)
        if meta.get("format") != FORMAT or meta.get("step") != str(record["step"]):
            raise CheckpointError(f"{path}: not the tensor file of {self.json_path} (format/step mismatch)")
        return record, tensors
