"""Figures of a trained pair: reconstructions, samples (by class), completions. Each draws under a seed.

Images are whole data points (N, C, H, W), grey or colour; structured-output tasks put input and
output back together with ``Dataset.images``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ppl_vae.core.devices import frozen
from ppl_vae.data.containers import Dataset
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.predictive import output_predictive, posterior_predictive, prior_means, shown, style_means
from ppl_vae.report.plots import plot_image_rows


def plot_reconstructions(pair: Pair, data: Dataset, x: Tensor, y: Tensor | None, seed: int, path: Path) -> None:
    """Examples ``x`` (N, *x_shape) above the mean of p(x | z), z ~ q(z | x)."""
    with frozen(seed, pair.device):
        x = x.to(pair.device)
        y = None if y is None else y.to(pair.device)
        means = shown(posterior_predictive(pair, x, y)[1])[0]
    plot_image_rows(
        [("examples", data.images(x)), ("reconstructions: mean of p(x | z), z ~ q(z | x)", data.images(means))],
        len(x),
        path,
    )


def plot_prior_samples(
    pair: Pair, image_shape: tuple[int, ...], n: int, seed: int, path: Path, label: int | None = None
) -> None:
    """``n`` means of p(x | z), z ~ p(z) (of class ``label`` for a label-conditioned model)."""
    labels = None if label is None else torch.full((n,), label, dtype=torch.int64)
    means = prior_means(pair, n, labels, seed)
    given = "" if label is None else f", y = {label}"
    if pair.model_contract.latent:
        title = f"{n} samples: mean of p(x | z{given}) (a draw where it has no tractable mean), z ~ p(z), seed {seed}"
    else:
        title = f"{n} draws x ~ p(x{given.replace(', ', ' | ')}), seed {seed}"
    plot_image_rows([(title, means.reshape(n, *image_shape))], min(12, n), path)


def plot_class_samples(
    pair: Pair, image_shape: tuple[int, ...], num_classes: int, per_class: int, seed: int, path: Path
) -> None:
    """The style x class grid of a label-conditioned model: one row of ``per_class`` means per class, each
    column one z ~ p(z) shared by every class (z carries the style, y the class; see :func:`style_means`)."""
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    means, shared = style_means(pair, labels, per_class, seed)
    means = means.reshape(len(labels), *image_shape)
    rows = [(f"y = {c}", means[c * per_class : (c + 1) * per_class]) for c in range(num_classes)]
    how = "each column: one z ~ p(z), decoded for every class" if shared else "each class: its own z ~ p(z | y)"
    rows[0] = (f"y = 0 (mean of p(x | z, y); {how})", rows[0][1])
    plot_image_rows(rows, per_class, path)


def plot_completions(pair: Pair, data: Dataset, x: Tensor, y: Tensor, draws: int, seed: int, path: Path) -> None:
    """A structured-output model's completions of inputs x (N, *x_shape): input, truth, and ``draws`` rows
    of the mean of p(y | x, z), z ~ p(z | x) (one row for a model without latents: its answer is fixed)."""
    with frozen(seed, pair.device):
        means = shown(output_predictive(pair, x.to(pair.device), draws)[1]).cpu()
    if not pair.model_contract.latent:
        means = means[:1]
    x, y = x.cpu(), y.cpu()
    rows = [("input (output region grey)", data.images(x, torch.full_like(y, 0.5))), ("truth", data.images(x, y))]
    rows += [(f"draw {i + 1}: mean of p(y | x, z), z ~ p(z | x)", data.images(x, m)) for i, m in enumerate(means)]
    plot_image_rows(rows, len(x), path)
