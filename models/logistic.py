r"""Discretized logistic likelihood: a probability mass on the data's L grey levels.

Each value x = k / (L - 1) gets the mass of a logistic density (location mu, scale s, one of
each per value from the decoder) over its bin of width 1 / (L - 1) around x; the lowest and
highest levels take the tails (Salimans et al. 2017, PixelCNN++, with one component):

.. math:: P(k) = \sigma\Big(\frac{x + \delta - \mu}{s}\Big) - \sigma\Big(\frac{x - \delta - \mu}{s}\Big),
          \quad \delta = \frac{1}{2(L - 1)},

with :math:`\sigma(\cdot)` replaced by 1 above the top level and 0 below the bottom one. Its
figures are exact discrete log-probabilities in nats: no dequantization is needed, and bits per
dimension follow the convention of the PixelCNN papers.
"""

from __future__ import annotations

import math
from typing import Any

import pyro.distributions as dist
import torch
from torch import Tensor
from torch.distributions import constraints
from torch.nn import functional as F

from ppl_vae.core.contract import ModelContract, levels
from ppl_vae.core.registry import register_likelihood, register_model
from ppl_vae.models.base import LatentVariableModel
from ppl_vae.models.likelihood import Likelihood


class DiscretizedLogistic(dist.TorchDistribution):
    """Independent discretized logistics over values k / (levels - 1); batch shape of ``loc``, no event dims."""

    arg_constraints = {"loc": constraints.real, "log_scale": constraints.real}
    support = levels

    def __init__(self, loc: Tensor, log_scale: Tensor, levels: int):
        self.loc, self.log_scale, self.levels = loc, log_scale, levels
        super().__init__(loc.shape, validate_args=False)

    def expand(self, batch_shape, _instance=None) -> DiscretizedLogistic:
        return DiscretizedLogistic(self.loc.expand(batch_shape), self.log_scale.expand(batch_shape), self.levels)

    def log_prob(self, value: Tensor) -> Tensor:
        half_bin = 0.5 / (self.levels - 1)
        centered = value - self.loc
        inv_scale = torch.exp(-self.log_scale)
        upper = inv_scale * (centered + half_bin)
        lower = inv_scale * (centered - half_bin)
        log_cdf_upper = upper - F.softplus(upper)  # log sigmoid
        log_survival_lower = -F.softplus(lower)  # log (1 - sigmoid)
        mass = torch.sigmoid(upper) - torch.sigmoid(lower)
        middle = inv_scale * centered
        log_density_times_bin = middle - self.log_scale - 2 * F.softplus(middle) + math.log(2 * half_bin)
        log_mass = torch.where(mass > 1e-5, torch.log(mass.clamp(min=1e-12)), log_density_times_bin)
        return torch.where(
            value < half_bin, log_cdf_upper, torch.where(value > 1 - half_bin, log_survival_lower, log_mass)
        )

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        with torch.no_grad():
            shape = torch.Size(sample_shape) + self.batch_shape
            u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device).clamp(1e-6, 1 - 1e-6)
            drawn = self.loc + torch.exp(self.log_scale) * (torch.log(u) - torch.log1p(-u))
            return torch.round(drawn.clamp(0, 1) * (self.levels - 1)) / (self.levels - 1)

    @property
    def mean(self) -> Tensor:
        """The location, clipped to [0, 1] (the mean of the discretized values, up to the tails)."""
        return self.loc.clamp(0, 1)


@register_likelihood("discretized_logistic")
class DiscretizedLogisticLikelihood(Likelihood):
    """x ~ DiscretizedLogistic(mu, s) on the data's levels; the decoder gives [mu, log s] per value
    (log s floored at ``min_log_scale``)."""

    support = levels

    def __init__(self, event_shape: tuple[int, ...], levels: int | None = None, min_log_scale: float = -7.0):
        super().__init__(event_shape, levels)
        self.params_per_value = 2
        self.min_log_scale = min_log_scale

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        loc, log_scale = self.split(decoded)
        log_scale = log_scale.clamp(min=self.min_log_scale)
        return DiscretizedLogistic(loc, log_scale, self.levels).to_event(len(self.event_shape))


@register_model("discretized_logistic_vae")
class DiscretizedLogisticVAE(LatentVariableModel):
    """p(z) p(x | z): z ~ p(z) (``prior``, Normal(0, I) by default), x ~ DiscretizedLogistic(decoder(z)) on the
    data's grey levels.

    ``levels``: the data's number of grey levels, given by the engine.
    """

    contract = ModelContract(support=levels)

    def __init__(
        self,
        x_shape: tuple[int, ...],
        latent_dim: int = 10,
        decoder: Any = "mlp",
        levels: int | None = None,
        min_log_scale: float = -7.0,
        prior: Any = "normal",
    ):
        likelihood = DiscretizedLogisticLikelihood(x_shape, levels, min_log_scale)
        super().__init__(x_shape, likelihood, latent_dim, decoder, prior=prior)
