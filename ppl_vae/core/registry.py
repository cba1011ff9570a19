"""Name -> constructor registries: every axis a user can extend by name.

Models, guides, likelihoods, priors, networks, datasets, training strategies, objectives,
optimizers, learning-rate schedules, predictive-check statistics, end-of-run report hooks,
sample figures and experiment trackers (loggers). Built-in names are listed here with the module
that defines them, so that listing them (``ppl-vae list``) imports nothing heavy; the module is
imported the first time one of its names is asked for, and registers itself with the decorators below. A user's plugin
registers more names the same way; a name that is already taken by other code is refused in
one sentence. Registering the same definition again (a plugin file imported twice, under two
module names) is harmless: the later copy replaces the earlier one.

This module imports neither torch nor Pyro.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ppl_vae.core.errors import NameTakenError, UnknownNameError

T = TypeVar("T", bound=Callable[..., Any])


def _origin(constructor: Any) -> tuple[str | None, str, int | None]:
    """(source file, qualified name, first line) of a class or function: what makes two registrations one
    definition, whatever module name its file was imported under."""
    code = getattr(constructor, "__code__", None)
    if code is not None:
        return code.co_filename, constructor.__qualname__, code.co_firstlineno
    try:
        file, line = inspect.getsourcefile(constructor), inspect.getsourcelines(constructor)[1]
    except (OSError, TypeError):
        file, line = None, None
    return file, getattr(constructor, "__qualname__", repr(constructor)), line


class Registry:
    """Maps names to constructors of one kind (``"model"``, ``"guide"``, ...).

    ``builtins`` maps each built-in name to the module that registers it. ``register`` takes
    keyword ``metadata`` (such as a plain function's ``contract``, or a report hook's ``when``)
    kept beside the constructor and returned by :meth:`metadata`. ``ordered``: :meth:`entries`
    keeps the built-ins' order, then the order of registration (report hooks, sample figures);
    otherwise names are sorted.
    """

    def __init__(self, kind: str, builtins: dict[str, str], ordered: bool = False):
        self.kind = kind
        self.ordered = ordered
        self._builtins = dict(builtins)
        self._entries: dict[str, Callable[..., Any]] = {}
        self._origins: dict[str, tuple[str | None, str, int | None]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("my_vae")`` over a class or factory function."""

        def add(constructor: T) -> T:
            existing = self._entries.get(name)
            owner = self._builtins.get(name)
            origin = _origin(constructor)
            same = existing is constructor or (existing is not None and self._origins[name] == origin)
            if existing is not None and not same:
                raise NameTakenError(
                    f"a {self.kind} named '{name}' is already registered (by {existing.__module__}); "
                    "choose another name"
                )
            if existing is None and owner is not None and constructor.__module__ != owner:
                raise NameTakenError(
                    f"a {self.kind} named '{name}' is already registered (built in, by {owner}); choose another name"
                )
            self._entries[name] = constructor
            self._origins[name] = origin
            self._metadata[name] = metadata
            return constructor

        return add

    def _load(self, name: str) -> None:
        if name not in self._entries and name in self._builtins:
            importlib.import_module(self._builtins[name])

    def check(self, name: str) -> None:
        """Refuse, in one sentence, a name that is neither built in nor registered (imports nothing)."""
        if name not in self._entries and name not in self._builtins:
            raise UnknownNameError(f"unknown {self.kind} '{name}'; valid {self.kind}s: {', '.join(self.names())}")

    def get(self, name: str) -> Callable[..., Any]:
        self.check(name)
        self._load(name)
        if name not in self._entries:  # a built-in module that failed to register its name: a bug
            raise RuntimeError(f"module {self._builtins[name]} did not register the {self.kind} '{name}'")
        return self._entries[name]

    def metadata(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self._metadata[name]

    def entries(self) -> dict[str, Callable[..., Any]]:
        """Every registered name and constructor (built-ins imported), sorted by name or, for an ordered
        registry, in the built-ins' order and then in the order of registration."""
        for name in self._builtins:
            self._load(name)
        if self.ordered:
            names = [*self._builtins, *(n for n in self._entries if n not in self._builtins)]
        else:
            names = sorted(self._entries)
        return {name: self._entries[name] for name in names}

    def names(self) -> list[str]:
        """Every name, built-in or registered, without importing anything (sorted; ordered registries keep
        their order)."""
        if self.ordered:
            return [*self._builtins, *(n for n in self._entries if n not in self._builtins)]
        return sorted({*self._builtins, *self._entries})

    def modules(self) -> dict[str, str]:
        """Where each name is defined: the built-in module, or the module of a registered constructor."""
        found = {
            name: constructor.__module__ or "(code run without a module)" for name, constructor in self._entries.items()
        }
        return {name: found.get(name) or self._builtins[name] for name in self.names()}


def _builtins(module: str, *names: str) -> dict[str, str]:
    return {name: module for name in names}


MODELS = Registry(
    "model",
    {
        **_builtins("ppl_vae.models.bernoulli", "bernoulli_vae"),
        **_builtins("ppl_vae.models.gaussian", "gaussian_vae"),
        **_builtins("ppl_vae.models.logistic", "discretized_logistic_vae"),
        **_builtins("ppl_vae.models.linear_gaussian", "linear_gaussian"),
        **_builtins("ppl_vae.models.conditional", "conditional_vae", "structured_cvae", "baseline_predictor"),
        **_builtins("ppl_vae.models.implicit", "gan_generator"),
        **_builtins("ppl_vae.models.pixelcnn", "pixelcnn", "pixel_vae"),
        **_builtins("ppl_vae.models.hierarchical", "hierarchical_vae"),
        **_builtins("ppl_vae.models.semi_supervised", "semi_supervised_vae"),
    },
)
GUIDES = Registry(
    "guide",
    {
        **_builtins("ppl_vae.guides.gaussian", "gaussian_encoder"),
        **_builtins("ppl_vae.guides.delta", "delta_encoder"),
        **_builtins("ppl_vae.guides.conditional", "conditional_encoder"),
        **_builtins("ppl_vae.guides.no_latents", "none"),
        **_builtins("ppl_vae.guides.full_covariance", "full_covariance_encoder"),
        **_builtins("ppl_vae.guides.flow", "flow_encoder"),
        **_builtins("ppl_vae.guides.hierarchical", "hierarchical_encoder"),
        **_builtins("ppl_vae.guides.semi_supervised", "semi_supervised_encoder"),
    },
)
LIKELIHOODS = Registry(
    "likelihood",
    {
        **_builtins("ppl_vae.models.bernoulli", "bernoulli"),
        **_builtins("ppl_vae.models.gaussian", "gaussian"),
        **_builtins("ppl_vae.models.logistic", "discretized_logistic"),
        **_builtins("ppl_vae.models.categorical", "categorical"),
    },
)
PRIORS = Registry("prior", _builtins("ppl_vae.models.priors", "normal", "gaussian_mixture", "swiss_roll"))
NETWORKS = Registry(
    "network", {**_builtins("ppl_vae.networks.mlp", "mlp"), **_builtins("ppl_vae.networks.conv", "conv")}
)
DATASETS = Registry(
    "dataset",
    {
        **_builtins("ppl_vae.data.datasets", "digits", "binarized_mnist", "mnist", "fashion_mnist"),
        **_builtins("ppl_vae.data.tasks", "quadrants"),
        **_builtins("ppl_vae.runs.codes", "codes"),
    },
)
STRATEGIES = Registry(
    "strategy", {**_builtins("ppl_vae.train.svi", "svi"), **_builtins("ppl_vae.train.adversarial", "aae", "gan")}
)
OBJECTIVES = Registry(
    "objective",
    {
        **_builtins("ppl_vae.infer.objectives.trace_elbo", "trace_elbo"),
        **_builtins("ppl_vae.infer.objectives.analytic_kl", "analytic_kl"),
        **_builtins("ppl_vae.infer.objectives.iwae", "iwae"),
        **_builtins("ppl_vae.infer.objectives.dreg", "iwae_dreg"),
        **_builtins("ppl_vae.infer.objectives.semi_supervised", "semi_supervised"),
    },
)
OPTIMIZERS = Registry("optimizer", _builtins("ppl_vae.train.optimizers", "adam", "adamw"))
SCHEDULES = Registry("schedule", _builtins("ppl_vae.train.schedules", "constant", "exponential", "cosine", "iwae"))
STATISTICS = Registry(
    "statistic",
    _builtins(
        "ppl_vae.evaluation.statistics",
        "total_ink",
        "centroid_row",
        "centroid_col",
        "strokes",
        "left_right_balance",
        "edge_length",
    ),
)
REPORTS = Registry(
    "report hook",
    _builtins(
        "ppl_vae.report.hooks",
        "likelihood",
        "reconstruction",
        "curves",
        "aggregate_posterior",
        "reconstructions",
        "prior_samples",
        "class_samples",
        "classification",
        "completions",
        "ppc",
    ),
    ordered=True,
)
SAMPLE_FIGURES = Registry(
    "sample figure", _builtins("ppl_vae.report.samples", "completions", "class_grid", "prior"), ordered=True
)

LOGGERS = Registry(
    "logger",
    {
        **_builtins("ppl_vae.report.loggers.tensorboard", "tensorboard"),
        **_builtins("ppl_vae.report.loggers.mlflow", "mlflow"),
    },
)

register_model = MODELS.register
register_guide = GUIDES.register
register_likelihood = LIKELIHOODS.register
register_prior = PRIORS.register
register_network = NETWORKS.register
register_dataset = DATASETS.register
register_strategy = STRATEGIES.register
register_objective = OBJECTIVES.register
register_optimizer = OPTIMIZERS.register
register_schedule = SCHEDULES.register
register_statistic = STATISTICS.register
register_report = REPORTS.register
register_sample_figure = SAMPLE_FIGURES.register
register_logger = LOGGERS.register
