"""Autoregressive image networks: the output at pixel i depends only on the pixels before i in raster order.

All map images ``(B, C, H, W)`` and an optional conditioning map ``(B, K, H, W)`` (seen
everywhere: a latent code drawn to image size, for the PixelVAE) to ``(B, out_channels, H, W)``.
Pixels are ordered row by row, left to right; the C channels of one pixel are predicted together
from the earlier pixels (they are independent given them: the within-pixel channel ordering of
the PixelCNN paper is not implemented).

- :class:`PixelCNN` (van den Oord et al. 2016, "Pixel recurrent neural networks", section 3.5):
  a k x k convolution with mask A (the centre excluded), ``layers`` residual 3 x 3 convolutions
  with mask B (the centre included), and two 1 x 1 layers. Its receptive field has a blind spot
  above and to the right of each pixel.
- :class:`GatedPixelCNN` (van den Oord et al. 2016, "Conditional image generation with PixelCNN
  decoders"): a vertical stack (rows above) and a horizontal stack (the row to the left), gated
  tanh x sigmoid units, no blind spot. Causality comes from padding and one-row / one-column
  shifts instead of masks.
- :class:`RowLSTM` (the PixelRNN's Row LSTM, van den Oord et al. 2016a): an LSTM that runs down the
  image row by row: H sequential steps per layer, where the PixelCNNs take one pass.

``autoregressive_network(kind, ...)`` builds any of them. Their causality is tested by gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ppl_vae.core.errors import ConfigError
from ppl_vae.core.sizes import check_sizes

KINDS = ("pixelcnn", "gated", "row_lstm")


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution (1 x k with ``rows = 1``) that sees only the rows above and, in its own row, the
    columns to the left (mask ``"A"``) or to the left and the centre (mask ``"B"``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask: str, rows: int | None = None):
        rows = kernel if rows is None else rows
        super().__init__(in_channels, out_channels, (rows, kernel), padding=(rows // 2, kernel // 2))
        weights = torch.ones(rows, kernel)
        middle, centre = rows // 2, kernel // 2
        weights[middle, centre + (1 if mask == "B" else 0) :] = 0
        weights[middle + 1 :] = 0
        self.register_buffer("mask", weights, persistent=False)

    def forward(self, inputs: Tensor) -> Tensor:
        return F.conv2d(inputs, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """The masked PixelCNN of the module text, ``channels`` wide; ReLU units."""

    def __init__(self, in_channels: int, out_channels: int, channels: int, layers: int, kernel: int, condition: int):
        super().__init__()
        self.first = MaskedConv2d(in_channels, channels, kernel, "A")
        self.hidden = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(layers))
        self.conditions = (
            nn.ModuleList(nn.Conv2d(condition, channels, 1) for _ in range(layers + 1)) if condition else None
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        h = self.first(x)
        if self.conditions is not None:
            h = h + self.conditions[0](condition)
        for i, layer in enumerate(self.hidden):
            update = layer(F.relu(h))
            if self.conditions is not None:
                update = update + self.conditions[i + 1](condition)
            h = h + update
        return self.head(h)


def _gate(pre: Tensor) -> Tensor:
    a, b = pre.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def _shift_down(t: Tensor) -> Tensor:
    return F.pad(t, (0, 0, 1, 0))[:, :, :-1]


def _shift_right(t: Tensor) -> Tensor:
    return F.pad(t, (1, 0, 0, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One layer of both stacks. The vertical output at row i sees rows <= i (it reaches the horizontal
    stack shifted down one row); the horizontal output at column j sees columns <= j (< j in the first
    layer, shifted right one column)."""

    def __init__(self, in_channels: int, channels: int, kernel: int, first: bool, condition: int):
        super().__init__()
        self.half, self.first = kernel // 2, first
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (self.half + 1, kernel))
        self.horizontal = nn.Conv2d(in_channels, 2 * channels, (1, self.half + 1))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        self.condition_vertical = nn.Conv2d(condition, 2 * channels, 1) if condition else None
        self.condition_horizontal = nn.Conv2d(condition, 2 * channels, 1) if condition else None

    def forward(self, v: Tensor, h: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor]:
        v_pre = self.vertical(F.pad(v, (self.half, self.half, self.half, 0)))
        h_pre = self.horizontal(F.pad(h, (self.half, 0, 0, 0)))
        if self.first:
            h_pre = _shift_right(h_pre)
        h_pre = h_pre + self.vertical_to_horizontal(_shift_down(v_pre))
        if self.condition_vertical is not None:
            v_pre = v_pre + self.condition_vertical(condition)
            h_pre = h_pre + self.condition_horizontal(condition)
        h_new = self.out(_gate(h_pre))
        return _gate(v_pre), h_new if self.first else h + h_new


