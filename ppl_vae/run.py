"""Run directories: train an experiment into one, resume it, load its trained pair.

A run directory holds:

- ``experiment.toml``: the resolved experiment (every default filled in; ``ppl-vae
  train RUN/experiment.toml`` repeats the run);
- ``metrics.csv``: one row per epoch (:class:`ppl_vae.train.EpochRecord`);
- ``checkpoint.pt``: the training state after the last finished epoch (parameters,
  optimizer, RNG state, epoch, history, best parameters), written atomically;
- ``summary.json``: final figures (keys in :data:`SUMMARY_KEYS`);
- ``elbo_curves.png``, ``reconstructions.png``, ``prior_samples.png``;
- ``ppc.nc``, ``ppc.json``, ``ppc_*.png``: a posterior predictive check (``ppl_vae.ppc``).

Label-conditioned models write ``class_samples.png`` (a class-by-sample grid) instead of
``prior_samples.png``, and ``classification.json`` / ``classification.png`` (the Bayes-rule
classifier, ``ppl_vae.classify``). Structured-output models write ``completions.png``
(inputs, truths and sampled completions) instead of the reconstructions, prior samples and
predictive check, which are about whole images x.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyro
import torch
from pyro import poutine
from torch import Tensor

from ppl_vae.build import build_data, build_pair, model_class, model_support
from ppl_vae.checkpoint import CheckpointError, atomic_write_bytes, load_checkpoint, load_module_state
from ppl_vae.classify import classify_split
from ppl_vae.config import Experiment, load_experiment
from ppl_vae.data import Dataset, check_dataset, observed_field, scored_data
from ppl_vae.evaluate import (
    bits_per_dim,
    frozen,
    importance_weighted_log_likelihood,
    khat_warning,
    likelihood_summary,
)
from ppl_vae.pairing import PROBE_SIZE, Pairing, check_pair
from ppl_vae.plots import plot_classification, plot_elbo_curves, plot_image_rows
from ppl_vae.ppc import posterior_predictive_check, write_check
from ppl_vae.predictive import output_predictive, posterior_predictive, prior_predictive
from ppl_vae.train import EpochRecord, Trainer
from ppl_vae.weights import sample_sites

CHECKPOINT = "checkpoint.pt"
EXPERIMENT = "experiment.toml"

SUMMARY_KEYS = {
    "experiment": "experiment name",
    "data": "how the data was loaded and split",
    "model": "registered model name",
    "guide": "registered guide name",
    "objective": "training objective (and num_particles)",
    "scores": "what the figures below are log-likelihoods of: log p(x), log p(x | y) or log p(y | x)",
    "x_dim": "D, numbers per example",
    "epochs_run": "epochs trained",
    "best_epoch": "epoch whose parameters were kept (best validation ELBO)",
    "stopped_early": "true when patience ran out before training.epochs",
    "train_seconds": "wall time of training, seconds",
    "valid_bound_nats": "best validation bound (ELBO; IW-K bound for the iwae objective), nats per example",
    "test_elbo_nats": "test ELBO, nats per example (mean over the evaluation.iw_samples draws per example)",
    "test_elbo_bits_per_dim": "test ELBO in bits per dimension = -nats / (D ln 2), D the width of what is "
    "scored (x, or the output y) (lower is better)",
    "ppc_flagged": "statistics that the end-of-training posterior predictive check flags (see ppc.json); "
    "null for structured-output models, whose outputs are not whole images",
    "classification": "label-conditioned models only: the Bayes-rule classifier on the test split "
    "(classification.json, keys in ppl_vae.classify.CLASSIFICATION_KEYS)",
    "test_importance_weighted": "the evaluation.json figures (ppl_vae.evaluate.EVALUATION_KEYS) on the test "
    "split with K = evaluation.iw_samples",
}


SCORES = {None: "log p(x)", "labels": "log p(x | y), labels y", "input": "log p(y | x), output y of input x"}


class RunError(ValueError):
    """A run directory that cannot be used as asked."""


@dataclass
class Prepared:
    """Everything a run needs, built and checked before anything is written."""

    experiment: Experiment
    data: Dataset
    model: Any
    guide: Any
    pairing: Pairing


def prepare(experiment: Experiment) -> Prepared:
    """Load the data, build the pair (seeded) and check data and pairing; writes nothing."""
    cls = model_class(experiment)
    data = build_data(experiment)
    check_dataset(data, model_support(experiment), observed_field(cls), getattr(cls, "conditioning", None))
    pyro.set_rng_seed(experiment.training.seed)
    model, guide = build_pair(experiment, data.x_dim, data.num_classes, data.y_dim)
    probe = data.valid  # binarized even when training batches are binarized on the fly
    with frozen(experiment.training.seed):  # the check draws samples: keep them out of training's RNG stream
        pairing = check_pair(
            model,
            guide,
            probe.x[:PROBE_SIZE],
            None if probe.y is None else probe.y[:PROBE_SIZE],
            experiment.sections["model"]["name"],
            experiment.sections["guide"]["name"],
        )
    return Prepared(experiment, data, model, guide, pairing)


def default_run_dir(experiment: Experiment) -> Path:
    """``runs/NAME-TIMESTAMP``, with ``-2``, ``-3``... when that folder is already taken."""
    base = Path("runs") / f"{experiment.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    candidate, suffix = base, 1
    while candidate.exists():
        suffix += 1
        candidate = base.with_name(f"{base.name}-{suffix}")
    return candidate


def write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def write_metrics(path: Path, history: list[EpochRecord]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EpochRecord.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in history)
    write_text(path, buffer.getvalue())


def _trainer(prepared: Prepared, run_dir: Path, callbacks) -> Trainer:
    def metrics(trainer: Trainer, _: EpochRecord) -> None:
        write_metrics(run_dir / "metrics.csv", trainer.history)

    return Trainer(
        prepared.model,
        prepared.guide,
        prepared.data,
        prepared.experiment.training,
        prepared.pairing.max_plate_nesting,
        run_dir / CHECKPOINT,
        [metrics, *callbacks],
    )


def train_experiment(experiment: Experiment, run_dir: Path | None = None, callbacks=()) -> Path:
    """Train ``experiment`` into a new run directory (default ``runs/NAME-TIMESTAMP``); returns it."""
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(experiment)
    if (run_dir / CHECKPOINT).exists() or (run_dir / EXPERIMENT).exists():
        raise RunError(f"{run_dir} already holds a run; resume it with --resume {run_dir} or choose another --run-dir")
    prepared = prepare(experiment)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / EXPERIMENT, experiment.to_toml())
    return _fit_and_report(prepared, _trainer(prepared, run_dir, callbacks), run_dir)


def read_run_experiment(run_dir: Path) -> Experiment:
    path = Path(run_dir) / EXPERIMENT
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory: it has no {EXPERIMENT}")
    return load_experiment(str(path))


def resume(run_dir: Path, callbacks=()) -> Path:
    """Continue an interrupted run from its checkpoint; refuses (touching nothing) on any mismatch."""
    run_dir = Path(run_dir)
    experiment = read_run_experiment(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT)
    prepared = prepare(experiment)
    trainer = _trainer(prepared, run_dir, callbacks)
    try:
        trainer.load_state_dict(state, run_dir / CHECKPOINT)
    except KeyError as error:
        raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry {error}") from error
    if trainer.finished and (run_dir / "summary.json").exists():
        raise RunError(f"{run_dir} already finished (epoch {trainer.epoch}); nothing to resume")
    return _fit_and_report(prepared, trainer, run_dir)


def _fit_and_report(prepared: Prepared, trainer: Trainer, run_dir: Path) -> Path:
    trainer.fit()
    report(prepared, trainer, run_dir)
    return run_dir


def report(prepared: Prepared, trainer: Trainer, run_dir: Path) -> dict[str, Any]:
    """Final figures and plots of a trained pair (best parameters loaded); writes summary.json."""
    experiment, data, model, guide = prepared.experiment, prepared.data, prepared.model, prepared.guide
    evaluation, training = experiment.evaluation, experiment.training
    nesting = prepared.pairing.max_plate_nesting
    test = data.test
    estimate = importance_weighted_log_likelihood(
        model, guide, test.x, test.y, evaluation.iw_samples, seed=training.seed, max_plate_nesting=nesting
    )
    test_elbo = estimate.elbo.mean().item()
    dim = scored_data(model, test.x, test.y).shape[1]
    history = trainer.history
    summary = {
        "experiment": experiment.name,
        "data": data.description,
        "model": experiment.sections["model"]["name"],
        "guide": experiment.sections["guide"]["name"],
        "objective": f"{training.objective} (K={training.num_particles})",
        "scores": SCORES[getattr(model, "conditioning", None)],
        "x_dim": data.x_dim,
        "epochs_run": trainer.epoch,
        "best_epoch": trainer.best_epoch,
        "stopped_early": trainer.epoch < training.epochs,
        "train_seconds": round(sum(r.seconds for r in history), 2),
        "valid_bound_nats": trainer.best_valid_bound,
        "test_elbo_nats": test_elbo,
        "test_elbo_bits_per_dim": bits_per_dim(test_elbo, dim),
    }
    summary["test_importance_weighted"] = likelihood_summary(estimate, dim)
    warning = khat_warning(summary["test_importance_weighted"])
    if warning:
        print(warning)
    plot_elbo_curves(
        [r.epoch for r in history],
        [r.train_objective for r in history],
        [r.valid_bound for r in history],
        run_dir / "elbo_curves.png",
    )
    conditioning = getattr(model, "conditioning", None)
    if conditioning == "input":
        plot_completions(model, data, test.x[:12], test.y[:12], 5, training.seed, run_dir / "completions.png")
        summary["ppc_flagged"] = None
    else:
        summary.update(_image_figures(prepared, run_dir))
    write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _image_figures(prepared: Prepared, run_dir: Path) -> dict[str, Any]:
    """Figures of a model that generates whole images x: reconstructions, samples (by class for a
    label-conditioned model, with its classifier) and the predictive check; returns summary entries."""
    data, model, guide = prepared.data, prepared.model, prepared.guide
    evaluation, training, test = prepared.experiment.evaluation, prepared.experiment.training, prepared.data.test
    nesting = prepared.pairing.max_plate_nesting
    summary: dict[str, Any] = {}
    with frozen(training.seed):
        shown = test.x[:12]
        y = None if test.y is None else test.y[:12]
        reconstruction = posterior_predictive(model, guide, shown, y)[1].mean[0]
        plot_image_rows(
            [("test images", shown), ("reconstructions (mean of p(x|z), z ~ q(z|x))", reconstruction)],
            data.image_shape,
            12,
            run_dir / "reconstructions.png",
        )
    if getattr(model, "conditioning", None) == "labels":
        plot_class_samples(model, data.image_shape, 12, training.seed, run_dir / "class_samples.png")
        summary["classification"] = write_classification(
            model, guide, test.x, test.y, data, "test", evaluation.classify_samples, training.seed, nesting, run_dir
        )
    else:
        with frozen(training.seed):
            samples = prior_predictive(model, 48)[1].mean[0]
        plot_image_rows(
            [("prior samples (mean of p(x|z), z ~ p(z))", samples)], data.image_shape, 12, run_dir / "prior_samples.png"
        )
    shown = test.x[: evaluation.ppc_examples]
    check = posterior_predictive_check(
        model,
        guide,
        shown,
        None if test.y is None else test.y[: len(shown)],
        evaluation.ppc_samples,
        image_shape=data.image_shape,
        seed=training.seed,
    )
    ppc = write_check(
        check, run_dir, {"split": "test", "num_examples": len(shown), "num_samples": evaluation.ppc_samples}
    )
    summary["ppc_flagged"] = sorted(name for name, row in ppc["statistics"].items() if row["flagged"])
    return summary


def plot_class_samples(model, image_shape: tuple[int, int], per_class: int, seed: int, path: Path) -> None:
    """A class-by-sample grid of a label-conditioned model: one row of ``per_class`` draws per class."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    with frozen(seed):
        means = prior_predictive(model, len(labels), labels)[1].mean[0]
    rows = [(f"y = {c}", means[c * per_class : (c + 1) * per_class]) for c in range(model.num_classes)]
    rows[0] = ("y = 0 (each row: mean of p(x | z, y), z ~ p(z), for its class y)", rows[0][1])
    plot_image_rows(rows, image_shape, per_class, path)


