"""PNG figures: the primitives every figure of the package is drawn with; curves and image grids (grey or colour).

Every figure uses matplotlib's constrained layout; every plotting axis has both axis labels
and every image panel a title (tested). Image grids separate tiles with transparent gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402


def new_figure(rows: int = 1, columns: int = 1, size: tuple[float, float] = (6, 4)):
    """A figure with constrained layout and a (rows, columns) array of axes."""
    return plt.subplots(rows, columns, figsize=size, squeeze=False, layout="constrained")


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG (fast compression: the figures are drawn at the end of every run) and close it."""
    fig.savefig(path, dpi=120, pil_kwargs={"compress_level": 1})
    plt.close(fig)


def plot_curves(
    epochs: Sequence[int], curves: dict[str, Sequence[float]], ylabel: str, path: Path, title: str | None = None
) -> None:
    """Named curves against epoch."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    for label, values in curves.items():
        ax.plot(epochs, values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def image_grid(images: Tensor, columns: int, gap: int = 1) -> np.ndarray:
    """Tile images (N, C, H, W), C = 1 (grey) or 3 (colour), row-major into one RGBA array
    (rows * (H + gap) - gap, columns * (W + gap) - gap, 4); gaps are transparent, values clipped to [0, 1]."""
    values = images.detach().float().cpu().clamp(0, 1).numpy()
    n, c, h, w = values.shape
    rgb = np.repeat(values, 3, axis=1) if c == 1 else values[:, :3]
    rows = -(-n // columns)
    grid = np.zeros((rows * (h + gap) - gap, columns * (w + gap) - gap, 4), dtype=np.float32)
    for i, image in enumerate(rgb):
        r, col = divmod(i, columns)
        tile = grid[r * (h + gap) : r * (h + gap) + h, col * (w + gap) : col * (w + gap) + w]
        tile[..., :3] = image.transpose(1, 2, 0)
        tile[..., 3] = 1.0
    return grid


def plot_image_rows(rows: Sequence[tuple[str, Tensor]], columns: int, path: Path) -> None:
    """One titled grid per (title, images) block; images (N, C, H, W) shown on [0, 1]."""
    tile_rows = sum(-(-images.shape[0] // columns) for _, images in rows)
    fig, axes = new_figure(len(rows), 1, (max(4.0, columns * 0.7), 0.75 * tile_rows + 0.45 * len(rows)))
    for ax, (title, images) in zip(axes[:, 0], rows):
        ax.imshow(image_grid(images, columns), interpolation="nearest")
        ax.set_title(title, fontsize=9, loc="left")
        ax.axis("off")
    save_figure(fig, path)
