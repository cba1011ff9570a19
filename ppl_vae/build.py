"""Build a dataset, a model and a guide from an experiment's sections, by registered name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ppl_vae.config import ConfigError, Experiment, load_plugins, unknown_key_error
from ppl_vae.data import Dataset, binarize
from ppl_vae.registry import DATASETS, GUIDES, MODELS, Registry

ENGINE_DATA_KEYS = ("name", "binarize")


def construct(registry: Registry, section: dict[str, Any], context: dict[str, Any]) -> Any:
    """Call the constructor registered under ``section["name"]`` with the section's other keys.

    ``context`` supplies arguments the data determines (``x_dim``, ``latent_dim``,
    ``num_classes``) to constructors that take them and where the section does not set
    them. A key the constructor does not take is an error naming the key and section.
    """
    name = section["name"]
    constructor: Callable[..., Any] = registry.get(name)
    parameters = inspect.signature(constructor).parameters
    engine_keys = ENGINE_DATA_KEYS if registry is DATASETS else ("name",)
    kwargs = {k: v for k, v in section.items() if k not in engine_keys}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    valid = [p for p in parameters if p not in context and parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
    for key in kwargs:
        if key not in parameters and not takes_any:
            raise unknown_key_error(key, registry.kind, valid, f" for {registry.kind} '{name}'")
    for key, value in context.items():
        if key in parameters and key not in kwargs and value is not None:
            kwargs[key] = value
    try:
        return constructor(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot build {registry.kind} '{name}' from [{registry.kind}]: {error}") from error


def build_data(experiment: Experiment, support: str) -> Dataset:
    """The experiment's dataset, binarized as ``[data] binarize`` says for a model of ``support``."""
    section = experiment.sections["data"]
    data = construct(DATASETS, section, {})
    return binarize(data, section.get("binarize", "auto"), support, experiment.training.seed)


def build_pair(experiment: Experiment, x_dim: int, num_classes: int | None):
    """(model, guide) for the experiment; the guide's latent_dim defaults to the model's."""
    load_plugins(experiment)
    context = {"x_dim": x_dim, "num_classes": num_classes}
    model = construct(MODELS, experiment.sections["model"], context)
    guide = construct(
        GUIDES, experiment.sections["guide"], {**context, "latent_dim": getattr(model, "latent_dim", None)}
    )
    return model, guide


def model_support(experiment: Experiment) -> str:
    """The data support of the experiment's model class ("binary", "unit_interval", "real")."""
    load_plugins(experiment)
    return getattr(MODELS.get(experiment.sections["model"]["name"]), "data_support", "real")
