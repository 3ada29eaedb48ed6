"""Data sets for the experiments: scikit-learn ``digits`` and MNIST-style IDX folders.

``load_dataset`` returns a :class:`Dataset` of flattened float32 images in [0, 1] and int64 labels.

* ``digits`` -- scikit-learn's embedded 8x8 digits (no download), pixel values / 16, split into a fixed,
  stratified 1347 / 450 train/test partition (``train_test_split(random_state=0, stratify=y)``).
* ``mnist`` / ``fashion-mnist`` -- a folder holding the four IDX files
  (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally gzip-compressed). The folder may be the raw folder itself,
  or a torchvision root (``DIR/MNIST/raw/`` or ``DIR/FashionMNIST/raw/``). Pixel values / 255.
  ``fashion-mnist`` defaults to the folder of Debian's ``dataset-fashion-mnist`` package.

Every problem with the data raises :class:`DataError`, a one-line message that names the file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DEFAULT_DIR",
    "DataError",
    "Dataset",
    "load_dataset",
    "read_idx",
]

DATASETS = ("digits", "mnist", "fashion-mnist")

#: Where Debian's ``dataset-fashion-mnist`` package installs the four gzip-compressed IDX files.
FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> numpy dtype as stored in the file (big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# (train images, train labels, test images, test labels) base names.
_IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# Subfolder name that torchvision uses for each IDX data set (``DIR/<name>/raw``).
_TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}

_IDX_IMAGE_SHAPE = (28, 28)
_IDX_CLASSES = 10

_DIGITS_TEST_SIZE = 450


class DataError(ValueError):
    """A data file is missing, corrupt or of the wrong shape; the message names the file."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of flattened images.

    ``train_x``/``test_x`` are float32 of shape (n, n_features) with values in [0, 1];
    ``train_y``/``test_y`` are int64 of shape (n,) with values in 0..n_classes-1.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    image_shape: tuple[int, int]

    @property
    def n_features(self) -> int:
        """Number of input features (pixels per image)."""
        return int(self.train_x.shape[1])


# --------------------------------------------------------------------------------------------------------
# IDX reading


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{path}: corrupt gzip data ({reason})") from None


def _parse_header(path: Path, data: bytes, expected_magic: int | None) -> tuple[np.dtype, tuple[int, ...]]:
    """Element dtype and dimensions from an IDX header; checks the magic number."""
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX file: {len(data)} bytes, too short for the magic number")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{path}: wrong magic number: expected 0x{expected_magic:08x}, found 0x{magic:08x}")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{path}: not an IDX file: bad magic number 0x{magic:08x}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{path}: truncated IDX header: expected {header_len} bytes for {ndim} dimensions, "
            f"found {len(data)}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return _IDX_DTYPES[type_code], dims


