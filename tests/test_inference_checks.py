"""Checks of inference: simulation-based calibration of a guide, the approximation and amortization gaps, the
prior predictive check, and the ArviZ groups they write."""

from __future__ import annotations

import json
import re

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from scipy import stats
from torch import nn

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.inference_data import from_groups, group, group_names, pareto_khat, read_netcdf
from ppl_vae.evaluation.gaps import GapSettings, inference_gaps
from ppl_vae.evaluation.sbc import (
    coverage,
    simulation_based_calibration,
    summarize,
    uniformity_p_values,
)
from ppl_vae.guides.gaussian import GaussianEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.models.linear_gaussian import LinearGaussianModel
from ppl_vae.report.sbc import sbc_files, write_sbc


class ExactPosterior(nn.Module):
    """q(z | x) = the linear-Gaussian model's exact posterior, its scale divided by ``shrink`` (> 1: over-confident)."""

    contract = GuideContract(density=True)

    def __init__(self, model: LinearGaussianModel, shrink: float = 1.0):
        super().__init__()
        self.model, self.shrink = [model], shrink  # a list: the model's parameters stay the model's

    def forward(self, x, y=None, num_samples=None):
        posterior = self.model[0].exact_posterior(x)
        with pyro.plate("data", x.shape[0]):
            return pyro.sample(
                "z", dist.MultivariateNormal(posterior.loc, scale_tril=posterior.scale_tril / self.shrink)
            )


def linear_gaussian(latent_dim: int, x_dim: int = 6, seed: int = 0) -> LinearGaussianModel:
    generator = torch.Generator().manual_seed(seed)
    model = LinearGaussianModel((x_dim,), latent_dim=latent_dim, noise_scale=0.5)
    with torch.no_grad():
        model.linear.weight.copy_(torch.randn(x_dim, latent_dim, generator=generator))
    return model


def exact_pair(model: LinearGaussianModel, shrink: float = 1.0) -> Pair:
    pair = Pair(model, ExactPosterior(model, shrink), "linear_gaussian", "exact_posterior")
    pair.check(model.marginal().sample((4,)))
    return pair


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranks_of_the_exact_posterior_are_uniform_and_of_an_overconfident_guide_are_not(seed):
    model = linear_gaussian(3, seed=seed)
    exact = summarize(simulation_based_calibration(exact_pair(model), 200, 39, 30, seed=seed))
    shrunk = summarize(simulation_based_calibration(exact_pair(model, shrink=3.0), 200, 39, 0, seed=seed))
    for kind in ("guide", "resampled"):  # q = p(z | x): every importance weight is 1, resampling changes nothing
        row = exact[kind]["z"]
        assert row["bonferroni_p_value"] > 1e-3  # a false alarm at this level: 1 seed in 1,000
        assert abs(row["coverage"]["0.9"] - 0.9) < 0.05 and abs(row["coverage"]["0.5"] - 0.5) < 0.07
    assert exact["khat_median"] is None  # equal weights: no tail to fit
    row = shrunk["guide"]["z"]
    assert not row["uniform"] and row["rejected_dimensions"] == 3 and row["bonferroni_p_value"] < 1e-10
    # z* inside +-1.645 sigma / 3: P(|N(0, 1)| < 0.548) = 0.42, not 0.9
    assert 0.35 < row["coverage"]["0.9"] < 0.5
    assert "resampled" not in shrunk and shrunk["khat_median"] is None


def test_the_rank_test_holds_its_false_alarm_rate():
    """Uniform ranks are rejected at 5% in 5% of coordinates (binomial 99.9% interval), whatever L and M; and so are
    the coordinates of the exact posterior's ranks, pooled over seeds."""
    rng = np.random.default_rng(0)
    for draws, simulations in ((19, 200), (100, 1000), (7, 30)):
        p = uniformity_p_values(rng.integers(0, draws + 1, size=(simulations, 3000)), draws)
        assert abs((p < 0.05).mean() - 0.05) < 0.013
        assert stats.kstest(p, "uniform").pvalue > 1e-3 or draws == 7  # few bins: a discrete statistic
    model = linear_gaussian(20, x_dim=25)
    pair = exact_pair(model)
    pooled = np.concatenate(
        [
            uniformity_p_values(simulation_based_calibration(pair, 150, 19, 0, seed=s).ranks["guide"]["z"], 19)
            for s in range(5)
        ]
    )
    assert (pooled < 0.05).sum() <= 11  # 100 p-values: at most 11 below 0.05 with probability 0.999


