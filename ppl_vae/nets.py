"""Multilayer perceptrons shared by decoders and encoders, and what their outputs become."""

from __future__ import annotations

from collections.abc import Sequence

import pyro.distributions as dist
import torch
from torch import Tensor, nn
from torch.nn import functional as F

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "relu") -> nn.Sequential:
    """A fully connected network ``in_dim -> hidden[0] -> ... -> out_dim``.

    Maps a tensor of shape ``(..., in_dim)`` to ``(..., out_dim)``; the activation
    follows every hidden layer, the output layer is linear.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{activation}'; valid activations: {', '.join(sorted(ACTIVATIONS))}")
    for name, size in (("in_dim", in_dim), ("out_dim", out_dim), *(("hidden", h) for h in hidden)):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"{name} must be a positive whole number, got {size!r}")
    sizes = [in_dim, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], out_dim))
    return nn.Sequential(*layers)


def diagonal_normal(params: Tensor, min_scale: float) -> dist.Distribution:
    """Normal(loc, diag scale^2) from network output (..., 2 * L) = [loc, raw]; event shape (L,).

    ``scale = min_scale + softplus(raw)``: positive, and floored so that the density stays bounded.
    """
    loc, raw = params.chunk(2, dim=-1)
    return dist.Normal(loc, min_scale + F.softplus(raw)).to_event(1)


def concat_condition(inputs: Tensor, condition: Tensor | None) -> Tensor:
    """``inputs`` (..., N, A) joined with ``condition`` (N, B), broadcast over leading dims: (..., N, A + B)."""
    if condition is None:
        return inputs
    return torch.cat([inputs, condition.expand(*inputs.shape[:-1], condition.shape[-1])], dim=-1)
