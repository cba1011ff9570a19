"""Generic predictive draws from any model/guide pair that keeps the contract (``z``..., ``x``).

Nothing here knows a model's class: latents come from tracing the guide (posterior)
or the model itself (prior), and x_rep ~ p(x | z) is the ``x`` site of the model run
without data, with the latents replayed. Pyro's ``Predictive`` would return observed
x unchanged; running the model with x = None is the unconditioned model.
"""

from __future__ import annotations

import pyro.distributions as dist
from pyro import poutine
from torch import Tensor

from ppl_vae.weights import vectorized


def posterior_predictive(
    model, guide, x: Tensor, y: Tensor | None = None, num_samples: int = 1
) -> tuple[Tensor, dist.Distribution, poutine.Trace]:
    """S = ``num_samples`` draws per example of x (N, D): z ~ q(z | x), x_rep ~ p(x | z).

    Returns x_rep (S, N, D), p(x | z) with batch shape (S, N), and the guide trace.
    """
    guide_trace = poutine.trace(vectorized(guide, num_samples)).get_trace(x, y=y)
    trace = poutine.trace(poutine.replay(vectorized(model, num_samples), trace=guide_trace)).get_trace(
        None, y=y, num_samples=x.shape[0]
    )
    return trace.nodes["x"]["value"], trace.nodes["x"]["fn"], guide_trace


def output_predictive(model, x: Tensor, num_samples: int = 1) -> tuple[Tensor, dist.Distribution]:
    """For a structured-output model p(z | x) p(y | x, z): S draws y ~ p(y | x) per input row of x (N, D).

    Returns y (S, N, D_y) and p(y | x, z) with batch shape (S, N) (its mean: the completion given z).
    """
    trace = poutine.trace(vectorized(model, num_samples)).get_trace(x, y=None)
    return trace.nodes["y"]["value"], trace.nodes["y"]["fn"]


def prior_predictive(model, n: int, y: Tensor | None = None, num_samples: int = 1) -> tuple[Tensor, dist.Distribution]:
    """S x n draws z ~ p(z), x ~ p(x | z): x (S, n, D) and p(x | z) with batch shape (S, n)."""
    trace = poutine.trace(vectorized(model, num_samples)).get_trace(None, y=y, num_samples=n)
    return trace.nodes["x"]["value"], trace.nodes["x"]["fn"]
