"""One writer per run directory, stale locks recovered, and exact resume after kill -9 mid-epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment, tomllib
from ppl_vae.core.errors import RunError
from ppl_vae.runs.lock import LOCK_FILE, RunLock
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.checkpoint import load_checkpoint
from tests.conftest import FAST, killable_experiment
from tests.test_cli import set_args


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run, "train"):
        assert main(["train", *set_args(), "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"is in use by 'ppl-vae train' (process {os.getpid()} on " in err and err.count("\n") == 1
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]


def test_two_concurrent_trainings_exactly_one_succeeds(tmp_path):
    """Also: without a terminal (here, a pipe; a log file, CI) training prints a line per epoch."""
    run = tmp_path / "run"

    def start(seed: int) -> subprocess.Popen:
        argv = ["train", *set_args(f"training.seed={seed}", "training.epochs=30"), "--run-dir", str(run)]
        return subprocess.Popen(
            [sys.executable, "-m", "ppl_vae", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    processes = {seed: start(seed) for seed in (0, 1)}
    results = {seed: (p.wait(timeout=300), p.stderr.read()) for seed, p in processes.items()}
    winners = [seed for seed, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    loser = results[1 - winners[0]]
    assert loser[0] == 1 and ("is in use by" in loser[1] or "already holds a run" in loser[1]), loser
    experiment = tomllib.loads((run / "experiment.toml").read_text())
    assert experiment["training"]["seed"] == winners[0]
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["epoch"] == 30 and state["finished"]
    lines = processes[winners[0]].stdout.read()
    assert "epoch 1/30: train" in lines and "epoch 30/30: train" in lines


def test_a_stale_lock_of_a_dead_process_is_recovered(tmp_path, fast_experiment):
    run = tmp_path / "run"
    run.mkdir()
    code = (
        "import os, pathlib, signal\n"
        "from ppl_vae.runs.lock import RunLock\n"
        f"RunLock(pathlib.Path({str(run)!r}), 'train').__enter__()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert b'"pid"' in (run / LOCK_FILE).read_bytes()  # the dead holder's record is still there
    train_experiment(fast_experiment("training.epochs=1"), run)
    assert (run / "summary.json").is_file()


def test_kill_9_in_the_middle_of_an_epoch_then_resume_is_bitwise_exact(tmp_path, killable_plugin):
    overrides = [*FAST, "training.epochs=4", "training.warmup_epochs=1.5", "training.strategy='test_killable'"]
    experiment = killable_experiment(tmp_path, killable_plugin)
    whole = train_experiment(load_experiment(experiment, overrides), tmp_path / "whole")
    command = [sys.executable, "-m", "ppl_vae", "train", experiment, "--run-dir", str(tmp_path / "cut")]
    command += [arg for o in overrides for arg in ("--set", o)]
    environment = {**os.environ, "PPL_VAE_TEST_KILL_AT": "20"}  # epoch 2 of 13 steps, in its middle
    done = subprocess.run(command, capture_output=True, timeout=300, env=environment)
    assert done.returncode == -signal.SIGKILL
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 1
    resume(tmp_path / "cut")
    a, b = load_trained(whole, "cpu").pair.state_dict(), load_trained(tmp_path / "cut", "cpu").pair.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("limit", [None, 40])
def test_limit_takes_a_seeded_random_subset(tmp_path, fast_experiment, limit, capsys):
    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    argv = ["evaluate", str(run), "--iw-samples", "5", "--device", "cpu"] + (
        [] if limit is None else ["--limit", str(limit)]
    )
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ("all 360 test examples" if limit is None else "a random 40 of the 360 (seed 0) test examples") in out


def test_a_run_that_fails_before_its_first_epoch_ends_can_be_trained_again_or_resumed(
    tmp_path, fast_experiment, capsys
):
    """A Gaussian VAE at a learning rate of 1e4 diverges in its first epoch: the sentence claims only what is true,
    the directory is reused by a new training with other settings, and a resume restarts from the initial state."""
    run = tmp_path / "run"
    diverging = ["model.name='gaussian_vae'", "data.binarize='none'", "training.learning_rate=1e4"]
    argv = ["train", "--run-dir", str(run), *[f"--set={s}" for s in [*FAST, *diverging]]]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert "before any epoch finished; train into" in error and "is reused" in error and "is kept" not in error
    assert load_checkpoint(run / "checkpoint.pt")["epoch"] == 0
    assert main(["train", "--resume", str(run)]) == 1  # the same settings diverge again, from the same state
    assert "before any epoch finished" in capsys.readouterr().err
    healthy = ["model.name='gaussian_vae'", "data.binarize='none'", "training.learning_rate=1e-3"]
    assert main(["train", "--run-dir", str(run), *[f"--set={s}" for s in [*FAST, *healthy]]]) == 0
    assert (run / "summary.json").exists() and "learning_rate = 0.001" in (run / "experiment.toml").read_text()


def test_a_crash_in_the_first_validation_leaves_a_directory_that_resumes(tmp_path, fast_experiment, monkeypatch):
    from ppl_vae.train.trainer import Trainer

    original = Trainer.validation_bound

    def crash(self):
        raise RuntimeError("a crash in validation")

    monkeypatch.setattr(Trainer, "validation_bound", crash)
    with pytest.raises(RuntimeError, match="a crash in validation"):
        train_experiment(fast_experiment(), tmp_path / "run")
    monkeypatch.setattr(Trainer, "validation_bound", original)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 0
    resume(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs_run"] == 3


def test_a_directory_with_a_finished_epoch_is_never_replaced(tmp_path, fast_experiment):
    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    (run / "summary.json").unlink()
    with pytest.raises(RunError, match="already holds a run; resume it with --resume"):
        train_experiment(fast_experiment(), run)
