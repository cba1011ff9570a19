"""Distribution heads shared by guides and prior networks."""

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
