r"""What every likelihood module shares: shapes, and uniform dequantization on discrete data.

The contract of a likelihood module (``@register_likelihood("name")``): a ``torch.nn.Module``
built as ``Likelihood(event_shape, levels=None, **options)`` that declares ``support``
(``constraints.boolean``; ``ppl_vae.core.contract.levels`` for a mass on the data's L levels;
``constraints.unit_interval`` or ``constraints.real`` for densities) and
``params_per_value`` (decoder outputs per observed value), and maps decoder output of shape
``(..., *param_shape)`` to a distribution with batch shape ``(...)`` and event shape
``event_shape``. Subclasses implement :meth:`Likelihood.distribution`.

**Dequantization.** Grey-level images are discrete: values k / (L - 1), k = 0 .. L - 1. A
continuous density p on them is unbounded, so with ``levels = L`` a continuous likelihood
returns :class:`Dequantized`: the probability of each level is the mass of p over the
cube [k / L, (k + 1) / L) of its value,

.. math:: P(k) = \int_{[0,1)^D} p\big((k + u) / L\big)\, L^{-D}\, du,

whose ``log_prob`` draws one u ~ U[0, 1)^D per call and returns
:math:`\log p((k + u) / L) - D \log L`. Its exponential is unbiased for P(k), so every
bound built from it (the ELBO, the importance-weighted estimate with u drawn per particle)
is a bound on the discrete log-probability in nats, never positive in expectation, and
bits per dimension follow the convention of the PixelCNN and Glow papers (Theis, van den
Oord & Bethge 2016; Ho et al. 2019).
"""

from __future__ import annotations

import math
from typing import Any

import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.distributions import constraints
from torch.distributions.constraints import Constraint

from ppl_vae.core.construct import construct
from ppl_vae.core.contract import ModelContract
from ppl_vae.core.contract import levels as level_support
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import LIKELIHOODS


class Dequantized(dist.TorchDistribution):
    """A distribution over the levels k / (L - 1) from a continuous ``base`` on [0, 1)^D (see the module text).

    ``log_prob`` is a one-sample unbiased estimate (after exp) of the level's probability;
    ``sample`` draws from ``base`` and returns the level whose cube holds the draw.
    """

    arg_constraints: dict = {}
    support = constraints.unit_interval

    def __init__(self, base: dist.Distribution, levels: int):
        self.base, self.levels = base, levels
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def expand(self, batch_shape, _instance=None) -> Dequantized:
        return Dequantized(self.base.expand(batch_shape), self.levels)

    def log_prob(self, value: Tensor) -> Tensor:
        level = torch.round(value * (self.levels - 1))
        shape = torch.broadcast_shapes(value.shape, self.batch_shape + self.event_shape)
        u = torch.rand(shape, dtype=value.dtype, device=value.device)
        volume = math.prod(self.event_shape) * math.log(self.levels)
        return self.base.log_prob((level + u) / self.levels) - volume

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        with torch.no_grad():
            drawn = self.base.sample(sample_shape)
            return torch.floor(drawn * self.levels).clamp(0, self.levels - 1) / (self.levels - 1)

    @property
    def mean(self) -> Tensor:
        """E[k] / (L - 1) with E[k] ~ L E[x'] - 1/2 (exact when p stays inside [0, 1))."""
        return ((self.base.mean * self.levels - 0.5) / (self.levels - 1)).clamp(0, 1)


class Likelihood(nn.Module):
    """Base of likelihood modules: ``event_shape`` of what is observed, and ``levels`` to dequantize with."""

    support: Constraint = constraints.real
    params_per_value: int = 1

    def __init__(self, event_shape: tuple[int, ...], levels: int | None = None):
        super().__init__()
        self.event_shape = tuple(event_shape)
        if levels is not None and self.support is constraints.boolean:
            raise ConfigError(f"the {type(self).__name__} is discrete: it takes no levels to dequantize with")
        if levels is None and self.support is level_support:
            raise ConfigError(f"the {type(self).__name__} puts its mass on the data's levels: give levels")
        self.levels = levels

    @property
    def param_shape(self) -> tuple[int, ...]:
        """Decoder output per example: ``params_per_value`` numbers per observed value, stacked on the first axis."""
        return (self.params_per_value * self.event_shape[0], *self.event_shape[1:])

    def split(self, decoded: Tensor) -> tuple[Tensor, ...]:
        """``params_per_value`` tensors of shape (..., *event_shape) from decoder output (..., *param_shape)."""
        first = decoded.dim() - len(self.event_shape)
        return decoded.unflatten(first, (self.params_per_value, self.event_shape[0])).unbind(first)

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        raise NotImplementedError

    def forward(self, decoded: Tensor) -> dist.Distribution:
        """p(obs | decoded): batch shape ``decoded.shape[:-len(param_shape)]``, event shape ``event_shape``;
        dequantized (:class:`Dequantized`) when a density is given levels."""
        density = self.distribution(decoded)
        continuous = self.support is not constraints.boolean and self.support is not level_support
        return Dequantized(density, self.levels) if continuous and self.levels is not None else density


def make_likelihood(name: str, event_shape: tuple[int, ...], levels: int | None, options: dict | None) -> Likelihood:
    """The likelihood module registered as ``name`` for ``event_shape``, with its ``options``."""
    context = {"event_shape": tuple(event_shape), "levels": levels}
    return construct(LIKELIHOODS, {"name": name, **(options or {})}, context, "model.likelihood_options")


def likelihood_contract(options: dict[str, Any], **declared: Any) -> ModelContract:
    """A contract whose support is that of the likelihood named in ``options`` (default Bernoulli)."""
    return ModelContract(support=LIKELIHOODS.get(options.get("likelihood", "bernoulli")).support, **declared)
