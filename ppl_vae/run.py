"""Run directories: train an experiment into one, resume it, load its trained pair and its data.

A run directory holds:

- ``experiment.toml``: the resolved experiment (every default filled in, the data factory's
  choices pinned; ``ppl-vae train RUN/experiment.toml`` repeats the run);
- ``run.json``: which data the run saw (fingerprint of every split, pinned options), the
  shapes the pair was built with, device and dtype;
- ``metrics.csv``: one row per epoch (:class:`ppl_vae.train.EpochRecord`);
- ``checkpoint.pt``: the training state after the last finished epoch, written atomically;
- ``summary.json``: final figures (keys in :data:`ppl_vae.report.SUMMARY_KEYS`), and the files
  of the report hooks that apply (``ppl_vae.report_hooks``): ``elbo_curves.png``,
  ``reconstructions.png``, ``prior_samples.png`` or ``class_samples.png``, ``completions.png``,
  ``classification.*``, ``ppc.*``.

Every command that writes into a run directory holds its lock (``ppl_vae.lock``) meanwhile.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ppl_vae.build import Prepared, build_pair, load_data, place, prepare
from ppl_vae.checkpoint import load_checkpoint, load_module_state
from ppl_vae.config import Experiment, load_experiment
from ppl_vae.data.containers import Dataset
from ppl_vae.data.transforms import to_floating
from ppl_vae.device import DTYPES, resolve_device
from ppl_vae.distributed import SINGLE, World, connect, on_main
from ppl_vae.errors import CheckpointError, RunError
from ppl_vae.evaluate import importance_weighted_log_likelihood
from ppl_vae.lock import RunLock
from ppl_vae.pair import Pair
from ppl_vae.report import SCORES, ReportContext, RunView, run_reports, write_json, write_text
from ppl_vae.train import EpochRecord, Trainer

CHECKPOINT = "checkpoint.pt"
EXPERIMENT = "experiment.toml"
RUN_INFO = "run.json"


def _created(path: Path, exist_ok: bool) -> None:
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        if not exist_ok:
            raise
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir") from None
    except OSError as error:
        raise RunError(f"cannot create the run directory {path}: {error.strerror or error}") from None
    if not path.is_dir():
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir")


def holds_run(path: Path) -> bool:
    return (path / EXPERIMENT).exists() or (path / CHECKPOINT).exists()


def check_new_run_dir(path: Path) -> None:
    """Refuse, before any work, a ``--run-dir`` that is a file, cannot be a folder or already holds a run."""
    try:
        is_file = path.exists() and not path.is_dir()
    except OSError as error:
        raise RunError(f"cannot create the run directory {path}: {error.strerror or error}") from None
    if is_file:
        raise RunError(f"the run directory {path} is an existing file; choose another --run-dir")
    if holds_run(path):
        raise RunError(f"{path} already holds a run; resume it with --resume {path} or choose another --run-dir")


def new_default_run_dir(experiment: Experiment) -> Path:
    """Create ``runs/NAME-TIMESTAMP`` (``-2``, ``-3``... when taken); the creation itself claims the name,
    so two processes never share one."""
    base = Path("runs") / f"{experiment.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    candidate, suffix = base, 1
    while True:
        try:
            _created(candidate, exist_ok=False)
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = base.with_name(f"{base.name}-{suffix}")


def write_metrics(path: Path, history: list[EpochRecord]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EpochRecord.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in history)
    write_text(path, buffer.getvalue())


def _trainer(prepared: Prepared, run_dir: Path, callbacks, world: World) -> Trainer:
    def metrics(trainer: Trainer, _: EpochRecord) -> None:
        write_metrics(run_dir / "metrics.csv", trainer.history)

    callbacks = [metrics, *callbacks] if world.main else list(callbacks)
    training = prepared.experiment.training
    return Trainer(
        prepared.pair, prepared.data, training, run_dir / CHECKPOINT, callbacks, world=world, strategy=prepared.strategy
    )


def _writer(run_dir: Path, command: str, world: World):
    """The run directory's lock on rank 0 (the only writer); nothing on the other ranks."""
    return RunLock(run_dir, command) if world.main else contextlib.nullcontext()


