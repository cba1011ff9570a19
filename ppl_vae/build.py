"""Build a dataset, a model and a guide from an experiment's sections, by registered name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ppl_vae.config import ConfigError, Experiment, load_plugins, unknown_key_error
from ppl_vae.data import Dataset, binarize, observed_field
from ppl_vae.registry import DATASETS, GUIDES, LIKELIHOODS, MODELS, Registry

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


def build_data(experiment: Experiment) -> Dataset:
    """The experiment's dataset, binarized as ``[data] binarize`` says for the experiment's model."""
    section = experiment.sections["data"]
    data = construct(DATASETS, section, {})
    field = observed_field(model_class(experiment))
    return binarize(data, section.get("binarize", "auto"), model_support(experiment), experiment.training.seed, field)


def build_pair(experiment: Experiment, x_dim: int, num_classes: int | None, y_dim: int | None = None):
    """(model, guide) for the experiment; the guide's latent_dim defaults to the model's.

    ``x_dim``, ``num_classes`` and ``y_dim`` (width of structured outputs) come from the data.
    """
    load_plugins(experiment)
    context = {"x_dim": x_dim, "num_classes": num_classes, "y_dim": y_dim}
    model = construct(MODELS, experiment.sections["model"], context)
    guide = construct(
        GUIDES, experiment.sections["guide"], {**context, "latent_dim": getattr(model, "latent_dim", None)}
    )
    return model, guide


def model_class(experiment: Experiment):
    """The registered constructor of the experiment's model (its class, for the built-ins)."""
    load_plugins(experiment)
    return MODELS.get(experiment.sections["model"]["name"])


def model_support(experiment: Experiment) -> str:
    """The data support of the experiment's model ("binary", "unit_interval", "real").

    Models that take the likelihood by name (``likelihood = "gaussian"``) have that
    likelihood's support; others say it with a ``data_support`` class attribute.
    """
    section = experiment.sections["model"]
    if isinstance(section.get("likelihood"), str):
        return LIKELIHOODS.get(section["likelihood"]).support
    return getattr(model_class(experiment), "data_support", "real")
