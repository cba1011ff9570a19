"""``ppl-vae classify``: the Bayes-rule classifier of a label-conditioned run on a split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ppl_vae.commands.common import output_stem, require_positive, split_of, trained
from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import RunError
from ppl_vae.report.classification import write_classification
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def classify(
    run: TrainedRun | str | Path,
    iw_samples: int = 100,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    device: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Classify every example of ``split`` (or ``limit`` random ones) by p(y | x) ∝ p̂(x | y) p(y), K =
    ``iw_samples`` per example and class; write ``classification-<split>-...-K<K>.json`` and ``.png``.
    Returns (the figures, keys in :data:`~ppl_vae.evaluation.classify.CLASSIFICATION_KEYS`; the file stem)."""
    require_positive(iw_samples, "iw_samples")
    run = trained(run, device)
    if run.pair.model_contract.conditioning is not Conditioning.LABELS:
        raise RunError(f"{run.directory} is not a label-conditioned model: it cannot classify by Bayes' rule")
    data, x, y, which = split_of(run, split, limit, seed)
    if y is None:
        raise RunError(
            f"{run.directory} was trained with the labels of its {split} split hidden (data.labels): there are none "
            "to measure a classifier against; classify the test split"
        )
    stem = output_stem("classification", split, limit, seed, K=iw_samples)
    with RunLock(run.directory, "classify"):
        summary = write_classification(run.pair, data, x, y, split, iw_samples, seed, run.directory, stem)
    return summary, stem
