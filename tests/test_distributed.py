"""Data-parallel training: two gloo processes on the CPU give the single-process parameters, and resume."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ppl_vae.core.config import load_experiment
from ppl_vae.core.errors import ConfigError, RunError
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.checkpoint import load_checkpoint
from ppl_vae.train.distributed import World, check_batch
from tests.conftest import killable_experiment

EXPERIMENT = """
[guide]
name = "delta_encoder"

[guide.encoder]
name = "mlp"
hidden = [32]

[model.decoder]
hidden = [32]

[training]
strategy = "test_killable"
beta = 0.0
epochs = 3
batch_size = 100
device = "cpu"

[evaluation]
iw_samples = 5
ppc_examples = 0
"""


def torchrun(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "ppl_vae", *argv]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)


def test_two_processes_match_one_and_resume_after_kill_9(tmp_path, killable_plugin):
    """A deterministic objective (an autoencoder, beta = 0) makes the updates comparable: the last global
    batch (57 examples) is split 29 / 28 between the ranks."""
    experiment = killable_experiment(tmp_path, killable_plugin, EXPERIMENT)
    single = train_experiment(load_experiment(experiment), tmp_path / "single")
    two = tmp_path / "two"
    killed = torchrun("train", experiment, "--run-dir", str(two), env={"PPL_VAE_TEST_KILL_AT": "20"})
    assert killed.returncode != 0
    assert load_checkpoint(two / "checkpoint.pt")["epoch"] == 1  # killed in epoch 2 of 13 steps each
    done = torchrun("train", "--resume", str(two))
    assert done.returncode == 0, done.stderr[:3000]  # the first rank to fail says why first
    assert "processes" in (two / "summary.json").read_text()
    a, b = load_trained(single, "cpu").pair.state_dict(), load_trained(two, "cpu").pair.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a), max(
        (a[k] - b[k]).abs().max().item() for k in a
    )
    state = load_checkpoint(two / "checkpoint.pt")
    assert len(state["rng"]) == 2 and state["epoch"] == 3
    with pytest.raises(RunError, match="was trained by 2 process"):
        resume(two)


@pytest.mark.slow
def test_a_last_batch_smaller_than_the_ranks_still_gives_the_single_process_update(tmp_path, killable_plugin):
    """37 training digits in global batches of 4: the last holds 1 example, so rank 1's share of it is empty; that
    step sums the gradients after the backward pass, the others through DistributedDataParallel."""
    body = EXPERIMENT.replace("batch_size = 100", "batch_size = 4").replace("epochs = 3", "epochs = 2")
    experiment = killable_experiment(tmp_path, killable_plugin, body + "\n[data]\nvalid_size = 1400\n")
    single = train_experiment(load_experiment(experiment), tmp_path / "single")
    done = torchrun("train", experiment, "--run-dir", str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[:3000]
    a, b = load_trained(single, "cpu").pair.state_dict(), load_trained(tmp_path / "two", "cpu").pair.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4) for k in a)


def test_batches_the_ranks_cannot_share_are_refused():
    check_batch(World(0, 4), 100)
    with pytest.raises(ConfigError, match="not divisible by the 3 processes; give 99 or 102"):
        check_batch(World(0, 3), 100)
    with pytest.raises(ConfigError, match="4 processes need at least as many examples per batch"):
        check_batch(World(0, 4), 2)
    shards = [World(r, 3).shard(torch.arange(10)).tolist() for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_other_commands_refuse_torchrun(capsys, monkeypatch):
    from ppl_vae.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["evaluate", "somewhere"]) == 1
    assert "only 'train' runs under torchrun" in capsys.readouterr().err
