"""Tests for mtjxbar.experiments.datasets: digits, IDX reading, folder layouts and error messages."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mtjxbar.experiments.datasets import (
    DATASETS,
    FASHION_MNIST_DEFAULT_DIR,
    DataError,
    Dataset,
    load_dataset,
    read_idx,
)

MNIST_10K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-train10k"
MNIST_10K_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


# --------------------------------------------------------------------------------------------------------
# helpers


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX encoding of a uint8 array."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    """Write ``array`` as IDX to ``path`` (gzip-compressed when ``compress``, ``.gz`` appended)."""
    data = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def synthetic_arrays(n_train: int = 12, n_test: int = 7, side: int = 28) -> dict[str, np.ndarray]:
    """Deterministic random images/labels keyed by IDX base name."""
    rng = np.random.default_rng(0)
    return {
        NAMES[0]: rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        NAMES[1]: (np.arange(n_train) % 10).astype(np.uint8),
        NAMES[2]: rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        NAMES[3]: (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }


def write_folder(folder: Path, arrays: dict[str, np.ndarray], *, compress: bool = False) -> dict[str, Path]:
    """Write the four IDX files into ``folder``; returns their paths by base name."""
    return {base: write_idx(folder / base, array, compress=compress) for base, array in arrays.items()}


def check_matches(ds: Dataset, arrays: dict[str, np.ndarray]) -> None:
    """``ds`` holds exactly ``arrays``, flattened and scaled to [0, 1]."""
    for x, y, img_name, lab_name in (
        (ds.train_x, ds.train_y, *NAMES[:2]),
        (ds.test_x, ds.test_y, *NAMES[2:]),
    ):
        images, labels = arrays[img_name], arrays[lab_name]
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape == (images.shape[0], 784)
        expected = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
        torch.testing.assert_close(x, expected)
        assert y.tolist() == labels.tolist()
    assert ds.n_classes == 10 and ds.image_shape == (28, 28)


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return synthetic_arrays()


@pytest.fixture
def mnist_dir(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A plain (uncompressed) MNIST folder of synthetic data."""
    write_folder(tmp_path / "mnist", arrays)
    return tmp_path / "mnist"


def load_error(data_dir: Path, name: str = "mnist") -> str:
    """The message of the DataError that loading ``data_dir`` raises (one line)."""
    with pytest.raises(DataError) as info:
        load_dataset(name, data_dir)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------------------
# digits


def test_digits_shapes_range_and_determinism() -> None:
    ds = load_dataset("digits")
    assert ds.name == "digits" and ds.n_classes == 10 and ds.image_shape == (8, 8)
    assert ds.train_x.shape == (1347, 64) and ds.test_x.shape == (450, 64)
    assert ds.train_y.shape == (1347,) and ds.test_y.shape == (450,)
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert ds.n_features == 64
    for x in (ds.train_x, ds.test_x):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # stratified: every class in both splits, in near-equal proportion
    assert ds.test_y.bincount(minlength=10).min() >= 40
    again = load_dataset("digits")
    assert torch.equal(ds.train_x, again.train_x) and torch.equal(ds.test_y, again.test_y)


def test_digits_limits_take_the_first_samples() -> None:
    full = load_dataset("digits")
    small = load_dataset("digits", max_train=100, max_test=20)
    assert small.train_x.shape == (100, 64) and small.test_y.shape == (20,)
    assert torch.equal(small.train_x, full.train_x[:100]) and torch.equal(small.test_y, full.test_y[:20])


@pytest.mark.parametrize("kwargs", [{"max_train": 0}, {"max_test": -3}, {"max_train": 1.5}])
def test_limits_below_one_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="max_"):
        load_dataset("digits", **kwargs)


def test_unknown_dataset_lists_allowed_names() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    assert "cifar10" in str(info.value)
    for name in DATASETS:
        assert name in str(info.value)


# --------------------------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    # a misleading extension: detection is by magic bytes
    path = write_idx(tmp_path / "data.bin", array, compress=compress)
    out = read_idx(path)
    assert out.dtype == torch.uint8 and out.tolist() == array.tolist()


