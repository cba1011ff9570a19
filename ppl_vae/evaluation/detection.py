"""How well a score separates outliers from in-distribution inputs: AUROC, AUPR, FPR at 95% TPR.

Scores are "outlier scores": higher means more outlying. Outliers are the positive class of
``auroc`` and ``aupr_out`` (scikit-learn's ``roc_auc_score`` and ``average_precision_score``);
``aupr_in`` takes the in-distribution inputs as positives (their scores negated).
``fpr_at_95_tpr`` is the share of outliers accepted when the threshold accepts 95% of the
in-distribution inputs (Hendrycks & Gimpel 2017's FPR95; lower is better).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Separation:
    auroc: float
    aupr_out: float
    aupr_in: float
    fpr_at_95_tpr: float
    inliers: int
    outliers: int

    def as_dict(self) -> dict:
        return asdict(self)


def separation(inlier_scores: np.ndarray, outlier_scores: np.ndarray) -> Separation:
    """The measures of the module text for outlier scores of in-distribution inputs and of outliers."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    inlier_scores, outlier_scores = np.asarray(inlier_scores, float), np.asarray(outlier_scores, float)
    scores = np.concatenate([inlier_scores, outlier_scores])
    is_outlier = np.concatenate([np.zeros(len(inlier_scores)), np.ones(len(outlier_scores))])
    threshold = np.quantile(inlier_scores, 0.95, method="higher")
    return Separation(
        auroc=float(roc_auc_score(is_outlier, scores)),
        aupr_out=float(average_precision_score(is_outlier, scores)),
        aupr_in=float(average_precision_score(1 - is_outlier, -scores)),
        fpr_at_95_tpr=float((outlier_scores <= threshold).mean()),
        inliers=len(inlier_scores),
        outliers=len(outlier_scores),
    )
