"""The built-in datasets: scikit-learn's 8x8 digits, binarized MNIST, MNIST and Fashion-MNIST.

Each factory returns a :class:`~ppl_vae.data.containers.Dataset` of integer grey levels
(uint8 images of shape (N, 1, H, W)); the engine checks them and converts them to floating
point k / (levels - 1) (see ``ppl_vae.data.transforms``).

A dataset factory of your own follows the same contract: it receives the keys of ``[data]``
other than ``name``, ``binarize`` and ``dequantize`` as keyword arguments, and returns a
``Dataset`` whose splits hold ``x`` (N, *x_shape) and, optionally, ``y``: (N,) int64 labels
with ``num_classes`` set, or (N, *y_shape) outputs. Say ``levels`` for discrete data (the
values are the integers 0 .. levels - 1, or those divided by levels - 1) and ``image_shape``
for images. Options that decide which data is loaded and that a later command must repeat
go into ``options`` (the run records them).
"""

from __future__ import annotations

import numpy as np
import torch

from ppl_vae.core.errors import ConfigError, DataNotFoundError
from ppl_vae.core.registry import register_dataset
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.data.readers import find_or_download, present, read_amat, read_idx, resolve_data_dir


def shuffled_splits(
    x: np.ndarray, y: np.ndarray | None, sizes: tuple[int, int], seed: int
) -> tuple[Split, Split, Split]:
    """Shuffle with ``seed`` and cut into train / valid / test, valid and test of ``sizes``."""
    n_valid, n_test = sizes
    if n_valid < 1 or n_test < 1 or n_valid + n_test >= len(x):
        raise ConfigError(f"valid and test sizes {n_valid} and {n_test} do not fit {len(x)} examples")
    order = np.random.default_rng(seed).permutation(len(x))
    parts = np.split(order, [len(x) - n_valid - n_test, len(x) - n_test])
    return tuple(Split(torch.from_numpy(x[i]), None if y is None else torch.from_numpy(y[i])) for i in parts)


@register_dataset("digits")
def load_digits(seed: int = 0, valid_size: int = 180, test_size: int = 360) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, ships with scikit-learn): 17 grey levels.

    The images are shuffled with ``seed`` and split into train / valid (``valid_size``) / test
    (``test_size``).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.data.astype(np.uint8).reshape(-1, 1, 8, 8)
    train, valid, test = shuffled_splits(x, bunch.target.astype(np.int64), (valid_size, test_size), seed)
    return Dataset(
        "digits",
        train,
        valid,
        test,
        num_classes=10,
        levels=17,
        description=f"scikit-learn digits, 8x8, split {len(train)}/{len(valid)}/{len(test)} with seed {seed}",
        image_shape=(1, 8, 8),
    )


BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


