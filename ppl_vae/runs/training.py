"""Training an experiment into a run directory, and resuming an interrupted run; the end-of-run report."""

from __future__ import annotations

import contextlib
import csv
import io
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ppl_vae.core.config import Experiment
from ppl_vae.core.errors import CheckpointError, RunError
from ppl_vae.core.files import write_json, write_text
from ppl_vae.report.context import ReportContext, RunView
from ppl_vae.report.loggers import Tracking, check_loggers
from ppl_vae.report.summary import run_reports, scores
from ppl_vae.runs.directory import (
    CHECKPOINT,
    EXPERIMENT,
    RUN_INFO,
    SUMMARY,
    check_new_run_dir,
    make_run_dir,
    new_default_run_dir,
    read_run_experiment,
    read_run_info,
)
from ppl_vae.runs.lock import RunLock
from ppl_vae.runs.prepare import Prepared, prepare
from ppl_vae.train.checkpoint import load_checkpoint
from ppl_vae.train.distributed import SINGLE, World, connect, on_main
from ppl_vae.train.trainer import EpochRecord, Trainer


def write_metrics(path: Path, history: list[EpochRecord]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EpochRecord.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in history)
    write_text(path, buffer.getvalue())


def _trainer(prepared: Prepared, run_dir: Path, callbacks, world: World, tracking: Tracking) -> Trainer:
    def metrics(trainer: Trainer, _: EpochRecord) -> None:
        write_metrics(run_dir / "metrics.csv", trainer.history)

    callbacks = [metrics, tracking.epoch, *callbacks] if world.main else list(callbacks)
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
    In a distributed run every rank trains and rank 0 alone makes and writes the directory, and logs to the
    experiment trackers of ``training.loggers`` (``ppl_vae.report.loggers``).
    """
    check_loggers(experiment.training)
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
        make_run_dir(run_dir, exist_ok=True)
        return run_dir

    run_dir = Path(world.broadcast(str(on_main(world, claim))))

    def start() -> None:
        check_new_run_dir(run_dir)
        write_text(run_dir / EXPERIMENT, prepared.experiment.to_toml())
        write_json(run_dir / RUN_INFO, prepared.record)

    with _writer(run_dir, "train", world):
        on_main(world, start)
        with Tracking(prepared.experiment, run_dir, resumed=False, enabled=world.main) as tracking:
            trainer = _trainer(prepared, run_dir, callbacks, world, tracking)
            trainer.fit()
            if world.main:
                tracking.finish(report(prepared, trainer, run_dir))
    return run_dir


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
        if not (run_dir / CHECKPOINT).is_file():
            raise RunError(
                f"{run_dir} has no checkpoint: its training failed before it started; train into it again "
                f"(ppl-vae train EXPERIMENT --run-dir {run_dir})"
            )
        state = load_checkpoint(run_dir / CHECKPOINT)
        check_loggers(experiment.training)
        prepared = prepare(experiment, device, recorded=info, world=world)
        tracking = Tracking(prepared.experiment, run_dir, resumed=True, enabled=world.main)
        trainer = _trainer(prepared, run_dir, callbacks, world, tracking)
        try:
            trainer.load_state_dict(state, run_dir / CHECKPOINT)
        except KeyError as error:
            raise CheckpointError(f"checkpoint {run_dir / CHECKPOINT} lacks the entry {error}") from error
        if trainer.finished and (run_dir / SUMMARY).exists():
            raise RunError(f"{run_dir} already finished (epoch {trainer.epoch}); nothing to resume")
        with tracking:
            trainer.fit()
            if world.main:
                tracking.finish(report(prepared, trainer, run_dir))
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
        "scores": scores(contract),
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


