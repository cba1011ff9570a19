r"""How close the aggregate posterior q(z) = E_x q(z | x) is to the prior p(z).

A VAE pulls every q(z | x) towards p(z) through its KL term; an adversarial autoencoder pushes
only their mixture q(z) towards it, through a discriminator. Both claims are measured the same
way: one code z ~ q(z | x) per example against as many draws of the model's own prior at ``z``
(given each example's label when the prior reads labels), compared by the kernel two-sample test
of ``ppl_vae.two_sample`` (MMD with a permutation p-value).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyro.distributions as dist
import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.device import frozen
from ppl_vae.errors import MeasureError
from ppl_vae.evaluate import batches
from ppl_vae.pair import Pair
from ppl_vae.two_sample import TwoSampleTest, mmd_test

LATENT_SITE = "z"
POINTS_PER_CHUNK = 50  # grid points scored at once against every example's prior (bounds the memory)


def code_and_prior_draws(
    pair: Pair, x: Tensor, y: Tensor | None = None, seed: int = 0, batch_size: int = 1000
) -> tuple[Tensor, Tensor, list[dist.Distribution]]:
    """(codes z ~ q(z | x), one per example of x (N, *x_shape); as many prior draws; the prior's distribution
    of each batch), codes and draws (N, latent_dim) on the CPU, drawn with ``seed``."""
    if not pair.model_contract.density or not pair.model_contract.latent:
        raise MeasureError(f"the model '{pair.model_name}' has no latent codes that a guide infers")
    device, codes, drawn, priors = pair.device, [], [], []
    with frozen(seed, device), torch.no_grad():
        for s in batches(x.shape[0], batch_size):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            guide_trace = poutine.trace(pair.guide).get_trace(xs, y=ys)
            if LATENT_SITE not in guide_trace.nodes:
                raise MeasureError(f"the guide '{pair.guide_name}' samples no latent site '{LATENT_SITE}'")
            model_trace = poutine.trace(poutine.replay(pair.model, trace=guide_trace)).get_trace(xs, y=ys)
            prior = model_trace.nodes[LATENT_SITE]["fn"]
            codes.append(guide_trace.nodes[LATENT_SITE]["value"].reshape(len(xs), -1).cpu())
            drawn.append(prior.sample().reshape(len(xs), -1).cpu())
            priors.append(prior)
    return torch.cat(codes), torch.cat(drawn), priors


def aggregate_posterior_test(
    pair: Pair, x: Tensor, y: Tensor | None = None, permutations: int = 200, seed: int = 0
) -> TwoSampleTest:
    """MMD between codes of ``x`` (N, *x_shape) and N prior draws, with its permutation p-value."""
    codes, drawn, _ = code_and_prior_draws(pair, x, y, seed)
    return mmd_test(codes, drawn, permutations, seed)


def prior_log_density(priors: list[dist.Distribution]) -> Callable[[np.ndarray], np.ndarray]:
    """log p(z) at points (G, latent_dim): the average of the priors' densities over their examples (the
    marginal over the labels seen, for a prior that reads labels), nats."""

    def log_density(points: np.ndarray) -> np.ndarray:
        total, count = None, 0
        for prior in priors:
            anchor = prior.sample()
            z = torch.as_tensor(points, dtype=anchor.dtype, device=anchor.device)[:, None, :]
            chunks = [torch.logsumexp(prior.log_prob(part), dim=1) for part in z.split(POINTS_PER_CHUNK)]
            values = torch.cat(chunks)
            total = values if total is None else torch.logaddexp(total, values)
            count += prior.batch_shape[0]
        return (total - math.log(count)).cpu().numpy()

    return log_density