class GatedPixelCNN(nn.Module):
    """The gated PixelCNN of the module text: ``layers`` + 1 gated layers ``channels`` wide, then two 1 x 1 layers."""

    def __init__(self, in_channels: int, out_channels: int, channels: int, layers: int, kernel: int, condition: int):
        super().__init__()
        self.layers = nn.ModuleList(
            GatedLayer(in_channels if i == 0 else channels, channels, kernel if i == 0 else 3, i == 0, condition)
            for i in range(layers + 1)
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out_channels, 1)
        )

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h, condition)
        return self.head(h)


class RowLSTM(nn.Module):
    """The Row LSTM of PixelRNN (van den Oord et al. 2016a, section 3.1): ``layers`` + 1 LSTM layers of
    ``channels`` units that run down the image one row at a time; the gates of row i come from a 1 x k
    masked convolution of the layer's input in row i (mask A in the first layer, B after) and a 1 x 3
    convolution of the layer's own hidden state in row i - 1, so its context is a triangle above the
    pixel (plus the row to its left). Residual connections between layers, then two 1 x 1 layers."""

    def __init__(self, in_channels: int, out_channels: int, channels: int, layers: int, kernel: int, condition: int):
        super().__init__()
        self.channels = channels
        self.inputs = nn.ModuleList(
            MaskedConv2d(
                in_channels if i == 0 else channels, 4 * channels, kernel if i == 0 else 3, "A" if i == 0 else "B", 1
            )
            for i in range(layers + 1)
        )
        self.states = nn.ModuleList(nn.Conv1d(channels, 4 * channels, 3, padding=1) for _ in range(layers + 1))
        self.conditions = (
            nn.ModuleList(nn.Conv2d(condition, 4 * channels, 1) for _ in range(layers + 1)) if condition else None
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out_channels, 1)
        )

    def _layer(self, i: int, inputs: Tensor, condition: Tensor | None) -> Tensor:
        gates_in = self.inputs[i](inputs)
        if self.conditions is not None:
            gates_in = gates_in + self.conditions[i](condition)
        batch, _, height, width = gates_in.shape
        h = gates_in.new_zeros(batch, self.channels, width)
        c = torch.zeros_like(h)
        rows = []
        for row in range(height):
            o, f, g, a = (gates_in[:, :, row] + self.states[i](h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(g) * torch.tanh(a)
            h = torch.sigmoid(o) * torch.tanh(c)
            rows.append(h)
        return torch.stack(rows, dim=2)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        h = self._layer(0, x, condition)
        for i in range(1, len(self.inputs)):
            h = h + self._layer(i, h, condition)
        return self.head(h)


def autoregressive_network(
    kind: str, in_channels: int, out_channels: int, channels: int, layers: int, kernel: int, condition: int = 0
) -> nn.Module:
    """A :class:`PixelCNN` (``"pixelcnn"``), :class:`GatedPixelCNN` (``"gated"``) or :class:`RowLSTM`
    (``"row_lstm"``)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown autoregressive network '{kind}'; valid networks: {', '.join(KINDS)}")
    check_sizes(channels=channels, layers=layers + 1, kernel=kernel)
    if kernel % 2 == 0:
        raise ConfigError(f"the first kernel must have an odd side, got {kernel}")
    network = {"pixelcnn": PixelCNN, "gated": GatedPixelCNN, "row_lstm": RowLSTM}[kind]
    return network(in_channels, out_channels, channels, layers, kernel, condition)
