"""Categorical likelihood over the data's grey levels: one free probability per level and value.

Each value x = k / (L - 1) is drawn from a categorical over the L levels with its own L logits
(van den Oord et al. 2016, PixelRNN: a 256-way softmax per sub-pixel). Unlike the discretized
logistic (``ppl_vae.models.logistic``) it assumes no order or smoothness of the levels; it costs L
outputs per value. Its figures are exact discrete log-probabilities in nats.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import Tensor
from torch.nn import functional as F

from ppl_vae.core.contract import levels
from ppl_vae.core.registry import register_likelihood
from ppl_vae.models.likelihood import Likelihood


class LevelCategorical(dist.TorchDistribution):
    """Independent categoricals over the values k / (L - 1), k = 0 .. L - 1: ``logits`` (..., L), batch shape
    ``logits.shape[:-1]``, no event dims; values are grey levels in [0, 1], as the data holds them.
    ``normalized``: the logits are already log-probabilities (an expanded copy keeps them as views)."""

    arg_constraints: dict = {}
    support = levels

    def __init__(self, logits: Tensor, normalized: bool = False):
        self.logits = logits if normalized else F.log_softmax(logits, dim=-1)
        self.levels = logits.shape[-1]
        super().__init__(logits.shape[:-1], validate_args=False)

    def expand(self, batch_shape, _instance=None) -> LevelCategorical:
        return LevelCategorical(self.logits.expand(*batch_shape, self.levels), normalized=True)

    def log_prob(self, value: Tensor) -> Tensor:
        index = torch.round(value * (self.levels - 1)).long().clamp(0, self.levels - 1)
        shape = torch.broadcast_shapes(index.shape, self.batch_shape)
        logits = self.logits.expand(*shape, self.levels)
        return logits.gather(-1, index.expand(shape).unsqueeze(-1)).squeeze(-1)

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        with torch.no_grad():
            index = dist.Categorical(logits=self.logits).sample(torch.Size(sample_shape))
            return index.to(self.logits.dtype) / (self.levels - 1)

    @property
    def mean(self) -> Tensor:
        grid = torch.linspace(0, 1, self.levels, dtype=self.logits.dtype, device=self.logits.device)
        return self.logits.exp() @ grid


@register_likelihood("categorical")
class CategoricalLikelihood(Likelihood):
    """x ~ LevelCategorical(logits) on the data's L levels; the decoder gives L logits per value, stacked on the
    first axis as (L x C, H, W)."""

    support = levels

    def __init__(self, event_shape: tuple[int, ...], levels: int | None = None):
        super().__init__(event_shape, levels)
        self.params_per_value = self.levels

    def distribution(self, decoded: Tensor) -> dist.Distribution:
        first = decoded.dim() - len(self.event_shape)
        logits = decoded.unflatten(first, (self.levels, self.event_shape[0])).movedim(first, -1)
        return LevelCategorical(logits).to_event(len(self.event_shape))
