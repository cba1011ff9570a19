"""The built-in report hooks: each writes its files into the run directory and returns its entries of
``summary.json``; each is chosen by what a run declares (``ppl_vae.report.summary``)."""

from __future__ import annotations

from typing import Any

from ppl_vae.core.contract import Conditioning
from ppl_vae.core.registry import register_report
from ppl_vae.evaluation.aggregate import code_and_prior_draws, prior_log_density
from ppl_vae.evaluation.labels import estimate_log_likelihood
from ppl_vae.evaluation.likelihood import bits_per_dim, khat_warning, likelihood_summary
from ppl_vae.evaluation.ppc import posterior_predictive_check, prior_predictive_check
from ppl_vae.evaluation.two_sample import mmd_test
from ppl_vae.infer.bounds import reconstruction_log_likelihood
from ppl_vae.report.classification import write_classification
from ppl_vae.report.context import ReportContext
from ppl_vae.report.figures import plot_class_samples, plot_completions, plot_prior_samples, plot_reconstructions
from ppl_vae.report.latent_figures import plot_codes_over_prior
from ppl_vae.report.plots import plot_curves
from ppl_vae.report.ppc import write_check

SHOWN = 12  # examples in reconstruction and completion figures
AGGREGATE_EXAMPLES = 1000  # test examples whose codes are compared with the prior
PERMUTATIONS = 200  # of the two-sample test


def scored_dimensions(context: ReportContext) -> int:
    """D of what the model scores: numbers per example of x, or of the output y."""
    return context.pair.scored(context.data.test.x, context.data.test.y)[0].numel()


@register_report("likelihood", when=lambda view: view.scored)
def likelihood(context: ReportContext) -> dict[str, Any]:
    """The test split's importance-weighted log-likelihood and ELBO (K = evaluation.iw_samples; per class, the label
    summed out, for a model whose label is latent)."""
    test, config = context.data.test, context.experiment
    estimate = estimate_log_likelihood(
        context.pair, test.x, test.y, config.evaluation.iw_samples, context.data.num_classes, config.training.seed
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


@register_report("reconstruction", when=lambda view: view.encoded)
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


@register_report("curves", when=lambda view: True)
def curves(context: ReportContext) -> dict[str, Any]:
    history = context.history
    plot_curves(
        [r.epoch for r in history],
        {"train objective": [r.train_objective for r in history], "validation bound": [r.valid_bound for r in history]},
        "nats per example",
        context.run_dir / "elbo_curves.png",
    )
    return {}


@register_report("aggregate_posterior", when=lambda view: view.encoded)
def aggregate_posterior(context: ReportContext) -> dict[str, Any]:
    """MMD between codes z ~ q(z | x) of up to 1,000 test examples and as many prior draws, with its permutation
    p-value (``ppl_vae.evaluation.aggregate``); with 2 latents and a model of whole data points,
    ``codes_over_prior.png``."""
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


@register_report("reconstructions", when=lambda view: view.images and view.encoded)
def reconstructions(context: ReportContext) -> dict[str, Any]:
    x, y = context.test_examples(SHOWN)
    plot_reconstructions(
        context.pair, context.data, x, y, context.experiment.training.seed, context.run_dir / "reconstructions.png"
    )
    return {}


@register_report("prior_samples", when=lambda view: view.images and view.model.conditioning is Conditioning.NONE)
def prior_samples(context: ReportContext) -> dict[str, Any]:
    seed = context.experiment.training.seed
    plot_prior_samples(context.pair, context.view.image_shape, 48, seed, context.run_dir / "prior_samples.png")
    return {}


@register_report("class_samples", when=lambda view: view.images and view.model.conditioning is Conditioning.LABELS)
def class_samples(context: ReportContext) -> dict[str, Any]:
    view, seed = context.view, context.experiment.training.seed
    plot_class_samples(
        context.pair, view.image_shape, view.num_classes, SHOWN, seed, context.run_dir / "class_samples.png"
    )
    return {}


@register_report("classification", when=lambda view: view.model.conditioning is Conditioning.LABELS and view.scored)
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


@register_report(
    "completions", when=lambda view: view.model.conditioning is Conditioning.INPUT and view.image_shape is not None
)
def completions(context: ReportContext) -> dict[str, Any]:
    x, y = context.test_examples(SHOWN)
    plot_completions(
        context.pair, context.data, x, y, 5, context.experiment.training.seed, context.run_dir / "completions.png"
    )
    return {}


@register_report("ppc", when=lambda view: view.model.generates_images and view.model.density)
def predictive_check(context: ReportContext) -> dict[str, Any]:
    """The posterior predictive check of ``evaluation.ppc_examples`` test examples (none when 0), and their prior
    predictive check when ``evaluation.ppc_prior`` is true."""
    config = context.experiment.evaluation
    if config.ppc_examples == 0:
        return {}
    x, y = context.test_examples(config.ppc_examples)
    entries = {}
    checks = {"ppc": posterior_predictive_check}
    if config.ppc_prior:
        checks["ppc_prior"] = prior_predictive_check
    for stem, check_of in checks.items():
        check = check_of(
            context.pair,
            x,
            y,
            config.ppc_samples,
            image_shape=context.view.image_shape,
            seed=context.experiment.training.seed,
        )
        extra = {"split": "test", "num_examples": len(x), "num_samples": config.ppc_samples, "group": check.group}
        summary = write_check(check, context.run_dir, extra, stem)
        entries[f"{stem}_flagged"] = sorted(name for name, row in summary["statistics"].items() if row["flagged"])
    return entries
