"""Amortized diagonal Normal encoder: q(z | x) = Normal(mu(x), diag sigma(x)^2)."""

from __future__ import annotations

from collections.abc import Sequence

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor
from torch.nn import functional as F

from ppl_vae.nets import mlp
from ppl_vae.registry import register_guide


@register_guide("gaussian_encoder")
class GaussianEncoder(PyroModule):
    """q(z|x) = Normal(mu(x), diag sigma(x)^2), mu and sigma from one MLP.

    The encoder maps x (..., x_dim) to 2 * latent_dim numbers: mu, and
    sigma = min_scale + softplus(raw).
    """

    def __init__(
        self,
        x_dim: int,
        latent_dim: int = 10,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        min_scale: float = 1e-4,
    ):
        super().__init__()
        self.x_dim = x_dim
        self.latent_dim = latent_dim
        self.min_scale = min_scale
        self.encoder = mlp(x_dim, list(hidden), 2 * latent_dim, activation)

    def posterior(self, x: Tensor) -> dist.Distribution:
        """q(z | x): batch shape x.shape[:-1], event shape (latent_dim,)."""
        loc, raw = self.encoder(x).split(self.latent_dim, dim=-1)
        return dist.Normal(loc, self.min_scale + F.softplus(raw)).to_event(1)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` for every example of ``x`` (N, x_dim) inside the ``data`` plate."""
        if x is None:
            raise ValueError("the guide q(z|x) needs data x")
        with pyro.plate("data", x.shape[0]):
            return pyro.sample("z", self.posterior(x))
