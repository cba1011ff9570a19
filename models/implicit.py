"""The implicit model of a GAN: x = G(z), a deterministic function of z ~ p(z); samples, no likelihood.

As a Pyro model it samples ``z`` from its prior and ``x`` from ``Delta(G(z))`` inside the ``data``
plate, so every command that draws from a model works on it (``sample``, the figures); its
contract says ``density=False``, so nothing scores it (``evaluate`` and the likelihood reports
refuse it in one sentence) and its guide is ``none``: no encoder infers its z. It is trained
by the ``gan`` strategy (``ppl_vae.train.adversarial``), never by SVI.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.distributions import constraints

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.registry import register_model
from ppl_vae.core.sizes import check_latent_dim
from ppl_vae.models.base import plate_size
from ppl_vae.models.priors import build_prior
from ppl_vae.networks import build_network


@register_model("gan_generator")
class ImplicitGenerator(nn.Module):
    """x = sigmoid(decoder(z)), values in (0, 1) of shape ``x_shape``; z of ``latent_dim`` from ``prior``
    (``ppl_vae.models.priors``). ``decoder``: a network name or table (``conv`` for images: the DCGAN
    generator) or an ``nn.Module`` mapping (..., latent_dim) to (..., *x_shape)."""

    contract = ModelContract(support=constraints.unit_interval, density=False)

    def __init__(self, x_shape: tuple[int, ...], latent_dim: int = 32, decoder: Any = "mlp", prior: Any = "normal"):
        super().__init__()
        self.x_shape = tuple(x_shape)
        self.latent_dim = check_latent_dim(latent_dim)
        self.latent_prior = build_prior(prior, self.latent_dim)
        self.decoder = build_network(decoder, (self.latent_dim,), self.x_shape, 0, "model.decoder")
        self.register_buffer("anchor", torch.zeros(()), persistent=False)

    def forward(self, x: Tensor | None = None, y: Tensor | None = None, num_samples: int | None = None) -> Tensor:
        """Samples ``z`` and x = G(z) (a ``Delta``, "observed" at ``x`` when given) inside the ``data`` plate."""
        n = plate_size(x, num_samples)
        with pyro.plate("data", n, device=self.anchor.device):
            z = pyro.sample("z", self.latent_prior.distribution(n))
            generated = torch.sigmoid(self.decoder(z))
            return pyro.sample("x", dist.Delta(generated, event_dim=len(self.x_shape)), obs=x)
