"""Bernoulli likelihood: p(x | z) = prod_d Bernoulli(x_d; logits_d = decoder(z)_d)."""

from __future__ import annotations

import pyro.distributions as dist
from torch import Tensor

from ppl_vae.models.base import LatentVariableModel
from ppl_vae.registry import register_model


@register_model("bernoulli_vae")
class BernoulliVAE(LatentVariableModel):
    """p(z) p(x|z) with z ~ Normal(0, I) and x ~ Bernoulli(logits = decoder(z)); x in {0, 1}^D."""

    data_support = "binary"

    def likelihood(self, decoded: Tensor) -> dist.Distribution:
        return dist.Bernoulli(logits=decoded).to_event(1)
