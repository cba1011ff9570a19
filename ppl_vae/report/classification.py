"""The files of the Bayes-rule classifier of a label-conditioned run: its JSON and its figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from ppl_vae.core.files import write_json
from ppl_vae.evaluation.classify import classify_split
from ppl_vae.report.plots import new_figure, save_figure


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


def write_classification(
    pair, data, x, labels, split: str, num_samples: int, seed: int, run_dir: Path, stem: str
) -> dict:
    """Bayes-rule classification (``ppl_vae.evaluation.classify``) of ``x`` with true ``labels``, p(y) from ``data``'s
    training labels; writes ``<stem>.json`` and ``<stem>.png``."""
    summary, real, outliers = classify_split(pair, x, labels, data.train.y, data.num_classes, num_samples, seed)
    summary = {"split": split, **summary}
    write_json(run_dir / f"{stem}.json", summary)
    plot_classification(summary["confusion_matrix"], real.fit_score, outliers.fit_score, run_dir / f"{stem}.png")
    return summary
