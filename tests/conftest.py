"""Shared fixtures: small data and fast experiment overrides (no ../shared/data needed)."""

from __future__ import annotations

import pyro
import pytest
import torch

from ppl_vae.config import load_experiment
from ppl_vae.data import Dataset, Split

FAST = [
    "model.decoder.hidden=[32]",
    "guide.encoder.hidden=[32]",
    "model.latent_dim=4",
    "training.epochs=3",
    "training.device='cpu'",
    "evaluation.iw_samples=20",
    "evaluation.ppc_samples=5",
    "evaluation.ppc_examples=0",
]


@pytest.fixture(autouse=True)
def _seed():
    pyro.set_rng_seed(0)
    yield


@pytest.fixture
def fast_experiment():
    """The default experiment (digits, Bernoulli VAE) shrunk to train in about a second."""

    def make(*overrides: str, spec: str | None = None):
        return load_experiment(spec, [*FAST, *overrides])

    return make


@pytest.fixture
def binary_batch():
    return torch.bernoulli(torch.full((6, 1, 8, 8), 0.3))


def synthetic_binary(n: int = 600, x_dim: int = 16, seed: int = 0) -> Dataset:
    """Random binary vectors (N, x_dim) from a few prototypes with flipped bits, 4 classes; for tests."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.bernoulli(torch.full((4, x_dim), 0.5), generator=generator)
    labels = torch.randint(0, 4, (n,), generator=generator)
    flips = torch.bernoulli(torch.full((n, x_dim), 0.1), generator=generator)
    x = (prototypes[labels] + flips) % 2
    cut = [int(0.7 * n), int(0.85 * n)]
    parts = [Split(x[a:b], labels[a:b]) for a, b in zip([0, *cut], [*cut, n])]
    return Dataset("synthetic", *parts, num_classes=4, levels=2, description=f"synthetic binary, {n} examples")
