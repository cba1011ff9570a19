"""Multilayer perceptrons shared by decoders and encoders."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

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
