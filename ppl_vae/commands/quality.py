"""``ppl-vae quality``: the measures that put VAEs, adversarial autoencoders and GANs side by side.

For any trained run of image data: sample quality and diversity (``ppl_vae.evaluation.sample_quality``: Fréchet
and kernel distances, precision and recall in the features of a classifier of the real images, on labelled
data) and, when a guide infers the codes, how close the aggregate posterior is to the prior
(``ppl_vae.evaluation.aggregate``: the MMD test, and the spread of the codes per latent against the prior's).
The importance-weighted log-likelihood of density runs is ``evaluate``'s.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ppl_vae.commands.common import require_positive, trained
from ppl_vae.core.errors import MeasureError
from ppl_vae.core.files import write_json
from ppl_vae.data.provenance import random_subset
from ppl_vae.evaluation.aggregate import code_and_prior_draws, code_scale_ratios
from ppl_vae.evaluation.feature_classifier import FeatureClassifier
from ppl_vae.evaluation.sample_quality import sample_quality
from ppl_vae.evaluation.two_sample import mmd_test
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.trained import TrainedRun


def run_quality(
    run, samples: int = 2000, seed: int = 0, permutations: int = 200, classifier: FeatureClassifier | None = None
) -> dict[str, Any]:
    """The measures of ``run`` (a :class:`~ppl_vae.runs.trained.TrainedRun` of image data): ``sample_quality`` with
    ``samples`` draws against the run's real images before binarization (None without labels or torchmetrics,
    with a note saying so), ``aggregate_posterior_mmd`` on as many test codes and ``code_scale_ratio`` (the
    codes' standard deviation over the prior's, per latent; both None for an implicit model). ``classifier``:
    the feature classifier of the run's images (default: the cached one).

    Raises MeasureError for a run that does not generate whole images."""
    data, result = run.data(), {"samples": samples, "seed": seed, "notes": []}
    if run.view.image_shape is None or not run.pair.model_contract.generates_images:
        what = "vectors, not images" if run.view.image_shape is None else "an output given an input, not whole images"
        raise MeasureError(
            f"{run.directory} generates {what}: the sample-quality measures compare images in an image "
            "classifier's features, so they do not apply"
        )
    if len(data.test) < samples:
        result["notes"].append(f"the test split has {len(data.test)} examples: {len(data.test)} of each are compared")
    try:
        result["sample_quality"] = sample_quality(run.pair, run.images(), samples, seed, classifier).as_dict()
    except MeasureError as error:
        result["sample_quality"] = None
        result["notes"].append(str(error))
    if run.view.encoded:
        test, _ = random_subset(data.test, samples, seed)
        codes, drawn = code_and_prior_draws(run.pair, test.x, test.y, seed)
        result["aggregate_posterior_mmd"] = mmd_test(codes, drawn, permutations, seed).as_dict()
        result["code_scale_ratio"] = code_scale_ratios(codes, drawn)
    else:
        result["aggregate_posterior_mmd"] = result["code_scale_ratio"] = None
        result["notes"].append(f"model '{run.pair.model_name}' has no inferred codes: no aggregate-posterior test")
    return result


def quality(
    run: TrainedRun | str | Path,
    samples: int = 2000,
    permutations: int = 200,
    seed: int = 0,
    device: str | None = None,
) -> tuple[dict[str, Any], Path]:
    """:func:`run_quality` of ``run``, written to ``quality-seed<S>-N<samples>.json``; (the figures, the file)."""
    require_positive(samples, "samples")
    require_positive(permutations, "permutations")
    run = trained(run, device)
    path = run.directory / f"quality-seed{seed}-N{samples}.json"
    with RunLock(run.directory, "quality"):
        start = time.perf_counter()
        result = run_quality(run, samples, seed, permutations)
        result["seconds"] = round(time.perf_counter() - start, 2)
        write_json(path, result)
    return result, path
