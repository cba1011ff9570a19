"""Generic draws from any model/guide pair that keeps the contract (sites ``z``..., ``x``).

Nothing here knows a model's class: latents come from tracing the guide (posterior)
or the model itself (prior), and p(x | z) is read off the model's ``x`` site with the
latents replayed and the data unobserved.
"""

from __future__ import annotations

import pyro.distributions as dist
from pyro import poutine
from torch import Tensor


def likelihood_given_latents(
    model, latent_trace: poutine.Trace, n: int, y: Tensor | None = None, site: str = "x"
) -> dist.Distribution:
    """p(x | z) at the latents of ``latent_trace`` (from the guide or the prior), for n examples."""
    trace = poutine.trace(poutine.replay(model, trace=latent_trace)).get_trace(None, y=y, num_samples=n)
    return trace.nodes[site]["fn"]


def posterior_likelihood(model, guide, x: Tensor, y: Tensor | None = None) -> dist.Distribution:
    """p(x_rep | z) with z ~ q(z | x): the posterior predictive distribution, one z per example."""
    guide_trace = poutine.trace(guide).get_trace(x, y=y)
    return likelihood_given_latents(model, guide_trace, x.shape[0], y)


def prior_likelihood(model, n: int, y: Tensor | None = None) -> dist.Distribution:
    """p(x | z) with z ~ p(z): the prior predictive distribution for n examples."""
    prior_trace = poutine.trace(model).get_trace(None, y=y, num_samples=n)
    return likelihood_given_latents(model, prior_trace, n, y)
