r"""Amortized normalizing-flow encoder: a Gaussian from the encoder, then K conditional autoregressive flow steps.

q(z | x) is the distribution of z = f_K o ... o f_1(u), u ~ Normal(mu(x), diag sigma(x)^2), where each step
f_k is an autoregressive transform conditioned on context features h(x) that the same encoder computes
(Kingma et al. 2016, "Improving variational inference with inverse autoregressive flow", section 4 and
eq. 10: the context h of their figure 2), with the order of the latents reversed between steps:

.. math:: \log q(z \mid x) = \log \mathcal{N}(u; \mu(x), \sigma(x)^2)
          - \sum_k \log \left| \det \frac{\partial f_k}{\partial u_{k-1}} \right|

Each step is one of Pyro's conditional transforms (``pyro.distributions.transforms``):

- ``iaf``: inverse autoregressive flow, u_k = m_k + s_k * u_{k-1} with (m_k, s_k) from a masked network of
  u_{k-1} and h (``ConditionalAffineAutoregressive``; Kingma et al. 2016, eq. 10);
- ``spline``: a monotonic rational-quadratic spline per dimension whose knots come from such a network
  (``ConditionalSplineAutoregressive``; Durkan et al. 2019, "Neural spline flows").

Both sample in one pass. Scoring the guide's *own* draws is exact and takes one pass too: each step keeps
the input of the value it produced (Pyro's transform cache), so log q(z | x) of a draw never inverts a
network; this is what importance weighting and every objective evaluate. Scoring an arbitrary z would
need the inverse, which an autoregressive step computes in d sequential passes.
"""

from __future__ import annotations

from typing import Any

import pyro.distributions as dist
import torch
from pyro.distributions.transforms import (
    Permute,
    conditional_affine_autoregressive,
    conditional_spline_autoregressive,
)
from torch import Tensor, nn
from torch.nn import functional as F

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_guide
from ppl_vae.core.sizes import check_sizes
from ppl_vae.guides.base import AmortizedGuide

FLOWS = {
    "iaf": lambda d, c, hidden: conditional_affine_autoregressive(d, c, hidden_dims=hidden),
    "spline": lambda d, c, hidden: conditional_spline_autoregressive(d, c, hidden_dims=hidden),
}


@register_guide("flow_encoder")
class FlowEncoder(AmortizedGuide):
    """q(z | x): a diagonal Gaussian of ``latent_dim`` from the encoder, then ``steps`` conditional ``flow`` steps
    (``"iaf"`` or ``"spline"``) whose autoregressive networks (``hidden`` units) read the encoder's
    ``context`` features. The encoder maps x (..., *x_shape) to 2 * latent_dim + context numbers: the mean and
    raw scale of the base (scale ``min_scale + softplus(raw)``) and the context. Refuses ``latent_dim`` < 2:
    an autoregressive step on one dimension is an affine (or spline) map of the base alone.
    """

    contract = GuideContract(density=True)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        encoder: Any = "mlp",
        flow: str = "iaf",
        steps: int = 2,
        hidden: list[int] | tuple[int, ...] = (),
        context: int = 0,
        min_scale: float = 1e-4,
    ):
        if flow not in FLOWS:
            raise ConfigError(f"unknown flow '{flow}'; valid flows: {', '.join(FLOWS)}")
        if isinstance(latent_dim, int) and latent_dim < 2:
            raise ConfigError(
                f"the flow guide needs latent_dim >= 2, got {latent_dim}: an autoregressive step on one dimension "
                "conditions on nothing (use gaussian_encoder)"
            )
        hidden = list(hidden) or [4 * latent_dim]
        context = context or 2 * latent_dim
        check_sizes(steps=steps, hidden=hidden, context=context)
        super().__init__(x_shape, latent_dim, encoder, 2 * latent_dim + context)
        self.flow, self.context, self.min_scale = flow, context, min_scale
        self.steps = nn.ModuleList(FLOWS[flow](latent_dim, context, hidden) for _ in range(steps))
        self.register_buffer("reversed", torch.arange(latent_dim - 1, -1, -1), persistent=False)

    def distribution(self, params: Tensor) -> dist.Distribution:
        d = self.latent_dim
        loc, raw, features = params[..., :d], params[..., d : 2 * d], params[..., 2 * d :]
        base = dist.Normal(loc, self.min_scale + F.softplus(raw)).to_event(1)
        transforms = []
        for i, step in enumerate(self.steps):
            if i:
                transforms.append(Permute(self.reversed))
            transforms.append(step.condition(features))
        return dist.TransformedDistribution(base, transforms)
