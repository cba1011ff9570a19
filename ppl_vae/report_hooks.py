"""The built-in report hooks and sample figures, each chosen by what a run declares (``ppl_vae.report``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ppl_vae.aggregate import code_and_prior_draws, prior_log_density
from ppl_vae.classify import classify_split
from ppl_vae.contract import Conditioning
from ppl_vae.data.provenance import random_subset
from ppl_vae.evaluate import (
    bits_per_dim,
    importance_weighted_log_likelihood,
    khat_warning,
    likelihood_summary,
    reconstruction_log_likelihood,
)
from ppl_vae.figures import plot_class_samples, plot_completions, plot_prior_samples, plot_reconstructions
from ppl_vae.latent_figures import plot_codes_over_prior
from ppl_vae.plots import plot_classification, plot_curves
from ppl_vae.ppc import posterior_predictive_check, write_check
from ppl_vae.report import REPORTS, SAMPLE_FIGURES, ReportContext, write_json
from ppl_vae.two_sample import mmd_test

SHOWN = 12  # examples in reconstruction and completion figures
AGGREGATE_EXAMPLES = 1000  # test examples whose codes are compared with the prior
PERMUTATIONS = 200  # of the two-sample test


def scored_dimensions(context: ReportContext) -> int:
    """D of what the model scores: numbers per example of x, or of the output y."""
    return context.pair.scored(context.data.test.x, context.data.test.y)[0].numel()


@REPORTS.register("likelihood", when=lambda view: view.scored)
def likelihood(context: ReportContext) -> dict[str, Any]:
    """The test split's importance-weighted log-likelihood and ELBO (K = evaluation.iw_samples)."""
    test, config = context.data.test, context.experiment
    estimate = importance_weighted_log_likelihood(
        context.pair, test.x, test.y, config.evaluation.iw_samples, seed=config.training.seed
    )
    dims = scored_dimensions(context)
    figures = likelihood_summary(estimate, dims)
    warning = khat_warning(figures)
    if warning:
        print(warning)
    elbo = estimate.elbo.mean().item()
    return {
        "test_elbo_nats": elbo,
        "test_elbo_bits_per_dim": bits_per_dim(elbo, dims),
        "test_importance_weighted": figures,
    }


@REPORTS.register("reconstruction", when=lambda view: view.encoded)
def reconstruction(context: ReportContext) -> dict[str, Any]:
    """The reconstruction term log p(x | z), z ~ q(z | x), on the test split; for a deterministic encoder
    the only figure (its guide is not a density: no likelihood is estimated)."""
    test = context.data.test
    value = reconstruction_log_likelihood(context.pair, test.x, test.y, seed=context.experiment.training.seed)
    entries: dict[str, Any] = {"test_reconstruction_nats": value.mean().item()}
    if not context.view.guide.density:
        entries.update(
            test_elbo_nats=None,
            test_elbo_bits_per_dim=None,
            test_importance_weighted=None,
            note=f"guide '{context.pair.guide_name}' is a deterministic encoder, not a density: no log-likelihood "
            "is estimated; see test_reconstruction_nats and reconstructions.png",
        )
    return entries


@REPORTS.register("curves", when=lambda view: True)
def curves(context: ReportContext) -> dict[str, Any]:
    history = context.history
    plot_curves(
        [r.epoch for r in history],
        {"train objective": [r.train_objective for r in history], "validation bound": [r.valid_bound for r in history]},
        "nats per example",
        context.run_dir / "elbo_curves.png",
    )
    return {}


@REPORTS.register("aggregate_posterior", when=lambda view: view.encoded)
def aggregate_posterior(context: ReportContext) -> dict[str, Any]:
    """MMD between codes z ~ q(z | x) of up to 1,000 test examples and as many prior draws, with its permutation
    p-value (``ppl_vae.aggregate``); with 2 latents and a model of whole data points, ``codes_over_prior.png``."""
    x, y = context.test_examples(AGGREGATE_EXAMPLES)
    seed = context.experiment.training.seed
    codes, drawn = code_and_prior_draws(context.pair, x, y, seed)
    test = mmd_test(codes, drawn, PERMUTATIONS, seed)
    if codes.shape[1] == 2 and context.view.model.generates_images:
        labels = y if context.data.num_classes is not None else None
        title = f"codes z ~ q(z | x) of {len(x)} test examples over p(z); MMD^2 {test.statistic:.4f}, "
        title += f"p {test.p_value:.3f}"
        log_density = prior_log_density(context.pair, labels)
        plot_codes_over_prior(codes, labels, log_density, title, context.run_dir / "codes_over_prior.png")
    return {"aggregate_posterior_mmd": test.as_dict()}


@REPORTS.register("reconstructions", when=lambda view: view.images and view.encoded)
def reconstructions(context: ReportContext) -> dict[str, Any]:
    x, y = context.test_examples(SHOWN)
    plot_reconstructions(
        context.pair, context.data, x, y, context.experiment.training.seed, context.run_dir / "reconstructions.png"
    )
    return {}


