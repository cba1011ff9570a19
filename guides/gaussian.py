"""Amortized diagonal Normal encoder: q(z | x) = Normal(mu(x), diag sigma(x)^2)."""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
from torch import Tensor

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.distributions import diagonal_normal
from ppl_vae.core.registry import register_guide
from ppl_vae.guides.base import AmortizedGuide


@register_guide("gaussian_encoder")
class GaussianEncoder(AmortizedGuide):
    """q(z | x) = Normal(mu(x), diag sigma(x)^2): the encoder maps x (..., *x_shape) to [mu, raw], and
    sigma = min_scale + softplus(raw); y is ignored. ``corruption`` and ``noise``: a denoising encoder
    (see :class:`~ppl_vae.guides.base.AmortizedGuide`)."""

    contract = GuideContract(density=True)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        encoder: Any = "mlp",
        min_scale: float = 1e-4,
        corruption: str = "none",
        noise: float = 0.0,
    ):
        super().__init__(x_shape, latent_dim, encoder, 2 * latent_dim, corruption=corruption, noise=noise)
        self.min_scale = min_scale

    def distribution(self, params: Tensor) -> dist.Distribution:
        return diagonal_normal(params, self.min_scale)
