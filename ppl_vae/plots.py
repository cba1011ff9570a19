"""PNG figures: curves, image grids (grey or colour), the classifier, the predictive check.

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


def plot_classification(
    confusion: Sequence[Sequence[int]], fit_scores: Tensor, outlier_scores: Tensor, path: Path
) -> None:
    """Confusion matrix (rows: true class, columns: predicted), and histograms of the fit score
    max_y log p(x | y) on real inputs and on inputs of no class."""
    matrix = np.asarray(confusion)
    fig, axes = new_figure(1, 2, (11, 4.5))
    left, right = axes[0]
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
    scores, outliers = fit_scores.cpu().numpy(), outlier_scores.cpu().numpy()
    bins = np.histogram_bin_edges(np.r_[scores, outliers], bins=40)
    right.hist(scores, bins=bins, alpha=0.6, label="test inputs")
    right.hist(outliers, bins=bins, alpha=0.6, label="same inputs, pixels shuffled")
    right.set_xlabel("max over y of log p(x | y), nats")
    right.set_ylabel("inputs")
    right.set_title("fit score", fontsize=10)
    right.legend()
    save_figure(fig, path)


ECDF_EXAMPLES = 2000  # examples per distribution function drawn: enough for a figure, and it bounds its memory


def plot_check(check, idata, folder: Path, stem: str = "ppc") -> None:
    """Write ``<stem>_statistics.png`` (arviz.plot_ppc, empirical distribution functions of the first
    :data:`ECDF_EXAMPLES` examples: robust to the discrete and constant statistics where density estimates
    fail) and ``<stem>_pvalues.png`` (arviz.plot_bpv) when there are image statistics, and ``<stem>_pixels.png``
    (per-value frequencies and, for Bernoulli likelihoods, calibration)."""
    import arviz

    names = list(check.observed)
    plotted = idata.isel(example=slice(None, ECDF_EXAMPLES))
    columns = min(3, len(names))
    rows = -(-len(names) // max(columns, 1))
    for kind, filename in (("ppc", f"{stem}_statistics.png"), ("bpv", f"{stem}_pvalues.png")):
        if not names:
            break
        fig, axes = new_figure(rows, columns, (4 * columns, 3.2 * rows))
        for ax, name in zip(axes.flat, names):
            if kind == "ppc":
                arviz.plot_ppc(
                    plotted,
                    kind="cumulative",
                    var_names=[name],
                    num_pp_samples=min(50, check.replicated[name].shape[0]),
                    ax=ax,
                    legend=ax is axes.flat[0],
                    random_seed=0,
                )
                ax.set_xlabel(f"{name} of an image")
                ax.set_ylabel("share of images at or below")
            else:
                arviz.plot_bpv(idata, var_names=[name], kind="u_value", ax=ax)
                ax.set_xlabel("u-value, P(T(x_rep) <= T(x))")
                ax.set_ylabel("density (uniform if calibrated)")
            ax.set_title(name, fontsize=10)
        for ax in axes.flat[len(names) :]:
            ax.axis("off")
        save_figure(fig, folder / filename)
    image_shape = check.image_shape
    panels = 3 if check.calibration is not None else 2
    fig, axes = new_figure(1, panels, (4 * panels, 3.6))
    axes = axes[0]
    for ax, values, title in (
        (axes[0], check.pixel_observed, "observed frequency per value"),
        (axes[1], check.pixel_replicated.mean(0), "replicated frequency per value"),
    ):
        shown = values.reshape(image_shape).mean(0) if image_shape is not None else values[None, :]
        image = ax.imshow(shown, cmap="viridis", vmin=0, vmax=1, aspect="auto" if image_shape is None else "equal")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.colorbar(image, ax=list(axes[:2]), shrink=0.8, label="mean value")
    if check.calibration is not None:
        used = check.calibration[:, 2] > 0
        axes[2].plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axes[2].plot(check.calibration[used, 0], check.calibration[used, 1], marker="o")
        axes[2].set_xlabel("predicted pixel probability (bin mean)")
        axes[2].set_ylabel("observed frequency of ink")
        axes[2].set_title("calibration of p(x | z), z ~ q(z | x)", fontsize=9)
    save_figure(fig, folder / f"{stem}_pixels.png")


def plot_detection(scores: dict[str, tuple[np.ndarray, np.ndarray]], titles: dict[str, str], folder: Path, stem: str):
    """``<stem>_roc.png``: the ROC curve of every score (outliers positive); ``<stem>_scores.png``: histograms of
    each score for in-distribution inputs and outliers. ``scores``: name -> (inlier scores, outlier scores);
    ``titles``: name -> what the score is, with its unit."""
    from sklearn.metrics import roc_curve

    fig, axes = new_figure(1, 1, (5.5, 5))
    ax = axes[0, 0]
    for name, (inliers, outliers) in scores.items():
        truth = np.concatenate([np.zeros(len(inliers)), np.ones(len(outliers))])
        fpr, tpr, _ = roc_curve(truth, np.concatenate([inliers, outliers]))
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("in-distribution inputs flagged (false positive rate)")
    ax.set_ylabel("outliers flagged (true positive rate)")
    ax.set_title("ROC of the outlier scores", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, folder / f"{stem}_roc.png")
    fig, axes = new_figure(1, len(scores), (4.2 * len(scores), 3.6))
    for ax, (name, (inliers, outliers)) in zip(axes[0], scores.items()):
        bins = np.histogram_bin_edges(np.concatenate([inliers, outliers]), bins=40)
        ax.hist(inliers, bins=bins, alpha=0.6, density=True, label="in-distribution")
        ax.hist(outliers, bins=bins, alpha=0.6, density=True, label="outliers")
        ax.set_xlabel(titles[name])
        ax.set_ylabel("density of inputs")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    save_figure(fig, folder / f"{stem}_scores.png")
