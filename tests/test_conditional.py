"""Conditional models: class-conditioned VAE, structured-output CVAE and baseline, Bayes-rule classifier."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pyro import poutine
from sklearn.linear_model import LogisticRegression

from ppl_vae.classify import Classification, class_prior, classification_summary
from ppl_vae.cli import main
from ppl_vae.config import load_experiment
from ppl_vae.data import DataError, binarize, load_digits, load_quadrants, quadrant_mask
from ppl_vae.evaluate import elbo_per_example, frozen, importance_weighted_log_likelihood
from ppl_vae.guides import ConditionalGaussianEncoder, GaussianEncoder, NoLatents
from ppl_vae.models import (
    BaselinePredictor,
    GaussianLikelihood,
    LabelConditionedVAE,
    StructuredOutputCVAE,
)
from ppl_vae.pairing import PairingError, check_pair
from ppl_vae.predictive import prior_predictive
from ppl_vae.run import load_trained, prepare, train_experiment

SMALL = ["evaluation.iw_samples=50", "evaluation.classify_samples=30", "evaluation.ppc_samples=5"]
SMALL += ["evaluation.ppc_examples=40"]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """The conditional_digits experiment, trained for 40 epochs (a few seconds)."""
    experiment = load_experiment("conditional_digits", ["training.epochs=40", *SMALL])
    return train_experiment(experiment, tmp_path_factory.mktemp("conditional") / "run")


@pytest.fixture(scope="module")
def quadrant_runs(tmp_path_factory):
    """(CVAE run, baseline run) on the 8x8 quadrant task with 2 input quadrants, briefly trained."""
    root = tmp_path_factory.mktemp("quadrants")
    common = ["data.quadrants=2", "training.epochs=15", "evaluation.iw_samples=200"]
    cvae = train_experiment(load_experiment("quadrants_digits", common), root / "cvae")
    baseline = train_experiment(load_experiment("quadrants_digits_baseline", common), root / "baseline")
    return cvae, baseline


def labels_of(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def test_label_conditioned_shapes_and_sampling_by_label():
    model = LabelConditionedVAE(64, 10, latent_dim=3, hidden=(16,))
    x = torch.bernoulli(torch.full((5, 64), 0.3))
    trace = poutine.trace(model).get_trace(x, labels_of(0, 1, 2, 3, 9))
    assert trace.nodes["z"]["value"].shape == (5, 3) and trace.nodes["x"]["value"] is x
    drawn, likelihood = prior_predictive(model, 4, labels_of(7, 7, 7, 7), num_samples=2)
    assert drawn.shape == (2, 4, 64) and likelihood.batch_shape == (2, 4)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}


def test_likelihood_is_a_choice_shared_with_unconditional_models():
    model = LabelConditionedVAE(64, 10, likelihood="gaussian", likelihood_options={"scale": "decoder"}, hidden=(8,))
    assert isinstance(model.decoder.likelihood, GaussianLikelihood) and model.data_support == "real"
    assert model.decoder.net[-1].out_features == 128  # loc and scale per pixel
    with pytest.raises(ValueError, match="bad option for the gaussian likelihood"):
        LabelConditionedVAE(64, 10, likelihood="gaussian", likelihood_options={"scal": "decoder"})
    with pytest.raises(KeyError, match="valid likelihoods: bernoulli, gaussian"):
        LabelConditionedVAE(64, 10, likelihood="poisson")


def test_structured_model_guide_and_baseline_shapes():
    model, guide = StructuredOutputCVAE(16, 48, latent_dim=4, hidden=(8,)), ConditionalGaussianEncoder(16, 4, y_dim=48)
    x, y = torch.rand(6, 16), torch.bernoulli(torch.full((6, 48), 0.5))
    trace = poutine.trace(model).get_trace(x, y)
    assert trace.nodes["z"]["value"].shape == (6, 4) and trace.nodes["y"]["value"] is y
    assert "x" not in trace.nodes  # the input is not modelled
    assert guide.posterior(x, y).batch_shape == (6,) and guide.posterior(x, y).event_shape == (4,)
    assert check_pair(model, guide, x, y).latent_sites == ("z",)
    baseline = BaselinePredictor(16, 48, hidden=(8,))
    assert check_pair(baseline, NoLatents(), x, y).latent_sites == ()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "none given; a label-conditioned model needs class labels y"),
        (labels_of(0, 1, 2, 12), "got values from 0 to 12"),
        (labels_of(0, 1, 2, -1), "got values from -1 to 2"),
        (torch.zeros(4, 1, dtype=torch.int64), r"got shape \(4, 1\)"),
        (torch.zeros(4), "got torch.float32"),
        (labels_of(0, 1, 2), "3 labels for 4 examples"),
    ],
)
def test_bad_labels_are_named(labels, message):
    model = LabelConditionedVAE(64, 10, latent_dim=2, hidden=(8,))
    with pytest.raises(DataError, match=message):
        model(torch.zeros(4, 64), labels)


def test_unconditional_guide_with_conditional_model_is_named():
    x, y = torch.bernoulli(torch.full((8, 64), 0.3)), labels_of(0, 1, 2, 3, 4, 5, 6, 7)
    model = LabelConditionedVAE(64, 10, latent_dim=2, hidden=(8,))
    with pytest.raises(PairingError, match="depends on 'y' but the guide ignores 'y'"):
        check_pair(model, GaussianEncoder(64, 2, hidden=(8,)), x, y, "conditional_vae", "gaussian_encoder")
    check_pair(model, ConditionalGaussianEncoder(64, 2, num_classes=10, hidden=(8,)), x, y)
    structured = StructuredOutputCVAE(16, 48, latent_dim=2, hidden=(8,))
    inputs, outputs = torch.rand(8, 16), torch.bernoulli(torch.full((8, 48), 0.5))
    with pytest.raises(PairingError, match="ignores 'y'"):
        check_pair(structured, GaussianEncoder(16, 2, hidden=(8,)), inputs, outputs)


def test_conditional_experiment_errors_are_one_line(capsys):
    cases = [
        (["conditional_digits", "--set", "guide.name=gaussian_encoder"], "the guide ignores 'y'"),
        (["conditional_digits", "--set", "data.name=quadrants"], "dataset 'digits_quadrants' has no labels"),
    ]
    for argv, message in cases:
        assert main(["train", *argv, "--run-dir", "/nonexistent/never-written"]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_conditional_sampling_respects_the_label(conditional_run):
    """A logistic regression trained on real digits recognises the class of generated ones."""
    real = binarize(load_digits(), "threshold", "binary").train
    classifier = LogisticRegression(max_iter=2000).fit(real.x.numpy(), real.y.numpy())
    model = load_trained(conditional_run).model
    labels = torch.arange(10).repeat_interleave(30)
    with frozen(1):
        drawn = prior_predictive(model, len(labels), labels)[1].mean[0]
    accuracy = (classifier.predict(drawn.numpy()) == labels.numpy()).mean()
    assert accuracy > 0.8, accuracy  # chance is 0.1


def test_importance_weighted_conditional_likelihood_exceeds_elbo(conditional_run, quadrant_runs):
    for run_dir in (conditional_run, quadrant_runs[0]):
        run = load_trained(run_dir)
        data = prepare(run.experiment).data
        x, y = data.test.x[:100], data.test.y[:100]
        iw = importance_weighted_log_likelihood(run.model, run.guide, x, y, 500, seed=1)
        elbo = torch.stack([elbo_per_example(run.model, run.guide, x, y, seed=s) for s in range(20)]).mean(0)
        assert iw.log_likelihood.mean() > elbo.mean() + 0.01, (run_dir, iw.log_likelihood.mean(), elbo.mean())


def test_baseline_likelihood_is_exact(quadrant_runs):
    run = load_trained(quadrant_runs[1])
    data = prepare(run.experiment).data
    x, y = data.test.x[:50], data.test.y[:50]
    estimate = importance_weighted_log_likelihood(run.model, run.guide, x, y, 3)
    by_hand = torch.distributions.Bernoulli(logits=run.model.net(x)).log_prob(y).sum(-1)
    assert torch.allclose(estimate.log_likelihood, by_hand, atol=1e-4)
    assert torch.allclose(estimate.elbo, by_hand, atol=1e-4) and torch.isnan(estimate.khat).all()


def test_quadrant_runs_write_completions_and_skip_image_checks(quadrant_runs, capsys):
    cvae, baseline = quadrant_runs
    for run_dir in (cvae, baseline):
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["scores"] == "log p(y | x), output y of input x" and summary["ppc_flagged"] is None
        assert (run_dir / "completions.png").is_file() and not (run_dir / "ppc.nc").exists()
    assert "output y: the other 32 pixels" in summary["data"]
    assert summary["test_elbo_bits_per_dim"] == pytest.approx(-summary["test_elbo_nats"] / (32 * math.log(2)))
    assert main(["ppc", str(cvae)]) == 1
    assert "posterior predictive checks do not apply" in capsys.readouterr().err
    assert main(["sample", str(cvae), "--num-samples", "2", "--output", str(cvae / "s.png")]) == 0
    assert (cvae / "s.png").is_file()


def test_quadrant_masks_and_reassembly():
    assert [int(quadrant_mask((8, 8), q).sum()) for q in (1, 2, 3)] == [16, 32, 48]
    assert quadrant_mask((8, 8), 1).reshape(8, 8)[4:, :4].all()  # the bottom-left quadrant
    data, whole = load_quadrants("digits", 3), load_digits()
    assert data.x_dim == 48 and data.y_dim == 16 and data.num_classes is None
    assert torch.equal(data.images(data.test.x, data.test.y), whole.test.x)
    with pytest.raises(ValueError, match="quadrants must be 1, 2 or 3"):
        load_quadrants("digits", 4)


def test_classifier_figures(conditional_run, capsys):
    summary = json.loads((conditional_run / "classification.json").read_text())
    assert json.loads((conditional_run / "summary.json").read_text())["classification"] == summary
    assert (conditional_run / "class_samples.png").is_file() and (conditional_run / "classification.png").is_file()
    confusion = torch.tensor(summary["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == summary["num_examples"] == 360
    assert summary["accuracy"] == pytest.approx(confusion.trace().item() / 360)
    assert summary["accuracy"] > 0.8 and summary["chance_accuracy"] < 0.12
    assert summary["fit_score_auroc"] > 0.95  # digits fit some class far better than shuffled pixels
    assert main(["classify", str(conditional_run), "--limit", "30", "--iw-samples", "10"]) == 0
    assert json.loads((conditional_run / "classification.json").read_text())["num_examples"] == 30
    assert main(["sample", str(conditional_run), "--label", "3", "--num-samples", "4"]) == 0
    assert main(["sample", str(conditional_run), "--label", "10"]) == 1
    assert "--label must be class labels y" in capsys.readouterr().err


def test_bayes_rule_by_hand():
    log_likelihoods = torch.tensor([[-1.0, -3.0], [-2.0, -2.0]])
    result = Classification(log_likelihoods, class_prior(labels_of(0, 1, 1, 1), 2))
    expected = torch.log_softmax(log_likelihoods + torch.tensor([0.25, 0.75]).log(), dim=1)
    assert torch.allclose(result.log_posterior, expected)
    assert result.predicted.tolist() == [0, 1] and result.fit_score.tolist() == [-1.0, -2.0]
    summary = classification_summary(result, labels_of(0, 0))
    assert summary["accuracy"] == 0.5 and summary["confusion_matrix"] == [[1, 1], [0, 0]]


def test_empty_guide_with_a_latent_model_misses_z():
    model = LabelConditionedVAE(64, 10, latent_dim=2, hidden=(8,))
    with pytest.raises(PairingError, match="the guide misses the model's latent site\\(s\\) 'z'"):
        check_pair(model, NoLatents(), torch.zeros(8, 64), labels_of(*range(8)))
