"""Prediction tasks made from image datasets: the quadrant task of structured-output prediction."""

from __future__ import annotations

import torch
from torch import Tensor

from ppl_vae.core.errors import ConfigError
from ppl_vae.core.registry import register_dataset
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.data.datasets import load_digits, load_mnist

QUADRANT_INPUTS = {1: "the bottom-left quadrant", 2: "the left half", 3: "all but the bottom-right quadrant"}
QUADRANT_SOURCES = ("digits", "mnist")


def quadrant_mask(image_shape: tuple[int, ...], quadrants: int) -> Tensor:
    """Bool mask of ``image_shape`` (C, H, W), True at the input pixels of the quadrant task
    (as in Pyro's CVAE example)."""
    if quadrants not in QUADRANT_INPUTS:
        raise ConfigError(f"data.quadrants must be 1, 2 or 3 (the number of input quadrants), got {quadrants!r}")
    channels, h, w = image_shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[h // 2 :, : w // 2] = True
    if quadrants >= 2:
        mask[:, : w // 2] = True
    if quadrants == 3:
        mask[: h // 2, :] = True
    return mask.expand(channels, h, w).clone()


@register_dataset("quadrants")
def load_quadrants(
    source: str = "digits",
    quadrants: int = 1,
    seed: int = 0,
    data_dir: str | None = None,
    download: bool = True,
    split: str = "auto",
) -> Dataset:
    """Structured output prediction (Sohn, Lee & Yan 2015): from some quadrants of an image, the rest.

    ``x`` (N, D_in) holds the input pixels (``quadrants`` = 1: the bottom-left quadrant,
    2: the left half, 3: all but the bottom-right quadrant), ``y`` (N, D_out) the other
    pixels, both grey levels, row-major; :meth:`Dataset.images` puts them back together.
    ``source`` is ``"digits"`` (8x8, offline) or ``"mnist"`` (28x28, ``split`` as there);
    class labels are dropped.
    """
    if source not in QUADRANT_SOURCES:
        raise ConfigError(f"unknown data.source '{source}'; valid sources: {', '.join(QUADRANT_SOURCES)}")
    data = load_digits(seed) if source == "digits" else load_mnist(data_dir, download, split, seed)
    mask = quadrant_mask(data.image_shape, quadrants)
    flat = mask.reshape(-1)

    def cut(s: Split) -> Split:
        pixels = s.x.reshape(len(s), -1)
        return Split(pixels[:, flat].contiguous(), pixels[:, ~flat].contiguous())

    return data.with_splits(
        {name: cut(s) for name, s in data.splits().items()},
        name=f"{source}_quadrants",
        num_classes=None,
        description=f"{data.description}; input x: {QUADRANT_INPUTS[quadrants]} ({int(flat.sum())} pixels), "
        f"output y: the other {int((~flat).sum())} pixels",
        input_mask=mask,
    )
