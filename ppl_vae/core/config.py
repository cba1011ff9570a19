"""Experiment files: TOML with sections that pick a dataset, a model, a guide and a recipe.

An experiment file is read on top of the default experiment (``experiments/default.toml``).
Tables merge by name: a table of the file whose ``name`` differs from the default's replaces
that table, otherwise its keys override the default's one by one, nested tables (such as
``[model.decoder]``) by the same rule. ``--set section.key=value`` overrides come last;
keys may be dotted (``model.decoder.hidden=[64]``) and values are parsed as TOML (``3``,
``0.5``, ``"tanh"``, ``[200, 200]``).

The ``[experiment]`` table follows the same rule, its ``name`` being the file's stem when the file
gives none: a file never inherits the default's description.

Sections: ``[experiment]`` (``name``, ``description``, ``plugins``: Python files or modules that
register user models, guides, networks, datasets, objectives...; a relative path is read from the
folder of the file that names it, or from the working directory for ``--set``), ``[data]``, ``[model]``,
``[guide]`` (``name`` plus constructor arguments; networks as nested tables
``[model.decoder]``, ``[guide.encoder]``), ``[training]`` (:class:`TrainingConfig`),
``[evaluation]`` (:class:`EvaluationConfig`).

Loading an experiment loads its plugins, then checks every registered name it uses (data, model, guide,
strategy, objective, optimizer, schedule): a misspelt name is one sentence before anything is built.
This module imports neither torch nor Pyro, so that ``ppl-vae list`` and ``--help`` start fast.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import importlib.resources
import importlib.util
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ppl_vae.core.errors import ConfigError
from ppl_vae.core.plugins import load_plugins
from ppl_vae.core.registry import (
    DATASETS,
    GUIDES,
    LOGGERS,
    MODELS,
    OBJECTIVES,
    OPTIMIZERS,
    SCHEDULES,
    STRATEGIES,
    Registry,
)

SECTIONS = ("experiment", "data", "model", "guide", "training", "evaluation")
EXPERIMENT_KEYS = ("name", "description", "plugins")
DTYPES = ("float32", "float64")
BACKENDS = ("auto", "gloo", "nccl")
BINARIZE_MODES = ("auto", "none", "threshold", "dynamic")
DEQUANTIZE_MODES = ("auto", "uniform")
DATA_ENGINE_KEYS = ("name", "binarize", "dequantize", "labels", "labels_seed")
DATA_ENGINE_DEFAULTS = {"binarize": "auto", "dequantize": "auto", "labels": "all", "labels_seed": 0}


def check_labels_option(data: dict[str, Any]) -> None:
    """``data.labels``: how many training labels to keep (a whole number >= 1, or ``"all"``), and
    ``data.labels_seed``: the seed that chooses them (a whole number >= 0); one sentence otherwise."""
    labels, seed = data.get("labels", "all"), data.get("labels_seed", 0)
    if labels != "all" and (type(labels) is not int or labels < 1):
        raise ConfigError(
            f'data.labels must be a whole number of labelled training examples (such as 100) or "all", got {labels!r}'
        )
    if type(seed) is not int or seed < 0:
        raise ConfigError(f"data.labels_seed must be a whole number >= 0, got {seed!r}")


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key_error(key: str, section: str, valid: list[str], what: str = "") -> ConfigError:
    return ConfigError(
        f"unknown key '{key}' in [{section}]{what}{_suggest(key, valid)}; valid keys: {', '.join(valid) or 'none'}"
    )


def choice_error(what: str, value: Any, valid: tuple[str, ...]) -> ConfigError:
    return ConfigError(f"unknown {what} {value!r}; valid values: {', '.join(valid)}")


@dataclass(frozen=True)
class TrainingConfig:
    """How a pair is trained; units in the field comments.

    ``warmup_epochs``: the weight of the latent term rises linearly from 0 to ``beta`` over
    this many epochs (0: no warm-up). ``patience``: stop when the validation bound has not
    improved for this many epochs, counted after the warm-up (0: never stop early). ``max_minutes``:
    the training time budget, summed over the epochs of every session of the run (resumes included);
    the epoch that spends it is the last.
    ``schedule``: the learning rate per epoch: ``constant``; ``exponential`` (times
    ``lr_decay`` after every epoch); ``cosine`` (from ``learning_rate`` down to
    ``min_learning_rate`` over ``epochs``); ``iwae`` (Burda et al. 2016: 10^(-i/7) times
    ``learning_rate`` during the 3^i epochs of stage i = 0, 1, ...; 3,280 epochs for i <= 7).
    ``device``: ``auto`` (a GPU when there is one), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    ``dtype``: floating-point type of data and parameters. ``backend``: the ``torch.distributed``
    backend of a ``torchrun`` run (``auto``: NCCL on GPUs, gloo on the CPU).

    ``strategy``, ``objective``, ``optimizer`` and ``schedule`` are registered names (``ppl-vae list``
    shows them; a plugin adds its own); each may be given as a table, such as ``[training.objective]``
    with ``name = "renyi"`` and ``alpha = 0.5``, whose other keys (``*_options``) go to its constructor.

    ``compile``: compile the training step with ``torch.compile`` where it can be (``ppl_vae.train.compiled``).
    ``loggers``: experiment trackers that receive every epoch's record, the experiment and the end-of-run files
    (``ppl_vae.report.loggers``): registered names (``"tensorboard"``, ``"mlflow"``) or tables with a ``name``
    whose other keys go to the logger's constructor (:func:`logger_tables`).
    """

    strategy: str = "svi"  # a registered training strategy (ppl_vae.train.svi, ppl_vae.train.adversarial)
    strategy_options: dict = field(default_factory=dict)  # the other keys of a [training.strategy] table
    objective: str = "trace_elbo"  # a registered objective (ppl_vae.infer.objectives)
    objective_options: dict = field(default_factory=dict)  # the other keys of a [training.objective] table
    num_particles: int = 1  # K samples per data point (the IWAE K for "iwae")
    optimizer: str = "adam"  # a registered optimizer (ppl_vae.train.optimizers): adam | adamw
    optimizer_options: dict = field(default_factory=dict)  # the other keys of a [training.optimizer] table
    learning_rate: float = 1e-3  # step size at the start
    adam_beta1: float = 0.9  # Adam's first-moment decay (0.5 for adversarial training, Radford et al. 2016)
    weight_decay: float = 0.0  # decoupled for adamw, L2 for adam
    schedule: str = "constant"  # a registered schedule (ppl_vae.train.schedules)
    schedule_options: dict = field(default_factory=dict)  # the other keys of a [training.schedule] table
    lr_decay: float = 0.99  # per-epoch factor of the exponential schedule
    min_learning_rate: float = 0.0  # floor of the cosine schedule
    clip_norm: float = 0.0  # largest gradient norm (0: no clipping)
    batch_size: int = 100  # examples per step
    epochs: int = 30  # passes over the training split, at most
    patience: int = 0  # epochs without validation improvement before stopping
    max_minutes: float = 0.0  # training wall-time budget: no epoch starts after it is spent (0: none)
    beta: float = 1.0  # weight of the latent (KL) term after warm-up
    warmup_epochs: float = 0.0  # epochs of linear KL warm-up
    seed: int = 0  # seeds initialization, batches and sampling
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    dtype: str = "float32"  # float32 | float64
    backend: str = "auto"  # auto | gloo | nccl (torchrun runs only)
    compile: bool = False  # compile the training step with torch.compile where it can be
    loggers: list = field(default_factory=list)  # experiment trackers: names or tables with a name

    def __post_init__(self) -> None:
        _check_positive(self, ("num_particles", "learning_rate", "batch_size", "epochs"))
        _check_non_negative(
            self, ("patience", "max_minutes", "beta", "warmup_epochs", "weight_decay", "clip_norm", "min_learning_rate")
        )
        for name, valid in (("dtype", DTYPES), ("backend", BACKENDS)):
            if getattr(self, name) not in valid:
                raise choice_error(f"training.{name}", getattr(self, name), valid)
        for name, registry in NAMED_AXES.items():
            if getattr(self, name) not in registry.names():
                raise choice_error(f"training.{name}", getattr(self, name), tuple(registry.names()))
        if not 0 <= self.adam_beta1 < 1:
            raise ConfigError(f"training.adam_beta1 must be in [0, 1), got {self.adam_beta1}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"training.lr_decay must be in (0, 1], got {self.lr_decay}")
        logger_tables(self)


def logger_tables(config: TrainingConfig) -> list[dict[str, Any]]:
    """``training.loggers`` as tables ``{"name": ..., **options}``; an entry that is neither a registered name nor
    a table with one, or a logger named twice, is one sentence."""
    tables = []
    for entry in config.loggers:
        table = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            raise ConfigError(f"training.loggers takes logger names or tables with a name, got {entry!r}")
        LOGGERS.check(table["name"])
        if any(t["name"] == table["name"] for t in tables):
            raise ConfigError(f"training.loggers names '{table['name']}' twice")
        tables.append(table)
    return tables


NAMED_AXES: dict[str, Registry] = {
    "strategy": STRATEGIES,
    "objective": OBJECTIVES,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
}


def training_table(config: TrainingConfig) -> dict[str, Any]:
    """``config`` as the ``[training]`` table that reads back as it: every field, each named axis as its name or,
    with options, as a table ``{name = ..., **options}``."""
    table = {}
    for key, value in asdict(config).items():
        if key.endswith("_options"):
            continue
        options = getattr(config, f"{key}_options", None) if key in NAMED_AXES else None
        table[key] = {"name": value, **options} if options else value
    return table


@dataclass(frozen=True)
class EvaluationConfig:
    """What runs after training: the importance-weighted estimate and its data budget."""

    iw_samples: int = 100  # K for the test log-likelihood in summary.json
    ppc_samples: int = 20  # posterior predictive draws per data point
    ppc_examples: int = 500  # test examples in the end-of-training check (0: no check)
    ppc_prior: bool = False  # also the prior predictive check of the same examples (ppc_prior.*)
    classify_samples: int = 100  # K per example and class of the Bayes-rule classifier (label-conditioned models)

    def __post_init__(self) -> None:
        _check_positive(self, ("iw_samples", "ppc_samples", "classify_samples"))
        _check_non_negative(self, ("ppc_examples",))


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
            kinds = {int: "whole number", float: "number", str: "string", dict: "table", bool: "boolean", list: "list"}
            kind = kinds.get(expected, expected.__name__)
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
    def plugins(self) -> list[str]:
        """The plugin files (absolute paths) and modules the experiment loads."""
        return list(self.sections["experiment"].get("plugins", []))

    @property
    def training(self) -> TrainingConfig:
        values = dict(self.sections["training"])
        for axis in NAMED_AXES:
            table = values.get(axis)
            if isinstance(table, dict):
                if not isinstance(table.get("name"), str):
                    raise ConfigError(f"[training.{axis}] needs a name (a registered {axis})")
                values[axis] = table["name"]
                values[f"{axis}_options"] = {k: v for k, v in table.items() if k != "name"}
            elif f"{axis}_options" in values:
                raise ConfigError(f"give the options of training.{axis} in a [training.{axis}] table with its name")
        return _dataclass_from(TrainingConfig, "training", values)

    @property
    def evaluation(self) -> EvaluationConfig:
        return _dataclass_from(EvaluationConfig, "evaluation", self.sections["evaluation"])

    def resolved(self) -> dict[str, dict[str, Any]]:
        """The sections with the engine's defaults filled in: every key of ``[training]`` and ``[evaluation]``,
        and of ``[data]`` the engine's own keys (``binarize``, ``dequantize``)."""
        sections = copy.deepcopy(self.sections)
        sections["training"] = training_table(self.training)
        sections["evaluation"] = asdict(self.evaluation)
        sections["data"] = {**DATA_ENGINE_DEFAULTS, **sections["data"]}
        return sections

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


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` read over ``base``: a table with another ``name`` replaces, otherwise keys merge, recursively."""
    if "name" in update and update["name"] != base.get("name"):
        return copy.deepcopy(update)
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> tuple[str, list[str], Any]:
    """``"section.key.sub=value"`` -> (section, [key, sub], value), value parsed as TOML when it can be."""
    target, sep, raw = text.partition("=")
    section, *keys = target.strip().split(".")
    if not sep or not keys or not all(keys):
        raise ConfigError(f"--set takes section.key=value, got '{text}'")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, keys, value


def apply_override(sections: dict[str, dict[str, Any]], text: str) -> None:
    """Set one ``--set`` override in place; a string met on the path (``decoder = "conv"``) becomes its table."""
    section, keys, value = parse_override(text)
    if section not in SECTIONS:
        raise ConfigError(f"unknown section '{section}' in --set {text}; valid sections: {', '.join(SECTIONS)}")
    table = sections.setdefault(section, {})
    for key in keys[:-1]:
        if isinstance(table.get(key), str):
            table[key] = {"name": table[key]}
        elif not isinstance(table.get(key), dict):
            table[key] = {}
        table = table[key]
    table[keys[-1]] = value


def load_experiment(spec: str | None = None, overrides: list[str] = ()) -> Experiment:
    """Read an experiment (a path, a shipped name, or None for the default) and apply ``--set`` overrides."""
    sections = default_sections()
    if spec is not None:
        path = find_experiment(spec)
        user = _read_toml(path.read_text(), str(path))
        user.setdefault("experiment", {})
        for section, values in user.items():
            if section not in SECTIONS:
                raise ConfigError(
                    f"unknown section [{section}] in {path}{_suggest(section, list(SECTIONS))}; "
                    f"valid sections: {', '.join(SECTIONS)}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] in {path} must be a table of keys")
            if section == "experiment":
                values = {"name": path.stem, **values}
                values["plugins"] = resolved_plugins(values.get("plugins", []), path.parent)
            sections[section] = merge(sections.get(section, {}), values)
    sections = copy.deepcopy(sections)
    for text in overrides:
        apply_override(sections, text)
    if "plugins" in sections["experiment"]:
        sections["experiment"]["plugins"] = resolved_plugins(sections["experiment"]["plugins"], Path.cwd())
    return validate(sections)


def resolved_plugins(plugins: Any, folder: Path) -> list[str]:
    """Plugin files as absolute paths (a relative one read from ``folder``); module names as they are."""
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise ConfigError(f"[experiment] plugins must be a list of file paths or module names, got {plugins!r}")
    return [str((folder / p).resolve()) if p.endswith(".py") else p for p in plugins]


def validate(sections: dict[str, dict[str, Any]]) -> Experiment:
    """Check the sections that the engine itself reads, after loading the plugins; constructors check their
    own keys. Every registered name the sections use must exist (one sentence naming the valid ones)."""
    for section in SECTIONS:
        sections.setdefault(section, {})
    for key in sections["experiment"]:
        if key not in EXPERIMENT_KEYS:
            raise unknown_key_error(key, "experiment", list(EXPERIMENT_KEYS))
    for section in ("data", "model", "guide"):
        if not isinstance(sections[section].get("name"), str):
            raise ConfigError(f"section [{section}] needs a name (a registered {section} name)")
    data = sections["data"]
    for key, valid in (("binarize", BINARIZE_MODES), ("dequantize", DEQUANTIZE_MODES)):
        if data.get(key, "auto") not in valid:
            raise choice_error(f"data.{key}", data[key], valid)
    check_labels_option(data)
    load_plugins(resolved_plugins(sections["experiment"].get("plugins", []), Path.cwd()))
    for section, registry in (("data", DATASETS), ("model", MODELS), ("guide", GUIDES)):
        registry.check(sections[section]["name"])
    experiment = Experiment(sections)
    experiment.training  # noqa: B018 - parsing validates the section
    experiment.evaluation  # noqa: B018
    return experiment
