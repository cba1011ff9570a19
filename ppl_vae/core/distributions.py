"""Distribution heads and distributions shared by models, likelihoods and guides."""

from __future__ import annotations

import pyro.distributions as dist
import torch
from torch import Tensor
from torch.nn import functional as F


def diagonal_normal(params: Tensor, min_scale: float) -> dist.Distribution:
    """Normal(loc, diag scale^2) from network output (..., 2 * L) = [loc, raw]; event shape (L,).

    ``scale = min_scale + softplus(raw)``: positive, and floored so that the density stays bounded.
    """
    loc, raw = params.chunk(2, dim=-1)
    return dist.Normal(loc, min_scale + F.softplus(raw)).to_event(1)


class Bernoulli(dist.Bernoulli):
    """Pyro's Bernoulli, drawn as ``uniform < p``: the same law as ``torch.bernoulli``, about 2.4x faster on the
    CPU (measured: 40 against 97 ms for 4.2 million draws, one thread), which predictive checks of
    millions of pixels feel. Values have the parameters' dtype and device."""

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        probs = self.probs
        with torch.no_grad():
            return (torch.rand(shape, dtype=probs.dtype, device=probs.device) < probs.expand(shape)).to(probs.dtype)


class FactorizedBernoulli(dist.Independent):
    """Independent Bernoulli(logits) values over the last ``reinterpreted_batch_ndims`` dimensions (an image or a
    vector per example), built as ``FactorizedBernoulli(Bernoulli(logits=...), event_dims)``. Its log-probability
    is the same number as ``Independent``'s, computed as

        log p(x) = sum_d x_d l_d - sum_d softplus(l_d)

    with the first sum a batched dot product (one pass over the logits instead of the per-value cross-entropy's
    several): what importance weighting with thousands of particles per image spends its time on."""

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self.base_dist._validate_sample(value)
        logits = self.base_dist.logits
        dims = self.reinterpreted_batch_ndims
        flat_logits = logits.reshape(*logits.shape[: logits.dim() - dims], -1)
        flat_value = value.reshape(*value.shape[: value.dim() - dims], -1).to(logits.dtype)
        return torch.einsum("...d,...d->...", flat_value, flat_logits) - F.softplus(flat_logits).sum(-1)
