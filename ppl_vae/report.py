"""The end-of-run report: figures and figures-of-merit, as hooks chosen by what the run declares.

A report hook is registered with a predicate on the run (:class:`RunView`: the model's and
guide's contracts, the data's image shape) and a function that writes its files into the
run directory and returns its entries of ``summary.json``. A new model family adds its hooks
in its own file (``@REPORTS.register("name", when=...)``); nothing here branches on families.
The ``sample`` command picks its figure the same way, from :data:`SAMPLE_FIGURES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ppl_vae.config import Experiment
from ppl_vae.contract import Conditioning, GuideContract, ModelContract
from ppl_vae.data.containers import Dataset
from ppl_vae.data.provenance import random_subset
from ppl_vae.errors import NameTakenError
from ppl_vae.pair import Pair


@dataclass(frozen=True)
class RunView:
    """What hooks may ask of a run: its contracts, whether its data are images, its class count."""

    model: ModelContract
    guide: GuideContract
    image_shape: tuple[int, ...] | None
    num_classes: int | None

    @classmethod
    def of(cls, pair: Pair, image_shape, num_classes) -> RunView:
        shape = None if image_shape is None else tuple(image_shape)
        return cls(pair.model_contract, pair.guide_contract, shape, num_classes)

    @property
    def encoded(self) -> bool:
        """The model has latents that its guide infers (not an implicit model's)."""
        return self.model.latent and self.model.density

    @property
    def scored(self) -> bool:
        """The pair estimates a likelihood: model and guide are densities."""
        return self.model.density and self.guide.density

    @property
    def images(self) -> bool:
        """The model generates whole images (not outputs, not vectors)."""
        return self.model.generates_images and self.image_shape is not None


@dataclass
class ReportContext:
    """A finished run as the hooks see it: best parameters loaded, data on its device."""

    run_dir: Path
    experiment: Experiment
    pair: Pair
    data: Dataset
    history: list
    view: RunView

    def test_examples(self, n: int) -> tuple[Tensor, Tensor | None]:
        """At most ``n`` test examples drawn at random with the training seed (kept in their order: a
        test split sorted by label, as binarized MNIST's is, must not give the first digits only)."""
        split, _ = random_subset(self.data.test, n, self.experiment.training.seed)
        return split.x, split.y


class Hooks:
    """Named functions with predicates on a :class:`RunView`, kept in registration order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._hooks: dict[str, tuple[Callable[[RunView], bool], Callable[..., Any]]] = {}

    def register(self, name: str, when: Callable[[RunView], bool]):
        def add(fn):
            if name in self._hooks and self._hooks[name][1] is not fn:
                raise NameTakenError(f"a {self.kind} named '{name}' is already registered; choose another name")
            self._hooks[name] = (when, fn)
            return fn

        return add

    def chosen(self, view: RunView) -> list[tuple[str, Callable[..., Any]]]:
        return [(name, fn) for name, (when, fn) in self._hooks.items() if when(view)]


REPORTS = Hooks("report")
SAMPLE_FIGURES = Hooks("sample figure")

SUMMARY_KEYS = {
    "experiment": "experiment name",
    "data": "where the data came from and how it was split and transformed",
    "model": "registered model name",
    "guide": "registered guide name",
    "objective": "training objective (and num_particles) under SVI; the strategy and its phases otherwise",
    "scores": "what the figures are log-likelihoods of: log p(x), log p(x | y) or log p(y | x); null for an "
    "implicit model",
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
    "test_importance_weighted": "the evaluation figures (ppl_vae.evaluate.EVALUATION_KEYS) on the test split with "
    "K = evaluation.iw_samples; null for a deterministic encoder",
    "test_reconstruction_nats": "mean log p(x | z), z ~ q(z | x), on the test split, nats per example: the "
    "reconstruction term",
    "aggregate_posterior_mmd": "how far the codes z ~ q(z | x) of up to 1,000 test examples are from as many prior "
    "draws: MMD^2 with a Gaussian kernel (median bandwidth) and its permutation p-value (ppl_vae.two_sample)",
    "note": "what could not be measured, and why",
    "ppc_flagged": "statistics that the end-of-training posterior predictive check flags (see ppc.json)",
    "classification": "label-conditioned models only: the Bayes-rule classifier on the test split "
    "(classification.json, keys in ppl_vae.classify.CLASSIFICATION_KEYS)",
}

SCORES = {
    Conditioning.NONE: "log p(x)",
    Conditioning.LABELS: "log p(x | y), labels y",
    Conditioning.INPUT: "log p(y | x), output y of input x",
}


def write_text(path: Path, text: str) -> None:
    from ppl_vae.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def run_reports(context: ReportContext, base: dict[str, Any]) -> dict[str, Any]:
    """Run every report hook the run's view chooses; write and return ``summary.json`` (``base`` first)."""
    import ppl_vae.report_hooks  # noqa: F401  (registers the built-in hooks)

    summary = dict(base)
    for _, hook in REPORTS.chosen(context.view):
        summary.update(hook(context))
    write_json(context.run_dir / "summary.json", summary)
    return summary
