"""Integration on the real binarized MNIST files (marked slow; skipped without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppl_vae.config import load_experiment
from ppl_vae.data import load_binarized_mnist, load_mnist
from ppl_vae.run import train_experiment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "binarized_mnist").is_dir(), reason=f"real data not found at {SHARED}"),
]


def test_binarized_mnist_files_match_their_readme():
    data = load_binarized_mnist(str(SHARED), download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (50000, 10000, 10000)
    assert data.is_binary()
    assert data.train.x.mean().item() == pytest.approx(0.1306, abs=5e-4)
    assert data.test.y is not None and data.test.y.tolist() == sorted(data.test.y.tolist())


def test_mnist_test_set_only_is_split_and_said():
    data = load_mnist(str(SHARED), download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (8000, 1000, 1000)
    assert "test set only" in data.description


def test_one_epoch_of_the_benchmark_experiment(tmp_path):
    experiment = load_experiment(
        "binarized_mnist_vae",
        [
            f"data.data_dir='{SHARED}'",
            "training.epochs=1",
            "evaluation.iw_samples=50",
            "evaluation.ppc_examples=100",
            "evaluation.ppc_samples=5",
        ],
    )
    run = train_experiment(experiment, tmp_path / "run")
    summary = (run / "summary.json").read_text()
    assert '"x_dim": 784' in summary


def test_mnist_quadrants_and_conditional_experiments_build(tmp_path):
    from ppl_vae.data import load_quadrants
    from ppl_vae.run import prepare

    data = load_quadrants("mnist", 1, data_dir=str(SHARED), download=False)
    assert (data.x_dim, data.y_dim, len(data.train)) == (196, 588, 8000)
    assert "split 8000/1000/1000 with seed 0" in data.description
    for name in ("quadrants_mnist", "quadrants_mnist_baseline", "conditional_mnist"):
        prepared = prepare(load_experiment(name, [f'data.data_dir="{SHARED}"']))
        assert prepared.data.dynamic_binarization and prepared.pairing.max_plate_nesting == 1
