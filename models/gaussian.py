"""Diagonal Gaussian likelihood: p(x | z) = prod_d Normal(x_d; mu_d(z), sigma_d).

On discrete data (grey levels) the engine gives it ``levels`` and it dequantizes
(``ppl_vae.models.likelihood``): its figures are then bounds on the probability of the data,
in nats, comparable with a Bernoulli model's. On continuous data they are densities.
"""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.distributions import constraints
from torch.nn import functional as F

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_likelihood, register_model
from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.likelihood import Likelihood

SCALES = ("shared", "decoder", "fixed")


@register_likelihood("gaussian")
class GaussianLikelihood(Likelihood):
    """x ~ Normal(loc, diag sigma^2) over the event, loc from the decoder.

    ``scale`` chooses sigma: ``"shared"``, one learned sigma per value shared by all examples;
    ``"decoder"``, predicted per example by the decoder (which then outputs [loc, raw], two
    numbers per value); ``"fixed"``, the constant ``fixed_scale``. Learned scales are
    ``min_scale + softplus(raw)``: the floor keeps the density bounded.
    """

    support = constraints.real

    def __init__(
        self,
        event_shape: tuple[int, ...],
        levels: int | None = None,
        scale: str = "shared",
        min_scale: float = 0.01,
        fixed_scale: float = 0.1,
    ):
        if scale not in SCALES:
            raise ConfigError(f"unknown scale '{scale}'; valid scales: {', '.join(SCALES)}")
        if min_scale <= 0 or fixed_scale <= 0:
            raise ConfigError(f"min_scale and fixed_scale must be positive, got {min_scale} and {fixed_scale}")
        super().__init__(event_shape, levels)
        self.params_per_value = 2 if scale == "decoder" else 1
        self.scale_mode, self.min_scale, self.fixed_scale = scale, min_scale, fixed_scale
        if scale == "shared":
            self.raw_scale = nn.Parameter(torch.zeros(self.event_shape))

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        if self.scale_mode == "decoder":
            loc, raw = self.split(decoded)
            scale = self.min_scale + F.softplus(raw)
        elif self.scale_mode == "shared":
            loc, scale = decoded, self.min_scale + F.softplus(self.raw_scale)
        else:
            loc, scale = decoded, torch.full_like(decoded, self.fixed_scale)
        return dist.Normal(loc, scale).to_event(len(self.event_shape))


@register_model("gaussian_vae")
class GaussianVAE(LatentVariableModel):
    """p(z) p(x | z): z ~ p(z) (``prior``, Normal(0, I) by default), x ~ Normal(decoder(z), diag sigma^2)
    (:class:`GaussianLikelihood`).

    ``levels``: the number of grey levels of discrete data, given by the engine (dequantization).
    """

    contract = ModelContract(support=constraints.real)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        decoder: Any = "mlp",
        levels: int | None = None,
        scale: str = "shared",
        min_scale: float = 0.01,
        fixed_scale: float = 0.1,
        prior: Any = "normal",
    ):
        likelihood = GaussianLikelihood(x_shape, levels, scale, min_scale, fixed_scale)
        super().__init__(x_shape, likelihood, latent_dim, decoder, prior=prior)