@register_dataset("binarized_mnist")
def load_binarized_mnist(data_dir: str | None = None, download: bool = True) -> Dataset:
    """Fixed-binarization MNIST of Larochelle & Murray (2011): 50,000 / 10,000 / 10,000.

    Reads ``binarized_mnist_{train,valid,test}.amat`` (plain or ``.gz``) from
    ``<data_dir>/binarized_mnist/``. Test labels are read from
    ``binarized_mnist_test_labels.txt`` when present (the official files have none).
    """
    folder = resolve_data_dir(data_dir) / "binarized_mnist"
    names = [f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")]
    paths = find_or_download(folder, names, BINARIZED_MNIST_URL, download)
    train, valid, test = (torch.from_numpy(read_amat(p).reshape(-1, 1, 28, 28)) for p in paths)
    labels = folder / "binarized_mnist_test_labels.txt"
    test_y = torch.from_numpy(np.loadtxt(labels, dtype=np.int64)) if labels.is_file() else None
    return Dataset(
        "binarized_mnist",
        Split(train),
        Split(valid),
        Split(test, test_y),
        num_classes=None if test_y is None else 10,
        levels=2,
        description=f"binarized MNIST (Larochelle & Murray) from {folder}, 50000/10000/10000",
        image_shape=(1, 28, 28),
    )


IDX_TEST = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
IDX_TRAIN = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
IDX_SPLITS = ("auto", "standard", "test_only")


def _read_pair(paths) -> tuple[np.ndarray, np.ndarray]:
    images, labels = (read_idx(p) for p in paths)
    return images.reshape(len(images), 1, *images.shape[1:]), labels.astype(np.int64)


def load_idx_dataset(
    name: str,
    title: str,
    url: str,
    data_dir: str | None,
    download: bool,
    split: str,
    seed: int,
    valid_size: int | None,
    test_size: int,
) -> Dataset:
    """MNIST-format grey images with labels from ``<data_dir>/<name>/`` (plain or .gz IDX files).

    ``split``: ``"standard"``, the 60,000 training images (``valid_size`` of them, 5,000 by
    default, taken at random with ``seed`` for validation) and the official 10,000 test images;
    ``"test_only"``, only the 10,000 test files, shuffled with ``seed`` into train / valid
    (1,000 by default) / held-out (``test_size``); ``"auto"``, standard when the training files
    are present (or can be downloaded), else test_only. The resolved choice is in ``options``.
    """
    if split not in IDX_SPLITS:
        raise ConfigError(f"unknown data.split '{split}'; valid values: {', '.join(IDX_SPLITS)}")
    folder = resolve_data_dir(data_dir) / name
    if split == "auto":
        has_train = len(present(folder, IDX_TRAIN)) == 2
        if not has_train and download:
            try:
                find_or_download(folder, IDX_TRAIN, url, download)
                has_train = True
            except DataNotFoundError:
                pass
        split = "standard" if has_train else "test_only"
    test_x, test_y = _read_pair(find_or_download(folder, IDX_TEST, url, download))
    if split == "test_only":
        valid_size = 1000 if valid_size is None else valid_size
        train, valid, test = shuffled_splits(test_x, test_y, (valid_size, test_size), seed)
        description = (
            f"{title} test files only ({folder}), split {len(train)}/{len(valid)}/{len(test)} with seed {seed}"
        )
    else:
        train_x, train_y = _read_pair(find_or_download(folder, IDX_TRAIN, url, download))
        valid_size = 5000 if valid_size is None else valid_size
        if not 0 < valid_size < len(train_x):
            raise ConfigError(f"data.valid_size must be between 1 and {len(train_x) - 1}, got {valid_size}")
        order = np.random.default_rng(seed).permutation(len(train_x))
        valid_index, train_index = np.sort(order[:valid_size]), np.sort(order[valid_size:])
        train, valid = (
            Split(torch.from_numpy(train_x[i]), torch.from_numpy(train_y[i])) for i in (train_index, valid_index)
        )
        test = Split(torch.from_numpy(test_x), torch.from_numpy(test_y))
        description = (
            f"{title} from {folder}: {len(train)} training images, {len(valid)} validation images taken from the "
            f"60,000 at random with seed {seed}, the official {len(test)} test images"
        )
    return Dataset(
        name,
        train,
        valid,
        test,
        num_classes=10,
        levels=256,
        description=description,
        image_shape=tuple(test_x.shape[1:]),
        options={"split": split},
    )


def idx_dataset(name: str, title: str, url: str):
    """The registered factory of an MNIST-format dataset: keyword options as :func:`load_idx_dataset` takes them."""

    def load(
        data_dir: str | None = None,
        download: bool = True,
        split: str = "auto",
        seed: int = 0,
        valid_size: int | None = None,
        test_size: int = 1000,
    ) -> Dataset:
        return load_idx_dataset(name, title, url, data_dir, download, split, seed, valid_size, test_size)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"{title}: 28x28 grey images with labels, 256 levels; splits as load_idx_dataset says."
    return register_dataset(name)(load)


load_mnist = idx_dataset("mnist", "MNIST (LeCun et al.)", MNIST_URL)
load_fashion_mnist = idx_dataset("fashion_mnist", "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017)", FASHION_MNIST_URL)
