"""The multilayer perceptron: any input shape, flattened, to any output shape."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ppl_vae.core.registry import register_network
from ppl_vae.core.sizes import check_sizes
from ppl_vae.networks import Network, activation_layer


def mlp_layers(in_features: int, hidden: Sequence[int], out_features: int, activation: str) -> nn.Sequential:
    """Linear layers ``in_features -> hidden[0] -> ... -> out_features``, the activation after each hidden one."""
    sizes = [in_features, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation_layer(activation)]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)


@register_network("mlp")
class MLP(Network):
    """Fully connected: flatten ``(..., *in_shape)``, join the condition, ``hidden`` layers with
    ``activation``, a linear output reshaped to ``(..., *out_shape)``."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        condition_dim: int = 0,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
    ):
        super().__init__(in_shape, out_shape, condition_dim)
        check_sizes(hidden=list(hidden))
        self.layers = mlp_layers(math.prod(in_shape) + condition_dim, list(hidden), math.prod(out_shape), activation)

    def body(self, inputs: Tensor, condition: Tensor | None) -> Tensor:
        flat = inputs.flatten(1)
        return self.layers(flat if condition is None else torch.cat([flat, condition], dim=-1))
