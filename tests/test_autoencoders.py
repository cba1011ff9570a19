"""The autoencoder beside the VAE: reconstructions, the three problems of its latent space, features, PCA and PPCA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.evaluation.latents import class_share_kl, gaussian_kl_to_standard, measure, reconstruction_errors, slerp
from ppl_vae.evaluation.probe import balanced_sample, probe
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.models.linear_gaussian import LinearGaussianModel, fit_ppca
from ppl_vae.runs.prepare import prepare
from ppl_vae.train.trainer import Trainer

SEEDS = (0, 1, 2)


def trained(name: str, seed: int):
    prepared = prepare(load_experiment(name, [f"training.seed={seed}", "training.epochs=40", "training.device='cpu'"]))
    Trainer(prepared.pair, prepared.data, prepared.experiment.training, verbose=False).fit()
    return prepared


@pytest.fixture(scope="module")
def pairs():
    """{seed: (VAE, AE)} on the 8x8 digits with identical networks, 8 latents, 40 epochs each."""
    return {seed: (trained("default", seed), trained("ae_digits", seed)) for seed in SEEDS}


def test_the_autoencoder_reconstructs_better_than_the_vae(pairs):
    vae, ae = pairs[0]
    test = vae.data.test
    vae_error, vae_nats = reconstruction_errors(vae.pair, test.x)
    ae_error, ae_nats = reconstruction_errors(ae.pair, test.x)
    assert ae_error.mean() < vae_error.mean() and ae_nats.mean() > vae_nats.mean()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_three_measures_rank_the_autoencoder_space_worse(pairs, seed):
    vae, ae = (measure(p.pair, p.data, seed)[0] for p in pairs[seed])
    assert ae.centre_distance > vae.centre_distance and ae.kl_to_prior > vae.kl_to_prior  # (a) off-centre
    assert ae.prior_class_kl > vae.prior_class_kl  # (b) unequal class areas under the prior
    assert ae.gap_share > vae.gap_share  # (c) prior draws in gaps between classes


def test_the_probe_beats_chance_and_improves_with_labels(pairs):
    vae, _ = pairs[0]
    table = probe(vae.pair, vae.data, [20, "all"], draws=3)
    codes = table["codes"]
    assert codes["20"]["mean"] > 0.5 and codes["all"]["mean"] > codes["20"]["mean"] + 0.1  # chance: 0.13
    assert set(table) == {"codes", "raw", "pca8"} and codes["20"]["draws"] == 3 and codes["all"]["draws"] == 1


def test_balanced_label_draws():
    labels = np.repeat(np.arange(4), 50)
    index = balanced_sample(labels, 10, 4, np.random.default_rng(0))
    assert sorted(np.bincount(labels[index]).tolist()) == [2, 2, 3, 3] and len(set(index)) == 10


def test_ppca_in_closed_form_spans_the_pca_subspace_of_scikit_learn():
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(300, 6)) @ np.diag([3, 2, 1, 0.5, 0.2, 0.1]))
    ppca = fit_ppca(x, 2)
    weight, bias = ppca.linear.weight.detach().double(), ppca.linear.bias.detach().double()
    basis, _ = torch.linalg.qr(weight)
    ours = (x - bias) @ basis @ basis.T + bias
    pca = PCA(2).fit(x.numpy())
    theirs = pca.inverse_transform(pca.transform(x.numpy()))
    assert np.allclose(ours.numpy(), theirs, atol=1e-8)
    assert ((ours - x) ** 2).sum(1).mean().item() == pytest.approx(((theirs - x.numpy()) ** 2).sum(1).mean())


def test_the_closed_form_ppca_likelihood_matches_the_trained_one():
    torch.manual_seed(0)
    truth = LinearGaussianModel((6,), latent_dim=2, noise_scale=0.3)
    from ppl_vae.data import Dataset, Split

    x = truth(num_samples=3000).detach()
    data = Dataset("ppca", Split(x[:2000]), Split(x[2000:2500]), Split(x[2500:]), description="synthetic")
    model = LinearGaussianModel((6,), latent_dim=2, noise_scale=1.0)
    pair = Pair(model, GaussianEncoder((6,), 2, {"name": "mlp", "hidden": []}, min_scale=1e-3))
    pair.check(x[:8])
    config = load_experiment(None, ["training.learning_rate=0.01", "training.epochs=150", "training.batch_size=200"])
    Trainer(pair, data, config.training, verbose=False).fit()
    closed_form = fit_ppca(data.train.x, 2)
    with torch.no_grad():
        trained_value = model.exact_log_likelihood(data.test.x).mean().item()
        best = closed_form.exact_log_likelihood(data.test.x).mean().item()
    assert abs(trained_value - best) < 0.05, (trained_value, best)


def test_measures_by_hand():
    assert gaussian_kl_to_standard(np.zeros(3), np.eye(3)) == pytest.approx(0.0)
    assert gaussian_kl_to_standard(np.array([2.0, 0]), np.eye(2)) == pytest.approx(2.0)
    assert class_share_kl(np.eye(2)[[0, 1, 0, 1]], np.array([0, 1]), 2) == pytest.approx(0.0)
    assert class_share_kl(np.eye(2)[[0, 0, 0, 0]], np.array([0, 1]), 2) == pytest.approx(math.log(2))
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    path = slerp(a, b, 3)
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b)
    assert path[1].norm().item() == pytest.approx(math.sqrt(2) * (1 + 2) / 2 / math.sqrt(2), rel=0.1)


def test_latents_and_probe_commands(tmp_path, capsys):
    from tests.test_cli import set_args

    conv = ["model.decoder='conv'", "guide.encoder='conv'"]  # the autoencoder is a conv pair, the VAE an MLP one
    for name, sets in (("vae", ["guide.name=gaussian_encoder"]), ("ae", ["guide.name=delta_encoder", *conv])):
        argv = ["train", *set_args(*sets, "model.latent_dim=2"), "--run-dir", str(tmp_path / name)]
        assert main(argv) == 0
    assert main(["latents", str(tmp_path / "ae"), str(tmp_path / "vae"), "--steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "centre_distance" in out and "prior_class_kl" in out
    names = {p.name for p in (tmp_path / "ae").iterdir()}
    assert {f"latents-vs-vae{s}" for s in (".json", "_scatter.png", "_manifold.png", "_traversals.png")} <= names
    assert main(["probe", str(tmp_path / "vae"), "--labels", "20", "all", "--draws", "2"]) == 0
    assert "codes" in capsys.readouterr().out and (tmp_path / "vae" / "probe-20-all.json").is_file()
    for argv, message in (
        (["evaluate", str(tmp_path / "ae")], "its figures are reconstructions (reconstructions.png"),
        (["probe", str(tmp_path / "vae"), "--labels", "5"], "give at least one label per class (10)"),
        (["probe", str(tmp_path / "vae"), "--labels", "100000"], "is more than the 1257 examples"),
        (["latents", str(tmp_path / "vae"), "--dims", "0", "5"], "give two different latent dimensions below 2"),
    ):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
