"""Semi-supervised learning with the label as a latent site: partially labelled data, M2, M1+M2 (the codes
dataset), the label summed out exactly, and the commands on these runs."""

from __future__ import annotations

import json
import math

import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import config_enumerate
from torch.nn import functional as F

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.core.contract import UNLABELLED
from ppl_vae.core.errors import ConfigError, DataError, PairingError
from ppl_vae.data.datasets import load_digits
from ppl_vae.data.labelled import hide_labels
from ppl_vae.data.transforms import to_floating
from ppl_vae.evaluation.labels import marginal_log_likelihood
from ppl_vae.evaluation.supervised import accuracy, train_classifier
from ppl_vae.guides import GaussianEncoder
from ppl_vae.guides.semi_supervised import SemiSupervisedEncoder
from ppl_vae.infer.objectives.semi_supervised import SemiSupervisedELBO
from ppl_vae.infer.pair import Pair
from ppl_vae.models.semi_supervised import SemiSupervisedVAE
from ppl_vae.runs.codes import CODES_FILE
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import train_experiment

QUICK = ["training.device='cpu'", "evaluation.iw_samples=10", "evaluation.classify_samples=5"]
QUICK += ["evaluation.ppc_examples=0"]


@pytest.fixture(scope="module")
def m2_run(tmp_path_factory):
    """semi_supervised_digits (50 labels, seed 0) with small networks, trained for 3 epochs."""
    folder = tmp_path_factory.mktemp("m2")
    small = ["training.epochs=3", "model.decoder.hidden=[32]", "guide.encoder.hidden=[32]", "model.latent_dim=4"]
    return train_experiment(load_experiment("semi_supervised_digits", [*QUICK, *small]), folder / "run")


def binary_digits(n: int = 24) -> torch.Tensor:
    data = to_floating(load_digits(), torch.float64)
    return (data.test.x[:n] > 0.5).double()


def test_labels_are_kept_balanced_by_a_seed_and_the_others_hidden():
    raw = load_digits()
    kept = hide_labels(raw, 53, seed=1)
    train, valid = kept.train.y, kept.valid.y
    known = train != UNLABELLED
    assert int(known.sum()) == 53 and torch.equal(known.nonzero().flatten(), kept.labelled)
    assert torch.equal(train[known], raw.train.y[known])
    counts = torch.bincount(train[known], minlength=10)
    assert counts.min() == 5 and counts.max() == 6 and int((counts == 6).sum()) == 3
    assert bool((valid == UNLABELLED).all()) and torch.equal(kept.test.y, raw.test.y)
    assert torch.equal(hide_labels(raw, 53, seed=1).labelled, kept.labelled)
    assert not torch.equal(hide_labels(raw, 53, seed=2).labelled, kept.labelled)
    assert hide_labels(raw, "all", seed=1) is raw


def test_the_labelled_examples_are_the_recorded_ones(m2_run):
    recorded = json.loads((m2_run / "run.json").read_text())["data"]["labelled"]
    run = load_trained(m2_run, device="cpu")
    train, raw = run.data().train, run.images().train
    given = (train.y != UNLABELLED).nonzero().flatten().tolist()
    assert recorded["labels"] == 50 and recorded["labels_seed"] == 0
    assert recorded["train_positions"] == given and len(given) == 50
    assert torch.equal(train.y[given], raw.y[given])
    text = (m2_run / "experiment.toml").read_text()
    (m2_run / "experiment.toml").write_text(text.replace("labels_seed = 0", "labels_seed = 7"))
    try:
        with pytest.raises(DataError, match="labelled training examples chosen now differ from those"):
            load_trained(m2_run, device="cpu").data()
    finally:
        (m2_run / "experiment.toml").write_text(text)


