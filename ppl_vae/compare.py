"""The measures that put VAEs, adversarial autoencoders and GANs side by side (``ppl-vae quality``).

For any trained run: sample quality and diversity (``ppl_vae.sample_quality``, on labelled data)
and, when a guide infers the codes, how close the aggregate posterior is to the prior
(``ppl_vae.aggregate``). The importance-weighted log-likelihood of density runs is ``evaluate``'s.
"""

from __future__ import annotations

from typing import Any

from ppl_vae.aggregate import aggregate_posterior_test
from ppl_vae.data.provenance import random_subset
from ppl_vae.errors import MeasureError
from ppl_vae.sample_quality import FeatureClassifier, sample_quality


def run_quality(
    run, samples: int = 2000, seed: int = 0, permutations: int = 200, classifier: FeatureClassifier | None = None
) -> dict[str, Any]:
    """The measures of ``run`` (a :class:`~ppl_vae.run.TrainedRun` of image data): ``sample_quality`` with
    ``samples`` draws against the run's real images before binarization (None without labels, with a note),
    ``aggregate_posterior_mmd`` on as many test codes (None for an implicit model). ``classifier``: a fitted
    one to share between runs of the same images."""
    data, result = run.data(), {"samples": samples, "seed": seed, "notes": []}
    if run.view.image_shape is None or not run.pair.model_contract.generates_images:
        raise MeasureError(f"{run.directory} does not generate whole images: sample quality does not apply")
    if len(data.test) < samples:
        result["notes"].append(f"the test split has {len(data.test)} examples: {len(data.test)} of each are compared")
    try:
        result["sample_quality"] = sample_quality(run.pair, run.images(), samples, seed, classifier).as_dict()
    except MeasureError as error:
        result["sample_quality"] = None
        result["notes"].append(str(error))
    if run.view.encoded:
        test, _ = random_subset(data.test, samples, seed)
        test_result = aggregate_posterior_test(run.pair, test.x, test.y, permutations, seed)
        result["aggregate_posterior_mmd"] = test_result.as_dict()
    else:
        result["aggregate_posterior_mmd"] = None
        result["notes"].append(f"model '{run.pair.model_name}' has no inferred codes: no aggregate-posterior test")
    return result
