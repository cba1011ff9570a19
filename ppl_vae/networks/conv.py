"""Convolutional networks in the DCGAN style (Radford et al. 2016) most VAE papers use at 28x28 and 32x32.

``conv`` is one registered name for two directions, chosen by the shapes it is asked to map:

- images ``(C, H, W)`` to a vector: :class:`ConvEncoder`, convolutions with kernel 4, stride 2
  and padding 1 (each halves the image side, rounding down), then fully connected layers;
- a vector to images: :class:`ConvDecoder`, a fully connected layer to ``channels[0]`` maps of
  side ceil(H / 2^L), then L transposed convolutions with kernel 4, stride 2 and padding 1 (each
  doubles the side), the last one to the output channels, cropped to H x W.

Any image size works: the encoder's convolutions round each side down (an odd side loses its last
row or column of features, never of pixels: every pixel is read), the decoder draws a little more
than the image and crops it. Only images smaller than 2^L on a side are refused, with the number of
layers that fits them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_network
from ppl_vae.core.sizes import check_sizes
from ppl_vae.networks import Network, activation_layer
from ppl_vae.networks.mlp import mlp_layers

KERNEL, STRIDE, PADDING = 4, 2, 1


class ConvEncoder(Network):
    """Images (C, H, W) -> (features,): ``channels`` strided convolutions, then ``hidden`` linear layers;
    the condition joins the flattened convolution features."""

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        out_shape: tuple[int],
        condition_dim: int,
        channels: Sequence[int],
        hidden: Sequence[int],
        activation: str,
        batch_norm: bool = False,
    ):
        super().__init__(in_shape, out_shape, condition_dim)
        c, h, w = in_shape
        side = 2 ** len(channels)
        if min(h, w) < side:
            fits = int(math.log2(min(h, w)))
            advice = f"give it at most {fits} layer(s) of channels" if fits else "use 'mlp' for images this small"
            raise ConfigError(
                f"the conv encoder halves the image side once per layer of channels ({len(channels)}: {channels}), so "
                f"it needs sides of at least {side}; the data's images are {tuple(in_shape)}: {advice}"
            )
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip([c, *channels[:-1]], channels)):
            layers.append(nn.Conv2d(fan_in, fan_out, KERNEL, STRIDE, PADDING))
            layers += [nn.BatchNorm2d(fan_out)] if batch_norm and i > 0 else []
            layers.append(activation_layer(activation))
        self.convolutions = nn.Sequential(*layers)
        features = channels[-1] * (h // side) * (w // side)
        self.head = mlp_layers(features + condition_dim, list(hidden), out_shape[0], activation)

    def body(self, inputs: Tensor, condition: Tensor | None) -> Tensor:
        features = self.convolutions(inputs).flatten(1)
        return self.head(features if condition is None else torch.cat([features, condition], dim=-1))


class ConvDecoder(Network):
    """(features,) -> images (C_out, H, W): a linear layer to ``channels[0]`` maps of side ceil(H / 2^L), then
    transposed convolutions through ``channels[1:]`` to ``C_out``, cropped to H x W; linear output."""

    def __init__(
        self,
        in_shape: tuple[int],
        out_shape: tuple[int, int, int],
        condition_dim: int,
        channels: Sequence[int],
        activation: str,
        batch_norm: bool = False,
    ):
        super().__init__(in_shape, out_shape, condition_dim)
        c, h, w = out_shape
        side = 2 ** len(channels)
        self.base = (channels[0], -(-h // side), -(-w // side))
        norm = [nn.BatchNorm1d(math.prod(self.base))] if batch_norm else []
        self.project = nn.Sequential(
            nn.Linear(in_shape[0] + condition_dim, math.prod(self.base)), *norm, activation_layer(activation)
        )
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(channels[:-1], channels[1:]):
            layers.append(nn.ConvTranspose2d(fan_in, fan_out, KERNEL, STRIDE, PADDING))
            layers += [nn.BatchNorm2d(fan_out)] if batch_norm else []
            layers.append(activation_layer(activation))
        layers.append(nn.ConvTranspose2d(channels[-1], c, KERNEL, STRIDE, PADDING))
        self.deconvolutions = nn.Sequential(*layers)

    def body(self, inputs: Tensor, condition: Tensor | None) -> Tensor:
        joined = inputs if condition is None else torch.cat([inputs, condition], dim=-1)
        images = self.deconvolutions(self.project(joined).reshape(-1, *self.base))
        return images[..., : self.out_shape[1], : self.out_shape[2]]


@register_network("conv")
def conv(
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    condition_dim: int = 0,
    channels: Sequence[int] | None = None,
    hidden: Sequence[int] = (256,),
    activation: str = "relu",
    batch_norm: bool = False,
) -> Network:
    """A :class:`ConvEncoder` (images to a vector; ``channels`` default [32, 64]) or a :class:`ConvDecoder`
    (a vector to images; ``channels`` default [64, 32], ``hidden`` unused), as the shapes say.

    ``batch_norm``: batch normalization after every hidden layer but the encoder's first convolution
    (the DCGAN recipe); its statistics are of the batch while training, running averages otherwise."""
    if len(in_shape) == 3 and len(out_shape) == 1:
        channels = [32, 64] if channels is None else list(channels)
        check_sizes(channels=channels, hidden=list(hidden))
        return ConvEncoder(in_shape, out_shape, condition_dim, channels, list(hidden), activation, batch_norm)
    if len(in_shape) == 1 and len(out_shape) == 3:
        channels = [64, 32] if channels is None else list(channels)
        check_sizes(channels=channels)
        return ConvDecoder(in_shape, out_shape, condition_dim, channels, activation, batch_norm)
    data = max(in_shape, out_shape, key=math.prod)  # the data side is the wider one (not the latent code)
    raise ConfigError(
        f"the conv network maps images (C, H, W) to vectors or vectors to images; this data has examples of "
        f"shape {tuple(data)}, not images (use the 'mlp' network)"
    )