def plot_completions(model, data: Dataset, x: Tensor, y: Tensor, draws: int, seed: int, path: Path) -> None:
    """A structured-output model's completions of inputs x (N, D): input, truth, and ``draws`` rows of
    the mean of p(y | x, z), z ~ p(z | x) (one row for a model without latents: its answer is fixed)."""
    with frozen(seed):
        means = output_predictive(model, x, draws)[1].mean
    if not sample_sites(poutine.trace(model).get_trace(x[:1], y=None)).keys() - {observed_field(model)}:
        means = means[:1]
    rows = [("input (output region grey)", data.images(x, torch.full_like(y, 0.5))), ("truth", data.images(x, y))]
    rows += [(f"draw {i + 1}", data.images(x, m)) for i, m in enumerate(means)]
    plot_image_rows(rows, data.image_shape, len(x), path)


def write_classification(
    model,
    guide,
    x: Tensor,
    labels: Tensor,
    data: Dataset,
    split: str,
    num_samples: int,
    seed: int,
    nesting: int,
    run_dir: Path,
) -> dict:
    """Bayes-rule classification (``ppl_vae.classify``) of ``x`` (N, D), examples of ``split`` with true
    ``labels`` (N,), p(y) from ``data``'s training labels; writes classification.json and .png."""
    summary, real, outliers = classify_split(model, guide, x, labels, data.train.y, num_samples, seed, nesting)
    summary = {"split": split, **summary}
    write_text(run_dir / "classification.json", json.dumps(summary, indent=2) + "\n")
    plot_classification(summary["confusion_matrix"], real.fit_score, outliers.fit_score, run_dir / "classification.png")
    return summary


