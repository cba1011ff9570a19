"""Per-example importance log-weights log w_k = log p(x, z_k) - log q(z_k | x), z_k ~ q.

The one piece of Monte Carlo machinery behind the importance-weighted training
objective, the validation ELBO and the importance-weighted log-likelihood: the guide
is traced inside a vectorized ``particles`` plate and the model is replayed on its
samples, so the result keeps both the particle and the data dimension.
"""

from __future__ import annotations

import pyro
from pyro import poutine
from pyro.distributions.util import sum_rightmost
from pyro.poutine.util import site_is_subsample
from torch import Tensor


def sample_sites(trace: poutine.Trace) -> dict[str, dict]:
    """The sample sites of a trace, without the subsample sites that plates record."""
    return {
        name: site for name, site in trace.nodes.items() if site["type"] == "sample" and not site_is_subsample(site)
    }


def site_means(site: dict) -> tuple[Tensor, bool]:
    """(the mean of the distribution at a sample site, shaped like its value; True), or (its value; False) where
    the mean is not tractable (a flow's): what figures and measures read as E[z | ...] of one draw."""
    try:
        return site["fn"].mean.expand_as(site["value"]), True
    except NotImplementedError:
        return site["value"], False


def vectorized(fn, num_particles: int, max_plate_nesting: int = 1):
    """``fn`` run inside a ``particles`` plate of size K to the left of its own plates."""

    def wrapped(*args, **kwargs):
        with pyro.plate("particles", num_particles, dim=-(max_plate_nesting + 1)):
            return fn(*args, **kwargs)

    return wrapped


def per_example(site: dict, key: str, shape: tuple[int, int]) -> Tensor:
    """A site's log-density (K, N, *inner plates) summed over the inner plates: (K, N)."""
    log_prob = site[key]
    return sum_rightmost(log_prob, max(log_prob.dim() - 2, 0)).expand(shape)


def traced_log_weights(
    model,
    guide,
    x: Tensor,
    y: Tensor | None = None,
    num_particles: int = 1,
    scaled: bool = False,
    max_plate_nesting: int = 1,
) -> tuple[Tensor, poutine.Trace, poutine.Trace]:
    """Log-weights (K, N) in nats, with the guide and model traces they came from.

    ``x``: (N, *x_shape) data; ``y``: labels, outputs or None.
    ``scaled=False`` uses the unscaled log-densities (true log p(x, z) - log q(z | x),
    whatever ``poutine.scale`` a training objective applied); ``scaled=True`` uses the
    scaled ones (for training objectives such as a beta-weighted bound).
    """
    key = "log_prob" if scaled else "unscaled_log_prob"
    shape = (num_particles, x.shape[0])
    guide_trace = poutine.trace(vectorized(guide, num_particles, max_plate_nesting)).get_trace(x, y=y)
    model_trace = poutine.trace(
        poutine.replay(vectorized(model, num_particles, max_plate_nesting), trace=guide_trace)
    ).get_trace(x, y=y)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    model_sites, guide_sites = sample_sites(model_trace), sample_sites(guide_trace)
    log_w = sum(per_example(s, key, shape) for s in model_sites.values())
    log_w = log_w - sum(per_example(s, key, shape) for s in guide_sites.values())
    return log_w, guide_trace, model_trace


def log_weights(
    model,
    guide,
    x: Tensor,
    y: Tensor | None = None,
    num_particles: int = 1,
    scaled: bool = False,
    max_plate_nesting: int = 1,
) -> Tensor:
    """Log-weights log p(x, z_k) - log q(z_k | x) of shape (K, N), in nats (see above)."""
    return traced_log_weights(model, guide, x, y, num_particles, scaled, max_plate_nesting)[0]
