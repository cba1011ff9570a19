"""Datasets as in-memory tensors with train / valid / test splits.

Every split holds ``x`` of shape ``(N, D)`` (float32, pixels scaled to [0, 1],
images flattened row-major) and, for labelled sets, ``y`` of shape ``(N,)`` (int64).
Structured-output sets (``quadrants``) hold the input in ``x`` (N, D) and the output
to predict in ``y`` (N, D_y), both float32.
Batches are slices of these tensors: no per-item ``Dataset.__getitem__``.

Files are looked for in ``<data_dir>/<dataset name>/``. The data directory is, in
order: the ``data_dir`` option of the experiment, the ``PPL_VAE_DATA`` environment
variable, ``~/.cache/ppl_vae/data``.
"""

from __future__ import annotations

import gzip
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ppl_vae.registry import register_dataset

DATA_ENV = "PPL_VAE_DATA"

SUPPORTS = ("binary", "unit_interval", "real")


class DataError(ValueError):
    """Data that a model cannot take: wrong shape, non-finite, out of range, non-binary."""


class DataNotFoundError(FileNotFoundError):
    """Dataset files that are missing and could not be downloaded."""


@dataclass(frozen=True)
class Split:
    """One split: ``x`` (N, D) float32 in [0, 1]; ``y`` (N,) int64 labels, (N, D_y) float32 outputs, or None."""

    x: Tensor
    y: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class Dataset:
    """Three splits plus what plots and models need to know about them.

    ``dynamic_binarization``: training batches are redrawn as Bernoulli(x) at every
    step (Salakhutdinov & Murray 2008); valid and test are binarized once, with a seed.
    ``description`` says where the data came from and how it was split.
    ``input_mask``: for structured-output sets, a (H*W,) bool tensor, True at the image
    pixels that ``x`` holds; ``y`` holds the others, both in row-major order.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    image_shape: tuple[int, int]
    num_classes: int | None
    description: str
    dynamic_binarization: bool = False
    input_mask: Tensor | None = None

    @property
    def x_dim(self) -> int:
        return self.train.x.shape[1]

    @property
    def y_dim(self) -> int | None:
        """D_y of structured outputs; None for labels or unlabelled data."""
        y = self.train.y
        return y.shape[1] if y is not None and y.dim() == 2 else None

    def is_binary(self, field: str = "x") -> bool:
        """True when ``field`` ("x" or "y") holds only 0s and 1s in every split."""
        return all(_is_binary(getattr(s, field)) for s in (self.train, self.valid, self.test))

    def images(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Whole images (N, H*W): ``x`` itself, or input ``x`` and output ``y`` put back in place."""
        if self.input_mask is None:
            return x
        images = x.new_empty(*x.shape[:-1], self.input_mask.numel())
        images[..., self.input_mask] = x
        images[..., ~self.input_mask] = y
        return images

    def split(self, name: str) -> Split:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split '{name}'; valid splits: train, valid, test")
        return getattr(self, name)


