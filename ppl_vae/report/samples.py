"""The built-in sample figures of ``ppl-vae sample``, each chosen by what a run declares: the first that applies.

A sample figure is registered with ``@register_sample_figure("name", when=..., suffix=".png")``, ``when`` a
predicate on the run's :class:`~ppl_vae.report.context.RunView` and ``suffix`` that of the file it writes; it
is called as ``figure(run, request)`` and returns what it drew, in a few words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.devices import frozen
from ppl_vae.core.files import atomic_write_bytes
from ppl_vae.core.registry import register_sample_figure
from ppl_vae.data.provenance import random_subset
from ppl_vae.infer.predictive import prior_predictive
from ppl_vae.report.figures import plot_class_samples, plot_completions, plot_prior_samples

SHOWN = 12  # test inputs whose completions are drawn, and draws per class in the class grid
DEFAULT_SAMPLES = 48  # draws of the prior, or of one class


@dataclass(frozen=True)
class SampleRequest:
    """What ``ppl-vae sample`` asks for: a count (None: the figure's default), a class, a seed, the output file
    (a PNG; for vector data, a NumPy file)."""

    num_samples: int | None
    label: int | None
    seed: int
    output: Path


@register_sample_figure(
    "completions", when=lambda view: view.model.conditioning is Conditioning.INPUT and view.image_shape is not None
)
def sample_completions(run, request: SampleRequest) -> str:
    """Completions of 12 test inputs drawn with the seed (``num_samples`` draws each, 5 by default)."""
    data = run.data()
    shown, _ = random_subset(data.test, SHOWN, request.seed)
    draws = request.num_samples or 5
    plot_completions(run.pair, data, shown.x, shown.y, draws, request.seed, request.output)
    return f"{draws} completions of each of {len(shown)} test inputs"


@register_sample_figure("class_grid", when=lambda view: view.images and view.model.conditioning is Conditioning.LABELS)
def sample_classes(run, request: SampleRequest) -> str:
    """One row per class (``num_samples`` each, 12 by default), or ``num_samples`` (48) of ``label``."""
    view = run.view
    if request.label is None:
        per_class = request.num_samples or SHOWN
        plot_class_samples(run.pair, view.image_shape, view.num_classes, per_class, request.seed, request.output)
        return f"class grid: {per_class} samples of each of {view.num_classes} classes"
    n = request.num_samples or DEFAULT_SAMPLES
    plot_prior_samples(run.pair, view.image_shape, n, request.seed, request.output, request.label)
    return f"{n} samples of class {request.label}"


@register_sample_figure("prior", when=lambda view: view.images)
def sample_prior(run, request: SampleRequest) -> str:
    """``num_samples`` (48) means of p(x | z), z ~ p(z)."""
    n = request.num_samples or DEFAULT_SAMPLES
    plot_prior_samples(run.pair, run.view.image_shape, n, request.seed, request.output)
    return f"{n} samples from the prior"


@register_sample_figure(
    "vector_draws", when=lambda view: not view.images and view.model.generates_images, suffix=".npz"
)
def sample_vectors(run, request: SampleRequest) -> str:
    """Data without an image shape has no figure: ``num_samples`` (48) draws x ~ p(x) (of class ``label``, or of the
    classes in turn, for a label-conditioned model) go to a NumPy file, ``x`` (n, *x_shape) and, for a
    label-conditioned model, ``y`` (n,)."""
    n = request.num_samples or DEFAULT_SAMPLES
    labels = None
    if run.view.model.conditioning is Conditioning.LABELS:
        classes = run.view.num_classes
        labels = torch.full((n,), request.label) if request.label is not None else torch.arange(n) % classes
    with frozen(request.seed, run.pair.device):
        given = None if labels is None else labels.to(run.pair.device)
        draws = prior_predictive(run.pair, n, given)[0][0].cpu().numpy()
    arrays = {"x": draws} if labels is None else {"x": draws, "y": labels.numpy()}
    atomic_write_bytes(request.output, lambda f: np.savez(f, **arrays))
    return f"{n} draws x ~ p(x) (vector data: no image), arrays {', '.join(arrays)}"
