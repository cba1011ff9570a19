"""Diagonal Gaussian likelihood: p(x | z) = prod_d Normal(x_d; mu_d(z), sigma_d).

Log-densities are true nats of a continuous density (not MSE): comparable across
Gaussian models, not with the probability masses of a Bernoulli model.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyro.distributions as dist
import torch
from pyro.nn import PyroModule, PyroParam
from torch import Tensor
from torch.nn import functional as F

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.registry import register_likelihood, register_model

SCALES = ("shared", "decoder", "fixed")


@register_likelihood("gaussian")
class GaussianLikelihood(PyroModule):
    """x ~ Normal(loc, diag sigma^2) over D dimensions, loc from the decoder.

    ``scale`` chooses sigma: ``"shared"``, one learned sigma per dimension shared by all
    examples; ``"decoder"``, predicted per example by the decoder (which then outputs
    [loc, raw], 2 * D numbers); ``"fixed"``, the constant ``fixed_scale``. Learned scales
    are ``min_scale + softplus(raw)``: the floor keeps the density bounded on pixels
    that are always 0 or 1.
    """

    support = "real"

    def __init__(self, data_dim: int, scale: str = "shared", min_scale: float = 0.01, fixed_scale: float = 0.1):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"unknown scale '{scale}'; valid scales: {', '.join(SCALES)}")
        if min_scale <= 0 or fixed_scale <= 0:
            raise ValueError("min_scale and fixed_scale must be positive")
        self.data_dim = data_dim
        self.scale_mode = scale
        self.min_scale = min_scale
        self.fixed_scale = fixed_scale
        self.outputs_per_dim = 2 if scale == "decoder" else 1
        if scale == "shared":
            self.raw_scale = PyroParam(torch.zeros(data_dim))

    def forward(self, decoded: Tensor) -> dist.Distribution:
        if self.scale_mode == "decoder":
            loc, raw = decoded.split(self.data_dim, dim=-1)
            scale = self.min_scale + F.softplus(raw)
        elif self.scale_mode == "shared":
            loc, scale = decoded, self.min_scale + F.softplus(self.raw_scale)
        else:
            loc, scale = decoded, torch.full_like(decoded, self.fixed_scale)
        return dist.Normal(loc, scale).to_event(1)


@register_model("gaussian_vae")
class GaussianVAE(LatentVariableModel):
    """p(z) p(x|z) with z ~ Normal(0, I) and x ~ Normal(decoder(z), diag sigma^2) (:class:`GaussianLikelihood`)."""

    data_support = GaussianLikelihood.support

    def __init__(
        self,
        x_dim: int,
        latent_dim: int = 10,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        scale: str = "shared",
        min_scale: float = 0.01,
        fixed_scale: float = 0.1,
    ):
        likelihood = GaussianLikelihood(x_dim, scale, min_scale, fixed_scale)
        super().__init__(x_dim, likelihood, latent_dim, hidden, activation)