def _is_binary(x: Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def check_labels(y: Tensor | None, num_classes: int, n: int | None = None, what: str = "labels") -> None:
    """Raise :class:`DataError` unless ``y`` is a (n,) integer tensor of classes 0 .. num_classes - 1."""
    expected = f"class labels y, shape (N,), integers 0 to {num_classes - 1}"
    if y is None:
        raise DataError(f"{what}: none given; a label-conditioned model needs {expected}")
    if not isinstance(y, Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        kind = y.dtype if isinstance(y, Tensor) else type(y).__name__
        raise DataError(f"{what} must be {expected}; got {kind}")
    if y.dim() != 1:
        raise DataError(f"{what} must be {expected}; got shape {tuple(y.shape)}")
    if n is not None and y.shape[0] != n:
        raise DataError(f"{what}: {y.shape[0]} labels for {n} examples")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(f"{what} must be {expected}; got values from {int(y.min())} to {int(y.max())}")


def check_data(x: Tensor, support: str, x_dim: int | None = None, what: str = "data") -> None:
    """Raise :class:`DataError` unless ``x`` is a finite (N, D) float tensor fitting ``support``.

    ``support`` is ``"binary"`` ({0, 1}), ``"unit_interval"`` ([0, 1]) or ``"real"``.
    """
    if support not in SUPPORTS:
        raise ValueError(f"unknown data support '{support}'; valid supports: {', '.join(SUPPORTS)}")
    if not isinstance(x, Tensor):
        raise DataError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise DataError(f"{what} must have shape (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise DataError(f"{what} is empty")
    if x_dim is not None and x.shape[1] != x_dim:
        raise DataError(f"{what} has {x.shape[1]} features per example; the model expects {x_dim}")
    if not x.is_floating_point():
        raise DataError(f"{what} must be a floating-point tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise DataError(f"{what} contains NaN or infinite values")
    if support != "real" and bool(((x < 0) | (x > 1)).any()):
        raise DataError(f"{what} has values outside [0, 1] (min {x.min().item():g}, max {x.max().item():g})")
    if support == "binary" and not _is_binary(x):
        raise DataError(
            f"{what} is not binary but the model has a Bernoulli likelihood; binarize it "
            '(data.binarize = "threshold" or "dynamic") or use a likelihood for grey levels'
        )


def observed_field(model) -> str:
    """The field of a :class:`Split` (``"x"`` or ``"y"``) that ``model`` (class or instance) scores.

    Models say so with an ``observed`` attribute; without one it is ``"x"``.
    """
    return getattr(model, "observed", "x")


def scored_data(model, x: Tensor, y: Tensor | None) -> Tensor | None:
    """Of a model's two arguments, the one its likelihood scores: ``x``, or ``y`` for structured outputs."""
    return x if observed_field(model) == "x" else y


def check_dataset(data: Dataset, support: str, observed: str = "x", conditioning: str | None = None) -> None:
    """Check every split of ``data`` for a model that scores ``observed`` with a likelihood of
    ``support`` and reads the other field as ``conditioning`` (None, "labels" or "input")."""
    if conditioning == "labels" and data.num_classes is None:
        raise DataError(f"the model is conditioned on class labels y, but dataset '{data.name}' has no labels")
    for name in ("train", "valid", "test"):
        split = data.split(name)
        what = f"{data.name} {name} split"
        scored = getattr(split, observed)
        if scored is None:
            raise DataError(f"the model scores '{observed}', which the {what} does not have")
        train_support = "unit_interval" if data.dynamic_binarization and name == "train" else support
        check_data(scored, train_support, what=f"{what}, {observed}")
        if conditioning == "labels":
            check_labels(split.y, data.num_classes, len(split), f"{what}, labels y")
        elif conditioning == "input":
            check_data(split.x, "real", what=f"{what}, input x")


BINARIZE_MODES = ("auto", "none", "threshold", "dynamic")


def binarize(data: Dataset, mode: str, support: str, seed: int = 0, field: str = "x") -> Dataset:
    """Make the ``field`` ("x", or "y" for structured outputs) of ``data`` fit a likelihood of ``support``.

    ``mode``: ``"none"`` leaves pixels as they are; ``"threshold"`` maps values > 0.5 to 1;
    ``"dynamic"`` keeps grey levels for training (the trainer draws Bernoulli(p) per
    batch) and binarizes valid/test once by sampling with ``seed``; ``"auto"`` is
    ``"threshold"`` when a binary support meets grey-level data, else ``"none"``.
    """
    if mode not in BINARIZE_MODES:
        raise ValueError(f"unknown binarize mode '{mode}'; valid modes: {', '.join(BINARIZE_MODES)}")
    splits = {name: data.split(name) for name in ("train", "valid", "test")}
    if mode == "auto":
        mode = "threshold" if support == "binary" and not data.is_binary(field) else "none"
    if mode == "none":
        return data
    what = "" if field == "x" else " (outputs y)"
    if mode == "threshold":
        fixed = {name: replace(s, **{field: (getattr(s, field) > 0.5).float()}) for name, s in splits.items()}
        return replace(data, **fixed, description=data.description + f"; binarized at 0.5{what}")
    generator = torch.Generator().manual_seed(seed)
    sampled = {
        name: replace(s, **{field: torch.bernoulli(getattr(s, field), generator=generator)})
        for name, s in splits.items()
        if name != "train"
    }
    return replace(
        data, **sampled, dynamic_binarization=True, description=data.description + f"; dynamically binarized{what}"
    )


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data directory: the argument, else ``$PPL_VAE_DATA``, else ``~/.cache/ppl_vae/data``."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "ppl_vae" / "data"


def _shuffled_splits(
    x: np.ndarray, y: np.ndarray | None, sizes: tuple[int, int], seed: int
) -> tuple[Split, Split, Split]:
    """Shuffle with ``seed`` and cut into train / valid / test, valid and test of ``sizes``."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_valid, n_test = sizes
    parts = np.split(order, [len(x) - n_valid - n_test, len(x) - n_test])
    return tuple(
        Split(
            torch.as_tensor(x[i], dtype=torch.float32), None if y is None else torch.as_tensor(y[i], dtype=torch.int64)
        )
        for i in parts
    )


@register_dataset("digits")
def load_digits(seed: int = 0, valid_size: int = 180, test_size: int = 360) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, ships with scikit-learn).

    Pixels 0..16 are scaled to [0, 1]; the images are shuffled with ``seed`` and split
    into train / valid (``valid_size``) / test (``test_size``).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.data.astype(np.float32) / 16.0
    train, valid, test = _shuffled_splits(x, bunch.target, (valid_size, test_size), seed)
    return Dataset(
        "digits",
        train,
        valid,
        test,
        (8, 8),
        10,
        f"scikit-learn digits, 8x8, split {len(train)}/{len(valid)}/{len(test)} with seed {seed}",
    )


BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def _find_or_download(folder: Path, names: list[str], url: str | None, download: bool) -> list[Path]:
    """Paths of ``names`` in ``folder``, each as given or with ``.gz``; download missing ones.

    Raises :class:`DataNotFoundError` naming every missing file and the folder to put
    it in when a file is absent and cannot be downloaded.
    """
    found: dict[str, Path] = {}
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    missing = [n for n in names if n not in found]
    errors: list[str] = []
    if missing and download and url:
        folder.mkdir(parents=True, exist_ok=True)
        for name in list(missing):
            target = folder / name
            partial = target.with_suffix(target.suffix + ".part")
            try:
                with urllib.request.urlopen(url + name, timeout=30) as response, open(partial, "wb") as out:
                    out.write(response.read())
                os.replace(partial, target)
                found[name] = target
                missing.remove(name)
            except OSError as error:
                partial.unlink(missing_ok=True)
                errors.append(f"{name}: {error}")
    if missing:
        reason = f" (download failed: {errors[0]})" if errors else " (download is off)" if url else ""
        raise DataNotFoundError(
            f"missing data files {', '.join(missing)} (plain or .gz) in {folder}{reason}; put them "
            f"there, or point data_dir / ${DATA_ENV} at a directory that has {folder.name}/"
        )
    return [found[n] for n in names]


def _read_amat(path: Path) -> np.ndarray:
    return np.loadtxt(path, dtype=np.uint8).astype(np.float32)


@register_dataset("binarized_mnist")
def load_binarized_mnist(data_dir: str | None = None, download: bool = True) -> Dataset:
    """Fixed-binarization MNIST of Larochelle & Murray (2011): 50,000 / 10,000 / 10,000.

    Reads ``binarized_mnist_{train,valid,test}.amat`` (plain or ``.gz``) from
    ``<data_dir>/binarized_mnist/``. Test labels are read from
    ``binarized_mnist_test_labels.txt`` when present (the official files have none).
    """
    folder = resolve_data_dir(data_dir) / "binarized_mnist"
    names = [f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")]
    paths = _find_or_download(folder, names, BINARIZED_MNIST_URL, download)
    train, valid, test = (torch.from_numpy(_read_amat(p)) for p in paths)
    labels = folder / "binarized_mnist_test_labels.txt"
    test_y = torch.from_numpy(np.loadtxt(labels, dtype=np.int64)) if labels.is_file() else None
    return Dataset(
        "binarized_mnist",
        Split(train),
        Split(valid),
        Split(test, test_y),
        (28, 28),
        10 if test_y is not None else None,
        f"binarized MNIST (Larochelle & Murray) from {folder}, 50000/10000/10000",
    )


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, plain or .gz) as a uint8 array of its stored shape."""
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: {data.size} values for shape {shape}")
    return data.reshape(shape)


MNIST_TEST = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
MNIST_TRAIN = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]


@register_dataset("mnist")
def load_mnist(
    data_dir: str | None = None, download: bool = True, seed: int = 0, valid_size: int = 1000, test_size: int = 1000
) -> Dataset:
    """Grey-level MNIST from the official IDX files, pixels scaled to [0, 1], with labels.

    With all four files: train 55,000 / valid 5,000 (the last 5,000 training images)
    / test 10,000. With only the 10,000-image test files (as on machines that have no
    training file): those are shuffled with ``seed`` and split into train / valid
    (``valid_size``) / held-out (``test_size``), which the description says.
    """
    folder = resolve_data_dir(data_dir) / "mnist"
    test_x, test_y = (read_idx(p) for p in _find_or_download(folder, MNIST_TEST, MNIST_URL, download))
    test_x = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    try:
        train_x, train_y = (read_idx(p) for p in _find_or_download(folder, MNIST_TRAIN, MNIST_URL, download))
    except DataNotFoundError:
        train, valid, test = _shuffled_splits(test_x, test_y, (valid_size, test_size), seed)
        return Dataset(
            "mnist",
            train,
            valid,
            test,
            (28, 28),
            10,
            f"MNIST test set only ({folder}), split {len(train)}/{len(valid)}/{len(test)} "
            f"with seed {seed}: the 60,000 training images are not present",
        )
    train_x = train_x.reshape(len(train_x), -1).astype(np.float32) / 255.0

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))

    return Dataset(
        "mnist",
        split(train_x[:-5000], train_y[:-5000]),
        split(train_x[-5000:], train_y[-5000:]),
        split(test_x, test_y),
        (28, 28),
        10,
        f"MNIST from {folder}, 55000/5000/10000",
    )


QUADRANT_INPUTS = {1: "the bottom-left quadrant", 2: "the left half", 3: "all but the bottom-right quadrant"}
QUADRANT_SOURCES = ("digits", "mnist")


def quadrant_mask(image_shape: tuple[int, int], quadrants: int) -> Tensor:
    """(H*W,) bool mask, True at the input pixels of the quadrant task (as in Pyro's CVAE example)."""
    if quadrants not in QUADRANT_INPUTS:
        raise ValueError(f"quadrants must be 1, 2 or 3 (the number of input quadrants), got {quadrants!r}")
    h, w = image_shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[h // 2 :, : w // 2] = True
    if quadrants >= 2:
        mask[:, : w // 2] = True
    if quadrants == 3:
        mask[: h // 2, :] = True
    return mask.reshape(-1)


@register_dataset("quadrants")
def load_quadrants(
    source: str = "digits", quadrants: int = 1, seed: int = 0, data_dir: str | None = None, download: bool = True
) -> Dataset:
    """Structured output prediction (Sohn, Lee & Yan 2015): from some quadrants of an image, the rest.

    ``x`` (N, D_in) holds the input pixels (``quadrants`` = 1: the bottom-left quadrant,
    2: the left half, 3: all but the bottom-right quadrant), ``y`` (N, D_out) the other
    pixels, both grey levels in [0, 1], row-major; :meth:`Dataset.images` puts them back
    together. ``source`` is ``"digits"`` (8x8, offline) or ``"mnist"`` (28x28), split as
    that dataset is; class labels are dropped.
    """
    if source not in QUADRANT_SOURCES:
        raise ValueError(f"unknown quadrants source '{source}'; valid sources: {', '.join(QUADRANT_SOURCES)}")
    data = load_digits(seed) if source == "digits" else load_mnist(data_dir, download, seed)
    mask = quadrant_mask(data.image_shape, quadrants)

    def cut(s: Split) -> Split:
        return Split(s.x[:, mask].contiguous(), s.x[:, ~mask].contiguous())

    return Dataset(
        f"{source}_quadrants",
        cut(data.train),
        cut(data.valid),
        cut(data.test),
        data.image_shape,
        None,
        f"{data.description}; input x: {QUADRANT_INPUTS[quadrants]} ({int(mask.sum())} pixels), "
        f"output y: the other {int((~mask).sum())} pixels",
        input_mask=mask,
    )


def one_hot_labels(y: Tensor | None, num_classes: int, n: int | None = None, what: str = "labels y") -> Tensor:
    """Checked labels (n,) as one-hot float32 rows (n, num_classes); see :func:`check_labels`."""
    check_labels(y, num_classes, n, what)
    return torch.nn.functional.one_hot(y, num_classes).float()
