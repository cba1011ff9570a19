"""Per-example bounds on log p(x): the ELBO and the importance-weighted bound, and the reconstruction term.

Everything here runs under :func:`~ppl_vae.core.devices.frozen` with a seed from the caller:
parameters, gradients and the global random streams are the same after a call as before it, so
a validation pass during training cannot change the training.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import MeasureError
from ppl_vae.data.checks import check_data
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.sizing import batches, examples_per_batch
from ppl_vae.infer.weights import log_weights, per_example, traced_log_weights


def refuse_non_density(pair: Pair) -> None:
    """A :class:`MeasureError` when the pair's model is implicit (a GAN's generator) or its guide is not a
    density (a deterministic encoder)."""
    if not pair.model_contract.density:
        raise MeasureError(
            f"the model '{pair.model_name}' is implicit (a generator without a likelihood): it draws samples but "
            "gives no log p(x) to estimate; measure it by its samples (ppl-vae sample, ppl-vae quality)"
        )
    if not pair.guide_contract.density:
        raise MeasureError(
            f"the guide '{pair.guide_name}' is a deterministic encoder, not a density: importance weighting "
            "cannot estimate log p(x) from it; its figures are reconstructions (reconstructions.png, and the "
            "reconstruction error in summary.json)"
        )


def bound_per_example(
    pair: Pair,
    x: Tensor,
    y: Tensor | None = None,
    num_particles: int = 1,
    batch_size: int | None = None,
    seed: int = 0,
    beta: float | None = None,
) -> Tensor:
    """Importance-weighted bound log (1/K) sum_k w_k per example, K = ``num_particles``: (N,) nats.

    ``batch_size``: examples per pass; by default as many as keep every network's numbers for their K
    particles within DEFAULT_MAX_ELEMENTS (:func:`examples_per_batch`).

    With K = 1 this is a single-sample ELBO estimate, log p(x, z) - log q(z | x), z ~ q.
    Unscaled log-densities: the true bound whatever beta the pair was trained with; with
    ``beta``, the latent terms are weighted by it instead (the training objective of a
    beta-weighted or deterministic-encoder pair, which bounds nothing). ``x`` and ``y`` may
    live on any device; batches move to the pair's.
    """
    check_data(pair.scored(x, y), pair.model_contract.support, what=f"the data {pair.model_contract.observed}")
    device = pair.device
    batch_size = batch_size or examples_per_batch(pair, x, y, num_particles)
    weighting = KLWeight(beta) if beta is not None else contextlib.nullcontext()
    with frozen(seed, device), weighting:
        bounds = []
        for s in batches(x.shape[0], batch_size):
            lw = log_weights(
                pair.model,
                pair.guide,
                x[s].to(device),
                None if y is None else y[s].to(device),
                num_particles,
                scaled=beta is not None,
                max_plate_nesting=pair.max_plate_nesting,
            )
            bounds.append(torch.logsumexp(lw, 0) - math.log(num_particles))
        return torch.cat(bounds)


def elbo_per_example(
    pair: Pair, x: Tensor, y: Tensor | None = None, batch_size: int | None = None, seed: int = 0
) -> Tensor:
    """Single-sample ELBO estimate per example: (N,) nats (:func:`bound_per_example` with K = 1)."""
    return bound_per_example(pair, x, y, 1, batch_size, seed)


def reconstruction_log_likelihood(
    pair: Pair, x: Tensor, y: Tensor | None = None, batch_size: int | None = None, seed: int = 0
) -> Tensor:
    """log p(obs | z) with one z ~ q(z | x) per example: (N,) nats, the reconstruction term of the ELBO
    (the whole objective of an autoencoder, whose guide is deterministic); batches as in :func:`bound_per_example`."""
    device, observed = pair.device, pair.model_contract.observed
    check_data(pair.scored(x, y), pair.model_contract.support, what=f"the data {observed}")
    batch_size = batch_size or examples_per_batch(pair, x, y, 1)
    with frozen(seed, device):
        parts = []
        for s in batches(x.shape[0], batch_size):
            xs, ys = x[s].to(device), None if y is None else y[s].to(device)
            _, _, model_trace = traced_log_weights(pair.model, pair.guide, xs, ys, 1, False, pair.max_plate_nesting)
            parts.append(per_example(model_trace.nodes[observed], "unscaled_log_prob", (1, xs.shape[0]))[0].cpu())
        return torch.cat(parts)
