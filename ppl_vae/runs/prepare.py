"""From an experiment to checked data and a checked pair, in one straight line. Writes nothing (but the
``codes`` dataset keeps the codes it computes in the directory of the run it reads, ``ppl_vae.runs.codes``).

1. load the plugins; read what the model and the guide declare (``ppl_vae.core.contract``);
2. load the raw data with its factory; check its fields and values *before* any transform; keep
   ``data.labels`` training labels and hide the others (``ppl_vae.data.labelled``);
3. convert to floating point, binarize for a Bernoulli likelihood (``data.binarize``), choose the
   levels a continuous likelihood dequantizes with (``data.dequantize``); check the result
   against the model's contract;
4. build model and guide (sizes from the data), move them and the data to the device and dtype;
5. run the pairing check on a few validation examples; build the training strategy for the pair.

Every refusal is one sentence. What a run must remember to rebuild exactly this is in
:attr:`Prepared.record` (the data's fingerprint and pinned options, the shapes, the device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ppl_vae.core.config import DATA_ENGINE_KEYS, Experiment
from ppl_vae.core.construct import construct, with_defaults
from ppl_vae.core.contract import ModelContract, guide_contract, model_contract
from ppl_vae.core.devices import DTYPES, fits_on
from ppl_vae.core.errors import ConfigError
from ppl_vae.core.plugins import load_plugins
from ppl_vae.core.registry import DATASETS, GUIDES, MODELS
from ppl_vae.data.checks import check_fields, check_fit, check_values
from ppl_vae.data.containers import Dataset
from ppl_vae.data.labelled import check_same_labelled, hide_labels, labelled_record
from ppl_vae.data.provenance import check_same_data, data_record
from ppl_vae.data.transforms import binarize, likelihood_levels, to_floating
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import PROBE_SIZE
from ppl_vae.train.distributed import RANK_SEED_STRIDE, SINGLE, World, connect
from ppl_vae.train.strategy import Strategy, make_strategy
from ppl_vae.train.trainer import check_partial_labels


@dataclass
class Prepared:
    """Everything a run needs, built and checked before anything is written.

    ``experiment``: as given, with the data factory's resolved options pinned in ``[data]``;
    ``data``: floating point, transformed, on the device (or pinned on the CPU when too large);
    ``strategy``: the training strategy, built for the pair (its options and the pair checked);
    ``record``: what ``run.json`` keeps (see :func:`run_record`); ``notes``: sentences to show the user.
    """

    experiment: Experiment
    data: Dataset
    pair: Pair
    strategy: Strategy
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def load_raw(section: dict[str, Any]) -> Dataset:
    """The dataset ``[data]`` names, as its factory returns it, with fields and values checked."""
    data = construct(DATASETS, section, {}, "data", DATA_ENGINE_KEYS)
    check_fields(data, f"dataset factory '{section['name']}'")
    check_values(data)
    return data


def fit_data(raw: Dataset, contract: ModelContract, section: dict[str, Any], seed: int, dtype: torch.dtype):
    """(data the model can take, the levels its likelihood is given or None, notes) from checked raw data."""
    data = binarize(to_floating(raw, dtype), section.get("binarize", "auto"), contract, seed)
    if not contract.density:
        check_fit(data, contract)
        return data, None, ["an implicit model (no likelihood): it is measured by its samples, never scored"]
    levels = likelihood_levels(data, contract, section.get("dequantize", "auto"))
    check_fit(data, contract)
    notes = []
    if levels is not None and not contract.discrete:
        notes.append(
            f"the continuous likelihood dequantizes the {levels}-level data uniformly: figures are bounds on the "
            "discrete log-probability, nats per example"
        )
    elif not contract.discrete:
        notes.append("continuous data: figures are log-densities, not probabilities")
    return data, levels, notes


def load_data(
    section: dict[str, Any],
    contract: ModelContract,
    seed: int,
    dtype: torch.dtype,
    recorded: dict[str, Any] | None = None,
    run: str = "the run",
) -> tuple[Dataset, Dataset, int | None, list[str]]:
    """(raw data, data the model can take, likelihood levels, notes) for ``[data]``; ``recorded``: a run's
    data record, whose fingerprint the raw data (and whose kept labels, ``data.labels``) must match (``run``
    names it in the refusal)."""
    raw = load_raw(section)
    if recorded is not None:
        check_same_data(recorded, raw, run)
    partial = hide_labels(raw, section.get("labels", "all"), section.get("labels_seed", 0))
    if recorded is not None:
        check_same_labelled(recorded.get("labelled"), partial, run)
    return (raw, *fit_data(partial, contract, section, seed, dtype))


def shapes_of(data: Dataset, levels: int | None) -> dict[str, Any]:
    """What the constructors of model and guide get from the data."""
    return {
        "x_shape": data.x_shape,
        "y_shape": data.y_shape,
        "num_classes": data.num_classes,
        "levels": levels,
        "image_shape": data.image_shape,
    }


def _built(registry, table: dict[str, Any], context: dict[str, Any], contract: Any) -> nn.Module:
    built = construct(registry, table, context, registry.kind)
    name = table["name"]
    if not isinstance(built, nn.Module):
        raise ConfigError(
            f"{registry.kind} '{name}' returned {'a plain function' if callable(built) else type(built).__name__} "
            f"without its modules: return ppl_vae.PyroFunction(fn, decoder=decoder, ...) with the nn.Modules it "
            "uses, so that they are trained and saved"
        )
    if getattr(built, "contract", None) is None:
        built.contract = contract
    return built


def build_pair(experiment: Experiment, shapes: dict[str, Any]) -> Pair:
    """Model and guide of the experiment, sized by ``shapes`` (see :func:`shapes_of`); the guide's
    ``latent_dim`` (and ``latent_dims``, the sizes of a hierarchy's layers) default to the model's."""
    load_plugins(experiment.plugins)
    model_table, guide_table = experiment.sections["model"], experiment.sections["guide"]
    context = {k: v for k, v in shapes.items() if k != "image_shape"}
    model = _built(MODELS, model_table, context, model_contract(model_table["name"], model_table))
    guide_context = {
        **context,
        "latent_dim": getattr(model, "latent_dim", None),
        "latent_dims": getattr(model, "latent_dims", None),
    }
    guide = _built(GUIDES, guide_table, guide_context, guide_contract(guide_table["name"], guide_table))
    return Pair(model, guide, model_table["name"], guide_table["name"])


def place(data: Dataset, device: torch.device) -> Dataset:
    """The data on ``device`` when it fits (always on the CPU); otherwise its splits stay on the CPU,
    pinned, and batches move one at a time."""
    if device.type == "cpu":
        return data
    tensors = [t for s in data.splits().values() for t in (s.x, s.y) if t is not None]
    nbytes = sum(t.element_size() * t.numel() for t in tensors)
    if fits_on(device, nbytes):
        return data.with_splits({name: s.to(device) for name, s in data.splits().items()})
    pinned = {
        name: type(s)(s.x.pin_memory(), None if s.y is None else s.y.pin_memory()) for name, s in data.splits().items()
    }
    return data.with_splits(pinned)


def run_record(
    raw: Dataset, shapes: dict[str, Any], pair: Pair, device: torch.device, dtype: str, world_size: int = 1
) -> dict[str, Any]:
    """``run.json``: the raw data's record (fingerprint, pinned options), the shapes the pair was built
    with, plate nesting, device, dtype and the number of training processes."""
    return {
        "format": "ppl_vae.run/1",
        "data": data_record(raw),
        "shapes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in shapes.items()},
        "max_plate_nesting": pair.max_plate_nesting,
        "device": str(device),
        "dtype": dtype,
        "world_size": world_size,
    }


def resolved_experiment(experiment: Experiment, raw: Dataset, shapes: dict[str, Any]) -> Experiment:
    """``experiment`` as a run records it (``experiment.toml``): the engine's defaults filled in
    (:meth:`~ppl_vae.core.config.Experiment.resolved`), the data factory's resolved options pinned, and the
    defaults of the dataset's, the model's and the guide's constructors written out (those TOML can write;
    the arguments the data gives, such as shapes, are not written: they are in ``run.json``)."""
    sections = experiment.resolved()
    sections["data"] = with_defaults(DATASETS, {**sections["data"], **raw.options})
    given = tuple(shapes)
    sections["model"] = with_defaults(MODELS, sections["model"], given)
    sections["guide"] = with_defaults(GUIDES, sections["guide"], (*given, "latent_dim", "latent_dims"))
    return Experiment(sections)


def prepare(
    experiment: Experiment, device: str | None = None, recorded: dict[str, Any] | None = None, world: World = SINGLE
) -> Prepared:
    """Load and check the data, build the pair (seeded) and check the pairing; writes nothing.

    ``device`` overrides ``training.device``. ``recorded``: a run's ``run.json``, whose data
    fingerprint the loaded data must match (a command rebuilding a run's data). ``world``: the
    processes of a distributed run; this one joins their group (``ppl_vae.train.distributed``).
    """
    training = experiment.training
    load_plugins(experiment.plugins)
    model_table = experiment.sections["model"]
    contract = model_contract(model_table["name"], model_table)
    dtype = DTYPES[training.dtype]
    raw, data, levels, notes = load_data(
        experiment.sections["data"], contract, training.seed, dtype, None if recorded is None else recorded["data"]
    )
    shapes = shapes_of(data, levels)
    experiment = resolved_experiment(experiment, raw, shapes)
    resolved, note = connect(world, device or training.device, training.backend)
    torch.manual_seed(training.seed)
    pair = build_pair(experiment, shapes).to(resolved, dtype)
    data = place(data, resolved)
    probe = data.valid
    pair.check(probe.x[:PROBE_SIZE], None if probe.y is None else probe.y[:PROBE_SIZE])
    check_partial_labels(data, training, pair.model_contract)
    strategy = make_strategy(pair, training, world)
    if world.active:
        torch.manual_seed(training.seed + RANK_SEED_STRIDE * world.rank)
    record = run_record(raw, shapes, pair, resolved, training.dtype, world.size)
    section = experiment.sections["data"]
    record["data"]["labelled"] = labelled_record(data, section["labels"], section["labels_seed"])
    return Prepared(experiment, data, pair, strategy, record, [note, *notes] if note else notes)
