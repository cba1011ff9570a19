"""The ``mlflow`` logger: one MLflow run per run directory, through ``mlflow.tracking.MlflowClient``.

Options (keys of its table in ``training.loggers``): ``tracking_uri`` (default: MLflow's own, the environment's
``MLFLOW_TRACKING_URI`` or MLflow's default store), ``experiment_name`` (default: the experiment's name).
The MLflow run is named after the run directory and tagged ``ppl_vae.run_dir`` with its absolute path, so that
a resumed run continues the same MLflow run. Logged:

- params: the resolved experiment, dotted keys (``training.learning_rate``), when the run starts;
- metrics: every figure of the epoch record under its own name, step = epoch;
- artifacts: the run's files at the end (figures, ``summary.json``, ``metrics.csv``, ``experiment.toml``,
  ``run.json``); the run ends ``FINISHED``, ``FAILED`` or ``KILLED`` (interrupted).

Nothing global is set (no ``mlflow.set_tracking_uri``, no active run): the client is this logger's own. Needs
``pip install 'ppl_vae[mlflow]'``. MLflow's refusals (a store it cannot open, a server it cannot reach) are one
sentence (:class:`~ppl_vae.core.errors.TrackerError`); the run directory keeps every finished epoch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ppl_vae.core.config import Experiment
from ppl_vae.core.errors import TrackerError, one_line
from ppl_vae.core.registry import register_logger
from ppl_vae.report.loggers import Logger, epoch_values
from ppl_vae.train.trainer import EpochRecord

RUN_TAG = "ppl_vae.run_dir"
STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}
PARAMS_PER_CALL = 100
OPEN = "open its tracking store"  # MLflow's limit on params in one log_batch


@register_logger("mlflow")
class MLflowLogger(Logger):
    """Logs a run to MLflow (see the module's docstring)."""

    requires = ("mlflow",)
    install = "ppl_vae[mlflow]"

    def __init__(
        self, run_dir: Path, experiment: Experiment, resumed: bool, tracking_uri: str = "", experiment_name: str = ""
    ):
        super().__init__(run_dir, experiment, resumed)
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri or "MLflow's default store"
        with self.refusals(OPEN):
            self.client = MlflowClient(tracking_uri or None)
            self.uri = self.client.tracking_uri
            name = experiment_name or experiment.name
            found = self.client.get_experiment_by_name(name)
            experiment_id = found.experiment_id if found else self.client.create_experiment(name)
            path = str(self.run_dir.resolve())
            run = self.previous_run(experiment_id, path) if resumed else None
            if run is None:
                run = self.client.create_run(experiment_id, tags={RUN_TAG: path}, run_name=self.run_dir.name)
            self.run_id = run.info.run_id

    @contextlib.contextmanager
    def refusals(self, action: str) -> Iterator[None]:
        """A context turning MLflow's exceptions while doing ``action`` into one sentence (MLflow's first)."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except (MlflowException, OSError) as error:
            said = one_line(error).split(". ")[0].rstrip(".")
            if action == OPEN:
                remedy = (
                    "give the mlflow logger a tracking_uri (a server; sqlite:///FILE with the full mlflow package; a "
                    "folder with MLFLOW_ALLOW_FILE_STORE=true) or set MLFLOW_TRACKING_URI, and train again"
                )
            else:
                remedy = "the run directory keeps every finished epoch: resume it once MLflow takes it"
            raise TrackerError(f"MLflow could not {action} at {self.uri} ({said}); {remedy}") from error

    def previous_run(self, experiment_id: str, path: str):
        """The MLflow run an earlier session of this run directory logged to, or None."""
        quote = '"' if "'" in path else "'"
        runs = self.client.search_runs([experiment_id], f"tags.`{RUN_TAG}` = {quote}{path}{quote}", max_results=1)
        return runs[0] if runs else None

    def log_hyperparameters(self, values: dict[str, str | int | float | bool]) -> None:
        from mlflow.entities import Param

        params = [Param(key, str(value)) for key, value in values.items()]
        with self.refusals("log the experiment"):
            for start in range(0, len(params), PARAMS_PER_CALL):
                self.client.log_batch(self.run_id, params=params[start : start + PARAMS_PER_CALL])

    def log_epoch(self, record: EpochRecord) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(name, value, now, record.epoch) for name, value in epoch_values(record).items()]
        with self.refusals(f"log epoch {record.epoch}"):
            self.client.log_batch(self.run_id, metrics=metrics)

    def log_files(self, summary: dict[str, Any], files: list[Path]) -> None:
        with self.refusals("log the run's files"):
            for path in files:
                self.client.log_artifact(self.run_id, str(path))

    def close(self, status: str) -> None:
        with self.refusals("end its run"):
            self.client.set_terminated(self.run_id, STATUS[status])
