"""Shared fixtures: small data and fast experiment overrides (no ../shared/data needed)."""

from __future__ import annotations

import pyro
import pytest
import torch

import ppl_vae  # noqa: F401  (module-local Pyro parameters)
from ppl_vae.config import load_experiment

FAST = [
    "model.hidden=[32]",
    "guide.hidden=[32]",
    "model.latent_dim=4",
    "training.epochs=3",
    "evaluation.iw_samples=20",
    "evaluation.ppc_samples=5",
    "evaluation.ppc_examples=40",
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
    return torch.bernoulli(torch.full((6, 64), 0.3))
