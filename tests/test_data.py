"""Datasets, their readers and the checks on data a model is given."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from ppl_vae.data import (
    DataError,
    DataNotFoundError,
    binarize,
    check_data,
    load_binarized_mnist,
    load_digits,
    load_mnist,
    read_idx,
)


def test_digits_splits_and_range():
    data = load_digits(seed=3)
    assert (len(data.train), len(data.valid), len(data.test)) == (1257, 180, 360)
    assert data.x_dim == 64 and data.image_shape == (8, 8) and data.num_classes == 10
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0
    assert not data.is_binary()
    assert data.test.y.dtype == torch.int64 and set(data.test.y.tolist()) == set(range(10))
    assert torch.equal(load_digits(seed=3).train.x, data.train.x)
    assert not torch.equal(load_digits(seed=4).train.x, data.train.x)


def test_binarize_modes():
    data = load_digits()
    assert binarize(data, "auto", "binary").is_binary()
    assert binarize(data, "auto", "real") is data
    dynamic = binarize(data, "dynamic", "binary", seed=1)
    assert dynamic.dynamic_binarization and not dynamic.is_binary()
    assert ((dynamic.test.x == 0) | (dynamic.test.x == 1)).all()
    assert torch.equal(dynamic.test.x, binarize(data, "dynamic", "binary", seed=1).test.x)
    with pytest.raises(ValueError, match="valid modes: auto, none, threshold, dynamic"):
        binarize(data, "otsu", "binary")


@pytest.mark.parametrize(
    ("x", "support", "message"),
    [
        (torch.rand(4, 8, 1), "real", r"shape \(N, D\)"),
        (torch.tensor([[0.0, float("nan")]]), "real", "NaN or infinite"),
        (torch.tensor([[0.0, float("inf")]]), "real", "NaN or infinite"),
        (torch.tensor([[0.0, 1.5]]), "unit_interval", r"outside \[0, 1\]"),
        (torch.tensor([[0.0, -0.1]]), "binary", r"outside \[0, 1\]"),
        (torch.tensor([[0.0, 0.5]]), "binary", "not binary but the model has a Bernoulli likelihood"),
        (torch.tensor([[0, 1]]), "binary", "floating-point"),
        (torch.zeros(0, 3), "real", "empty"),
    ],
)
def test_bad_data_is_named(x, support, message):
    with pytest.raises(DataError, match=message):
        check_data(x, support)


def test_wrong_width():
    with pytest.raises(DataError, match="has 10 features per example; the model expects 64"):
        check_data(torch.rand(3, 10), "real", x_dim=64)


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_round_trip_and_mnist_test_only_split(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28))
    labels = rng.integers(0, 10, size=50)
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", labels)
    assert np.array_equal(read_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"), images)
    data = load_mnist(str(tmp_path), download=False, valid_size=10, test_size=10)
    assert (len(data.train), len(data.valid), len(data.test)) == (30, 10, 10)
    assert "test set only" in data.description and "seed 0" in data.description
    assert data.train.x.max() <= 1.0 and data.x_dim == 784


def test_truncated_idx_is_an_error(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


def test_binarized_mnist_reads_amat_plain_and_gz(tmp_path):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    rows = np.random.default_rng(0).integers(0, 2, size=(3, 784))
    text = "\n".join(" ".join(map(str, r)) for r in rows) + "\n"
    (folder / "binarized_mnist_train.amat").write_text(text)
    for split in ("valid", "test"):
        with gzip.open(folder / f"binarized_mnist_{split}.amat.gz", "wt") as f:
            f.write(text)
    data = load_binarized_mnist(str(tmp_path), download=False)
    assert data.train.x.shape == (3, 784) and data.is_binary()
    assert torch.equal(data.test.x, torch.tensor(rows, dtype=torch.float32))
    assert data.test.y is None


def test_missing_files_name_files_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PPL_VAE_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError) as error:
        load_binarized_mnist(download=False)
    message = str(error.value)
    assert "binarized_mnist_train.amat" in message and str(tmp_path / "binarized_mnist") in message
    assert "PPL_VAE_DATA" in message
