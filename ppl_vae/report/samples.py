"""The built-in sample figures of ``ppl-vae sample``, each chosen by what a run declares: the first that applies.

A sample figure is registered with ``@register_sample_figure("name", when=...)``, ``when`` a predicate on
the run's :class:`~ppl_vae.report.context.RunView`, and is called as ``figure(run, request)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.registry import register_sample_figure
from ppl_vae.data.provenance import random_subset
from ppl_vae.report.figures import plot_class_samples, plot_completions, plot_prior_samples

SHOWN = 12  # test inputs whose completions are drawn, and draws per class in the class grid
DEFAULT_SAMPLES = 48  # draws of the prior, or of one class


@dataclass(frozen=True)
class SampleRequest:
    """What ``ppl-vae sample`` asks for: a count (None: the figure's default), a class, a seed, a PNG path."""

    num_samples: int | None
    label: int | None
    seed: int
    output: Path


@register_sample_figure(
    "completions", when=lambda view: view.model.conditioning is Conditioning.INPUT and view.image_shape is not None
)
def sample_completions(run, request: SampleRequest) -> None:
    """Completions of 12 test inputs drawn with the seed (``num_samples`` draws each, 5 by default)."""
    data = run.data()
    shown, _ = random_subset(data.test, SHOWN, request.seed)
    plot_completions(run.pair, data, shown.x, shown.y, request.num_samples or 5, request.seed, request.output)


@register_sample_figure("class_grid", when=lambda view: view.images and view.model.conditioning is Conditioning.LABELS)
def sample_classes(run, request: SampleRequest) -> None:
    """One row per class (``num_samples`` each, 12 by default), or ``num_samples`` (48) of ``label``."""
    view = run.view
    if request.label is None:
        plot_class_samples(
            run.pair, view.image_shape, view.num_classes, request.num_samples or SHOWN, request.seed, request.output
        )
    else:
        plot_prior_samples(
            run.pair,
            view.image_shape,
            request.num_samples or DEFAULT_SAMPLES,
            request.seed,
            request.output,
            request.label,
        )


@register_sample_figure("prior", when=lambda view: view.images)
def sample_prior(run, request: SampleRequest) -> None:
    """``num_samples`` (48) means of p(x | z), z ~ p(z)."""
    plot_prior_samples(
        run.pair, run.view.image_shape, request.num_samples or DEFAULT_SAMPLES, request.seed, request.output
    )
