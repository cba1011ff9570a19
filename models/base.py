"""What every latent-variable model shares: the prior, the data plate, sizes checked.

A model is a ``torch.nn.Module`` whose ``forward(x=None, y=None, num_samples=None)`` is a Pyro
model function: inside ``pyro.plate("data", N)`` it samples the latent ``"z"`` from the prior
and ``"x"`` from the likelihood, observed when ``x`` is given. Its networks and parameters are
ordinary ``nn.Parameter`` s of the module (saved with ``state_dict``, moved with ``.to``), so
two models in one process never share weights through Pyro's global parameter store.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor, nn

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.sizes import check_latent_dim
from ppl_vae.models.likelihood import Likelihood
from ppl_vae.models.priors import Prior, build_prior
from ppl_vae.networks import build_network


def plate_size(x: Tensor | None, num_samples: int | None) -> int:
    """Examples in the ``data`` plate: ``x.shape[0]`` when data is given, else ``num_samples``."""
    if x is not None:
        return x.shape[0]
    if num_samples is None or num_samples < 1:
        raise ValueError("give data x or a positive num_samples to draw from the model")
    return num_samples


class LatentVariableModel(nn.Module):
    """p(z) p(x | z, c): z of ``latent_dim`` from ``prior`` (a registered prior's name or table, see
    ``ppl_vae.models.priors``; Normal(0, I) by default); x of ``x_shape`` from ``likelihood`` applied to
    ``decoder([z, c])``, c a per-example condition of ``condition_dim`` (see :meth:`condition`)."""

    contract: ClassVar[ModelContract]

    @classmethod
    def declare(cls, options: dict[str, Any]) -> ModelContract:
        """This model's contract, built with constructor ``options`` (fixed for most models)."""
        return cls.contract

    def __init__(
        self,
        x_shape: tuple[int, ...],
        likelihood: Likelihood,
        latent_dim: int,
        decoder: Any,
        condition_dim: int = 0,
        prior: str | dict[str, Any] | Prior = "normal",
    ):
        super().__init__()
        self.x_shape = tuple(x_shape)
        self.latent_dim = check_latent_dim(latent_dim)
        self.latent_prior = build_prior(prior, self.latent_dim)
        self.likelihood = likelihood
        self.decoder = build_network(decoder, (latent_dim + condition_dim,), likelihood.param_shape, 0, "model.decoder")
        self.register_buffer("anchor", torch.zeros(()), persistent=False)  # device and dtype of the model

    def prior(self, n: int, y: Tensor | None = None) -> dist.Distribution:
        """p(z) (given the labels y, for a model whose prior reads them): batch shape (n,), event shape
        (latent_dim,)."""
        return self.latent_prior.distribution(n)

    def condition(self, y: Tensor | None, n: int) -> Tensor | None:
        """What the decoder is given besides z, (n, condition_dim); None for unconditional models."""
        return None

    def decode(self, z: Tensor, condition: Tensor | None = None) -> dist.Distribution:
        """p(x | z, c) for latents z of shape (..., N, latent_dim): batch shape (..., N), event shape x_shape."""
        if condition is not None:
            z = torch.cat([z, condition.expand(*z.shape[:-1], condition.shape[-1])], dim=-1)
        return self.likelihood(self.decoder(z))

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and ``x`` (observed when ``x`` is given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        condition = self.condition(y, n)
        with pyro.plate("data", n, device=self.anchor.device):
            z = pyro.sample("z", self.prior(n, y))
            return pyro.sample("x", self.decode(z, condition), obs=x)