def train_experiment(
    experiment: Experiment,
    run_dir: Path | None = None,
    callbacks=(),
    device: str | None = None,
    world: World = SINGLE,
) -> Path:
    """Train ``experiment`` into a new run directory (default ``runs/NAME-TIMESTAMP``); returns it.

    Everything is checked before the directory is made; ``device`` overrides ``training.device``.
    In a distributed run every rank trains and rank 0 alone makes and writes the directory.
    """
    connect(world, device or experiment.training.device, experiment.training.backend)
    if run_dir is not None:
        run_dir = Path(run_dir)
        on_main(world, lambda: check_new_run_dir(run_dir))
    prepared = prepare(experiment, device, world=world)
    if world.main:
        for note in prepared.notes:
            print(note)

    def claim() -> Path:
        if run_dir is None:
            return new_default_run_dir(experiment)
        _created(run_dir, exist_ok=True)
        return run_dir

    run_dir = Path(world.broadcast(str(on_main(world, claim))))

    def start() -> None:
        check_new_run_dir(run_dir)
        write_text(run_dir / EXPERIMENT, prepared.experiment.to_toml())
        write_json(run_dir / RUN_INFO, prepared.record)

    with _writer(run_dir, "train", world):
        on_main(world, start)
        trainer = _trainer(prepared, run_dir, callbacks, world)
        trainer.fit()
        if world.main:
            report(prepared, trainer, run_dir)
    return run_dir


def read_run_experiment(run_dir: Path) -> Experiment:
    path = Path(run_dir) / EXPERIMENT
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory: it has no {EXPERIMENT}")
    return load_experiment(str(path))


