"""The end-of-run report: ``summary.json`` and the figures, from the report hooks that the run's declarations choose.

A report hook is registered like every other piece (``@register_report("name", when=...)``;
built-ins in ``ppl_vae.report.hooks``): ``when`` is a predicate on the run's
:class:`~ppl_vae.report.context.RunView` (the model's and guide's contracts, the data's image shape),
and the hook writes its files into the run directory and returns its entries of ``summary.json``.
A new model family adds its hooks in its own file; nothing here branches on families.
"""

from __future__ import annotations

from typing import Any

from ppl_vae.core.contract import Conditioning, ModelContract
from ppl_vae.core.files import write_json
from ppl_vae.core.registry import REPORTS
from ppl_vae.report.context import ReportContext, chosen

SUMMARY_KEYS = {
    "experiment": "experiment name",
    "data": "where the data came from and how it was split and transformed",
    "model": "registered model name",
    "guide": "registered guide name",
    "objective": "training objective (and num_particles) under SVI; the strategy and its phases otherwise",
    "scores": "what the figures are log-likelihoods of: log p(x), log p(x | y), log p(y | x), or log p(x) with the "
    "label summed out (a model whose label is latent); null for an implicit model",
    "levels": "grey levels of the scored values (2: binary), or null for continuous data",
    "dequantized": "true when a continuous likelihood dequantized the discrete data (figures are then bounds on "
    "the discrete log-probability, with the D log(levels) term included)",
    "event_shape": "shape of one scored example, such as [1, 28, 28]",
    "dimensions": "D, the numbers per scored example (C * H * W); bits per dimension divide by it",
    "device": "where the run trained",
    "dtype": "floating-point type of data and parameters",
    "processes": "training processes (torchrun ranks; 1 when not distributed)",
    "global_batch": "examples per optimizer step over all processes (each took global_batch / processes)",
    "epochs_run": "epochs trained",
    "best_epoch": "epoch whose parameters were kept (best validation bound; the last epoch for adversarial "
    "strategies, which keep their last parameters)",
    "stopped_early": "true when patience or the time budget ended training before training.epochs",
    "stopped_by": "what ended training: epochs (training.epochs reached), patience, or time budget "
    "(training.max_minutes)",
    "train_seconds": "wall time of training, seconds",
    "valid_bound_nats": "validation bound of the kept epoch (ELBO; IW-K bound for the iwae objective), nats per "
    "example; null for an implicit model",
    "test_elbo_nats": "test ELBO, nats per example (mean over the evaluation.iw_samples draws per example); "
    "null for a deterministic encoder",
    "test_elbo_bits_per_dim": "-test_elbo_nats / (D ln 2) (lower is better)",
    "test_importance_weighted": "the evaluation figures (ppl_vae.evaluation.likelihood.EVALUATION_KEYS) on the test "
    "split with K = evaluation.iw_samples; null for a deterministic encoder",
    "test_reconstruction_nats": "mean log p(x | z), z ~ q(z | x), on the test split, nats per example: the "
    "reconstruction term",
    "aggregate_posterior_mmd": "how far the codes z ~ q(z | x) of up to 1,000 test examples are from as many prior "
    "draws: MMD^2 with a Gaussian kernel (median bandwidth) and its permutation p-value "
    "(ppl_vae.evaluation.two_sample)",
    "note": "what could not be measured, and why",
    "ppc_flagged": "statistics that the end-of-training posterior predictive check flags (see ppc.json)",
    "ppc_prior_flagged": "with evaluation.ppc_prior: statistics that the prior predictive check of the same "
    "examples flags (see ppc_prior.json)",
    "classification": "label-conditioned models only: the Bayes-rule classifier on the test split, and the guide's "
    "classifier q(y | x) where the label is latent (classification.json, keys in "
    "ppl_vae.evaluation.classify.CLASSIFICATION_KEYS)",
}

SCORES = {
    Conditioning.NONE: "log p(x)",
    Conditioning.LABELS: "log p(x | y), labels y",
    Conditioning.INPUT: "log p(y | x), output y of input x",
}
LABEL_SUMMED_OUT = "log p(x), the label summed out"


def scores(contract: ModelContract) -> str | None:
    """What a run's figures are log-likelihoods of (``summary.json``'s ``scores``); None for an implicit model."""
    if not contract.density:
        return None
    return LABEL_SUMMED_OUT if contract.label_latent else SCORES[contract.conditioning]


def run_reports(context: ReportContext, base: dict[str, Any]) -> dict[str, Any]:
    """Run every report hook the run's view chooses; write and return ``summary.json`` (``base`` first)."""
    summary = dict(base)
    for hook in chosen(REPORTS, context.view).values():
        summary.update(hook(context))
    write_json(context.run_dir / "summary.json", summary)
    return summary
