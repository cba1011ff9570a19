"""Distribution heads shared by guides and prior networks."""

from __future__ import annotations

import pyro.distributions as dist
from torch import Tensor
from torch.nn import functional as F


def diagonal_normal(params: Tensor, min_scale: float) -> dist.Distribution:
    """Normal(loc, diag scale^2) from network output (..., 2 * L) = [loc, raw]; event shape (L,).

    ``scale = min_scale + softplus(raw)``: positive, and floored so that the density stays bounded.
    """
    loc, raw = params.chunk(2, dim=-1)
    return dist.Normal(loc, min_scale + F.softplus(raw)).to_event(1)