def test_coverage_of_central_intervals_from_hand_made_pit_values():
    pit = np.array([[0.5], [0.3], [0.04], [0.97], [0.71]])
    assert coverage(pit, (0.5, 0.9)) == {"0.5": pytest.approx(0.6), "0.9": pytest.approx(0.6)}
    assert coverage(pit, (0.99,)) == {"0.99": 1.0}


def test_calibration_files_hold_ranks_in_arviz_groups(tmp_path):
    model = linear_gaussian(2)
    result = simulation_based_calibration(exact_pair(model, shrink=2.0), 60, 9, 30, seed=0)
    summary = write_sbc(result, tmp_path, {"num_simulations": 60}, "sbc-test")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(sbc_files("sbc-test"))
    data = read_netcdf(tmp_path / "sbc-test.nc")
    assert {"prior", "prior_sbc", "sbc_ranks", "sample_stats_prior"} <= set(group_names(data))
    ranks = group(data, "sbc_ranks")
    assert ranks["z"].shape == (1, 60, 2) and ranks["z_resampled"].shape == (1, 60, 2)
    assert np.array_equal(ranks["z"].values[0], result.ranks["guide"]["z"])
    assert ranks["z"].values.min() >= 0 and ranks["z"].values.max() <= 9 and ranks.attrs["num_draws"] == 9
    pit = group(data, "prior_sbc")["z"].values[0]
    assert np.all((pit * 10 >= result.ranks["guide"]["z"]) & (pit * 10 < result.ranks["guide"]["z"] + 1))
    assert np.allclose(group(data, "prior")["z"].values[0], result.truth["z"])
    written = json.loads((tmp_path / "sbc-test.json").read_text())
    assert written == json.loads(json.dumps(summary)) and written["guide"]["z"]["dimensions"] == 2


def test_inference_data_round_trip_and_khat():
    groups = {
        "posterior": {"z": np.arange(12.0).reshape(1, 3, 4)},
        "prior_sbc": {"z": np.full((1, 3, 4), 0.5)},
        "observed_data": {"t": np.arange(5.0)},
    }
    data = from_groups(groups, dims={"z": ["z_dim"], "t": ["example"]}, attrs={"num_draws": 7})
    assert set(group_names(data)) == {"posterior", "prior_sbc", "observed_data"}
    assert group(data, "prior_sbc")["z"].dims == ("chain", "draw", "z_dim")
    assert group(data, "observed_data")["t"].dims == ("example",)
    with pytest.raises(KeyError, match="no group 'prior'; groups: "):
        group(data, "prior")
    import arviz

    log_w = np.random.default_rng(0).standard_t(2, size=(4, 500))
    assert np.allclose(pareto_khat(log_w), arviz.psislw(log_w, reff=1.0)[1])


