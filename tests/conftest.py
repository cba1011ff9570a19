"""Shared fixtures: small data and fast experiment overrides (no ../shared/data needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pyro
import pytest
import torch

from ppl_vae.core.config import load_experiment
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


def pytest_configure(config):
    """Under pytest-xdist each worker computes with one thread (and so do the commands it starts), so that the
    workers share the cores instead of oversubscribing them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    pyro.set_rng_seed(0)
    yield


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Trained feature classifiers go to one folder of the session, not the user's ~/.cache: trained once per test
    session."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PPL_VAE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


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


KILLABLE = '''
import os, signal
from ppl_vae import register_strategy
from ppl_vae.train.svi import SVIStrategy


@register_strategy("test_killable")
class Killable(SVIStrategy):
    """The SVI step; the process kills itself (SIGKILL) at its step $PPL_VAE_TEST_KILL_AT when that is set."""

    steps = 0

    def step(self, x, y, beta, total):
        Killable.steps += 1
        if str(Killable.steps) == os.environ.get("PPL_VAE_TEST_KILL_AT"):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().step(x, y, beta, total)
'''


@pytest.fixture(scope="session")
def killable_plugin(tmp_path_factory) -> Path:
    """The plugin file of the killable SVI step: one path for the session, so that it registers once."""
    path = tmp_path_factory.mktemp("plugins") / "killable.py"
    path.write_text(KILLABLE)
    return path


def killable_experiment(folder, plugin: Path, body: str = "") -> str:
    """An experiment file in ``folder`` that loads the killable SVI step (strategy ``test_killable``), then ``body``."""
    path = folder / "killable.toml"
    path.write_text(f'[experiment]\nplugins = ["{plugin}"]\n\n' + body)
    return str(path)