def z_free_pair(num_classes: int = 10, latent_dim: int = 3) -> Pair:
    """M2 whose decoder ignores z and whose guide's q(z | x, y) is the prior: log p(x, y) = log p(y) + log p(x | y)
    is then what every importance weight equals, whatever z is drawn."""
    torch.manual_seed(0)
    model = SemiSupervisedVAE((1, 8, 8), num_classes, latent_dim=latent_dim, decoder={"name": "mlp", "hidden": [16]})
    pair = Pair(model, SemiSupervisedEncoder((1, 8, 8), num_classes, latent_dim=latent_dim)).double()
    with torch.no_grad():
        model.decoder.layers[0].weight[:, :latent_dim] = 0
        last = pair.guide.encoder.layers[-1]
        last.weight.zero_()
        last.bias[:latent_dim] = 0
        last.bias[latent_dim:] = math.log(math.expm1(1 - pair.guide.min_scale))  # scale 1
    return pair


def test_enumeration_sums_the_label_out_exactly():
    pair, x = z_free_pair(), binary_digits()
    with torch.no_grad():
        decoded = [
            pair.model.decode(torch.zeros(len(x), 3, dtype=x.dtype), F.one_hot(torch.full((len(x),), c), 10).double())
            for c in range(10)
        ]
        joint = torch.stack([math.log(0.1) + d.log_prob(x) for d in decoded], dim=1)  # (N, C): log p(x, c) by hand
        log_q = pair.guide.classify(x).logits.log_softmax(-1)
    by_hand = torch.logsumexp(joint, dim=1)
    estimate = marginal_log_likelihood(pair, x, 10, num_samples=3)
    assert torch.allclose(estimate.log_likelihood, by_hand, atol=1e-9, rtol=0)
    enumerated_elbo = (log_q.exp() * (joint - log_q)).sum(1)
    assert torch.allclose(estimate.elbo, enumerated_elbo, atol=1e-9, rtol=0)
    assert bool((estimate.elbo <= estimate.log_likelihood + 1e-9).all())
    loss = SemiSupervisedELBO(alpha=0.0).unlabelled_loss(pair.model, pair.guide, x)
    assert loss.item() == pytest.approx(-enumerated_elbo.sum().item(), abs=1e-8)


def test_the_training_objective_is_the_sum_over_classes_with_the_same_draws():
    torch.manual_seed(1)
    model = SemiSupervisedVAE((1, 8, 8), 10, latent_dim=3).double()
    guide = SemiSupervisedEncoder((1, 8, 8), 10, latent_dim=3).double()
    x, y = binary_digits(), torch.arange(24) % 10
    pyro.set_rng_seed(5)
    loss = SemiSupervisedELBO(alpha=0.0).unlabelled_loss(model, guide, x)
    pyro.set_rng_seed(5)
    enumerated = poutine.enum(config_enumerate(guide, "parallel"), first_available_dim=-2)
    z = poutine.trace(enumerated).get_trace(x, y=None).nodes["z"]["value"]  # (C, N, 3): one draw per class
    with torch.no_grad():
        log_q = guide.classify(x).logits.log_softmax(-1)
        total = 0
        for c in range(10):
            label = torch.full((len(x),), c)
            one_hot = F.one_hot(label, 10).double()
            elbo = math.log(0.1) + model.prior(len(x)).log_prob(z[c]) + model.decode(z[c], one_hot).log_prob(x)
            total = total + log_q[:, c].exp() * (elbo - guide.posterior(x, label).log_prob(z[c]) - log_q[:, c])
    assert loss.item() == pytest.approx(-total.sum().item(), abs=1e-8)
    mixed = y.clone()
    mixed[::2] = UNLABELLED
    objective = SemiSupervisedELBO(alpha=2.0)
    pyro.set_rng_seed(3)
    both = objective.differentiable_loss(model, guide, x, mixed)
    pyro.set_rng_seed(3)
    parts = objective.labelled_loss(model, guide, x[1::2], y[1::2]) + objective.unlabelled_loss(model, guide, x[::2])
    assert both.item() == pytest.approx(parts.item(), abs=1e-8)


