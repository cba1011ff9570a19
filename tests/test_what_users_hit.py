"""Failures users meet, each tried as a public bug report of another package described it: the right sentence, or
the right value, on the command line and in Python alike, and nothing written or lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from ppl_vae import Pair, Trainer, TrainingConfig
from ppl_vae.cli import main
from ppl_vae.core.errors import DataError, PairingError
from ppl_vae.data import Dataset, Split
from ppl_vae.data.datasets import load_digits
from ppl_vae.data.transforms import binarize, to_floating
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.bounds import elbo_per_example, reconstruction_log_likelihood
from ppl_vae.models import BernoulliVAE
from tests.conftest import FAST

BROADCASTING = """
    import math

    import pyro
    import pyro.distributions as dist
    from torch import nn
    from torch.distributions import constraints

    from ppl_vae import ModelContract, PyroFunction, register_model


    @register_model("test_broadcasting_vae", contract=ModelContract(support=constraints.boolean))
    def broadcasting_vae(x_shape, latent_dim=4, event_dims=2):
        decoder = nn.Sequential(nn.Linear(latent_dim, math.prod(x_shape)), nn.Unflatten(-1, x_shape))

        def model(x=None, y=None, num_samples=None):
            n = x.shape[0] if x is not None else num_samples
            with pyro.plate("data", n):
                z = pyro.sample("z", dist.Normal(decoder[0].weight.new_zeros(n, latent_dim), 1.0).to_event(1))
                return pyro.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(event_dims), obs=x)

        return PyroFunction(model, decoder=decoder)
"""

IMAGES = """
    import torch

    from ppl_vae import register_dataset, register_statistic
    from ppl_vae.data import Dataset, Split


    @register_statistic("test_top_row_ink")
    def top_row_ink(images):
        return images[:, 0, :].sum(-1)


    @register_dataset("test_images")
    def images(channels: int = 1, height: int = 20, width: int = 10, low: float = 0.0, levels: int = 0, n: int = 120):
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(n, channels, height, width, generator=generator) * (1 - low) + low
        if levels:
            x = (x * (levels - 1)).round() / (levels - 1)
        cut = [int(0.7 * n), int(0.85 * n)]
        splits = [Split(x[a:b]) for a, b in zip([0, *cut], [*cut, n])]
        return Dataset("images", *splits, levels=levels or None, image_shape=(channels, height, width))


    @register_dataset("test_vectors")
    def vectors(n: int = 150, width: int = 12):
        generator = torch.Generator().manual_seed(0)
        x = torch.bernoulli(torch.full((n, width), 0.3), generator=generator)
        y = torch.randint(0, 3, (n,), generator=generator)
        splits = [Split(x[a:b], y[a:b]) for a, b in ((0, 100), (100, 125), (125, n))]
        return Dataset("vectors", *splits, num_classes=3, levels=2)
