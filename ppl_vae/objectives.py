"""Training objectives by name, and KL weighting (beta / warm-up) of the latent term.

Every objective is a Pyro ELBO whose ``differentiable_loss(model, guide, x, y=...)``
returns the negative bound summed over the batch, in nats; calling it on a model and a
guide gives Pyro's ``ELBOModule``, one ``torch.nn.Module`` holding both:

- ``trace_elbo``: :class:`pyro.infer.Trace_ELBO`, Monte Carlo KL (any guide).
- ``analytic_kl``: :class:`pyro.infer.TraceMeanField_ELBO`, the KL term in closed
  form where ``kl_divergence`` is registered for the guide/prior pair (lower variance).
- ``iwae``: :class:`ImportanceWeightedELBO`, the bound of Burda et al. (2016) with K
  vectorized particles.
"""

from __future__ import annotations

import math

import torch
from pyro.infer import ELBO, Trace_ELBO, TraceMeanField_ELBO
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import site_is_subsample

from ppl_vae.config import OBJECTIVES
from ppl_vae.errors import ConfigError
from ppl_vae.weights import log_weights


class ImportanceWeightedELBO(ELBO):
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

    def loss(self, model, guide, *args, **kwargs) -> float:
        with torch.no_grad():
            return self.differentiable_loss(model, guide, *args, **kwargs).item()

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        loss = self.differentiable_loss(model, guide, *args, **kwargs)
        loss.backward()
        return loss.item()

    def _get_trace(self, model, guide, args, kwargs):
        raise NotImplementedError("ImportanceWeightedELBO traces through ppl_vae.weights")


def make_objective(name: str, num_particles: int = 1, max_plate_nesting: int = 1) -> ELBO:
    """The objective called ``name`` (one of :data:`OBJECTIVES`) with K = ``num_particles``."""
    if name == "trace_elbo":
        return Trace_ELBO(
            num_particles=num_particles, vectorize_particles=num_particles > 1, max_plate_nesting=max_plate_nesting
        )
    if name == "analytic_kl":
        return TraceMeanField_ELBO(
            num_particles=num_particles, vectorize_particles=num_particles > 1, max_plate_nesting=max_plate_nesting
        )
    if name == "iwae":
        return ImportanceWeightedELBO(num_particles=num_particles, max_plate_nesting=max_plate_nesting)
    raise ConfigError(f"unknown objective '{name}'; valid objectives: {', '.join(OBJECTIVES)}")


class KLWeight(Messenger):
    """Multiplies the log-density of every latent (unobserved) site by ``beta``.

    Used as a context around the loss (so that it applies to both model and guide), it turns the ELBO into
    E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)): beta < 1 during warm-up
    (Bowman et al. 2016; Sønderby et al. 2016), beta > 1 for a beta-VAE. ``beta`` is
    read at every call, so a schedule just assigns it.
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def _process_message(self, msg: dict) -> None:
        if msg["type"] == "sample" and not msg["is_observed"] and not site_is_subsample(msg):
            msg["scale"] = msg["scale"] * self.beta
