"""Experiment trackers (``[training] loggers``): one file per tracker, each registered by name.

A run logs to ``metrics.csv`` always; ``loggers = ["tensorboard", "mlflow"]`` sends the same to the trackers
the field uses, on rank 0 alone in a ``torchrun`` run:

- when a run starts, the resolved experiment as hyperparameters (:func:`hyperparameters`: every key of
  ``experiment.toml``, dotted, such as ``training.learning_rate``);
- after every epoch, once its checkpoint is written, the epoch's record
  (:class:`~ppl_vae.train.trainer.EpochRecord`: ``train_objective``, ``valid_bound``, ``beta``,
  ``learning_rate``, ``gradient_norm``, ``seconds``) at step ``epoch``;
- at the end, the run's files (:func:`run_files`: the figures, ``summary.json``, ``metrics.csv``,
  ``experiment.toml``, ``run.json``; never the checkpoint) and the summary.

A resumed run continues what it logged (a resumed epoch was never logged: logging follows the checkpoint).
A logger is a subclass of :class:`Logger` registered with ``@register_logger("name")``, built as
``Logger(run_dir, experiment, resumed, **options)`` (``options``: the other keys of its table in
``training.loggers``, such as ``{name = "mlflow", tracking_uri = "http://host:5000"}``). The packages a logger
needs are optional extras of ppl_vae (``pip install 'ppl_vae[tensorboard]'``); a missing one is one sentence
(:class:`~ppl_vae.core.errors.TrackerError`) before anything is trained.

Built in: ``tensorboard`` (:mod:`.tensorboard`) and ``mlflow`` (:mod:`.mlflow`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from ppl_vae.core.config import Experiment, TrainingConfig, logger_tables
from ppl_vae.core.construct import construct
from ppl_vae.core.errors import TrackerError, UserError
from ppl_vae.core.registry import LOGGERS
from ppl_vae.train.trainer import EpochRecord, Trainer

NOT_LOGGED = {"checkpoint.pt"}  # large, and kept in the run directory


class Logger:
    """Base of experiment trackers. ``requires``: the modules the tracker imports, and ``install``: what to
    ``pip install`` when one is missing (checked by :func:`check_loggers` before a run starts)."""

    requires: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str] = ""

    def __init__(self, run_dir: Path, experiment: Experiment, resumed: bool):
        self.run_dir, self.experiment, self.resumed = Path(run_dir), experiment, resumed

    def log_hyperparameters(self, values: dict[str, str | int | float | bool]) -> None:
        """The resolved experiment, flattened (:func:`hyperparameters`); called once, when a run starts."""

    def log_epoch(self, record: EpochRecord) -> None:
        """One epoch's figures, nats per example, at step ``record.epoch``."""

    def log_files(self, summary: dict[str, Any], files: list[Path]) -> None:
        """The end-of-run ``summary`` (``summary.json``'s entries) and the run's files (:func:`run_files`)."""

    def close(self, status: str) -> None:
        """End the tracker's run: ``status`` is ``"finished"``, ``"failed"`` or ``"killed"`` (interrupted)."""


def check_loggers(config: TrainingConfig) -> None:
    """Refuse, in one sentence naming the ``pip install`` to run, a logger whose packages are not installed."""
    for table in logger_tables(config):
        cls = LOGGERS.get(table["name"])
        for module in getattr(cls, "requires", ()):
            if importlib.util.find_spec(module.split(".")[0]) is None:
                raise TrackerError(
                    f"training.loggers names '{table['name']}', which needs the package '{module.split('.')[0]}': "
                    f"pip install '{cls.install}'"
                )


def hyperparameters(experiment: Experiment) -> dict[str, str | int | float | bool]:
    """The experiment's sections flattened to dotted keys (``model.decoder.hidden``); lists as their TOML-like
    text (``[200, 200]``), everything else as it is."""
    flat: dict[str, str | int | float | bool] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                visit(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, (list, tuple)):
            flat[prefix] = "[" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in value) + "]"
        else:
            flat[prefix] = value

    visit("", experiment.sections)
    return flat


def run_files(run_dir: Path) -> list[Path]:
    """The files a tracker receives at the end of a run: the top-level files of ``run_dir`` except the checkpoint,
    the lock and temporaries (names starting with a dot), sorted by name."""
    return sorted(
        p for p in Path(run_dir).iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in NOT_LOGGED
    )


class Tracking:
    """The loggers of one training session, as a context: opened on entry (rank 0 only: ``enabled``), given
    every epoch's record as a trainer callback (:meth:`epoch`), the end-of-run files by :meth:`finish`, and
    closed on exit with the session's status."""

    def __init__(self, experiment: Experiment, run_dir: Path, resumed: bool, enabled: bool = True):
        self.experiment, self.run_dir, self.resumed = experiment, Path(run_dir), resumed
        self.tables = logger_tables(experiment.training) if enabled else []
        self.loggers: list[Logger] = []

    def __enter__(self) -> Tracking:
        context = {"run_dir": self.run_dir, "experiment": self.experiment, "resumed": self.resumed}
        try:
            for table in self.tables:
                self.loggers.append(construct(LOGGERS, table, context, "training.loggers"))
            if not self.resumed:
                values = hyperparameters(self.experiment)
                for logger in self.loggers:
                    logger.log_hyperparameters(values)
        except BaseException:
            self.close("failed")
            raise
        return self

    def epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        """A trainer callback: ``record`` to every logger."""
        for logger in self.loggers:
            logger.log_epoch(record)

    def finish(self, summary: dict[str, Any]) -> None:
        """The end-of-run summary and files to every logger."""
        files = run_files(self.run_dir)
        for logger in self.loggers:
            logger.log_files(summary, files)

    def close(self, status: str) -> None:
        """Close every logger opened so far with ``status``; after a failure, a logger that cannot close is
        passed over (the failure is what the user must see)."""
        loggers, self.loggers = self.loggers, []
        for logger in loggers:
            try:
                logger.close(status)
            except UserError:
                if status == "finished":
                    raise

    def __exit__(self, kind: type | None, *rest: object) -> None:
        self.close("finished" if kind is None else "killed" if issubclass(kind, KeyboardInterrupt) else "failed")


def epoch_values(record: EpochRecord) -> dict[str, float]:
    """The figures of an epoch record, by name, without the epoch itself (the step)."""
    return {k: float(v) for k, v in asdict(record).items() if k != "epoch"}