@dataclass
class TrainedRun:
    """A run's experiment and its pair with the best parameters loaded (no data loaded)."""

    directory: Path
    experiment: Experiment
    model: Any
    guide: Any
    x_dim: int
    num_classes: int | None
    image_shape: tuple[int, int]
    max_plate_nesting: int


def load_trained(run_dir: Path) -> TrainedRun:
    """Rebuild a run's pair from experiment.toml and load the kept (best) parameters."""
    run_dir = Path(run_dir)
    experiment = read_run_experiment(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT)
    try:
        info, best = state["data_info"], state["best"]
    except KeyError as error:
        raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry {error}") from error
    if not state.get("epoch"):
        raise RunError(f"{run_dir} has no trained model yet (no finished epoch)")
    model, guide = build_pair(experiment, info["x_dim"], info["num_classes"], info.get("y_dim"))
    load_module_state(model, best["model"], "model", run_dir / CHECKPOINT)
    load_module_state(guide, best["guide"], "guide", run_dir / CHECKPOINT)
    return TrainedRun(
        run_dir,
        experiment,
        model,
        guide,
        info["x_dim"],
        info["num_classes"],
        tuple(info["image_shape"]),
        state.get("max_plate_nesting", 1),
    )


def load_run_data(run: TrainedRun) -> Dataset:
    """The run's dataset, loaded and binarized as when it was trained."""
    return build_data(run.experiment)
