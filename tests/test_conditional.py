"""Conditional models: class-conditioned VAE, structured-output CVAE and baseline, Bayes-rule classifier."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pyro import poutine
from sklearn.linear_model import LogisticRegression
from torch.distributions import constraints

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import ConfigError, DataError
from ppl_vae.data.datasets import load_digits
from ppl_vae.data.tasks import load_quadrants, quadrant_mask
from ppl_vae.evaluation.classify import Classification, class_prior, classification_summary
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.guides import ConditionalGaussianEncoder, GaussianEncoder, NoLatents
from ppl_vae.infer.bounds import elbo_per_example
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import PairingError, check_pair
from ppl_vae.infer.predictive import prior_predictive
from ppl_vae.models import (
    BaselinePredictor,
    GaussianLikelihood,
    LabelConditionedVAE,
    StructuredOutputCVAE,
)
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import train_experiment

IMAGE = (1, 8, 8)
SMALL_NET = {"name": "mlp", "hidden": [8]}

SMALL = [
    "evaluation.iw_samples=50",
    "evaluation.classify_samples=30",
    "evaluation.ppc_samples=5",
    "training.device='cpu'",
]
SMALL += ["evaluation.ppc_examples=0"]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """The conditional_digits experiment, trained for 40 epochs (a few seconds)."""
    experiment = load_experiment("conditional_digits", ["training.epochs=40", *SMALL])
    return train_experiment(experiment, tmp_path_factory.mktemp("conditional") / "run")


@pytest.fixture(scope="module")
def quadrant_runs(tmp_path_factory):
    """(CVAE run, baseline run) on the 8x8 quadrant task with 2 input quadrants, briefly trained."""
    root = tmp_path_factory.mktemp("quadrants")
    common = ["data.quadrants=2", "training.epochs=15", "evaluation.iw_samples=200", "training.device='cpu'"]
    cvae = train_experiment(load_experiment("quadrants_digits", common), root / "cvae")
    baseline = train_experiment(load_experiment("quadrants_digits_baseline", common), root / "baseline")
    return cvae, baseline


def labels_of(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def conditional_pair(latent_dim: int = 3) -> Pair:
    model = LabelConditionedVAE(IMAGE, 10, latent_dim=latent_dim, decoder=SMALL_NET)
    return Pair(model, ConditionalGaussianEncoder(IMAGE, latent_dim, num_classes=10, encoder=SMALL_NET))


def test_label_conditioned_shapes_and_sampling_by_label():
    pair = conditional_pair()
    x = torch.bernoulli(torch.full((5, *IMAGE), 0.3))
    trace = poutine.trace(pair.model).get_trace(x, labels_of(0, 1, 2, 3, 9))
    assert trace.nodes["z"]["value"].shape == (5, 3) and trace.nodes["x"]["value"] is x
    drawn, likelihood = prior_predictive(pair, 4, labels_of(7, 7, 7, 7), num_samples=2)
    assert drawn.shape == (2, 4, *IMAGE) and likelihood.batch_shape == (2, 4)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}


def test_likelihood_is_a_choice_shared_with_unconditional_models():
    model = LabelConditionedVAE(
        IMAGE, 10, likelihood="gaussian", likelihood_options={"scale": "decoder"}, decoder=SMALL_NET
    )
    assert isinstance(model.likelihood, GaussianLikelihood) and model.contract.support is constraints.real
    assert model.decoder.layers[-1].out_features == 128  # loc and scale per pixel
    with pytest.raises(
        ConfigError, match=r"unknown key 'scal' in \[model.likelihood_options\] for likelihood 'gaussian'"
    ):
        LabelConditionedVAE(IMAGE, 10, likelihood="gaussian", likelihood_options={"scal": "decoder"})
    with pytest.raises(KeyError, match="unknown likelihood .poisson.; valid likelihoods: bernoulli, categorical, "):
        LabelConditionedVAE(IMAGE, 10, likelihood="poisson")


def test_structured_model_guide_and_baseline_shapes():
    model = StructuredOutputCVAE((16,), (48,), latent_dim=4, prior_net=SMALL_NET, decoder=SMALL_NET)
    guide = ConditionalGaussianEncoder((16,), 4, y_shape=(48,))
    x, y = torch.rand(6, 16), torch.bernoulli(torch.full((6, 48), 0.5))
    trace = poutine.trace(model).get_trace(x, y)
    assert trace.nodes["z"]["value"].shape == (6, 4) and trace.nodes["y"]["value"] is y
    assert "x" not in trace.nodes  # the input is not modelled
    assert guide.posterior(x, y).batch_shape == (6,) and guide.posterior(x, y).event_shape == (4,)
    assert Pair(model, guide).check(x, y).latent_sites == ("z",)
    baseline = BaselinePredictor((16,), (48,), network=SMALL_NET)
    assert Pair(baseline, NoLatents()).check(x, y).latent_sites == ()


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
    model = LabelConditionedVAE(IMAGE, 10, latent_dim=2, decoder=SMALL_NET)
    with pytest.raises(DataError, match=message):
        model(torch.zeros(4, *IMAGE), labels)


def test_unconditional_guide_with_conditional_model_is_named():
    x, y = torch.bernoulli(torch.full((8, *IMAGE), 0.3)), labels_of(0, 1, 2, 3, 4, 5, 6, 7)
    model = LabelConditionedVAE(IMAGE, 10, latent_dim=2, decoder=SMALL_NET)
    with pytest.raises(PairingError, match="depends on 'y' but the guide ignores 'y'"):
        check_pair(model, GaussianEncoder(IMAGE, 2, encoder=SMALL_NET), x, y, "conditional_vae", "gaussian_encoder")
    check_pair(model, ConditionalGaussianEncoder(IMAGE, 2, num_classes=10, encoder=SMALL_NET), x, y)
    structured = StructuredOutputCVAE((16,), (48,), latent_dim=2, prior_net=SMALL_NET, decoder=SMALL_NET)
    inputs, outputs = torch.rand(8, 16), torch.bernoulli(torch.full((8, 48), 0.5))
    with pytest.raises(PairingError, match="ignores 'y'"):
        check_pair(structured, GaussianEncoder((16,), 2, encoder=SMALL_NET), inputs, outputs)


def test_conditional_experiment_errors_are_one_line(capsys):
    cases = [
        (["conditional_digits", "--set", "guide.name=gaussian_encoder"], "the guide ignores 'y'"),
        (["conditional_digits", "--set", "data.name=quadrants"], "dataset 'digits_quadrants' has no labels"),
    ]
    for argv, message in cases:
        assert main(["train", *argv, "--run-dir", "/nonexistent/never-written", "--device", "cpu"]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_conditional_sampling_respects_the_label(conditional_run):
    """A logistic regression trained on real digits recognises the class of generated ones."""
    real = load_digits().train
    classifier = LogisticRegression(max_iter=2000).fit((real.x.reshape(len(real), -1) > 8).numpy(), real.y.numpy())
    pair = load_trained(conditional_run, "cpu").pair
    labels = torch.arange(10).repeat_interleave(30)
    with frozen(1):
        drawn = prior_predictive(pair, len(labels), labels)[1].mean[0]
    accuracy = (classifier.predict(drawn.reshape(len(labels), -1).numpy()) == labels.numpy()).mean()
    assert accuracy > 0.8, accuracy  # chance is 0.1


def test_importance_weighted_conditional_likelihood_exceeds_elbo(conditional_run, quadrant_runs):
    for run_dir in (conditional_run, quadrant_runs[0]):
        run = load_trained(run_dir, "cpu")
        data = run.data()
        x, y = data.test.x[:100], data.test.y[:100]
        iw = importance_weighted_log_likelihood(run.pair, x, y, 500, seed=1)
        elbo = torch.stack([elbo_per_example(run.pair, x, y, seed=s) for s in range(20)]).mean(0)
        assert iw.log_likelihood.mean() > elbo.mean() + 0.01, (run_dir, iw.log_likelihood.mean(), elbo.mean())


def test_baseline_likelihood_is_exact(quadrant_runs):
    run = load_trained(quadrant_runs[1], "cpu")
    data = run.data()
    x, y = data.test.x[:50], data.test.y[:50]
    estimate = importance_weighted_log_likelihood(run.pair, x, y, 3)
    with torch.no_grad():
        by_hand = torch.distributions.Bernoulli(logits=run.pair.model.network(x)).log_prob(y).sum(-1)
    assert torch.allclose(estimate.log_likelihood, by_hand, atol=1e-4) and estimate.exact
    assert torch.allclose(estimate.elbo, by_hand, atol=1e-4) and torch.isnan(estimate.khat).all()


def test_quadrant_runs_write_completions_and_skip_image_checks(quadrant_runs, capsys):
    cvae, baseline = quadrant_runs
    for run_dir in (cvae, baseline):
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["scores"] == "log p(y | x), output y of input x" and "ppc_flagged" not in summary
        assert (run_dir / "completions.png").is_file() and not (run_dir / "ppc.nc").exists()
    assert "output y: the other 32 pixels" in summary["data"]
    assert summary["test_elbo_bits_per_dim"] == pytest.approx(-summary["test_elbo_nats"] / (32 * math.log(2)))
    assert summary["dimensions"] == 32 and summary["event_shape"] == [32]
    assert main(["ppc", str(cvae)]) == 1
    assert "posterior predictive checks do not apply" in capsys.readouterr().err
    assert main(["sample", str(cvae), "--num-samples", "2", "--output", str(cvae / "s.png"), "--device", "cpu"]) == 0
    assert (cvae / "s.png").is_file()


def test_quadrant_masks_and_reassembly():
    assert [int(quadrant_mask(IMAGE, q).sum()) for q in (1, 2, 3)] == [16, 32, 48]
    assert quadrant_mask(IMAGE, 1)[0, 4:, :4].all()  # the bottom-left quadrant
    data, whole = load_quadrants("digits", 3), load_digits()
    assert data.x_shape == (48,) and data.y_shape == (16,) and data.num_classes is None
    assert torch.equal(data.images(data.test.x, data.test.y), whole.test.x)
    with pytest.raises(ConfigError, match="quadrants must be 1, 2 or 3"):
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
    assert main(["classify", str(conditional_run), "--limit", "30", "--iw-samples", "10", "--device", "cpu"]) == 0
    assert json.loads((conditional_run / "classification.json").read_text()) == summary  # not replaced
    partial = json.loads((conditional_run / "classification-test-random30-seed0-K10.json").read_text())
    assert partial["num_examples"] == 30
    assert main(["sample", str(conditional_run), "--label", "3", "--num-samples", "4", "--device", "cpu"]) == 0
    assert (conditional_run / "samples-label3-seed0.png").is_file()
    assert main(["sample", str(conditional_run), "--label", "10", "--device", "cpu"]) == 1
    assert "the label must be class labels y" in capsys.readouterr().err


def test_bayes_rule_by_hand():
    log_likelihoods = torch.tensor([[-1.0, -3.0], [-2.0, -2.0]])
    result = Classification(log_likelihoods, class_prior(labels_of(0, 1, 1, 1), 2))
    expected = torch.log_softmax(log_likelihoods + torch.tensor([0.25, 0.75]).log(), dim=1)
    assert torch.allclose(result.log_posterior, expected)
    assert result.predicted.tolist() == [0, 1] and result.fit_score.tolist() == [-1.0, -2.0]
    summary = classification_summary(result, labels_of(0, 0))
    assert summary["accuracy"] == 0.5 and summary["confusion_matrix"] == [[1, 1], [0, 0]]


def test_empty_guide_with_a_latent_model_misses_z():
    model = LabelConditionedVAE(IMAGE, 10, latent_dim=2, decoder=SMALL_NET)
    with pytest.raises(PairingError, match="the guide misses the model's latent site\\(s\\) 'z'"):
        check_pair(model, NoLatents(), torch.zeros(8, *IMAGE), labels_of(*range(8)))
