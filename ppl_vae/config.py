"""Experiment files: TOML with sections that pick a dataset, a model, a guide and a recipe.

An experiment file is read on top of the default experiment (``experiments/default.toml``):
a section of the file whose ``name`` differs from the default's replaces that section,
otherwise its keys override the default's one by one. ``--set section.key=value``
overrides come last; values are parsed as TOML (``3``, ``0.5``, ``"tanh"``, ``[200, 200]``).

Sections: ``[experiment]`` (``name``, ``description``, ``plugins``: Python files or
modules that register user models, guides or datasets), ``[data]``, ``[model]``,
``[guide]`` (``name`` plus constructor arguments), ``[training]``
(:class:`TrainingConfig`), ``[evaluation]`` (:class:`EvaluationConfig`).
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.resources
import importlib.util
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ppl_vae.objectives import OBJECTIVES

SECTIONS = ("experiment", "data", "model", "guide", "training", "evaluation")
EXPERIMENT_KEYS = ("name", "description", "plugins")


class ConfigError(ValueError):
    """An experiment file or override that cannot be used as written."""


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key_error(key: str, section: str, valid: list[str], what: str = "") -> ConfigError:
    return ConfigError(
        f"unknown key '{key}' in section [{section}]{what}{_suggest(key, valid)}; valid keys: {', '.join(valid)}"
    )


@dataclass(frozen=True)
class TrainingConfig:
    """How a pair is trained; units in the field comments.

    ``warmup_epochs``: the weight of the latent term rises linearly from 0 to ``beta``
    over this many epochs (0: no warm-up). ``patience``: stop when the validation ELBO
    has not improved for this many epochs (0: never stop early).
    """

    objective: str = "trace_elbo"  # one of OBJECTIVES
    num_particles: int = 1  # K samples per data point (the IWAE K for "iwae")
    learning_rate: float = 1e-3  # Adam step size
    batch_size: int = 100  # examples per step
    epochs: int = 30  # passes over the training split, at most
    patience: int = 0  # epochs without validation improvement before stopping
    beta: float = 1.0  # weight of the latent (KL) term after warm-up
    warmup_epochs: float = 0.0  # epochs of linear KL warm-up
    seed: int = 0  # seeds initialization, batches and sampling

    def __post_init__(self) -> None:
        _check_positive(self, ("num_particles", "learning_rate", "batch_size", "epochs"))
        _check_non_negative(self, ("patience", "beta", "warmup_epochs"))
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"unknown training.objective '{self.objective}'; valid objectives: {', '.join(OBJECTIVES)}"
            )


@dataclass(frozen=True)
class EvaluationConfig:
    """What runs after training: the importance-weighted estimate and its data budget."""

    iw_samples: int = 100  # K for the test log-likelihood in summary.json
    ppc_samples: int = 20  # posterior predictive draws per data point
    ppc_examples: int = 500  # test examples in the end-of-training check
    classify_samples: int = 100  # K per example and class of the Bayes-rule classifier (label-conditioned models)

    def __post_init__(self) -> None:
        _check_positive(self, tuple(f.name for f in fields(self)))


def _check_positive(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) <= 0:
            raise ConfigError(f"{type(obj).__name__} '{name}' must be positive, got {getattr(obj, name)}")


def _check_non_negative(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) < 0:
            raise ConfigError(f"{type(obj).__name__} '{name}' must not be negative, got {getattr(obj, name)}")


def _dataclass_from(cls, section: str, values: dict[str, Any]):
    valid = [f.name for f in fields(cls)]
    defaults = cls()
    for key, value in values.items():
        if key not in valid:
            raise unknown_key_error(key, section, valid)
        expected = type(getattr(defaults, key))
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            kind = {int: "whole number", float: "number", str: "string"}.get(expected, expected.__name__)
            raise ConfigError(f"[{section}] {key} must be a {kind}, got {value!r}")
    return cls(**{k: float(v) if type(getattr(defaults, k)) is float else v for k, v in values.items()})


@dataclass(frozen=True)
class Experiment:
    """A resolved experiment: every section as a plain dict, training and evaluation typed."""

    sections: dict[str, dict[str, Any]]

    @property
    def name(self) -> str:
        return self.sections["experiment"]["name"]

    @property
    def training(self) -> TrainingConfig:
        return _dataclass_from(TrainingConfig, "training", self.sections["training"])

    @property
    def evaluation(self) -> EvaluationConfig:
        return _dataclass_from(EvaluationConfig, "evaluation", self.sections["evaluation"])

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.sections)


def _read_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{origin} is not valid TOML: {error}") from error


def default_sections() -> dict[str, dict[str, Any]]:
    text = (importlib.resources.files("ppl_vae.experiments") / "default.toml").read_text()
    return _read_toml(text, "the default experiment")


def shipped_experiments() -> list[str]:
    """Names of the experiment files that ship with ppl_vae (``ppl-vae train NAME``)."""
    root = importlib.resources.files("ppl_vae.experiments")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def find_experiment(spec: str) -> Path:
    """A path to an experiment file, or the name of a shipped one (with or without .toml)."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = importlib.resources.files("ppl_vae.experiments") / f"{path.stem}.toml"
    if path.parent == Path(".") and shipped.is_file():
        return Path(str(shipped))
    raise ConfigError(f"no experiment file '{spec}'; give a path or one of: {', '.join(shipped_experiments())}")


