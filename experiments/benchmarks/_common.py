"""Helpers shared by the benchmark scripts: where the real data is, and binarized MNIST or a stand-in."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ppl_vae.core.config import load_experiment
from ppl_vae.data import DATA_ENV, Dataset, Split
from ppl_vae.data.datasets import load_binarized_mnist
from ppl_vae.data.transforms import to_floating
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NETWORKS = {  # decoder, encoder, latent size: the IWAE paper's MLP and conv_binarized_mnist's conv pair
    "mlp": ({"name": "mlp", "hidden": [200, 200], "activation": "tanh"},) * 2 + (50,),
    "conv": ({"name": "conv", "channels": [64, 32]}, {"name": "conv", "channels": [32, 64], "hidden": [256]}, 32),
}


def benchmark_pair(kind: str, seed: int, device: torch.device) -> Pair:
    """The Bernoulli VAE and Gaussian encoder on (1, 28, 28) images with the ``kind`` networks of NETWORKS."""
    decoder, encoder, latent = NETWORKS[kind]
    torch.manual_seed(seed)
    model = BernoulliVAE((1, 28, 28), latent_dim=latent, decoder=decoder)
    guide = GaussianEncoder((1, 28, 28), latent_dim=latent, encoder=encoder)
    return Pair(model, guide).to(device)


def shared_data_dir(dataset: str = "binarized_mnist") -> Path | None:
    """``$PPL_VAE_DATA`` or ``../shared/data`` beside the project, if it has ``dataset``/."""
    for candidate in (os.environ.get(DATA_ENV), SHARED_DATA):
        if candidate and (Path(candidate) / dataset).is_dir():
            return Path(candidate)
    return None


def data_dir_override(dataset: str) -> str | None:
    """The ``--set`` override pointing an experiment at ``dataset`` in the shared data; None, said, when absent."""
    folder = shared_data_dir(dataset)
    if folder is None:
        print(f"skipped: {dataset} not found in ${DATA_ENV} or {SHARED_DATA}")
        return None
    return f'data.data_dir="{folder}"'


def trained_once(name: str, run_dir: Path, overrides: list[str]) -> Path:
    """The run of experiment ``name`` in ``run_dir``: trained with ``overrides`` unless it already finished there."""
    from ppl_vae.runs.training import train_experiment

    if not (run_dir / "summary.json").exists():
        print(f"training {name} into {run_dir}", flush=True)
        train_experiment(load_experiment(name, overrides), run_dir)
    return run_dir


def binarized_mnist_or_random(seed: int = 0, random: bool = False, size: int = 50000) -> tuple[Dataset, str]:
    """Binarized MNIST (floating point, (N, 1, 28, 28)) when its files are present and ``random`` is
    False, else random binary images of the same shape (``size`` training images)."""
    folder = None if random else shared_data_dir()
    if folder is not None:
        data = to_floating(load_binarized_mnist(str(folder), download=False))
        return data, f"binarized MNIST from {folder}"
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> Split:
        return Split(torch.bernoulli(torch.full((n, 1, 28, 28), 0.13), generator=generator))

    small = min(size, 10000)
    data = Dataset("random", split(size), split(small), split(small), levels=2, image_shape=(1, 28, 28))
    reason = "--tiny" if random else "../shared/data not found"
    return data, f"random binary images of MNIST's shape ({reason})"
