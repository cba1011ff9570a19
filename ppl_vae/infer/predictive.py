"""Generic predictive draws from any pair that keeps the contract (its latent sites, its observed ``x`` or ``y``).

Nothing here knows a model's class: latents come from tracing the guide (posterior) or the
model itself (prior), and x_rep ~ p(x | z) is the observed site of the model run without
data, with the latents replayed. Pyro's ``Predictive`` would return observed x unchanged;
running the model with x = None is the unconditioned model. Draws are made on the pair's
device; the caller chooses the random stream (``ppl_vae.core.devices.frozen``).
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.weights import vectorized

TIMED_INPUTS = 64  # inputs of the timed pass behind a sampling estimate


def shown(likelihood: dist.Distribution) -> Tensor:
    """What figures show of p(x | ...): its mean, or one draw from it where the mean is not tractable (an
    autoregressive likelihood, ``ppl_vae.models.pixelcnn``)."""
    try:
        return likelihood.mean
    except NotImplementedError:
        return likelihood.sample()


def posterior_predictive(
    pair: Pair, x: Tensor, y: Tensor | None = None, num_samples: int = 1
) -> tuple[Tensor, dist.Distribution, poutine.Trace]:
    """S = ``num_samples`` draws per example of x (N, *x_shape): z ~ q(z | x), x_rep ~ p(x | z).

    Returns x_rep (S, N, *x_shape), p(x | z) with batch shape (S, N), and the guide trace.
    """
    nesting = pair.max_plate_nesting
    guide_trace = poutine.trace(vectorized(pair.guide, num_samples, nesting)).get_trace(x, y=y)
    replayed = poutine.replay(vectorized(pair.model, num_samples, nesting), trace=guide_trace)
    trace = poutine.trace(replayed).get_trace(None, y=y, num_samples=x.shape[0])
    site = trace.nodes[pair.model_contract.observed]
    return site["value"], site["fn"], guide_trace


def output_predictive(pair: Pair, x: Tensor, num_samples: int = 1) -> tuple[Tensor, dist.Distribution]:
    """For a structured-output model p(z | x) p(y | x, z): S draws y ~ p(y | x) per input of x (N, *x_shape).

    Returns y (S, N, *y_shape) and p(y | x, z) with batch shape (S, N) (its mean: the completion given z).
    """
    trace = poutine.trace(vectorized(pair.model, num_samples, pair.max_plate_nesting)).get_trace(x, y=None)
    return trace.nodes["y"]["value"], trace.nodes["y"]["fn"]


def prior_predictive_trace(pair: Pair, n: int, y: Tensor | None = None, num_samples: int = 1) -> poutine.Trace:
    """The model's trace of S x n draws z ~ p(z), x ~ p(x | z): every latent site's value (S, n, *event) and the
    observed site's (S, n, *x_shape)."""
    return poutine.trace(vectorized(pair.model, num_samples, pair.max_plate_nesting)).get_trace(
        None, y=y, num_samples=n
    )


def prior_predictive(
    pair: Pair, n: int, y: Tensor | None = None, num_samples: int = 1
) -> tuple[Tensor, dist.Distribution]:
    """S x n draws z ~ p(z), x ~ p(x | z): x (S, n, *x_shape) and p(x | z) with batch shape (S, n)."""
    site = prior_predictive_trace(pair, n, y, num_samples).nodes[pair.model_contract.observed]
    return site["value"], site["fn"]


def sampling_seconds(pair: Pair, x_shape: tuple[int, ...], n: int, y: Tensor | None = None) -> float:
    """Estimated seconds to draw n samples of ``pair``'s model: the network passes one draw takes (the largest
    ``sampling_passes`` of its modules: H x W for an autoregressive likelihood; 1 when none says) times one
    pass, measured on at most :data:`TIMED_INPUTS` inputs of ``x_shape`` and scaled to n."""
    import time

    import torch

    passes = max(getattr(module, "sampling_passes", 1) for module in pair.model.modules())
    timed = min(n, TIMED_INPUTS)
    anchor = next(pair.parameters())
    x = torch.zeros(timed, *x_shape, dtype=anchor.dtype, device=anchor.device)
    start = time.perf_counter()
    with torch.no_grad():
        poutine.trace(pair.model).get_trace(x, y=None if y is None else y[:timed]).log_prob_sum()
    return passes * (time.perf_counter() - start) * n / timed


def prior_means(pair: Pair, n: int, labels: Tensor | None, seed: int) -> Tensor:
    """Means of p(x | z, y) for n draws z ~ p(z) (with ``labels`` (n,) for a label-conditioned model)."""
    with frozen(seed, pair.device):
        labels = None if labels is None else labels.to(pair.device)
        return shown(prior_predictive(pair, n, labels)[1])[0]


def style_means(pair: Pair, labels: Tensor, per_class: int, seed: int) -> tuple[Tensor, bool]:
    """Means of p(x | z, y) for ``labels`` (C * per_class,), class by class, and whether z is shared: column j
    of every class decodes the same z_j ~ p(z) (a style) when the prior does not read the labels; when it
    does (a prior picked by label), each class draws its own z."""
    with frozen(seed, pair.device):
        labels = labels.to(pair.device)
        trace = poutine.trace(pair.model).get_trace(None, y=labels, num_samples=len(labels))
        code, observed = pair.model_contract.code, pair.model_contract.observed
        prior, z = trace.nodes[code]["fn"], trace.nodes[code]["value"]
        shared = z[:per_class].repeat(len(labels) // per_class, *([1] * (z.dim() - 1)))
        log_prior = prior.log_prob(shared).reshape(-1, per_class)
        reads_labels = not torch.allclose(log_prior, log_prior[:1].expand_as(log_prior))
        chosen = z if reads_labels else shared
        conditioned = poutine.condition(pair.model, data={code: chosen})
        trace = poutine.trace(conditioned).get_trace(None, y=labels, num_samples=len(labels))
        means = shown(trace.nodes[observed]["fn"])
    return means, not reads_labels