def parse_override(text: str) -> tuple[str, str, Any]:
    """``"section.key=value"`` -> (section, key, value), value parsed as TOML when it can be."""
    target, sep, raw = text.partition("=")
    section, dot, key = target.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"--set takes section.key=value, got '{text}'")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def load_experiment(spec: str | None = None, overrides: list[str] = ()) -> Experiment:
    """Read an experiment (a path, a shipped name, or None for the default) and apply ``--set`` overrides."""
    sections = default_sections()
    if spec is not None:
        path = find_experiment(spec)
        user = _read_toml(path.read_text(), str(path))
        for section, values in user.items():
            if section not in SECTIONS:
                raise ConfigError(
                    f"unknown section [{section}] in {path}{_suggest(section, list(SECTIONS))}; "
                    f"valid sections: {', '.join(SECTIONS)}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] in {path} must be a table of keys")
            base = sections.get(section, {})
            if "name" in values and section != "experiment" and values["name"] != base.get("name"):
                base = {}
            sections[section] = {**base, **values}
        plugins = sections["experiment"].get("plugins", [])
        if "plugins" in user.get("experiment", {}):
            sections["experiment"]["plugins"] = [
                str((path.parent / p).resolve()) if p.endswith(".py") else p for p in plugins
            ]
        if "name" not in user.get("experiment", {}):
            sections["experiment"]["name"] = path.stem
    sections = copy.deepcopy(sections)
    for text in overrides:
        section, key, value = parse_override(text)
        if section not in SECTIONS:
            raise ConfigError(f"unknown section '{section}' in --set {text}; valid sections: {', '.join(SECTIONS)}")
        sections.setdefault(section, {})[key] = value
    return validate(sections)


def validate(sections: dict[str, dict[str, Any]]) -> Experiment:
    """Check the sections that the engine itself reads; constructors check their own keys."""
    for section in SECTIONS:
        sections.setdefault(section, {})
    for key in sections["experiment"]:
        if key not in EXPERIMENT_KEYS:
            raise unknown_key_error(key, "experiment", list(EXPERIMENT_KEYS))
    for section in ("data", "model", "guide"):
        if not isinstance(sections[section].get("name"), str):
            raise ConfigError(f"section [{section}] needs a name (a registered {section} name)")
    experiment = Experiment(sections)
    experiment.training  # noqa: B018 - parsing validates the section
    experiment.evaluation  # noqa: B018
    return experiment


def load_plugins(experiment: Experiment) -> None:
    """Import the user files or modules named in ``[experiment] plugins`` (they register names).

    A file is imported once per process (as module ``ppl_vae_plugin_<stem>``), however
    often this is called.
    """
    for plugin in experiment.sections["experiment"].get("plugins", []):
        if plugin.endswith(".py"):
            path = Path(plugin)
            if not path.is_file():
                raise ConfigError(f"plugin file {plugin} does not exist")
            name = f"ppl_vae_plugin_{path.stem}"
            loaded = sys.modules.get(name)
            if loaded is not None and Path(loaded.__file__).resolve() == path.resolve():
                continue
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(plugin)
            except ImportError as error:
                raise ConfigError(f"cannot import plugin module '{plugin}': {error}") from error
