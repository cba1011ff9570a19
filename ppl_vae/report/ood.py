"""The figures of an outlier test (``ppl-vae ood``): ROC curves and score histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ppl_vae.report.plots import new_figure, save_figure


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
