"""Datasets, their readers, the checks on raw data (before any transform) and on what a model is given."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from torch.distributions import constraints

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.errors import ConfigError, DataError, DataNotFoundError
from ppl_vae.data import Dataset, Split, check_data, check_fields, check_values
from ppl_vae.data.datasets import load_binarized_mnist, load_digits, load_fashion_mnist, load_mnist
from ppl_vae.data.provenance import check_same_data, data_record, random_subset
from ppl_vae.data.readers import read_idx
from ppl_vae.data.transforms import binarize, likelihood_levels, to_floating

BERNOULLI = ModelContract(support=constraints.boolean)
GAUSSIAN = ModelContract(support=constraints.real)


def test_digits_splits_levels_and_images():
    data = load_digits(seed=3)
    assert (len(data.train), len(data.valid), len(data.test)) == (1257, 180, 360)
    assert data.x_shape == (1, 8, 8) and data.image_shape == (1, 8, 8) and data.num_classes == 10
    assert data.levels == 17 and data.train.x.dtype == torch.uint8 and int(data.train.x.max()) == 16
    floating = to_floating(data)
    assert floating.train.x.dtype == torch.float32 and floating.train.x.max() == 1.0
    assert torch.equal(floating.train.x * 16, data.train.x.float())
    assert to_floating(data, torch.float64).test.x.dtype == torch.float64
    assert torch.equal(load_digits(seed=3).train.x, data.train.x)
    assert not torch.equal(load_digits(seed=4).train.x, data.train.x)


def test_binarize_modes():
    data = to_floating(load_digits())
    threshold = binarize(data, "auto", BERNOULLI)
    assert threshold.levels == 2 and ((threshold.test.x == 0) | (threshold.test.x == 1)).all()
    assert binarize(data, "auto", GAUSSIAN) is data
    dynamic = binarize(data, "dynamic", BERNOULLI, seed=1)
    assert dynamic.dynamic_binarization and not ((dynamic.train.x == 0) | (dynamic.train.x == 1)).all()
    assert ((dynamic.test.x == 0) | (dynamic.test.x == 1)).all()
    assert torch.equal(dynamic.test.x, binarize(data, "dynamic", BERNOULLI, seed=1).test.x)


def test_likelihood_levels():
    data = to_floating(load_digits())
    assert likelihood_levels(data, GAUSSIAN, "auto") == 17
    assert likelihood_levels(data, BERNOULLI, "auto") is None
    with pytest.raises(ConfigError, match="dequantization asked for binary data"):
        likelihood_levels(binarize(data, "threshold", BERNOULLI), GAUSSIAN, "uniform")
    with pytest.raises(ConfigError, match="the model's likelihood is discrete"):
        likelihood_levels(data, BERNOULLI, "uniform")
    continuous = Dataset("c", *(Split(torch.randn(5, 3)) for _ in range(3)))
    assert likelihood_levels(continuous, GAUSSIAN, "auto") is None


def _with_train_x(data: Dataset, x: torch.Tensor) -> Dataset:
    return data.with_splits({"train": Split(x, data.train.y)})


@pytest.mark.parametrize(
    ("poison", "message"),
    [
        (
            lambda x: x.index_fill(0, torch.tensor([3]), float("nan")),
            "the train split of digits, x, has 64 NaN or infinite",
        ),
        (lambda x: x.index_fill(0, torch.tensor([3, 4]), float("inf")), "has 128 NaN or infinite"),
        (lambda x: x * 0.99, r"values off the grid k / 16 of its 17 declared levels"),
        (lambda x: x * 1.5, r"has \d+ values outside \[0, 1\]"),
    ],
)
def test_raw_values_are_checked_before_any_transform(poison, message):
    data = to_floating(load_digits())
    bad = _with_train_x(data, poison(data.train.x))
    with pytest.raises(DataError, match=message):
        check_values(bad)


def test_integer_levels_are_checked():
    data = load_digits()
    wide = _with_train_x(data, data.train.x.to(torch.int64) * 20)
    with pytest.raises(DataError, match=r"values outside 0..16, the 17 declared levels"):
        check_values(wide)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.with_splits({"train": "nope"}), "returned a train split of type str"),
        (lambda d: d.with_splits({"valid": Split(d.valid.x[:, :, :4])}), "the splits disagree on the shape of x"),
        (lambda d: d.with_splits({"test": Split(d.test.x, d.test.y[:5])}), "has 5 rows of y for 360 of x"),
        (
            lambda d: d.with_splits({}, image_shape=(1, 4, 16)),
            r"declares images of shape \(1, 4, 16\) but its examples",
        ),
        (lambda d: d.with_splits({}, levels=1), "declares levels = 1"),
        (lambda d: d.with_splits({"test": Split(d.test.x, d.test.y + 10)}), "got values from 10 to 19"),
    ],
)
def test_factory_fields_are_checked(change, message):
    with pytest.raises(DataError, match=message):
        check_fields(change(load_digits()), "dataset factory 'mine'")


@pytest.mark.parametrize(
    ("x", "support", "message"),
    [
        (torch.rand(4), constraints.real, r"shape \(N, D\) or \(N, C, H, W\)"),
        (torch.tensor([[0.0, float("nan")]]), constraints.real, "has 1 NaN or infinite values"),
        (torch.tensor([[0.0, 1.5]]), constraints.unit_interval, r"1 values outside \[0, 1\]"),
        (torch.tensor([[0.0, 0.5]]), constraints.boolean, "1 values that are not 0 or 1 but the model has a Bernoulli"),
        (torch.tensor([[0, 1]]), constraints.boolean, "floating-point"),
        (torch.zeros(0, 3), constraints.real, "empty"),
    ],
)
def test_bad_data_is_named(x, support, message):
    with pytest.raises(DataError, match=message):
        check_data(x, support)


def test_fingerprint_notices_changed_data_and_subsets_are_random():
    data = load_digits()
    record = data_record(data)
    check_same_data(record, load_digits(), "run")
    with pytest.raises(DataError, match="no longer matches run: its train, valid, test split"):
        check_same_data(record, load_digits(seed=1), "run")
    subset, which = random_subset(data.test, 50, seed=0)
    assert len(subset) == 50 and which == "a random 50 of the 360 (seed 0)"
    assert len(set(subset.y.tolist())) > 5  # not the first 50 of a sorted split
    assert random_subset(data.test, None, 0) == (data.test, "all 360")


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_idx_folder(root, name: str, train: bool):
    rng = np.random.default_rng(0)
    (root / name).mkdir()
    sets = [("t10k", 50)] + ([("train", 80)] if train else [])
    for prefix, n in sets:
        write_idx(root / name / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(root / name / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, size=n))


def test_idx_round_trip_and_mnist_test_only_split(tmp_path):
    fake_idx_folder(tmp_path, "mnist", train=False)
    images = read_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (50, 28, 28) and images.dtype == np.uint8
    data = load_mnist(str(tmp_path), download=False, valid_size=10, test_size=10)
    assert (len(data.train), len(data.valid), len(data.test)) == (30, 10, 10)
    assert data.options == {"split": "test_only"} and "test files only" in data.description
    assert data.x_shape == (1, 28, 28) and data.levels == 256


def test_standard_split_with_training_files_and_pinned_choice(tmp_path):
    fake_idx_folder(tmp_path, "fashion_mnist", train=True)
    data = load_fashion_mnist(str(tmp_path), download=False, valid_size=20)
    assert (len(data.train), len(data.valid), len(data.test)) == (60, 20, 50)
    assert data.options == {"split": "standard"} and "the official 50 test images" in data.description
    pinned = load_fashion_mnist(str(tmp_path), download=False, split="test_only", valid_size=10, test_size=10)
    assert len(pinned.train) == 30
    with pytest.raises(ConfigError, match="unknown data.split 'all'"):
        load_mnist(str(tmp_path), download=False, split="all")


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
    assert data.train.x.shape == (3, 1, 28, 28) and data.levels == 2
    assert torch.equal(data.test.x.reshape(3, -1), torch.tensor(rows, dtype=torch.uint8))
    assert data.test.y is None


def test_missing_files_name_files_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PPL_VAE_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError) as error:
        load_binarized_mnist(download=False)
    message = str(error.value)
    assert "binarized_mnist_train.amat" in message and str(tmp_path / "binarized_mnist") in message
    assert "PPL_VAE_DATA" in message
