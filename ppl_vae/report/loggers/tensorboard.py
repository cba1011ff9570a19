"""The ``tensorboard`` logger: event files in ``<run>/tensorboard/``, read by ``tensorboard --logdir runs``.

Written with torch's ``torch.utils.tensorboard.SummaryWriter`` (the ``tensorboard`` package must be installed:
``pip install 'ppl_vae[tensorboard]'``):

- scalars: every figure of the epoch record under its own name (``valid_bound``, ``train_objective``,
  ``beta``, ``learning_rate``, ``gradient_norm``, ``seconds``), step = epoch;
- hyperparameters: the resolved experiment in the HParams dashboard (with the epoch figures as its metrics),
  and ``experiment.toml`` as the text ``experiment``;
- at the end: every PNG figure of the run as the image ``figures/<name>`` and ``summary.json`` as the text
  ``summary``, at step ``epochs_run``.

A resumed run appends a new event file to the same folder; TensorBoard reads them as one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ppl_vae.core.config import Experiment
from ppl_vae.core.registry import register_logger
from ppl_vae.report.loggers import Logger, epoch_values
from ppl_vae.train.trainer import EpochRecord

FOLDER = "tensorboard"


def code_block(text: str) -> str:
    """``text`` as a Markdown code block (TensorBoard renders text summaries as Markdown)."""
    return "\n".join("    " + line for line in text.splitlines())


@register_logger("tensorboard")
class TensorBoardLogger(Logger):
    """Logs a run to TensorBoard event files in ``<run>/tensorboard`` (see the module's docstring)."""

    requires = ("tensorboard",)
    install = "ppl_vae[tensorboard]"

    def __init__(self, run_dir: Path, experiment: Experiment, resumed: bool):
        super().__init__(run_dir, experiment, resumed)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.run_dir / FOLDER))

    def log_hyperparameters(self, values: dict[str, str | int | float | bool]) -> None:
        from torch.utils.tensorboard.summary import hparams

        metrics = {name: 0.0 for name in EpochRecord.__dataclass_fields__ if name != "epoch"}
        for summary in hparams(values, metrics):  # into this run's own event file (add_hparams makes another run)
            self.writer.file_writer.add_summary(summary)
        self.writer.add_text("experiment", code_block(self.experiment.to_toml()))
        self.writer.flush()

    def log_epoch(self, record: EpochRecord) -> None:
        for name, value in epoch_values(record).items():
            self.writer.add_scalar(name, value, record.epoch)
        self.writer.flush()

    def log_files(self, summary: dict[str, Any], files: list[Path]) -> None:
        from matplotlib.image import imread

        epoch = summary.get("epochs_run", 0)
        for path in files:
            if path.suffix == ".png":
                self.writer.add_image(f"figures/{path.stem}", imread(path), epoch, dataformats="HWC")
        self.writer.add_text("summary", code_block(json.dumps(summary, indent=2)), epoch)
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.close()