def read_run_info(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_INFO
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        raise RunError(
            f"{run_dir} has no readable {RUN_INFO}: it was made by an older ppl_vae; train it again"
        ) from None
    if info.get("format") != "ppl_vae.run/1":
        raise RunError(f"{path} is not a ppl_vae run record (expected format ppl_vae.run/1)")
    return info


def resume(run_dir: Path, callbacks=(), device: str | None = None, world: World = SINGLE) -> Path:
    """Continue an interrupted run from its checkpoint, with as many processes as it was trained with;
    refuses (touching nothing) on any mismatch."""
    run_dir = Path(run_dir)
    experiment = read_run_experiment(run_dir)
    with _writer(run_dir, "train --resume", world):
        info = read_run_info(run_dir)
        if info.get("world_size", 1) != world.size:
            raise RunError(
                f"{run_dir} was trained by {info.get('world_size', 1)} process(es); resume it with as many, "
                f"not {world.size}"
            )
        state = load_checkpoint(run_dir / CHECKPOINT)
        prepared = prepare(experiment, device, recorded=info, world=world)
        trainer = _trainer(prepared, run_dir, callbacks, world)
        try:
            trainer.load_state_dict(state, run_dir / CHECKPOINT)
        except KeyError as error:
            raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry {error}") from error
        if trainer.finished and (run_dir / "summary.json").exists():
            raise RunError(f"{run_dir} already finished (epoch {trainer.epoch}); nothing to resume")
        trainer.fit()
        if world.main:
            report(prepared, trainer, run_dir)
    return run_dir


def report(prepared: Prepared, trainer: Trainer, run_dir: Path) -> dict[str, Any]:
    """summary.json and the figures of a trained pair (best parameters loaded), through the report hooks."""
    experiment, data, pair = prepared.experiment, prepared.data, prepared.pair
    training, contract = experiment.training, pair.model_contract
    scored = pair.scored(data.test.x, data.test.y)
    shapes = prepared.record["shapes"]
    base = {
        "experiment": experiment.name,
        "data": data.description,
        "model": pair.model_name,
        "guide": pair.guide_name,
        "objective": trainer.strategy.describe(),
        "scores": SCORES[contract.conditioning] if contract.density else None,
        "levels": data.levels,
        "dequantized": shapes["levels"] is not None and not contract.discrete,
        "event_shape": list(scored.shape[1:]),
        "dimensions": scored[0].numel(),
        "device": prepared.record["device"],
        "dtype": prepared.record["dtype"],
        "processes": prepared.record["world_size"],
        "global_batch": training.batch_size,
        "epochs_run": trainer.epoch,
        "best_epoch": trainer.best_epoch,
        "stopped_early": trainer.epoch < training.epochs,
        "stopped_by": trainer.stopped_by(),
        "train_seconds": round(trainer.train_seconds(), 2),
        "valid_bound_nats": trainer.best_valid_bound if math.isfinite(trainer.best_valid_bound) else None,
    }
    view = RunView.of(pair, data.image_shape, data.num_classes)
    return run_reports(ReportContext(run_dir, experiment, pair, data, trainer.history, view), base)


@dataclass
class TrainedRun:
    """A run's experiment and its pair with the best parameters loaded; its data loads on demand.

    ``info`` is the run's ``run.json``; ``view`` what report hooks and sample figures read.
    """

    directory: Path
    experiment: Experiment
    pair: Pair
    info: dict[str, Any]
    view: RunView
    _data: Dataset | None = None
    _images: Dataset | None = None

    def _load(self) -> None:
        training = self.experiment.training
        dtype = DTYPES[training.dtype]
        raw, data, _, _ = load_data(
            self.experiment.sections["data"],
            self.pair.model_contract,
            training.seed,
            dtype,
            self.info["data"],
            str(self.directory),
        )
        self._data, self._images = place(data, self.pair.device), to_floating(raw, dtype)

    def data(self) -> Dataset:
        """The run's dataset, rebuilt as it was trained (pinned options, same transforms), on the pair's
        device; refused in one sentence when the files on disk no longer match the run's fingerprint."""
        if self._data is None:
            self._load()
        return self._data

    def images(self) -> Dataset:
        """The same data before binarization: values k / (levels - 1) in the run's dtype, on the CPU (the real
        images that samples are compared with, whatever the likelihood made of them)."""
        if self._images is None:
            self._load()
        return self._images

    def log_likelihood(self, x: Tensor, y: Tensor | None = None, num_samples: int = 1000, seed: int = 0) -> Tensor:
        """Per-example log-likelihood estimate (N,), nats: importance-weighted with K = ``num_samples``
        (exact for a model without latents); see ``ppl_vae.evaluate``."""
        return importance_weighted_log_likelihood(self.pair, x, y, num_samples, seed=seed).log_likelihood


def shapes_from(info: dict[str, Any]) -> dict[str, Any]:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in info["shapes"].items()}


def load_trained(run_dir: Path, device: str | None = None) -> TrainedRun:
    """Rebuild a run's pair from experiment.toml and run.json and load the kept (best) parameters.

    ``device``: where to put it (default ``auto``); any device can load a run trained on any other.
    """
    run_dir = Path(run_dir)
    experiment = read_run_experiment(run_dir)
    info = read_run_info(run_dir)
    state = load_checkpoint(run_dir / CHECKPOINT)
    if not state.get("epoch"):
        raise RunError(f"{run_dir} has no trained model yet (no finished epoch)")
    if "best" not in state:
        raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry 'best'")
    resolved, _ = resolve_device(device or "auto")
    shapes = shapes_from(info)
    torch.manual_seed(experiment.training.seed)
    pair = build_pair(experiment, shapes).to(resolved, DTYPES[info["dtype"]])
    pair.max_plate_nesting = info["max_plate_nesting"]
    load_module_state(pair, state["best"], "model and guide", run_dir / CHECKPOINT)
    view = RunView.of(pair, shapes["image_shape"], shapes["num_classes"])
    return TrainedRun(run_dir, experiment, pair, info, view)