def test_a_guide_without_classifier_is_one_sentence():
    model = SemiSupervisedVAE((1, 8, 8), 10, latent_dim=3)
    pair = Pair(model, GaussianEncoder((1, 8, 8), latent_dim=3), "semi_supervised_vae", "gaussian_encoder")
    x = binary_digits(8).float()
    for labels in (torch.arange(8), None):
        with pytest.raises(PairingError) as raised:
            pair.check(x, labels)
        assert str(raised.value) == (
            "guide 'gaussian_encoder' does not fit model 'semi_supervised_vae': the model treats the label 'y' as a "
            "latent site where it is hidden, but the guide has no classifier q(y | x) to infer it; pair it with a "
            "guide that samples 'y' from x alone, such as semi_supervised_encoder."
        )
    mixed = torch.tensor([0, UNLABELLED, 2, 3, 4, 5, 6, 7])
    with pytest.raises(ValueError, match="mixes 7 given and 1 hidden labels in one batch"):
        model(x, mixed)


@pytest.mark.slow
def test_m2_beats_its_classifier_trained_on_the_50_labels_alone(tmp_path):
    """semi_supervised_digits as shipped, seeds 0 and 1 (training and label draws), fixed before looking at the
    test split; margin 2 points on the mean (on the validation labels the gap was 3 and 9 points)."""
    gaps = []
    for seed in (0, 1):
        overrides = [*QUICK, f"training.seed={seed}", f"data.labels_seed={seed}"]
        path = train_experiment(load_experiment("semi_supervised_digits", overrides), tmp_path / f"seed{seed}")
        summary = json.loads((path / "summary.json").read_text())["classification"]
        run = load_trained(path, device="cpu")
        data, training = run.data(), run.experiment.training
        baseline = train_classifier(
            run.experiment.sections["guide"]["classifier"],
            data.train.x[data.labelled],
            data.train.y[data.labelled],
            10,
            learning_rate=training.learning_rate,
            seed=seed,
        )
        gaps.append(summary["classifier_accuracy"] - accuracy(baseline, data.test.x, data.test.y))
        assert summary["class_prior"] == pytest.approx([0.1] * 10)
    assert sum(gaps) / len(gaps) > 0.02, gaps


def test_evaluate_and_classify_on_an_m2_run(m2_run, capsys):
    summary = json.loads((m2_run / "summary.json").read_text())
    assert summary["scores"] == "log p(x), the label summed out"
    figures = summary["test_importance_weighted"]
    assert figures["elbo_nats"] <= figures["iw_log_likelihood_nats"] < 0
    assert set(figures["active_units"]) == {"y", "z"} and len(figures["kl_per_dim"]["y"]) == 1
    assert main(["evaluate", str(m2_run), "--iw-samples", "5", "--limit", "20"]) == 0
    assert main(["classify", str(m2_run), "--iw-samples", "3", "--limit", "30"]) == 0
    assert "classifier_accuracy" in capsys.readouterr().out
    assert main(["classify", str(m2_run), "--split", "valid"]) == 1
    assert "labels of its valid split hidden (data.labels)" in capsys.readouterr().err


