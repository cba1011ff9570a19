"""Importance log-weights of the shipped model/guide family, computed from the pair's own methods.

``ppl_vae.infer.weights`` traces the guide in a vectorized particle plate and replays the model on its
draws: it serves any pair, and its bookkeeping is Pyro's. When the model's Pyro function is
:meth:`LatentVariableModel.forward` and the guide's :meth:`AmortizedGuide.forward` (the shipped family, see
``ppl_vae.infer.direct_elbo``), those functions are, by their code,

    guide: z ~ guide.posterior(x, y)
    model: z ~ model.prior(n, y); x ~ model.decode(z, model.condition(y, n))

so that log w_k = log p(z_k) + log p(x | z_k) - log q(z_k | x), z_k ~ q(z | x), k = 1..K, is computed here
with the same calls, in the same order, from the same random stream, and without a trace per chunk. Its
results are shaped like the traced route's: (K, N) log-weights, and per latent site the guide's and the
prior's distributions and the draws, as a trace's sites hold them. A subclass may override those methods
in ways the two routes read differently, so the estimator that uses it compares both on its first chunk
(:func:`agrees_with_traced_route`) and keeps the traced route for good when they differ.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ppl_vae.infer.pair import Pair
from ppl_vae.infer.weights import traced_log_weights

AGREEMENT_TOLERANCE = 1e-4  # relative, per log-weight


def shipped_family(pair: Pair) -> bool:
    """True when the pair's Pyro functions are the shipped base ones: a
    :class:`~ppl_vae.models.base.LatentVariableModel` and an :class:`~ppl_vae.guides.base.AmortizedGuide` that do
    not override ``forward``, and a guide that is a density."""
    from ppl_vae.guides.base import AmortizedGuide
    from ppl_vae.models.base import LatentVariableModel

    return (
        isinstance(pair.model, LatentVariableModel)
        and type(pair.model).forward is LatentVariableModel.forward
        and isinstance(pair.guide, AmortizedGuide)
        and type(pair.guide).forward is AmortizedGuide.forward
        and pair.guide_contract.density
    )


def direct_log_weights(
    pair: Pair, x: Tensor, y: Tensor | None, num_particles: int
) -> tuple[Tensor, dict[str, dict], dict[str, dict]]:
    """(log-weights (K, N) in nats, guide sites, model sites) for examples x (N, *x_shape) with K =
    ``num_particles``; a site is ``{"fn": distribution with batch shape (K, N), "value": draws (K, N, *event)}``
    as in a trace. Unscaled log-densities: the true log p(x, z) - log q(z | x)."""
    model, guide = pair.model, pair.guide
    n = x.shape[0]
    q = guide.posterior(x, y).expand((num_particles, n))
    z = q()
    prior = model.prior(n, y).expand((num_particles, n))
    likelihood = model.decode(z, model.condition(y, n))
    log_w = prior.log_prob(z) + likelihood.log_prob(pair.scored(x, y)) - q.log_prob(z)
    return log_w, {guide.site: {"fn": q, "value": z}}, {guide.site: {"fn": prior, "value": z}}


def agrees_with_traced_route(pair: Pair, x: Tensor, y: Tensor | None, num_particles: int, seed: int) -> bool:
    """True when :func:`direct_log_weights` and the traced route give the same log-weights on (x, y) from the
    same seed (within :data:`AGREEMENT_TOLERANCE`); False too when the direct route cannot run. Random streams
    are left as they were (the caller's stream is forked)."""
    from ppl_vae.core.devices import frozen

    try:
        with frozen(seed, pair.device):
            direct = direct_log_weights(pair, x, y, num_particles)[0]
        with frozen(seed, pair.device):
            traced = traced_log_weights(pair.model, pair.guide, x, y, num_particles, False, pair.max_plate_nesting)[0]
    except NotImplementedError:
        return False
    return direct.shape == traced.shape and bool(
        torch.allclose(direct, traced, rtol=AGREEMENT_TOLERANCE, atol=AGREEMENT_TOLERANCE)
    )
