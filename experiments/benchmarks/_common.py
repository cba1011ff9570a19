"""Helpers shared by the benchmark scripts: where the real data is, and binarized MNIST or a stand-in."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ppl_vae.data import DATA_ENV, Dataset, Split, load_binarized_mnist

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_data_dir(dataset: str = "binarized_mnist") -> Path | None:
    """``$PPL_VAE_DATA`` or ``../shared/data`` beside the project, if it has ``dataset``/."""
    for candidate in (os.environ.get(DATA_ENV), SHARED_DATA):
        if candidate and (Path(candidate) / dataset).is_dir():
            return Path(candidate)
    return None


def binarized_mnist_or_random(seed: int = 0) -> tuple[Dataset, str]:
    """Binarized MNIST when its files are present, else random binary data of the same shape."""
    folder = shared_data_dir()
    if folder is not None:
        return load_binarized_mnist(str(folder), download=False), f"binarized MNIST from {folder}"
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> Split:
        return Split(torch.bernoulli(torch.full((n, 784), 0.13), generator=generator))

    data = Dataset("random", split(50000), split(10000), split(10000), (28, 28), None, "random binary")
    return data, "random binary data of MNIST's shape (../shared/data not found)"
