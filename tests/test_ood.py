"""Rejecting inputs by their density: the scores, their separation measures, and the refusals of `ppl-vae ood`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ppl_vae.cli import main
from ppl_vae.evaluation.detection import separation
from ppl_vae.evaluation.ood import png_bits, typicality_scores
from ppl_vae.runs.training import train_experiment


def test_separation_measures_by_hand():
    result = separation(np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.5, 4.0, 5.0]))
    assert result.auroc == pytest.approx(11 / 12)
    assert result.fpr_at_95_tpr == pytest.approx(1 / 3)  # the threshold accepts every inlier; 2.5 passes it
    assert result.aupr_out == pytest.approx((1 + 1 + 3 / 4) / 3)  # precision at each outlier's rank
    assert (result.inliers, result.outliers) == (4, 3)


def test_typicality_flags_batches_that_are_too_likely_as_well_as_too_unlikely():
    typical = np.random.default_rng(0).normal(50.0, 5.0, size=400)
    assert typicality_scores(typical, 50.0, 20, 0).max() < 5
    for shifted in (typical - 15, typical + 15):
        assert typicality_scores(shifted, 50.0, 20, 0).min() > 10


def test_png_length_is_shorter_for_simple_images():
    blank, noise = torch.zeros(1, 1, 28, 28), torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert png_bits(blank)[0] < png_bits(noise)[0] / 4
    assert png_bits(torch.rand(2, 3, 8, 8)).shape == (2,)


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    from ppl_vae.core.config import load_experiment

    folder = tmp_path_factory.mktemp("ood")
    quick = ["training.device='cpu'", "training.epochs=8", "evaluation.iw_samples=5", "evaluation.ppc_examples=0"]
    quick += ["model.decoder.hidden=[64]", "guide.encoder.hidden=[64]", "evaluation.classify_samples=2"]
    runs = {name: train_experiment(load_experiment(name, quick), folder / name) for name in ("default",)}
    conditional = load_experiment("conditional_digits", quick)
    runs["conditional"] = train_experiment(conditional, folder / "conditional")
    ae = load_experiment("ae_digits", quick)
    runs["ae"] = train_experiment(ae, folder / "ae")
    return folder, runs


def test_noise_images_are_rejected_with_auroc_near_one(digits_runs, capsys):
    folder, runs = digits_runs
    noise = np.random.default_rng(1).integers(0, 256, size=(300, 1, 8, 8)).astype(np.uint8)
    np.save(folder / "noise.npy", noise)
    assert main(["ood", str(runs["default"]), "--outliers", str(folder / "noise.npy"), "--iw-samples", "20"]) == 0
    summary = json.loads((runs["default"] / "ood-noise_npy-test-K20.json").read_text())
    assert summary["scores"]["negative_log_likelihood"]["auroc"] > 0.99
    assert summary["typicality"]["auroc"] > 0.99
    assert summary["mean_bits_per_dim"]["out"] > 2 * summary["mean_bits_per_dim"]["in"]
    saved = np.load(runs["default"] / "ood-noise_npy-test-K20.npz")
    assert saved["in_negative_log_likelihood"].shape == (360,) and saved["out_bits_per_dim"].shape == (300,)
    assert (runs["default"] / "ood-noise_npy-test-K20_roc.png").exists()


def test_a_label_conditioned_run_also_rejects_by_its_best_class(digits_runs):
    folder, runs = digits_runs
    np.save(folder / "blobs.npy", np.random.default_rng(2).random((200, 1, 8, 8)))
    assert main(["ood", str(runs["conditional"]), "--outliers", str(folder / "blobs.npy"), "--iw-samples", "5"]) == 0
    reject = json.loads((runs["conditional"] / "ood-blobs_npy-test-K5.json").read_text())["bayes_reject"]
    assert 0.8 < reject["accepted_share_in"] <= 1 and reject["accepted_share_out"] < 0.2
    assert reject["accuracy_accepted"] >= reject["accuracy_all"] - 0.02 and reject["auroc"] > 0.9


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: np.zeros((5, 1, 28, 28), np.uint8), r"shape \(1, 28, 28\), the run's data \(1, 8, 8\)"),
        (lambda: np.full((5, 1, 8, 8), 2.0), r"values outside \[0, 1\]"),
        (lambda: np.full((5, 1, 8, 8), 300, np.int64), "integers outside 0..255"),
        (
            lambda: np.zeros((5, 8, 8), np.uint8),
            r"shape \(8, 8\), .* add a channel axis of 1 \(x\[:, None\] in NumPy\)",
        ),
    ],
)
def test_bad_outlier_files_are_one_sentence(make, message, digits_runs, capsys):
    import re

    folder, runs = digits_runs
    np.save(folder / "bad.npy", make())
    assert main(["ood", str(runs["default"]), "--outliers", str(folder / "bad.npy")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.search(message, error), error


def test_outlier_files_of_one_stem_write_their_own_results(digits_runs):
    folder, runs = digits_runs
    images = np.random.default_rng(3).random((50, 1, 8, 8))
    np.save(folder / "same.npy", images)
    np.savez(folder / "same.npz", x=images[::-1])
    for name in ("same.npy", "same.npz"):
        assert main(["ood", str(runs["default"]), "--outliers", str(folder / name), "--iw-samples", "5"]) == 0
    written = {p.name for p in runs["default"].glob("ood-same_*-test-K5.json")}
    assert written == {"ood-same_npy-test-K5.json", "ood-same_npz-test-K5.json"}


def test_ood_refuses_runs_that_are_not_densities_and_unknown_outlier_sets(digits_runs, capsys):
    folder, runs = digits_runs
    np.save(folder / "noise.npy", np.zeros((5, 1, 8, 8), np.uint8))
    assert main(["ood", str(runs["ae"]), "--outliers", str(folder / "noise.npy")]) == 1
    assert "deterministic encoder" in capsys.readouterr().err
    assert main(["ood", str(runs["default"]), "--outliers", "svhn"]) == 1
    assert "no dataset or .npy/.npz file named 'svhn'" in capsys.readouterr().err