"""


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("user_plugins")
    (folder / "broadcasting.py").write_text(textwrap.dedent(BROADCASTING))
    (folder / "images.py").write_text(textwrap.dedent(IMAGES))
    return folder


def experiment(folder: Path, body: str) -> str:
    """An experiment file that loads both plugins, then ``body``."""
    path = folder / f"experiment_{abs(hash(body))}.toml"
    plugins = f'["{folder / "images.py"}", "{folder / "broadcasting.py"}"]'
    path.write_text(f"[experiment]\nplugins = {plugins}\n\n{textwrap.dedent(body)}")
    return str(path)


def one_sentence(capsys) -> str:
    error = capsys.readouterr().err
    assert error.startswith("ppl-vae: error: ") and error.count("\n") == 1, error
    return error


@pytest.mark.parametrize(("shape", "declared"), [((1, 20, 10), 2), ((1, 7, 1), 2), ((1, 1, 12), 1)])
def test_a_likelihood_that_broadcasts_across_examples_is_refused_before_anything_is_written(
    shape, declared, plugins, tmp_path, capsys
):
    """``.to_event(k)`` with k smaller than the example's dimensions gives an (N, N, ...) table of log-densities:
    every image scored against every z. The pairing check names the site and what to declare."""
    body = f"""
        [data]
        name = "test_images"
        binarize = "threshold"
        channels = {shape[0]}
        height = {shape[1]}
        width = {shape[2]}

        [model]
        name = "test_broadcasting_vae"
        event_dims = {declared}
        """
    run = tmp_path / "run"
    spec = experiment(plugins, body)
    assert main(["train", spec, "--run-dir", str(run), *[f"--set={s}" for s in FAST if "decoder" not in s]]) == 1
    error = one_sentence(capsys)
    assert "the model's site 'x' has batch shape" in error and "must have 3 event dimension(s)" in error
    assert f"not {declared}" in error and not run.exists()


def test_the_python_api_checks_the_data_as_the_command_line_does():
    """A Bernoulli VAE given the digits' grey levels through Python: the sentence the command line gives, not
    Pyro's validation dump, from the pairing check, the trainer and every estimator."""
    model, guide = BernoulliVAE((1, 8, 8), 4), GaussianEncoder((1, 8, 8), 4)
    grey = to_floating(load_digits())
    pair = Pair(model, guide)
    sentence = "values that are not 0 or 1 but the model has a Bernoulli likelihood; binarize it"
    for call in (
        lambda: pair.check(grey.valid.x[:8]),
        lambda: Trainer(pair, grey, TrainingConfig(epochs=1), verbose=False),
        lambda: elbo_per_example(pair, grey.test.x),
        lambda: reconstruction_log_likelihood(pair, grey.test.x),
        lambda: importance_weighted_log_likelihood(pair, grey.test.x[:5], num_samples=5),
    ):
        with pytest.raises(DataError, match=sentence):
            call()
    nan = binarize(grey, "threshold", model.contract)
    nan.train.x[0, 0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="the train split of digits, x, has 1 NaN or infinite values"):
        Trainer(pair, nan, TrainingConfig(epochs=1), verbose=False)
    from ppl_vae.models import DiscretizedLogisticVAE

    logistic = Pair(DiscretizedLogisticVAE((1, 8, 8), 4, levels=17), GaussianEncoder((1, 8, 8), 4))
    off_grid = grey.with_splits({"train": Split(grey.train.x * 0.99, grey.train.y)})
    with pytest.raises(DataError, match="the train split of digits, x, has .* values off the grid k / 16 of its 17"):
        Trainer(logistic, off_grid, TrainingConfig(epochs=1), verbose=False)


@pytest.mark.parametrize("mode", ["auto", "threshold", "dynamic"])
@pytest.mark.parametrize("low", [-1.0, -0.2])
def test_data_outside_the_unit_interval_is_never_thresholded_silently(mode, low, plugins, tmp_path, capsys):
    """Images normalized to [-1, 1] (the torchvision habit), no levels declared, under the Bernoulli model: refused
    in one sentence by every binarization, which reads intensities in [0, 1]; in Python alike."""
    spec = experiment(plugins, f'[data]\nname = "test_images"\nlow = {low}\nbinarize = "{mode}"\n')
    assert main(["train", spec, "--run-dir", str(tmp_path / "run"), *[f"--set={s}" for s in FAST]]) == 1
    error = one_sentence(capsys)
    assert "values outside [0, 1]" in error and f"data.binarize = '{'threshold' if mode == 'auto' else mode}'" in error
    assert "x = (x + 1) / 2" in error and not (tmp_path / "run").exists()
    x = torch.rand(30, 4) * 2 - 1
    data = Dataset("normalized", Split(x[:10]), Split(x[10:20]), Split(x[20:]))
    with pytest.raises(DataError, match=r"values outside \[0, 1\]"):
        binarize(data, mode, BernoulliVAE.contract)


def test_sampling_vector_data_writes_the_draws_and_a_label_says_what_was_drawn(plugins, tmp_path, capsys):
    vectors = experiment(plugins, '[data]\nname = "test_vectors"\n')
    run = tmp_path / "vectors"
    assert main(["train", vectors, "--run-dir", str(run), *[f"--set={s}" for s in FAST]]) == 0
    assert main(["sample", str(run), "--num-samples", "7"]) == 0
    assert "7 draws x ~ p(x) (vector data: no image)" in capsys.readouterr().out
    draws = np.load(run / "samples-seed0.npz")
    assert draws["x"].shape == (7, 12) and set(np.unique(draws["x"])) <= {0.0, 1.0}
    assert main(["sample", str(run), "--output", str(tmp_path / "draws.png")]) == 1
    assert "must be a .npz file" in one_sentence(capsys)
    labelled = tmp_path / "labelled"
    conditional = ["model.name='conditional_vae'", "guide.name='conditional_encoder'", *FAST]
    assert main(["train", vectors, "--run-dir", str(labelled), *[f"--set={s}" for s in conditional]]) == 0
    assert main(["sample", str(labelled), "--label", "2", "--num-samples", "5"]) == 0
    capsys.readouterr()
    assert (np.load(labelled / "samples-label2-seed0.npz")["y"] == 2).all()
    images = tmp_path / "images"
    assert main(["train", "conditional_digits", "--run-dir", str(images), *[f"--set={s}" for s in FAST]]) == 0
    assert main(["sample", str(images), "--label", "3", "--num-samples", "6"]) == 0
    out = capsys.readouterr().out
    assert "6 samples of class 3" in out and "grid" not in out