@REPORTS.register("prior_samples", when=lambda view: view.images and view.model.conditioning is Conditioning.NONE)
def prior_samples(context: ReportContext) -> dict[str, Any]:
    seed = context.experiment.training.seed
    plot_prior_samples(context.pair, context.view.image_shape, 48, seed, context.run_dir / "prior_samples.png")
    return {}


@REPORTS.register("class_samples", when=lambda view: view.images and view.model.conditioning is Conditioning.LABELS)
def class_samples(context: ReportContext) -> dict[str, Any]:
    view, seed = context.view, context.experiment.training.seed
    plot_class_samples(
        context.pair, view.image_shape, view.num_classes, SHOWN, seed, context.run_dir / "class_samples.png"
    )
    return {}


def write_classification(
    pair, data, x, labels, split: str, num_samples: int, seed: int, run_dir: Path, stem: str
) -> dict:
    """Bayes-rule classification (``ppl_vae.classify``) of ``x`` with true ``labels``, p(y) from ``data``'s
    training labels; writes ``<stem>.json`` and ``<stem>.png``."""
    summary, real, outliers = classify_split(pair, x, labels, data.train.y, data.num_classes, num_samples, seed)
    summary = {"split": split, **summary}
    write_json(run_dir / f"{stem}.json", summary)
    plot_classification(summary["confusion_matrix"], real.fit_score, outliers.fit_score, run_dir / f"{stem}.png")
    return summary


@REPORTS.register("classification", when=lambda view: view.model.conditioning is Conditioning.LABELS and view.scored)
def classification(context: ReportContext) -> dict[str, Any]:
    test, config = context.data.test, context.experiment
    summary = write_classification(
        context.pair,
        context.data,
        test.x,
        test.y,
        "test",
        config.evaluation.classify_samples,
        config.training.seed,
        context.run_dir,
        "classification",
    )
    return {"classification": summary}


@REPORTS.register(
    "completions", when=lambda view: view.model.conditioning is Conditioning.INPUT and view.image_shape is not None
)
def completions(context: ReportContext) -> dict[str, Any]:
    x, y = context.test_examples(SHOWN)
    plot_completions(
        context.pair, context.data, x, y, 5, context.experiment.training.seed, context.run_dir / "completions.png"
    )
    return {}


@REPORTS.register("ppc", when=lambda view: view.model.generates_images and view.model.density)
def predictive_check(context: ReportContext) -> dict[str, Any]:
    """The posterior predictive check of ``evaluation.ppc_examples`` test examples (none when 0)."""
    config = context.experiment.evaluation
    if config.ppc_examples == 0:
        return {}
    x, y = context.test_examples(config.ppc_examples)
    check = posterior_predictive_check(
        context.pair,
        x,
        y,
        config.ppc_samples,
        image_shape=context.view.image_shape,
        seed=context.experiment.training.seed,
    )
    summary = write_check(
        check, context.run_dir, {"split": "test", "num_examples": len(x), "num_samples": config.ppc_samples}
    )
    return {"ppc_flagged": sorted(name for name, row in summary["statistics"].items() if row["flagged"])}


@dataclass(frozen=True)
class SampleRequest:
    """What ``ppl-vae sample`` asks for: a count (None: the figure's default), a class, a seed, a PNG path."""

    num_samples: int | None
    label: int | None
    seed: int
    output: Path


@SAMPLE_FIGURES.register(
    "completions", when=lambda view: view.model.conditioning is Conditioning.INPUT and view.image_shape is not None
)
def sample_completions(run, request: SampleRequest) -> None:
    """Completions of 12 test inputs drawn with the seed (``num_samples`` draws each, 5 by default)."""
    data = run.data()
    shown, _ = random_subset(data.test, SHOWN, request.seed)
    plot_completions(run.pair, data, shown.x, shown.y, request.num_samples or 5, request.seed, request.output)


@SAMPLE_FIGURES.register("class_grid", when=lambda view: view.images and view.model.conditioning is Conditioning.LABELS)
def sample_classes(run, request: SampleRequest) -> None:
    """One row per class (``num_samples`` each, 12 by default), or ``num_samples`` (48) of ``label``."""
    view = run.view
    if request.label is None:
        plot_class_samples(
            run.pair, view.image_shape, view.num_classes, request.num_samples or SHOWN, request.seed, request.output
        )
    else:
        plot_prior_samples(
            run.pair, view.image_shape, request.num_samples or 48, request.seed, request.output, request.label
        )


@SAMPLE_FIGURES.register("prior", when=lambda view: view.images)
def sample_prior(run, request: SampleRequest) -> None:
    """``num_samples`` (48) means of p(x | z), z ~ p(z)."""
    plot_prior_samples(run.pair, run.view.image_shape, request.num_samples or 48, request.seed, request.output)
