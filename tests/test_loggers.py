"""Experiment trackers: what TensorBoard and MLflow receive, read back with their own readers (no mocks)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppl_vae.core.config import load_experiment
from ppl_vae.core.errors import ConfigError, TrackerError, UnknownNameError
from ppl_vae.core.registry import register_logger
from ppl_vae.report.loggers import Logger, hyperparameters
from ppl_vae.runs.training import resume, train_experiment

TENSORBOARD = "the tensorboard extra is not installed: pip install 'ppl_vae[tensorboard]'"
MLFLOW = "the mlflow extra is not installed: pip install 'ppl_vae[mlflow]'"
FIELDS = ("train_objective", "valid_bound", "beta", "learning_rate", "gradient_norm", "seconds")


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def tensorboard_events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def test_tensorboard_and_mlflow_receive_every_epoch_the_experiment_and_the_files_across_a_resume(
    fast_experiment, tmp_path, monkeypatch
):
    pytest.importorskip("tensorboard", reason=TENSORBOARD)
    pytest.importorskip("mlflow", reason=MLFLOW)
    from mlflow.tracking import MlflowClient
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from tensorboard.util.tensor_util import make_ndarray

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its folder store behind this switch
    uri = (tmp_path / "mlruns").as_uri()
    table = f'{{name = "mlflow", tracking_uri = "{uri}", experiment_name = "tracked"}}'
    experiment = fast_experiment("training.epochs=3", f'training.loggers=["tensorboard", {table}]')

    def interrupt(trainer, record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(experiment, tmp_path / "run", callbacks=[interrupt])
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("tracked").experiment_id
    (interrupted,) = client.search_runs([experiment_id])
    assert interrupted.info.status == "KILLED"
    run_dir = resume(tmp_path / "run")
    rows = metrics(run_dir)
    assert all(float(r["gradient_norm"]) > 0 for r in rows)

    events = tensorboard_events(run_dir / "tensorboard")  # two sessions, two event files, one run
    for name in FIELDS:
        scalars = events.Scalars(name)
        assert [s.step for s in scalars] == [1, 2, 3]
        assert [s.value for s in scalars] == pytest.approx([float(r[name]) for r in rows], rel=1e-6)
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    logged = HParamsPluginData.FromString(content).session_start_info.hparams
    assert logged["training.learning_rate"].number_value == pytest.approx(3e-3)
    assert logged["model.decoder.hidden"].string_value == "[32]" and logged["data.name"].string_value == "digits"
    assert {"figures/elbo_curves", "figures/reconstructions", "figures/prior_samples"} <= set(events.Tags()["images"])
    text = make_ndarray(events.Tensors("summary/text_summary")[0].tensor_proto).item().decode()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert json.loads(text.replace("\n    ", "\n"))["test_elbo_nats"] == summary["test_elbo_nats"]

    (run,) = client.search_runs([experiment_id])
    assert run.info.run_id == interrupted.info.run_id and run.info.status == "FINISHED"
    for name in FIELDS:
        history = sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
        assert [m.step for m in history] == [1, 2, 3]
        assert [m.value for m in history] == pytest.approx([float(r[name]) for r in rows])
    assert run.data.params["training.learning_rate"] == "0.003" and run.data.params["model.latent_dim"] == "4"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"summary.json", "metrics.csv", "experiment.toml", "elbo_curves.png", "reconstructions.png"} <= artifacts
    assert "checkpoint.pt" not in artifacts


def test_an_mlflow_store_that_cannot_be_opened_is_one_sentence(fast_experiment, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason=MLFLOW)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    table = f'{{name = "mlflow", tracking_uri = "{(tmp_path / "mlruns").as_uri()}"}}'
    with pytest.raises(TrackerError, match="MLflow could not open its tracking store at file:") as error:
        train_experiment(fast_experiment(f"training.loggers=[{table}]"), tmp_path / "run")
    assert "\n" not in str(error.value) and "train again" in str(error.value)


@register_logger("test_absent")
class AbsentLogger(Logger):
    """A tracker whose package is not installed."""

    requires = ("ppl_vae_test_no_such_package",)
    install = "ppl_vae[absent]"


def test_a_missing_extra_is_one_sentence_naming_the_install_before_anything_is_written(fast_experiment, tmp_path):
    sentence = r"needs the package 'ppl_vae_test_no_such_package': pip install 'ppl_vae\[absent\]'"
    with pytest.raises(TrackerError, match=sentence):
        train_experiment(fast_experiment('training.loggers=["test_absent"]'), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_loggers_are_checked_when_the_experiment_is_read():
    with pytest.raises(UnknownNameError, match="unknown logger 'tensorbord'; valid loggers: .*tensorboard"):
        load_experiment(None, ['training.loggers=["tensorbord"]'])
    with pytest.raises(ConfigError, match="logger names or tables with a name"):
        load_experiment(None, ["training.loggers=[3]"])
    with pytest.raises(ConfigError, match="names 'mlflow' twice"):
        load_experiment(None, ['training.loggers=["mlflow", {name = "mlflow"}]'])
    with pytest.raises(ConfigError, match="loggers must be a list"):
        load_experiment(None, ['training.loggers="mlflow"'])


def test_hyperparameters_are_the_experiment_flattened():
    values = hyperparameters(load_experiment(None, ["model.decoder.hidden=[64, 32]"]))
    assert values["model.decoder.hidden"] == "[64, 32]" and values["model.latent_dim"] == 8
    assert values["data.name"] == "digits" and values["experiment.name"] == "default"


@pytest.mark.slow
def test_rank_0_alone_logs_in_a_torchrun_run(tmp_path):
    pytest.importorskip("tensorboard", reason=TENSORBOARD)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ppl_vae"]
    command += ["train", "--run-dir", str(tmp_path / "run")]
    for override in ("training.epochs=2", "training.device='cpu'", 'training.loggers=["tensorboard"]'):
        command += ["--set", override]
    command += ["--set", "evaluation.ppc_examples=0", "--set", "evaluation.iw_samples=5"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "run" / "tensorboard").iterdir())) == 1
    assert [s.step for s in tensorboard_events(tmp_path / "run" / "tensorboard").Scalars("valid_bound")] == [1, 2]