def read_idx(path: str | os.PathLike[str], *, expected_magic: int | None = None) -> torch.Tensor:
    """Read one IDX file (gzip-compressed or not, detected by its magic bytes) into a tensor.

    The tensor has the file's dimensions and the native counterpart of its element type (``uint8``
    for the usual ``ubyte`` files). With ``expected_magic`` (e.g. ``0x00000803`` for images,
    ``0x00000801`` for labels) a different magic number is an error.

    Raises:
        DataError: the file is missing, unreadable, corrupt, truncated or has trailing data.
    """
    path = Path(path)
    data = _read_bytes(path)
    dtype, dims = _parse_header(path, data, expected_magic)
    offset = 4 + 4 * len(dims)
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - offset
    if found != expected:
        what = "truncated file" if found < expected else "trailing data"
        raise DataError(
            f"{path}: {what}: header dims {'x'.join(map(str, dims))} need {expected} bytes of data, "
            f"found {found}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    native = array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy
    return torch.from_numpy(native.reshape(dims))


# --------------------------------------------------------------------------------------------------------
# IDX folders


def _candidate_dirs(root: Path, name: str) -> list[Path]:
    """Folders that may hold the IDX files: the folder itself, ``raw/`` and the torchvision layout."""
    return [root, root / "raw", root / _TORCHVISION_FOLDERS[name] / "raw"]


def _find_file(folder: Path, base: str) -> Path | None:
    """``folder/base`` or ``folder/base.gz``, whichever exists first, else None."""
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _looked_for(names: Sequence[str]) -> str:
    """``a[.gz], b[.gz]`` for an error message."""
    return ", ".join(f"{base}[.gz]" for base in names)


def _locate_idx_files(root: Path, name: str) -> list[Path]:
    """The four IDX files of data set ``name`` under ``root``, in ``_IDX_NAMES`` order."""
    if not root.exists():
        raise DataError(f"{root}: data directory for {name} does not exist")
    if not root.is_dir():
        raise DataError(f"{root}: expected a data directory for {name}, found a file")
    candidates = _candidate_dirs(root, name)
    for folder in candidates:
        found = [_find_file(folder, base) for base in _IDX_NAMES]
        if any(found):
            missing = [base for base, path in zip(_IDX_NAMES, found, strict=True) if path is None]
            if missing:
                raise DataError(
                    f"{folder}: missing {name} file(s) {_looked_for(missing)} "
                    f"(looked for {_looked_for(_IDX_NAMES)})"
                )
            return [path for path in found if path is not None]
    where = ", ".join(str(folder) for folder in candidates)
    raise DataError(f"{root}: no {name} IDX files: looked for {_looked_for(_IDX_NAMES)} in {where}")


def _load_images(path: Path, name: str) -> torch.Tensor:
    """An images file as uint8 (n, 28, 28); checks the magic number, count and image shape."""
    images = read_idx(path, expected_magic=IMAGES_MAGIC)
    n, rows, cols = images.shape
    if (rows, cols) != _IDX_IMAGE_SHAPE:
        raise DataError(
            f"{path}: images are {rows}x{cols}, expected "
            f"{_IDX_IMAGE_SHAPE[0]}x{_IDX_IMAGE_SHAPE[1]} for {name}"
        )
    if n == 0:
        raise DataError(f"{path}: contains no images")
    return images


def _load_labels(path: Path, n_images: int, images_path: Path) -> torch.Tensor:
    """A labels file as uint8 (n,); checks the magic number, count against the images and value range."""
    labels = read_idx(path, expected_magic=LABELS_MAGIC)
    if labels.shape[0] != n_images:
        raise DataError(
            f"{path}: label count {labels.shape[0]} != image count {n_images} in {images_path.name}"
        )
    top = int(labels.max())
    if top >= _IDX_CLASSES:
        bad = int((labels >= _IDX_CLASSES).sum())
        raise DataError(f"{path}: {bad} label value(s) outside 0..{_IDX_CLASSES - 1} (largest is {top})")
    return labels


def _load_split(
    images_path: Path, labels_path: Path, name: str, limit: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened float32 images in [0, 1] and int64 labels, the first ``limit`` samples."""
    images = _load_images(images_path, name)
    labels = _load_labels(labels_path, images.shape[0], images_path)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.reshape(images.shape[0], -1).to(torch.float32).div_(255.0)
    return x, labels.to(torch.int64)


def _resolve_idx_dir(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """The data folder to use for ``name``; ``fashion-mnist`` falls back to the Debian folder."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if name == "fashion-mnist":
        root = Path(FASHION_MNIST_DEFAULT_DIR)
        if not root.is_dir():
            raise DataError(
                f"{root}: default fashion-mnist directory does not exist; install Debian's "
                "dataset-fashion-mnist package or pass --data-dir DIR"
            )
        return root
    raise DataError(
        f"{name} needs a data directory: pass --data-dir DIR (a folder with {_looked_for(_IDX_NAMES)})"
    )


def _load_idx_dataset(
    name: str, data_dir: str | os.PathLike[str] | None, max_train: int | None, max_test: int | None
) -> Dataset:
    """``mnist`` or ``fashion-mnist`` from a folder of IDX files."""
    root = _resolve_idx_dir(name, data_dir)
    train_images, train_labels, test_images, test_labels = _locate_idx_files(root, name)
    train_x, train_y = _load_split(train_images, train_labels, name, max_train)
    test_x, test_y = _load_split(test_images, test_labels, name, max_test)
    return Dataset(name, train_x, train_y, test_x, test_y, _IDX_CLASSES, _IDX_IMAGE_SHAPE)


# --------------------------------------------------------------------------------------------------------
# digits


def _load_digits(max_train: int | None, max_test: int | None) -> Dataset:
    """scikit-learn's 8x8 digits, pixel values / 16, fixed stratified 1347/450 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(bunch.target, dtype=np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=_DIGITS_TEST_SIZE, random_state=0, stratify=y
    )
    return Dataset(
        name="digits",
        train_x=torch.from_numpy(np.ascontiguousarray(train_x[:max_train])),
        train_y=torch.from_numpy(np.ascontiguousarray(train_y[:max_train])),
        test_x=torch.from_numpy(np.ascontiguousarray(test_x[:max_test])),
        test_y=torch.from_numpy(np.ascontiguousarray(test_y[:max_test])),
        n_classes=10,
        image_shape=(8, 8),
    )


# --------------------------------------------------------------------------------------------------------
# entry point


def _check_limit(label: str, value: int | None) -> None:
    """``max_train``/``max_test`` must be None or an integer >= 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{label} must be an integer >= 1 or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{label} must be >= 1, got {value}")


def _canonical_name(name: str) -> str:
    """The data set name in ``DATASETS`` spelling (case and ``_``/``-`` insensitive)."""
    canonical = str(name).strip().lower().replace("_", "-")
    if canonical not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return canonical


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load data set ``name`` (one of ``DATASETS``).

    Args:
        name: ``"digits"``, ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: folder of IDX files (required for ``mnist``; ``fashion-mnist`` defaults to
            ``FASHION_MNIST_DEFAULT_DIR``; ignored for ``digits``).
        max_train: keep only the first ``max_train`` training samples.
        max_test: keep only the first ``max_test`` test samples.

    Raises:
        DataError: unknown name, or a missing/corrupt/ill-shaped data file.
        ValueError: ``max_train``/``max_test`` below 1.
    """
    canonical = _canonical_name(name)
    _check_limit("max_train", max_train)
    _check_limit("max_test", max_test)
    if canonical == "digits":
        return _load_digits(max_train, max_test)
    return _load_idx_dataset(canonical, data_dir, max_train, max_test)