def test_a_writer_killed_mid_write_leaves_no_temporary_behind(tmp_path, fast_experiment):
    from ppl_vae.runs.training import resume, train_experiment

    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    (run / "summary.json").unlink()
    stale = [run / ".checkpoint.pt.abc123.tmp", run / ".summary.json.x1.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    (run / ".staged-q1").mkdir()
    resume(run)
    assert not any(p.exists() for p in stale) and not (run / ".staged-q1").exists()


def test_an_error_of_a_plugin_model_is_one_line_without_pyros_shape_tables(plugins, tmp_path, capsys):
    """A plugin model that fails inside Pyro (a batch shape that cannot broadcast with the plate): Pyro appends its
    trace-shape table to the message; the sentence keeps the message, drops the table, and the user's traceback
    follows it."""
    body = '[data]\nname = "test_images"\nbinarize = "threshold"\n\n[model]\nname = "test_broadcasting_vae"\n'
    spec = experiment(plugins, body + "event_dims = 1\n")
    fast = [f"--set={s}" for s in FAST if "decoder" not in s]
    assert main(["train", spec, "--run-dir", str(tmp_path / "run"), *fast]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("ppl-vae: error: the model 'test_broadcasting_vae' fails on a batch of 8 examples")
    assert "Shape mismatch inside plate('data') at site x" in first and "its traceback follows" in first
    assert "Trace Shapes" not in first and "Sample Sites" not in first


def test_a_pair_that_broadcasts_is_refused_in_python_too():
    import pyro
    import pyro.distributions as dist
    from torch import nn
    from torch.distributions import constraints

    from ppl_vae import ModelContract

    class Broadcasting(nn.Module):
        contract = ModelContract(support=constraints.boolean)

        def __init__(self):
            super().__init__()
            self.decoder = nn.Linear(4, 200)

        def forward(self, x=None, y=None, num_samples=None):
            n = x.shape[0] if x is not None else num_samples
            with pyro.plate("data", n):
                z = pyro.sample("z", dist.Normal(self.decoder.weight.new_zeros(n, 4), 1.0).to_event(1))
                logits = self.decoder(z).reshape(n, 1, 20, 10)
                return pyro.sample("x", dist.Bernoulli(logits=logits).to_event(2), obs=x)

    pair = Pair(Broadcasting(), GaussianEncoder((1, 20, 10), 4))
    with pytest.raises(PairingError, match=r"site 'x' has batch shape \(8, 8\) .* must have 3 event dimension"):
        pair.check(torch.bernoulli(torch.full((8, 1, 20, 10), 0.5)))


def test_a_plugin_statistic_is_named_in_a_new_process_and_a_partial_check_keeps_the_whole_one(plugins, tmp_path):
    """The run's plugins load before the statistics are looked up (a fresh process has not imported them), and a
    check of chosen statistics is written beside the check of all of them, never over it."""
    run = tmp_path / "images"
    images = experiment(plugins, '[data]\nname = "test_images"\n')
    assert main(["train", images, "--run-dir", str(run), *[f"--set={s}" for s in FAST]]) == 0
    command = [sys.executable, "-m", "ppl_vae", "ppc", str(run), "--num-samples", "3", "--limit", "10"]
    whole = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    some = subprocess.run([*command, "--statistic", "test_top_row_ink"], capture_output=True, text=True, timeout=120)
    assert some.returncode == 0, some.stderr
    everything = json.loads((run / "ppc-test-random10-seed0-S3.json").read_text())["statistics"]
    chosen = json.loads((run / "ppc-test-random10-seed0-S3-test_top_row_ink.json").read_text())["statistics"]
    assert {"total_ink", "test_top_row_ink"} <= set(everything) and "test_top_row_ink" in chosen
    assert "total_ink" not in chosen
