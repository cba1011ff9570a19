"""Test statistics of images for posterior predictive checks.

Each statistic maps a stack of images ``(M, H, W)`` (pixel values in [0, 1] or beyond
for a Gaussian likelihood's draws) to one number per image, ``(M,)``. Register your own
with ``@register_statistic("name")``. Statistics that count shapes (strokes, edges)
read a pixel as ink when it is above 0.5.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ppl_vae.core.registry import register_statistic

Statistic = Callable[[np.ndarray], np.ndarray]


def _ink(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).sum(1)


@register_statistic("total_ink")
def total_ink(images: np.ndarray) -> np.ndarray:
    """Sum of pixel values: how much ink an image has."""
    return _ink(images)


def _centroid(images: np.ndarray, axis: int) -> np.ndarray:
    weights = np.clip(images, 0, None)
    coordinate = np.arange(images.shape[axis], dtype=np.float64)
    profile = weights.sum(axis=3 - axis)  # (M, H) for rows, (M, W) for columns
    total = profile.sum(1)
    return np.where(total > 0, profile @ coordinate / np.where(total > 0, total, 1), np.nan)


@register_statistic("centroid_row")
def centroid_row(images: np.ndarray) -> np.ndarray:
    """Row (0 = top) of the centre of mass of the ink, in pixels; NaN for a blank image."""
    return _centroid(images, 1)


@register_statistic("centroid_col")
def centroid_col(images: np.ndarray) -> np.ndarray:
    """Column (0 = left) of the centre of mass of the ink, in pixels; NaN for a blank image."""
    return _centroid(images, 2)


@register_statistic("strokes")
def strokes(images: np.ndarray) -> np.ndarray:
    """Connected groups of ink pixels (8-connectivity): 1 for a clean digit, more when broken."""
    binary = images > 0.5
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # connect within an image, never across images
    labels, _ = ndimage.label(binary, structure=structure)
    last = np.maximum.accumulate(labels.reshape(len(images), -1).max(1))
    return np.diff(last, prepend=0).astype(np.float64)


@register_statistic("left_right_balance")
def left_right_balance(images: np.ndarray) -> np.ndarray:
    """(ink in the left half - ink in the right half) / total ink, in [-1, 1]; 0 for a blank image."""
    half = images.shape[2] // 2
    left = images[:, :, :half].reshape(len(images), -1).sum(1)
    right = images[:, :, images.shape[2] - half :].reshape(len(images), -1).sum(1)
    total = left + right
    return np.where(total > 0, (left - right) / np.where(total > 0, total, 1), 0.0)


@register_statistic("edge_length")
def edge_length(images: np.ndarray) -> np.ndarray:
    """Ink/background transitions between neighbouring pixels, along rows and columns."""
    binary = images > 0.5
    across = (binary[:, :, 1:] != binary[:, :, :-1]).reshape(len(images), -1).sum(1)
    down = (binary[:, 1:, :] != binary[:, :-1, :]).reshape(len(images), -1).sum(1)
    return (across + down).astype(np.float64)
