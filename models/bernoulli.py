"""Bernoulli likelihood: p(x | z) = prod_d Bernoulli(x_d; logits_d = decoder(z)_d)."""

from __future__ import annotations

from collections.abc import Sequence

import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import Tensor

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.registry import register_likelihood, register_model


@register_likelihood("bernoulli")
class BernoulliLikelihood(PyroModule):
    """x ~ Bernoulli(logits = decoded), x in {0, 1}^D; decoded is (..., D) logits."""

    support = "binary"
    outputs_per_dim = 1

    def __init__(self, data_dim: int):
        super().__init__()
        self.data_dim = data_dim

    def forward(self, decoded: Tensor) -> dist.Distribution:
        return dist.Bernoulli(logits=decoded).to_event(1)


@register_model("bernoulli_vae")
class BernoulliVAE(LatentVariableModel):
    """p(z) p(x|z) with z ~ Normal(0, I) and x ~ Bernoulli(logits = decoder(z)); x in {0, 1}^D."""

    data_support = BernoulliLikelihood.support

    def __init__(self, x_dim: int, latent_dim: int = 10, hidden: Sequence[int] = (200,), activation: str = "relu"):
        super().__init__(x_dim, BernoulliLikelihood(x_dim), latent_dim, hidden, activation)
