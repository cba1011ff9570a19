"""Bernoulli likelihood: p(x | z) = prod_d Bernoulli(x_d; logits_d = decoder(z)_d), x in {0, 1}^D."""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
from torch import Tensor
from torch.distributions import constraints

from ppl_vae.core.contract import ModelContract
from ppl_vae.core.distributions import Bernoulli, FactorizedBernoulli
from ppl_vae.core.registry import register_likelihood, register_model
from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.likelihood import Likelihood


@register_likelihood("bernoulli")
class BernoulliLikelihood(Likelihood):
    """x ~ Bernoulli(logits = decoded), x in {0, 1}; one logit per value."""

    support = constraints.boolean

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        return FactorizedBernoulli(Bernoulli(logits=decoded), len(self.event_shape))


@register_model("bernoulli_vae")
class BernoulliVAE(LatentVariableModel):
    """p(z) p(x | z): z ~ p(z), x ~ Bernoulli(logits = decoder(z)); x binary, of shape ``x_shape``.

    ``prior``: a registered prior's name or table (``ppl_vae.models.priors``; ``"normal"``: Normal(0, I)).
    ``decoder``: a network name or table (``"mlp"``, ``{"name": "conv", "channels": [64, 32]}``)
    or an ``nn.Module`` mapping (..., latent_dim) to (..., *x_shape).
    """

    contract = ModelContract(support=constraints.boolean)

    def __init__(self, x_shape: tuple[int, ...], latent_dim: int = 10, decoder: Any = "mlp", prior: Any = "normal"):
        super().__init__(x_shape, BernoulliLikelihood(x_shape), latent_dim, decoder, prior=prior)
