"""Amortized full-covariance Gaussian encoder: q(z | x) = Normal(mu(x), L(x) L(x)^T), L lower triangular."""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
import torch
from torch import Tensor
from torch.nn import functional as F

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.registry import register_guide
from ppl_vae.guides.base import AmortizedGuide


def cholesky_parameters(latent_dim: int) -> int:
    """Numbers of a location and a Cholesky factor in ``latent_dim`` dimensions: d + d (d + 1) / 2."""
    return latent_dim + latent_dim * (latent_dim + 1) // 2


@register_guide("full_covariance_encoder")
class FullCovarianceEncoder(AmortizedGuide):
    """q(z | x) = MultivariateNormal(mu(x), L(x) L(x)^T): the encoder maps x (..., *x_shape) to d + d (d + 1) / 2
    numbers: the mean mu, the raw diagonal of L (its entries ``min_scale + softplus(raw)``: positive and
    floored) and the d (d - 1) / 2 entries below it, row by row (unconstrained). Correlations between latents,
    which a diagonal Gaussian cannot express, are what it adds (the posterior of a linear-Gaussian model is of
    this family). ``corruption`` and ``noise``: a denoising encoder (see
    :class:`~ppl_vae.guides.base.AmortizedGuide`).
    """

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
        super().__init__(
            x_shape, latent_dim, encoder, cholesky_parameters(latent_dim), corruption=corruption, noise=noise
        )
        self.min_scale = min_scale
        rows, columns = torch.tril_indices(latent_dim, latent_dim, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("columns", columns, persistent=False)

    def distribution(self, params: Tensor) -> dist.Distribution:
        d = self.latent_dim
        loc, raw, below = params[..., :d], params[..., d : 2 * d], params[..., 2 * d :]
        scale_tril = torch.diag_embed(self.min_scale + F.softplus(raw))
        scale_tril[..., self.rows, self.columns] = below
        return dist.MultivariateNormal(loc, scale_tril=scale_tril)