@pytest.mark.slow
def test_sample_ppc_and_latents_on_an_m2_run(m2_run):
    assert main(["sample", str(m2_run), "--label", "3"]) == 0
    assert (m2_run / "samples-label3-seed0.png").is_file()
    assert main(["sample", str(m2_run)]) == 0  # the style-by-class grid
    assert main(["ppc", str(m2_run), "--num-samples", "5", "--limit", "20", "--split", "train"]) == 0
    assert main(["latents", str(m2_run)]) == 0
    assert json.loads((m2_run / "latents.json").read_text())["runs"][str(m2_run)]["latent_dim"] == 4


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        (
            ["data.labels=5000"],
            "data.labels = 5000 is more than the 1257 examples of the training split of digits; give",
        ),
        (
            ["data.labels=2.5"],
            'data.labels must be a whole number of labelled training examples (such as 100) or "all"',
        ),
        (["data.labels='many'"], "data.labels must be a whole number"),
        (["data.labels=5"], "data.labels = 5 is fewer than the 10 classes"),
        (["data.name='quadrants'"], "data.labels = 50 asks for labelled training examples, but dataset"),
        (["model.name='conditional_vae'", "guide.name='conditional_encoder'"], "does not treat the label as a latent"),
        (["training.objective='trace_elbo'"], "mixes given and hidden labels, which objective 'trace_elbo' cannot"),
    ],
)
def test_bad_label_options_are_one_sentence(overrides, sentence, tmp_path, capsys):
    args = ["train", "semi_supervised_digits", "--run-dir", str(tmp_path / "run")]
    assert main([*args, *(f"--set={o}" for o in overrides)]) == 1
    err = capsys.readouterr().err
    assert sentence in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_the_semi_supervised_objective_needs_a_model_whose_label_is_latent(tmp_path, capsys):
    args = ["train", "default", "--set", "training.objective='semi_supervised'", "--run-dir", str(tmp_path / "run")]
    assert main(args) == 1
    assert "objective 'semi_supervised' trains a model whose label is a latent site" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_m1_m2_trains_on_the_codes_of_a_run_and_records_it(fast_experiment, tmp_path, capsys):
    m1 = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "m1")
    experiment = tmp_path / "m1_m2.toml"
    experiment.write_text(
        f'[data]\nname = "codes"\nof = "{m1}"\nlabels = 20\n\n[model]\nname = "semi_supervised_vae"\n'
        'likelihood = "gaussian"\nlikelihood_options = { scale = "decoder" }\nlatent_dim = 2\n\n'
        '[guide]\nname = "semi_supervised_encoder"\n\n[training]\nepochs = 2\nobjective = "semi_supervised"\n'
    )
    run = train_experiment(load_experiment(str(experiment), QUICK), tmp_path / "m2")
    recorded = json.loads((run / "run.json").read_text())["data"]
    provenance = recorded["options"]["provenance"]
    assert provenance["run"] == str(m1) and provenance["experiment"] == "default" and provenance["code_site"] == "z"
    assert recorded["sizes"] == {"train": 1257, "valid": 180, "test": 360}
    assert (m1 / CODES_FILE).is_file()
    codes = load_trained(run, device="cpu").data().test.x
    assert codes.shape == (360, 4)
    assert main(["classify", str(run), "--iw-samples", "2", "--limit", "10"]) == 0
    text = (run / "experiment.toml").read_text()
    (run / "experiment.toml").write_text(text.replace(provenance["parameters"], "0" * 32))
    assert main(["evaluate", str(run), "--iw-samples", "2"]) == 1
    assert f"the run {m1} whose codes this run was trained on has changed since (parameters)" in capsys.readouterr().err


def test_codes_of_a_run_without_a_density_guide_or_codes_is_one_sentence(fast_experiment, tmp_path, capsys):
    ae = train_experiment(fast_experiment("training.epochs=1", spec="ae_digits"), tmp_path / "ae")
    base = ["train", "semi_supervised_digits", "--set", "data.name='codes'", "--run-dir", str(tmp_path / "run")]
    assert main([*base, "--set", f"data.of='{ae}'"]) == 1
    assert "has no codes to train on: its guide 'delta_encoder' is a deterministic encoder, not a density" in (
        capsys.readouterr().err
    )
    cheap = ["training.epochs=1", "evaluation.classify_samples=2"]
    conditional = train_experiment(fast_experiment(*cheap, spec="conditional_digits"), tmp_path / "cvae")
    assert main([*base, "--set", f"data.of='{conditional}'"]) == 1
    assert "has no codes to train on: its codes q(z | x, y) need the label of every example" in capsys.readouterr().err
    assert main([*base, "--set", f"data.of='{tmp_path}'"]) == 1
    assert "names no trained run" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="has no class labels"):
        hide_labels(load_digits().with_splits({}, num_classes=None), 50, 0)
