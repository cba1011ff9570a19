r"""Rejecting inputs by their density (``ppl-vae ood``): outlier scores of a density run, and how well they work.

For the run's in-distribution inputs (a split of its own data) and an outlier set (a registered
dataset's split, or a ``.npy``/``.npz`` file of images, transformed as the run's data was), every
example gets these outlier scores (higher: more outlying):

- ``negative_log_likelihood``: -log p̂(x), nats; exact for a model without latents, else the
  importance-weighted estimate with K draws (``ppl_vae.evaluation.likelihood``); for a label-conditioned model
  the marginal -log sum_y p̂(x | y) p(y), p(y) the training label frequencies. ``bits_per_dim`` is
  the same divided by D ln 2 (the same ranking, reported in the unit of the literature).
- ``input_complexity`` (Serrà et al. 2020): -log2 p̂(x) - L(x), bits, L(x) the length in bits of x
  as an 8-bit PNG (Pillow, compression level 9): simple inputs, which every model finds likely,
  are discounted by how little it takes to compress them.
- ``bayes_reject`` (label-conditioned runs): -max_y log p̂(x | y), nats; the Bayes-rule classifier
  rejects an input whose best class is below the 5% quantile of the validation inputs' (95% of
  them accepted), and its accuracy on the accepted test inputs is reported.

and batches of ``typicality_batch`` inputs get the typicality test's score (Nalisnick et al. 2019b):
|mean of -log p̂(x) over the batch - Ĥ|, Ĥ the mean over the run's *validation* inputs: a batch is
atypical when its average log-likelihood is too high as well as too low.

Each score's separation (``ppl_vae.evaluation.detection``: AUROC, AUPR, FPR at 95% TPR) is reported; the
per-example scores are kept in an ``.npz``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.errors import MeasureError
from ppl_vae.data.containers import Split
from ppl_vae.data.provenance import random_subset
from ppl_vae.evaluation.classify import class_log_likelihoods, class_prior
from ppl_vae.evaluation.detection import separation
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.infer.bounds import refuse_non_density

ACCEPTED_SHARE = 0.95  # of validation inputs the Bayes-rule classifier accepts
SCORE_UNITS = {
    "negative_log_likelihood": "-log p(x), nats",
    "bits_per_dim": "-log2 p(x) / D, bits per dimension",
    "input_complexity": "-log2 p(x) - PNG length, bits",
    "bayes_reject": "-max_y log p(x | y), nats",
    "typicality": "|batch mean of -log p(x) - validation mean|, nats",
}


@dataclass
class Outliers:
    """The outlier set as the run sees it: ``split`` (x transformed like the run's data) and what it is."""

    split: Split
    description: str
    name: str


def png_bits(x: Tensor) -> np.ndarray:
    """L(x): the length in bits of each image of x (N, C, H, W), values in [0, 1], as an 8-bit PNG (level 9)."""
    from PIL import Image

    pixels = (x.detach().cpu().double().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    lengths = []
    for image in pixels:
        array = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", compress_level=9)
        lengths.append(8 * buffer.tell())
    return np.asarray(lengths, dtype=float)


def log_likelihoods(run, x: Tensor, num_samples: int, seed: int) -> tuple[np.ndarray, Tensor | None]:
    """(log p̂(x) per example of x, nats (see the module text); for a label-conditioned model also log p̂(x | y)
    per example and class, (N, C) on the CPU, else None)."""
    pair = run.pair
    if pair.model_contract.conditioning is Conditioning.LABELS:
        data = run.data()
        per_class = class_log_likelihoods(pair, x, data.num_classes, num_samples, seed).cpu()
        prior = class_prior(data.train.y.cpu(), data.num_classes).to(per_class.dtype)
        return torch.logsumexp(per_class + prior, dim=1).double().numpy(), per_class
    k = num_samples if pair.model_contract.latent else 1
    return importance_weighted_log_likelihood(pair, x, None, k, seed=seed).log_likelihood.double().cpu().numpy(), None


def typicality_scores(nll: np.ndarray, entropy: float, batch: int, seed: int) -> np.ndarray:
    """|mean -log p̂ over a batch - entropy| for the consecutive batches of ``batch`` inputs of a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(nll))
    whole = len(nll) // batch
    return np.abs(nll[order[: whole * batch]].reshape(whole, batch).mean(1) - entropy)


def detect(
    run,
    outliers: Outliers,
    split: str = "test",
    num_samples: int = 100,
    limit: int | None = None,
    seed: int = 0,
    typicality_batch: int = 10,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(summary, per-example scores) of the module text for ``run``'s ``split`` (at most ``limit`` random
    examples, as many of the outliers) against ``outliers``."""
    pair = run.pair
    refuse_non_density(pair)
    if not pair.model_contract.generates_images:
        raise MeasureError(f"{run.directory} predicts outputs, not whole inputs: it gives no density of x to test")
    data = run.data()
    inliers, _ = random_subset(data.split(split), limit, seed)
    outlying, _ = random_subset(outliers.split, limit, seed)
    valid, _ = random_subset(data.valid, limit, seed)
    dims = inliers.x[0].numel()
    scores: dict[str, dict[str, np.ndarray]] = {"in": {}, "out": {}}
    per_class: dict[str, Tensor | None] = {}
    log_p_valid, per_class["valid"] = log_likelihoods(run, valid.x.to(pair.device), num_samples, seed)
    entropy = float(-log_p_valid.mean())  # the model's entropy estimate, for the typicality test
    for side, x in (("in", inliers.x), ("out", outlying.x)):
        log_p, per_class[side] = log_likelihoods(run, x.to(pair.device), num_samples, seed)
        scores[side]["negative_log_likelihood"] = -log_p
        scores[side]["bits_per_dim"] = -log_p / (dims * math.log(2))
        scores[side]["input_complexity"] = -log_p / math.log(2) - png_bits(x)
    summary: dict[str, Any] = {
        "run": str(run.directory),
        "in_distribution": f"{data.description}, {split} split",
        "outliers": outliers.description,
        "inliers": len(inliers),
        "outlier_count": len(outlying),
        "iw_samples": num_samples if pair.model_contract.latent else None,
        "mean_bits_per_dim": {side: float(scores[side]["bits_per_dim"].mean()) for side in ("in", "out")},
        "validation_entropy_nats": entropy,
        "scores": {
            name: separation(scores["in"][name], scores["out"][name]).as_dict()
            for name in ("negative_log_likelihood", "bits_per_dim", "input_complexity")
        },
    }
    typical = {
        side: typicality_scores(scores[side]["negative_log_likelihood"], entropy, typicality_batch, seed)
        for side in ("in", "out")
    }
    if min(len(t) for t in typical.values()) >= 2:
        summary["typicality"] = {"batch": typicality_batch, **separation(typical["in"], typical["out"]).as_dict()}
    if pair.model_contract.conditioning is Conditioning.LABELS:
        summary["bayes_reject"] = bayes_reject(per_class, class_prior(data.train.y.cpu(), data.num_classes), inliers.y)
        for side in ("in", "out"):
            scores[side]["bayes_reject"] = -per_class[side].max(1).values.double().numpy()
        summary["bayes_reject"].update(
            separation(scores["in"]["bayes_reject"], scores["out"]["bayes_reject"]).as_dict()
        )
    flat = {f"{side}_{name}": values for side in scores for name, values in scores[side].items()}
    flat.update({f"{side}_typicality": values for side, values in typical.items()})
    return summary, flat


def bayes_reject(per_class: dict[str, Tensor], log_prior: Tensor, labels: Tensor) -> dict[str, Any]:
    """The Bayes-rule classifier with a reject option, from log p̂(x | y) (N, C) of the ``"valid"``, ``"in"`` and
    ``"out"`` inputs: an input is accepted when max_y log p̂(x | y) reaches the threshold that accepts 95% of
    the validation inputs; accuracy on all and on the accepted in-distribution inputs (true ``labels``)."""
    best = {side: values.max(1).values for side, values in per_class.items()}
    threshold = float(np.quantile(best["valid"].numpy(), 1 - ACCEPTED_SHARE))
    accepted = best["in"] >= threshold
    correct = (per_class["in"] + log_prior.to(per_class["in"].dtype)).argmax(1) == labels.cpu()
    return {
        "threshold_nats": threshold,
        "accepted_share_in": float(accepted.float().mean()),
        "accepted_share_out": float((best["out"] >= threshold).float().mean()),
        "accuracy_all": float(correct.float().mean()),
        "accuracy_accepted": float(correct[accepted].float().mean()) if accepted.any() else None,
    }
