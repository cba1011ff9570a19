"""PNG figures of a run: ELBO curves and image grids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402


def save_figure(fig, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_elbo_curves(epochs: Sequence[int], train: Sequence[float], valid: Sequence[float], path: Path) -> None:
    """Training objective and validation ELBO (nats per example) against epoch."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, train, label="train objective")
    ax.plot(epochs, valid, label="validation bound")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per example")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def image_grid(images: Tensor, image_shape: tuple[int, int], columns: int, gap: int = 1) -> np.ndarray:
    """Tile (N, H*W) images row-major into one array, ``gap`` grey (0.5) pixels between tiles."""
    h, w = image_shape
    n = images.shape[0]
    rows = -(-n // columns)
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), 0.5, dtype=np.float32)
    for i, image in enumerate(images.detach().cpu().numpy().reshape(n, h, w)):
        r, c = divmod(i, columns)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return grid


def plot_image_rows(rows: Sequence[tuple[str, Tensor]], image_shape: tuple[int, int], columns: int, path: Path) -> None:
    """One labelled grid per (label, images) row block; pixel values are shown on [0, 1]."""
    tile_rows = sum(-(-images.shape[0] // columns) for _, images in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(columns * 0.7, 0.75 * tile_rows + 0.4 * len(rows)), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows):
        ax.imshow(image_grid(images, image_shape, columns), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=9, loc="left")
        ax.axis("off")
    save_figure(fig, path)


def plot_classification(
    confusion: Sequence[Sequence[int]], fit_scores: Tensor, outlier_scores: Tensor, path: Path
) -> None:
    """Confusion matrix (rows: true class, columns: predicted), and histograms of the fit score
    max_y log p(x | y) on real inputs and on inputs of no class."""
    matrix = np.asarray(confusion)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        left.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
    left.set_xlabel("predicted class")
    left.set_ylabel("true class")
    left.set_xticks(range(matrix.shape[1]))
    left.set_yticks(range(matrix.shape[0]))
    accuracy = np.trace(matrix) / matrix.sum()
    left.set_title(f"Bayes-rule classifier, accuracy {accuracy:.3f}", fontsize=10)
    bins = np.histogram_bin_edges(np.r_[fit_scores.numpy(), outlier_scores.numpy()], bins=40)
    right.hist(fit_scores.numpy(), bins=bins, alpha=0.6, label="test inputs")
    right.hist(outlier_scores.numpy(), bins=bins, alpha=0.6, label="same inputs, pixels shuffled")
    right.set_xlabel("max over y of log p(x | y), nats")
    right.set_ylabel("inputs")
    right.legend()
    save_figure(fig, path)
