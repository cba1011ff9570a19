"""Integration on the real data files (marked slow; skipped without ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.data.datasets import load_binarized_mnist, load_fashion_mnist, load_mnist
from ppl_vae.runs.training import train_experiment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "binarized_mnist").is_dir(), reason=f"real data not found at {SHARED}"),
]


def test_binarized_mnist_files_match_their_readme():
    data = load_binarized_mnist(str(SHARED), download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (50000, 10000, 10000)
    assert data.x_shape == (1, 28, 28) and data.levels == 2
    assert data.train.x.float().mean().item() == pytest.approx(0.1306, abs=5e-4)
    assert data.test.y is not None and data.test.y.tolist() == sorted(data.test.y.tolist())


@pytest.mark.parametrize(("loader", "train_mean"), [(load_mnist, 33.32), (load_fashion_mnist, 72.94)])
def test_standard_splits_of_the_full_grey_sets(loader, train_mean):
    data = loader(str(SHARED), download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (55000, 5000, 10000)
    assert data.options == {"split": "standard"} and data.levels == 256
    whole = (data.train.x.double().sum() + data.valid.x.double().sum()) / 60000 / 784
    assert whole.item() == pytest.approx(train_mean, abs=0.01)
    test_only = loader(str(SHARED), download=False, split="test_only")
    assert (len(test_only.train), len(test_only.valid), len(test_only.test)) == (8000, 1000, 1000)


@pytest.mark.parametrize("name", ["conv_mnist", "conv_binarized_mnist"])
def test_conv_experiments_train_an_epoch_and_every_command_works(name, tmp_path):
    overrides = [f"data.data_dir='{SHARED}'", "training.epochs=1", "evaluation.iw_samples=20"]
    overrides += ["evaluation.ppc_examples=100", "evaluation.ppc_samples=5"]
    run = train_experiment(load_experiment(name, overrides), tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["dimensions"] == 784 and summary["event_shape"] == [1, 28, 28]
    assert summary["test_importance_weighted"]["iw_log_likelihood_nats"] < 0
    for argv in (["evaluate", str(run), "--iw-samples", "10", "--limit", "50"], ["sample", str(run)]):
        assert main(argv) == 0
    assert main(["ppc", str(run), "--num-samples", "3", "--limit", "50"]) == 0


def test_mnist_quadrants_and_conditional_experiments_build():
    from ppl_vae.data.tasks import load_quadrants
    from ppl_vae.runs.prepare import prepare

    data = load_quadrants("mnist", 1, data_dir=str(SHARED), download=False)
    assert (data.x_shape, data.y_shape, len(data.train)) == ((196,), (588,), 55000)
    for name in ("quadrants_mnist", "quadrants_mnist_baseline", "conditional_mnist"):
        prepared = prepare(load_experiment(name, [f'data.data_dir="{SHARED}"']), "cpu")
        assert prepared.data.dynamic_binarization and prepared.pair.max_plate_nesting == 1
        assert prepared.experiment.sections["data"]["split"] == "standard"