def test_read_idx_big_endian_types(tmp_path: Path) -> None:
    values = np.array([[1, -2], [300, -40000]], dtype=">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(struct.pack(">I", 0x0C02) + struct.pack(">2I", 2, 2) + values.tobytes())
    out = read_idx(path)
    assert out.dtype == torch.int32 and out.tolist() == values.tolist()


def test_read_idx_not_idx(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(b"hello world, not idx")
    with pytest.raises(DataError, match="junk.txt.*not an IDX file"):
        read_idx(path)


def test_read_idx_short_header(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="short.*truncated IDX header"):
        read_idx(path)


def test_read_idx_trailing_data(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00")
    with pytest.raises(DataError, match="long.*trailing data.*need 5 bytes.*found 6"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# --------------------------------------------------------------------------------------------------------
# IDX folders


def test_plain_folder_round_trip(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    ds = load_dataset("mnist", mnist_dir)
    assert ds.name == "mnist"
    check_matches(ds, arrays)


def test_gzip_torchvision_layout(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_folder(tmp_path / "FashionMNIST" / "raw", arrays, compress=True)
    ds = load_dataset("fashion-mnist", tmp_path)
    assert ds.name == "fashion-mnist"
    check_matches(ds, arrays)
    check_matches(load_dataset("fashion_mnist", tmp_path / "FashionMNIST" / "raw"), arrays)


def test_mnist_torchvision_layout_mixed_compression(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    raw = tmp_path / "MNIST" / "raw"
    for i, (base, array) in enumerate(arrays.items()):
        write_idx(raw / base, array, compress=i % 2 == 0)
    check_matches(load_dataset("mnist", tmp_path), arrays)


def test_limits_on_idx_folder(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    ds = load_dataset("mnist", mnist_dir, max_train=5, max_test=100)
    assert ds.train_x.shape == (5, 784) and ds.test_x.shape == (7, 784)
    assert ds.train_y.tolist() == arrays[NAMES[1]][:5].tolist()


def test_mnist_needs_data_dir() -> None:
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("mnist")


def test_missing_directory(tmp_path: Path) -> None:
    message = load_error(tmp_path / "no-such-dir")
    assert "no-such-dir" in message and "does not exist" in message


def test_empty_directory_lists_expected_names(tmp_path: Path) -> None:
    message = load_error(tmp_path)
    assert str(tmp_path) in message
    for base in NAMES:
        assert f"{base}[.gz]" in message


def test_missing_one_file(mnist_dir: Path) -> None:
    (mnist_dir / NAMES[3]).unlink()
    message = load_error(mnist_dir)
    assert str(mnist_dir) in message and f"missing mnist file(s) {NAMES[3]}[.gz]" in message


def test_wrong_magic(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    # a labels file where the images should be
    write_idx(mnist_dir / NAMES[0], arrays[NAMES[1]])
    message = load_error(mnist_dir)
    assert NAMES[0] in message and "expected 0x00000803, found 0x00000801" in message


def test_wrong_magic_labels(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    write_idx(mnist_dir / NAMES[3], arrays[NAMES[2]])
    message = load_error(mnist_dir)
    assert NAMES[3] in message and "expected 0x00000801, found 0x00000803" in message


def test_truncated_file(mnist_dir: Path) -> None:
    path = mnist_dir / NAMES[2]
    path.write_bytes(path.read_bytes()[:-10])
    message = load_error(mnist_dir)
    assert NAMES[2] in message and "truncated file" in message
    assert f"need {7 * 28 * 28} bytes" in message and f"found {7 * 28 * 28 - 10}" in message


def test_corrupt_gzip(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    paths = write_folder(tmp_path, arrays, compress=True)
    data = bytearray(paths[NAMES[0]].read_bytes())
    data[20:60] = b"\xff" * 40
    paths[NAMES[0]].write_bytes(bytes(data))
    message = load_error(tmp_path)
    assert f"{NAMES[0]}.gz" in message and "corrupt gzip" in message


def test_truncated_gzip(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    paths = write_folder(tmp_path, arrays, compress=True)
    path = paths[NAMES[1]]
    path.write_bytes(path.read_bytes()[:15])
    message = load_error(tmp_path)
    assert f"{NAMES[1]}.gz" in message and "corrupt gzip" in message


def test_wrong_image_shape(tmp_path: Path) -> None:
    write_folder(tmp_path, synthetic_arrays(side=8))
    message = load_error(tmp_path, "fashion-mnist")
    assert NAMES[0] in message and "8x8, expected 28x28 for fashion-mnist" in message


def test_label_count_mismatch(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    write_idx(mnist_dir / NAMES[1], arrays[NAMES[1]][:-1])
    message = load_error(mnist_dir)
    assert NAMES[1] in message and "label count 11 != image count 12" in message


def test_label_out_of_range(mnist_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    labels = arrays[NAMES[3]].copy()
    labels[2] = 12
    write_idx(mnist_dir / NAMES[3], labels)
    message = load_error(mnist_dir)
    assert NAMES[3] in message and "outside 0..9" in message and "12" in message


def test_data_dir_is_a_file(mnist_dir: Path) -> None:
    message = load_error(mnist_dir / NAMES[0])
    assert NAMES[0] in message and "found a file" in message


# --------------------------------------------------------------------------------------------------------
# real data


@pytest.mark.skipif(not MNIST_10K.is_dir(), reason=f"{MNIST_10K} not present")
def test_real_mnist_train10k() -> None:
    ds = load_dataset("mnist", MNIST_10K)
    assert ds.train_x.shape == (10000, 784) and ds.test_x.shape == (10000, 784)
    assert ds.image_shape == (28, 28)
    assert ds.train_y.bincount(minlength=10).tolist() == MNIST_10K_CLASS_COUNTS
    assert float(ds.train_x.min()) == 0.0 and float(ds.train_x.max()) == 1.0
    assert int(ds.test_y.min()) == 0 and int(ds.test_y.max()) == 9


@pytest.mark.skipif(
    not Path(FASHION_MNIST_DEFAULT_DIR).is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)
def test_debian_fashion_mnist() -> None:
    ds = load_dataset("fashion-mnist", max_test=500)
    assert ds.train_x.shape == (60000, 784) and ds.test_x.shape == (500, 784)
    assert ds.train_y.bincount(minlength=10).tolist() == [6000] * 10
    assert float(ds.train_x.max()) == 1.0
