"""Name -> constructor registries for models, guides, likelihoods, datasets and statistics.

Built-in entries register themselves when their package is imported; the registry
imports that package the first time it is asked for a name, so user code can call
``register_model`` before or after touching the built-ins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", bound=Callable[..., Any])


class UnknownNameError(KeyError):
    """A model, guide or dataset name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    """Maps names to constructors of one kind (``"model"``, ``"guide"``, ``"dataset"``)."""

    def __init__(self, kind: str, builtins: str):
        self.kind = kind
        self._builtins = builtins
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("my_vae")`` over a class or factory function."""

        def add(constructor: T) -> T:
            existing = self._entries.get(name)
            if existing is not None and existing is not constructor:
                raise ValueError(f"a {self.kind} named '{name}' is already registered")
            self._entries[name] = constructor
            return constructor

        return add

    def get(self, name: str) -> Callable[..., Any]:
        importlib.import_module(self._builtins)
        if name not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} '{name}'; valid {self.kind}s: {', '.join(self.names())}")
        return self._entries[name]

    def entries(self) -> dict[str, Callable[..., Any]]:
        """Every registered name and constructor, in registration order."""
        importlib.import_module(self._builtins)
        return dict(self._entries)

    def names(self) -> list[str]:
        importlib.import_module(self._builtins)
        return sorted(self._entries)


MODELS = Registry("model", "ppl_vae.models")
GUIDES = Registry("guide", "ppl_vae.guides")
DATASETS = Registry("dataset", "ppl_vae.data")
STATISTICS = Registry("statistic", "ppl_vae.statistics")
LIKELIHOODS = Registry("likelihood", "ppl_vae.models")

register_model = MODELS.register
register_guide = GUIDES.register
register_dataset = DATASETS.register
register_statistic = STATISTICS.register
register_likelihood = LIKELIHOODS.register