def test_gaps_of_probabilistic_pca_match_the_closed_form():
    """Against PPCA with a diagonal Gaussian guide: log p(x) is exact, the best diagonal Gaussian has the posterior's
    mean and the reciprocal diagonal of its precision, and its KL to the posterior is the approximation gap."""
    torch.manual_seed(0)
    model = linear_gaussian(3)
    guide = GaussianEncoder((6,), 3, {"name": "mlp", "hidden": [8]})  # untrained: a large amortization gap
    pair = Pair(model, guide, "linear_gaussian", "gaussian_encoder")
    x = model.marginal().sample((12,)).detach()
    pair.check(x[:4])
    before = {k: v.clone() for k, v in pair.state_dict().items()}
    settings = GapSettings(iw_samples=300, learning_rate=0.05, check_every=25, tolerance=0.01, seed=0)
    gaps = inference_gaps(pair, x, settings=settings)
    with torch.no_grad():
        exact = model.exact_log_likelihood(x)
        precision = torch.linalg.inv(model.exact_posterior(x).covariance_matrix)
        kl = 0.5 * (precision.diagonal(dim1=-2, dim2=-1).log().sum(-1) - torch.logdet(precision))
    error = gaps.log_likelihood - exact  # mostly below 0.05; a rare draw of a heavy-tailed weight moves one further
    assert error.mean().abs() < 0.1 and error.abs().median() < 0.05
    assert (gaps.optimized_elbo - (exact - kl)).abs().max() < 0.15
    assert (gaps.approximation_gap.mean() - kl.mean()).abs() < 0.05
    assert gaps.amortization_gap.min() > 1.0 and bool(gaps.converged.all())
    assert all(torch.equal(v, before[k]) for k, v in pair.state_dict().items())


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The default experiment (binarized digits) shrunk and trained for a few epochs, loaded back."""
    from ppl_vae.core.config import load_experiment
    from ppl_vae.runs.trained import load_trained
    from ppl_vae.runs.training import train_experiment
    from tests.conftest import FAST

    overrides = [*FAST, "training.epochs=2", "evaluation.ppc_examples=30", "evaluation.ppc_prior=true"]
    return load_trained(train_experiment(load_experiment(None, overrides), tmp_path_factory.mktemp("run") / "r"), "cpu")


def test_the_prior_predictive_check_draws_from_p_x_and_is_written_beside_the_posterior_one(digits_run, tmp_path):
    from ppl_vae.evaluation.ppc import posterior_predictive_check, prior_predictive_check

    run = digits_run
    x = run.data().test.x[:120]
    image = run.view.image_shape
    prior = prior_predictive_check(run.pair, x, num_samples=10, image_shape=image, seed=1, keep_images=40)
    shuffled = prior_predictive_check(run.pair, x.flip(0), num_samples=10, image_shape=image, seed=1, keep_images=40)
    posterior = posterior_predictive_check(run.pair, x, num_samples=10, image_shape=image, seed=1, keep_images=40)
    moved = posterior_predictive_check(run.pair, x.flip(0), num_samples=10, image_shape=image, seed=1, keep_images=40)
    # draws of p(x) do not depend on the examples they are compared with; draws of the posterior do
    assert np.array_equal(prior.x_rep_subset, shuffled.x_rep_subset)
    assert not np.array_equal(posterior.x_rep_subset, moved.x_rep_subset)
    assert np.array_equal(prior.observed["total_ink"][::-1], shuffled.observed["total_ink"])
    replicated = prior.replicated["total_ink"]
    expected = (replicated > prior.observed["total_ink"]).mean(0) + 0.5 * (
        replicated == prior.observed["total_ink"]
    ).mean(0)
    assert np.allclose(prior.p_values["total_ink"], expected)
    assert prior.group == "prior_predictive" and prior.log_likelihood is None and not prior.prior
    assert prior.latents["z"].shape == (10, 120, 4) and prior.x_rep_subset.shape == (10, 40, 64)
    summary = json.loads((run.directory / "summary.json").read_text())
    assert "ppc_prior_flagged" in summary and "ppc_flagged" in summary
    data = read_netcdf(run.directory / "ppc_prior.nc")
    assert set(group_names(data)) == {"prior", "prior_predictive", "observed_data"}
    assert group(data, "prior_predictive")["total_ink"].shape == (1, 5, 30)  # evaluation.ppc_samples, ppc_examples
    assert (run.directory / "ppc_prior_statistics.png").exists() and (run.directory / "ppc_prior_pvalues.png").exists()


@pytest.mark.slow
def test_commands_write_their_files_and_say_what_they_measured(digits_run, capsys):
    from ppl_vae.cli import main

    run = str(digits_run.directory)
    assert main(["ppc", run, "--prior", "--num-samples", "3", "--limit", "20"]) == 0
    assert "prior predictive check: a random 20 of the" in capsys.readouterr().out
    assert (digits_run.directory / "ppc_prior-test-random20-seed0-S3.json").exists()
    assert main(["sbc", run, "--simulations", "40", "--draws", "9", "--proposals", "30"]) == 0
    out = capsys.readouterr().out
    assert "guide      z" in out and "resampled  z" in out and "sbc-M40-L9-K30.nc" in out
    assert json.loads((digits_run.directory / "sbc-M40-L9-K30.json").read_text())["guide"]["z"]["dimensions"] == 4
    assert (
        main(["gaps", run, "--limit", "10", "--iw-samples", "50", "--max-steps", "100", "--learning-rate", "0.05"]) == 0
    )
    out = capsys.readouterr().out
    stem = "gaps-test-random10-seed0-K50-steps100-lr0.05"
    assert "amortization_gap" in out and f"{stem}.csv" in out
    rows = np.loadtxt(digits_run.directory / f"{stem}.csv", delimiter=",", skiprows=1)
    assert rows.shape == (10, 8) and np.allclose(rows[:, 4], rows[:, 1] - rows[:, 3], atol=1e-4)


def test_long_checks_are_refused_with_their_estimate_unless_confirmed(digits_run, monkeypatch, capsys):
    import ppl_vae.commands.gaps as gaps_command
    import ppl_vae.commands.sbc as sbc_command
    from ppl_vae.cli import main

    run = str(digits_run.directory)
    monkeypatch.setattr(sbc_command, "LONG_CHECK_SECONDS", 0)
    monkeypatch.setattr(gaps_command, "LONG_CHECK_SECONDS", 0)
    before = sorted(p.name for p in digits_run.directory.iterdir())
    assert main(["sbc", run, "--simulations", "30", "--draws", "5", "--proposals", "0"]) == 1
    error = capsys.readouterr().err
    assert "calibrating" in error and "would take about" in error and "add --yes" in error and error.count("\n") == 1
    assert main(["gaps", run, "--limit", "5", "--max-steps", "50"]) == 1
    error = capsys.readouterr().err
    assert "measuring the gaps of 5 examples" in error and "minutes" in error and error.count("\n") == 1
    assert sorted(p.name for p in digits_run.directory.iterdir()) == before
    assert main(["sbc", run, "--simulations", "30", "--draws", "5", "--proposals", "0", "--yes"]) == 0


@pytest.mark.parametrize(
    ("experiment", "overrides", "levels", "says"),
    [
        ("ae_digits", [], None, "is a deterministic encoder, not a density: sbc checks a distribution"),
        (
            "pixelcnn_digits",
            ["model.channels=4", "model.layers=0"],
            None,
            "has no latent variables: sbc checks a guide",
        ),
        ("gan_digits", [], 17, "holds an implicit model (a generator without a likelihood): sbc needs"),
    ],
)
def test_checks_of_inference_refuse_runs_without_a_guide_density_in_one_sentence(
    experiment, overrides, levels, says, tmp_path
):
    from ppl_vae.commands.gaps import gaps
    from ppl_vae.commands.sbc import sbc
    from ppl_vae.core.config import load_experiment
    from ppl_vae.core.errors import RunError
    from ppl_vae.runs.prepare import build_pair
    from ppl_vae.runs.trained import TrainedRun

    loaded = load_experiment(experiment, overrides)
    shapes = {"x_shape": (1, 8, 8), "y_shape": None, "num_classes": None, "levels": levels, "image_shape": (1, 8, 8)}
    run = TrainedRun(tmp_path, loaded, build_pair(loaded, shapes), {}, None)
    with pytest.raises(RunError, match=re.escape(says)):
        sbc(run)
    with pytest.raises(RunError, match=re.escape(says.replace("sbc", "gaps"))) as raised:
        gaps(run)
    assert "\n" not in str(raised.value) and list(tmp_path.iterdir()) == []
