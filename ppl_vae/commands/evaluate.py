"""``ppl-vae evaluate``: the importance-weighted log-likelihood of a trained run on a split, per example."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ppl_vae.commands.common import output_stem, require_positive, split_of, trained
from ppl_vae.core.files import write_json
from ppl_vae.evaluation.labels import estimate_log_likelihood
from ppl_vae.evaluation.likelihood import likelihood_summary
from ppl_vae.infer.bounds import refuse_non_density
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def evaluate(
    run: TrainedRun | str | Path,
    iw_samples: int = 5000,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Estimate log p(x) of every example of ``split`` (or of ``limit`` random ones) with K = ``iw_samples``
    (exactly, K unused, for a model without latents; K per class, the label summed out, for a model whose label is
    latent); write ``evaluation-<split>-...-K<K>.json`` into the run
    directory. Returns (the figures, keys in :data:`~ppl_vae.evaluation.likelihood.EVALUATION_KEYS` plus
    where they came from; the file). Refuses a pair that is not a density."""
    require_positive(iw_samples, "iw_samples")
    run = trained(run, device)
    refuse_non_density(run.pair)
    data, x, y, which = split_of(run, split, limit, seed)
    k = iw_samples if run.pair.model_contract.latent else 1
    path = run.directory / f"{output_stem('evaluation', split, limit, seed, K=k)}.json"
    with RunLock(run.directory, "evaluate"):
        start = time.perf_counter()
        estimate = estimate_log_likelihood(run.pair, x, y, k, data.num_classes, seed, progress)
        summary = {
            "run": str(run.directory),
            "split": split,
            "examples": which,
            "data": data.description,
            **likelihood_summary(estimate, run.pair.scored(x, y)[0].numel()),
            "seconds": round(time.perf_counter() - start, 2),
        }
        write_json(path, summary)
    return summary, path
