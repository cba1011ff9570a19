"""Datasets as in-memory tensors with train / valid / test splits.

Every split holds ``x`` of shape ``(N, *x_shape)``: ``(N, D)`` for vectors, ``(N, C, H, W)``
for images. Labelled sets (``num_classes`` set) hold class labels ``y`` of shape ``(N,)``
(int64); structured-output sets hold the output to predict in ``y``, ``(N, *y_shape)``.
Batches are slices of these tensors: no per-item ``Dataset.__getitem__``.

Grey levels: a dataset with ``levels = L`` holds values k / (L - 1), k = 0 .. L - 1 (or the
integers k themselves before :func:`ppl_vae.data.transforms.to_floating` converts them):
8-bit images have 256 levels, binary data 2, scikit-learn's digits 17. ``levels = None``
is continuous data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """One split: ``x`` (N, *x_shape); ``y`` (N,) int64 labels, (N, *y_shape) outputs, or None."""

    x: Tensor
    y: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index: Tensor) -> Split:
        """The examples at ``index`` (a 1-D tensor of positions)."""
        return Split(self.x[index], None if self.y is None else self.y[index])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Split:
        """On ``device``; floating-point tensors in ``dtype`` (labels stay int64)."""

        def moved(t: Tensor | None) -> Tensor | None:
            if t is None:
                return None
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return Split(moved(self.x), moved(self.y))


@dataclass(frozen=True)
class Dataset:
    """Three splits plus what models, checks and figures need to know about them.

    ``num_classes``: labels 0 .. num_classes - 1 in ``y``, or None. ``levels``: grey levels of
    the values (see the module docstring), None for continuous data. ``image_shape``: (C, H, W)
    of whole images for figures, None for vector data. ``input_mask``: for structured-output
    sets, a bool tensor of image_shape, True at the pixels that ``x`` holds (``y`` holds the
    others, both flattened row-major). ``options``: factory options resolved while loading
    that a run must pin to rebuild exactly this data (such as which MNIST files were used).
    ``dynamic_binarization``: training batches are redrawn as Bernoulli(x) at every step
    (valid and test were binarized once, with a seed). ``description`` says where the data
    came from and how it was split. ``labelled``: for partially labelled data
    (``ppl_vae.data.labelled``), the positions (sorted, int64) of the training examples whose labels
    are kept; every other label of the training and validation splits is
    :data:`~ppl_vae.core.contract.UNLABELLED`. None when every label is given.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    num_classes: int | None = None
    levels: int | None = None
    description: str = ""
    image_shape: tuple[int, ...] | None = None
    input_mask: Tensor | None = None
    options: dict[str, Any] = field(default_factory=dict)
    dynamic_binarization: bool = False
    labelled: Tensor | None = None

    @property
    def x_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def y_shape(self) -> tuple[int, ...] | None:
        """Event shape of structured outputs y; None for labels or unlabelled data."""
        y = self.train.y
        return None if y is None or self.num_classes is not None else tuple(y.shape[1:])

    def splits(self) -> dict[str, Split]:
        return {name: getattr(self, name) for name in SPLITS}

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise ValueError(f"unknown split '{name}'; valid splits: {', '.join(SPLITS)}")
        return getattr(self, name)

    def with_splits(self, splits: dict[str, Split], **changes: Any) -> Dataset:
        return replace(self, **splits, **changes)

    def images(self, x: Tensor, y: Tensor | None = None) -> Tensor | None:
        """Whole images (..., C, H, W) of examples ``x`` (and outputs ``y`` put back in place for
        structured sets); None for vector data."""
        if self.image_shape is None:
            return None
        if self.input_mask is None:
            return x.reshape(*x.shape[: x.dim() - len(self.x_shape)], *self.image_shape)
        lead = x.shape[:-1]
        mask = self.input_mask.reshape(-1).to(x.device)
        images = x.new_empty(*lead, mask.numel())
        images[..., mask] = x
        images[..., ~mask] = y
        return images.reshape(*lead, *self.image_shape)
