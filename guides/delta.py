"""The deterministic encoder: q(z | x) = Delta(f(x)), a point, not a density.

Trained with the ELBO against a model p(z) p(x | z), its objective is
log p(x | f(x)) + log p(f(x)): the MAP autoencoder (a Gaussian penalty on the codes under a
Normal prior); with ``training.beta = 0`` it is the classic autoencoder, minimizing
-log p(x | f(x)). Its log-weights say nothing about log p(x), so importance-weighted
evaluation refuses it (its contract says ``density=False``).
"""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
from torch import Tensor

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.registry import register_guide
from ppl_vae.guides.base import AmortizedGuide


@register_guide("delta_encoder")
class DeltaEncoder(AmortizedGuide):
    """q(z | x) = Delta(encoder(x)): the code of x (..., *x_shape) is ``encoder(x)``, of ``latent_dim``.

    ``corruption`` and ``noise`` make it a denoising autoencoder (see
    :class:`~ppl_vae.guides.base.AmortizedGuide`)."""

    contract = GuideContract(density=False)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        encoder: Any = "mlp",
        corruption: str = "none",
        noise: float = 0.0,
    ):
        super().__init__(x_shape, latent_dim, encoder, latent_dim, corruption=corruption, noise=noise)

    def distribution(self, params: Tensor) -> dist.Distribution:
        return dist.Delta(params, event_dim=1)
