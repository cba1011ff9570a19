"""Networks by name, shared by decoders, encoders, prior networks and discriminators.

The contract of a network constructor (``@register_network("name")``): it is called as
``constructor(in_shape, out_shape, condition_dim=0, **options)`` and returns a
``torch.nn.Module`` whose ``forward(inputs, condition=None)`` maps ``inputs`` of shape
``(..., *in_shape)`` and an optional per-example condition ``(..., condition_dim)`` to
``(..., *out_shape)``, for any number of leading dimensions (data, particles). Shapes are
``(D,)`` for vectors and ``(C, H, W)`` for images; a network that cannot map the shapes it
is given raises :class:`~ppl_vae.core.errors.ConfigError` naming them. Options are the other
keys of the experiment's table (``[model.decoder]``, ``[guide.encoder]``).

Built in: ``mlp`` (:mod:`ppl_vae.networks.mlp`) and ``conv`` (:mod:`ppl_vae.networks.conv`,
a strided-convolution encoder or a transposed-convolution decoder, DCGAN style); the autoregressive
image networks of the PixelCNN family (:mod:`ppl_vae.networks.autoregressive`).

May import ``core`` only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ppl_vae.core.construct import as_table, construct
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import NETWORKS

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}


def activation_layer(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{name}'; valid activations: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]()


class Network(nn.Module):
    """Base of the built-in networks: handles leading dimensions and the condition.

    Subclasses implement :meth:`body`, which maps a batch ``(B, *in_shape)`` and a condition
    ``(B, condition_dim)`` or None to ``(B, *out_shape)``.
    """

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...], condition_dim: int = 0):
        super().__init__()
        self.in_shape, self.out_shape, self.condition_dim = tuple(in_shape), tuple(out_shape), condition_dim

    def body(self, inputs: Tensor, condition: Tensor | None) -> Tensor:
        raise NotImplementedError

    def forward(self, inputs: Tensor, condition: Tensor | None = None) -> Tensor:
        """``inputs`` (..., *in_shape) and ``condition`` (..., condition_dim), their leading dimensions broadcast
        against each other (a condition drawn per particle meets inputs shared by the particles), to
        (..., *out_shape)."""
        lead = inputs.shape[: inputs.dim() - len(self.in_shape)]
        if condition is not None:
            lead = torch.broadcast_shapes(lead, condition.shape[:-1])
            condition = condition.expand(*lead, condition.shape[-1]).reshape(-1, condition.shape[-1])
            inputs = inputs.expand(*lead, *self.in_shape)
        flat = inputs.reshape(-1, *self.in_shape)
        return self.body(flat, condition).reshape(*lead, *self.out_shape)


def build_network(
    spec: str | dict[str, Any] | nn.Module,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    condition_dim: int = 0,
    where: str = "network",
) -> nn.Module:
    """The network ``spec`` names (a registered name, or a table ``{"name": ..., **options}``) for
    these shapes; a module given as ``spec`` is used as it is."""
    if isinstance(spec, nn.Module):
        return spec
    context = {"in_shape": tuple(in_shape), "out_shape": tuple(out_shape), "condition_dim": condition_dim}
    return construct(NETWORKS, as_table(spec, where), context, where)
