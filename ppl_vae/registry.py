"""Name -> constructor registries: models, guides, likelihoods, priors, networks, datasets, strategies, statistics.

Built-in names are listed here with the module that defines them, so that listing them
(``ppl-vae list``) imports nothing heavy; the module is imported the first time one of its
names is asked for, and registers itself with the decorators below. A user's plugin
registers more names the same way; a name that is already taken is refused in one sentence.

This module imports neither torch nor Pyro.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from ppl_vae.errors import NameTakenError, UnknownNameError

T = TypeVar("T", bound=Callable[..., Any])


class Registry:
    """Maps names to constructors of one kind (``"model"``, ``"guide"``, ...).

    ``builtins`` maps each built-in name to the module that registers it. ``register``
    takes keyword ``metadata`` (such as a plain function's ``contract``) kept beside the
    constructor and returned by :meth:`metadata`.
    """

    def __init__(self, kind: str, builtins: dict[str, str]):
        self.kind = kind
        self._builtins = dict(builtins)
        self._entries: dict[str, Callable[..., Any]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("my_vae")`` over a class or factory function."""

        def add(constructor: T) -> T:
            existing = self._entries.get(name)
            owner = self._builtins.get(name)
            if existing is not None and existing is not constructor:
                raise NameTakenError(
                    f"a {self.kind} named '{name}' is already registered (by {existing.__module__}); "
                    "choose another name"
                )
            if existing is None and owner is not None and constructor.__module__ != owner:
                raise NameTakenError(
                    f"a {self.kind} named '{name}' is already registered (built in, by {owner}); choose another name"
                )
            self._entries[name] = constructor
            self._metadata[name] = metadata
            return constructor

        return add

    def _load(self, name: str) -> None:
        if name not in self._entries and name in self._builtins:
            importlib.import_module(self._builtins[name])

    def get(self, name: str) -> Callable[..., Any]:
        self._load(name)
        if name not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} '{name}'; valid {self.kind}s: {', '.join(self.names())}")
        return self._entries[name]

    def metadata(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self._metadata[name]

    def entries(self) -> dict[str, Callable[..., Any]]:
        """Every registered name and constructor (built-ins imported), sorted by name."""
        for name in self._builtins:
            self._load(name)
        return {name: self._entries[name] for name in sorted(self._entries)}

    def names(self) -> list[str]:
        """Every name, built-in or registered, without importing anything."""
        return sorted({*self._builtins, *self._entries})


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
    },
)
GUIDES = Registry(
    "guide",
    {
        **_builtins("ppl_vae.guides.gaussian", "gaussian_encoder"),
        **_builtins("ppl_vae.guides.delta", "delta_encoder"),
        **_builtins("ppl_vae.guides.conditional", "conditional_encoder"),
        **_builtins("ppl_vae.guides.no_latents", "none"),
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
    },
)
STRATEGIES = Registry(
    "strategy", {**_builtins("ppl_vae.strategies", "svi"), **_builtins("ppl_vae.adversarial", "aae", "gan")}
)
STATISTICS = Registry(
    "statistic",
    _builtins(
        "ppl_vae.statistics",
        "total_ink",
        "centroid_row",
        "centroid_col",
        "strokes",
        "left_right_balance",
        "edge_length",
    ),
)

register_model = MODELS.register
register_guide = GUIDES.register
register_likelihood = LIKELIHOODS.register
register_prior = PRIORS.register
register_network = NETWORKS.register
register_dataset = DATASETS.register
register_strategy = STRATEGIES.register
register_statistic = STATISTICS.register
