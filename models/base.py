"""Scaffolding shared by every likelihood: the prior, the data plate, the MLP decoder.

A model is p(z) p(x | z) with z ~ Normal(0, I_latent_dim). Subclasses say only how
decoder output becomes a distribution over x (:meth:`LatentVariableModel.likelihood`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule
from torch import Tensor

from ppl_vae.nets import mlp


def plate_size(x: Tensor | None, num_samples: int | None) -> int:
    """Examples in the ``data`` plate: ``x.shape[0]`` when data is given, else ``num_samples``."""
    if x is not None:
        return x.shape[0]
    if num_samples is None or num_samples < 1:
        raise ValueError("give data x or a positive num_samples to draw from the model")
    return num_samples


class LatentVariableModel(PyroModule):
    """p(z) p(x | z): z ~ Normal(0, I) of ``latent_dim``, x of ``x_dim`` from the likelihood.

    ``decoder`` maps z (..., latent_dim) to ``decoder_outputs * x_dim`` numbers per
    example, which :meth:`likelihood` turns into a distribution with event shape (x_dim,).
    ``data_support`` says which data the likelihood accepts ("binary", "unit_interval", "real").
    """

    data_support = "real"
    decoder_outputs = 1

    def __init__(self, x_dim: int, latent_dim: int = 10, hidden: Sequence[int] = (200,), activation: str = "relu"):
        super().__init__()
        self.x_dim = x_dim
        self.latent_dim = latent_dim
        self.decoder = mlp(latent_dim, list(hidden), self.decoder_outputs * x_dim, activation)
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def prior(self, n: int) -> dist.Distribution:
        """p(z): Normal(0, I), batch shape (n,), event shape (latent_dim,)."""
        return dist.Normal(self._zero, 1.0).expand([n, self.latent_dim]).to_event(1)

    def likelihood(self, decoded: Tensor) -> dist.Distribution:
        """p(x | z) from decoder output (..., decoder_outputs * x_dim); event shape (x_dim,)."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> dist.Distribution:
        """p(x | z) for latents z of shape (..., latent_dim)."""
        return self.likelihood(self.decoder(z))

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and ``x`` (observed when ``x`` is given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        with pyro.plate("data", n):
            z = pyro.sample("z", self.prior(n))
            return pyro.sample("x", self.decode(z), obs=x)
