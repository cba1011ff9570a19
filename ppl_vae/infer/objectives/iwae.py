"""The importance-weighted bound (IWAE) of Burda, Grosse & Salakhutdinov (2016)."""

from __future__ import annotations

import math

import torch

from ppl_vae.core.registry import register_objective
from ppl_vae.infer.objectives.base import Objective
from ppl_vae.infer.weights import log_weights


class ImportanceWeightedELBO(Objective):
    r"""The importance-weighted bound (IWAE), per data point, summed over the batch.

    .. math:: \mathcal{L}_K(x) = \mathbb{E}_{z_{1:K} \sim q}
              \log \frac{1}{K} \sum_k \frac{p(x, z_k)}{q(z_k \mid x)} \le \log p(x)

    The K particles are drawn in one vectorized ``particles`` plate. Gradients use the
    reparameterization trick, so the guide's distributions must be reparameterizable.
    Log-densities are the *scaled* ones, so a beta weighting applies to the latent term
    (see :class:`KLWeight`). With K = 1 this is the ELBO.

    Reference: Y. Burda, R. Grosse, R. Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016.
    """

    def __init__(self, num_particles: int = 5, max_plate_nesting: int = 1):
        super().__init__(num_particles=num_particles, max_plate_nesting=max_plate_nesting)

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        log_w = log_weights(
            model,
            guide,
            *args,
            num_particles=self.num_particles,
            scaled=True,
            max_plate_nesting=self.max_plate_nesting,
            **kwargs,
        )
        bound = torch.logsumexp(log_w, dim=0) - math.log(self.num_particles)
        return -bound.sum()


@register_objective("iwae", importance_weighted=True, reparameterized=True)
def iwae(num_particles: int = 5, max_plate_nesting: int = 1) -> ImportanceWeightedELBO:
    """The IW-K bound with K = ``num_particles``."""
    return ImportanceWeightedELBO(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
