r"""Rejecting inputs by their density (``ppl-vae ood``): outlier scores of a density run, and how well they work.

For the run's in-distribution inputs (a split of its own data) and an outlier set (a registered
dataset's split, or a ``.npy``/``.npz`` file of images, transformed as the run's data was), every
example gets these outlier scores (higher: more outlying):

- ``negative_log_likelihood``: -log p̂(x), nats; exact for a model without latents, else the
  importance-weighted estimate with K draws (``ppl_vae.evaluate``); for a label-conditioned model
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

Each score's separation (``ppl_vae.detection``: AUROC, AUPR, FPR at 95% TPR) is reported; the
per-example scores are kept in an ``.npz``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ppl_vae.build import load_data
from ppl_vae.classify import class_log_likelihoods, class_prior
from ppl_vae.contract import Conditioning
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.data.provenance import random_subset
from ppl_vae.data.transforms import binarize
from ppl_vae.detection import separation
from ppl_vae.device import DTYPES
from ppl_vae.errors import DataError, MeasureError
from ppl_vae.evaluate import importance_weighted_log_likelihood, refuse_non_density
from ppl_vae.registry import DATASETS

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


def _file_images(path: Path, levels: int | None) -> Tensor:
    """Images of a .npy or .npz file (the array ``x``, ``images`` or the only one), on the run's value grid."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as a NumPy file: {error}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        keys = [k for k in ("x", "images") if k in loaded.files] or loaded.files
        if len(keys) != 1 and not {"x", "images"} & set(loaded.files):
            raise DataError(f"{path} holds arrays {', '.join(loaded.files)}; name the images 'x' or 'images'")
        array = loaded[keys[0]]
    else:
        array = loaded
    if array.dtype.kind in "ui":
        if array.min() < 0 or array.max() > 255:
            raise DataError(f"{path} holds integers outside 0..255 (from {array.min()} to {array.max()})")
        values = torch.from_numpy(array.astype(np.float64) / 255)
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DataError(f"{path} holds values outside [0, 1] (from {np.nanmin(array)} to {np.nanmax(array)})")
        values = torch.from_numpy(array.astype(np.float64))
    else:
        raise DataError(f"{path} holds {array.dtype} values; give 8-bit integers or floats in [0, 1]")
    if levels is not None:
        values = torch.round(values * (levels - 1)) / (levels - 1)
    return values


def load_outliers(run, spec: str, split: str, seed: int) -> Outliers:
    """The outlier set ``spec`` (a registered dataset's ``split``, or a .npy/.npz file) transformed as ``run``'s
    data: binarized or put on its levels; refused in one sentence when its examples have another shape."""
    section = run.experiment.sections["data"]
    training = run.experiment.training
    dtype = DTYPES[training.dtype]
    contract = run.pair.model_contract
    if spec in DATASETS.names():
        table = {"name": spec, **{k: section[k] for k in ("binarize", "dequantize", "data_dir") if k in section}}
        _, data, _, _ = load_data(table, contract, training.seed, dtype)
        chosen, description, name = data.split(split), f"{data.description}, {split} split", spec
    elif Path(spec).suffix in (".npy", ".npz") and Path(spec).is_file():
        levels = run.data().levels
        values = _file_images(Path(spec), levels).to(dtype)
        raw = Dataset(Path(spec).stem, Split(values), Split(values), Split(values), levels=levels)
        fitted = binarize(raw, section.get("binarize", "auto"), contract, seed)
        chosen, description, name = fitted.test, f"{len(values)} images from {spec}", Path(spec).stem
    else:
        raise DataError(
            f"no dataset or .npy/.npz file named '{spec}'; give a registered dataset ({', '.join(DATASETS.names())}) "
            "or the path of a NumPy file of images"
        )
    expected = tuple(run.data().x_shape)
    if tuple(chosen.x.shape[1:]) != expected:
        raise DataError(
            f"the outliers {name} have examples of shape {tuple(chosen.x.shape[1:])}, the run's data {expected}: "
            "a density compares inputs of one shape"
        )
    return Outliers(chosen, description, name)


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
