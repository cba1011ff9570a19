"""Inference beyond one diagonal Gaussian: several latent sites, hierarchies, full-covariance and flow guides,
and the DReG estimator, each against an answer known in closed form or computed independently."""

from __future__ import annotations

import json
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn
from torch.distributions import constraints

from ppl_vae import GuideContract, ModelContract, Pair, PyroFunction, Trainer, TrainingConfig
from ppl_vae.cli import main
from ppl_vae.core.errors import ConfigError, PairingError
from ppl_vae.data.containers import Dataset, Split
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood, likelihood_summary
from ppl_vae.guides import GaussianEncoder
from ppl_vae.guides.flow import FlowEncoder
from ppl_vae.guides.full_covariance import FullCovarianceEncoder
from ppl_vae.infer.direct_elbo import DirectELBO, agrees_with_trace_elbo
from ppl_vae.infer.objectives import make_objective, refuse_unreparameterized
from ppl_vae.models import BernoulliVAE, LinearGaussianModel


def two_site_linear_gaussian(x_dim: int = 5, seed: int = 0):
    """x = W1 z1 + W2 z2 + b + noise, z1 in R^2, z2 in R^1: a model of two latent sites whose joint posterior,
    and so the exact guide q(z1 | x) q(z2 | z1, x), is Gaussian in closed form."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(x_dim, 3, generator=generator, dtype=torch.float64)
    b = torch.randn(x_dim, generator=generator, dtype=torch.float64)
    sigma = 0.7
    anchor = nn.Linear(1, 1).double()

    def model(x=None, y=None, num_samples=None):
        n = x.shape[0] if x is not None else num_samples
        zero = anchor.weight.new_zeros(n, 1)
        with pyro.plate("data", n):
            z1 = pyro.sample("z1", dist.Normal(zero.expand(n, 2), 1.0).to_event(1))
            z2 = pyro.sample("z2", dist.Normal(zero, 1.0).to_event(1))
            mean = z1 @ w[:, :2].T + z2 @ w[:, 2:].T + b
            return pyro.sample("x", dist.Normal(mean, sigma).to_event(1), obs=x)

    precision = torch.eye(3, dtype=torch.float64) + w.T @ w / sigma**2
    covariance = torch.linalg.inv(precision)

    def guide(x=None, y=None, num_samples=None):
        mean = (x - b) @ w / sigma**2 @ covariance  # (N, 3) posterior means
        s11, s21, s22 = covariance[:2, :2], covariance[2:, :2], covariance[2:, 2:]
        with pyro.plate("data", x.shape[0]):
            z1 = pyro.sample("z1", dist.MultivariateNormal(mean[:, :2], covariance_matrix=s11 + 0 * anchor.weight))
            gain = s21 @ torch.linalg.inv(s11)
            loc = mean[:, 2:] + (z1 - mean[:, :2]) @ gain.T
            scale = (s22 - gain @ s21.T).sqrt().squeeze()
            pyro.sample("z2", dist.Normal(loc, scale).to_event(1))

    exact = dist.MultivariateNormal(b, covariance_matrix=w @ w.T + sigma**2 * torch.eye(x_dim, dtype=torch.float64))
    model_module, guide_module = PyroFunction(model, anchor=anchor), PyroFunction(guide, anchor=anchor)
    model_module.contract = ModelContract(support=constraints.real, latents=("z1", "z2"), code="z1")
    guide_module.contract = GuideContract(density=True, covers=("z1", "z2"))
    return Pair(model_module, guide_module), exact


@pytest.mark.parametrize("k", [1, 7, 300])
def test_importance_weighting_with_the_exact_posterior_of_two_sites_recovers_log_p(k):
    pair, exact = two_site_linear_gaussian()
    x = exact.sample((40,))
    estimate = importance_weighted_log_likelihood(pair, x, num_samples=k)
    assert torch.allclose(estimate.log_likelihood, exact.log_prob(x), atol=1e-8)
    summary = likelihood_summary(estimate, 5)
    assert set(summary["active_units"]) == {"z1", "z2"} and summary["kl_per_dim"]["z1"][0] > 0


def test_the_pairing_check_names_the_site_a_guide_misses_adds_or_shapes_wrong():
    pair, exact = two_site_linear_gaussian()
    x = exact.sample((8,))
    one_site = Pair(pair.model, GaussianEncoder((5,), 2).double())
    with pytest.raises(PairingError, match="the guide misses the model's latent site\\(s\\) 'z1', 'z2'"):
        one_site.check(x)
    wrong = ModelContract(support=constraints.real, latents=("z1", "z3"))
    pair.model.contract = wrong
    with pytest.raises(PairingError, match="the model declares latent site\\(s\\) 'z1', 'z3' in its contract"):
        Pair(pair.model, pair.guide).check(x)
    model = BernoulliVAE((6,), latent_dim=3)
    with pytest.raises(PairingError, match="samples 'z' with shape \\(8, 2\\) where the model's has shape \\(8, 3\\)"):
        Pair(model, FullCovarianceEncoder((6,), 2)).check(torch.zeros(8, 6))


def test_the_flow_density_is_the_change_of_variables_formula_computed_independently():
    torch.manual_seed(0)
    for flow in ("iaf", "spline"):
        guide = FlowEncoder((6,), latent_dim=3, flow=flow, steps=3, hidden=[16]).double()
        x = torch.rand(4, 6, dtype=torch.float64)
        q = guide.posterior(x)
        u = q.base_dist.sample()
        for i in range(4):

            def forward(v, i=i, transforms=q.transforms):
                for transform in transforms:
                    v = transform(v[None].expand(4, 3))[i] if v.dim() == 1 else transform(v)
                return v

            jacobian = torch.autograd.functional.jacobian(forward, u[i])
            z = forward(u[i])
            by_hand = q.base_dist.log_prob(u)[i] - torch.linalg.slogdet(jacobian)[1]
            assert q.log_prob(z[None].expand(4, 3))[i].item() == pytest.approx(by_hand.item(), abs=1e-8)


def test_a_two_dimensional_flow_density_integrates_to_one():
    torch.manual_seed(1)
    guide = FlowEncoder((4,), latent_dim=2, flow="iaf", steps=2, hidden=[8]).double()
    q = guide.posterior(torch.rand(1, 4, dtype=torch.float64))
    draws = q.sample((4000,))
    low, high = draws.min(0).values[0] - 3, draws.max(0).values[0] + 3
    grid = [torch.linspace(low[j], high[j], 400, dtype=torch.float64) for j in range(2)]
    points = torch.stack(torch.meshgrid(*grid, indexing="ij"), -1).reshape(-1, 1, 2)
    with torch.no_grad():
        density = q.log_prob(points).exp().sum() * (grid[0][1] - grid[0][0]) * (grid[1][1] - grid[1][0])
    assert density.item() == pytest.approx(1.0, abs=0.01)


def test_a_flow_of_one_latent_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match="the flow guide needs latent_dim >= 2, got 1"):
        FlowEncoder((6,), latent_dim=1)


def linear_pair(dtype=torch.float64) -> tuple[Pair, torch.Tensor]:
    """A PPCA model and a linear Gaussian encoder that is not its posterior (so that its gradient is not 0)."""
    torch.manual_seed(0)
    model = LinearGaussianModel((4,), latent_dim=2, noise_scale=0.6).to(dtype)
    guide = GaussianEncoder((4,), latent_dim=2, encoder={"name": "mlp", "hidden": []}).to(dtype)
    pair = Pair(model, guide)
    x = torch.randn(3, 4, dtype=dtype)
    pair.check(x)
    return pair, x


def gradients(name: str, pair: Pair, x: torch.Tensor, k: int, repeats: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(encoder gradients, decoder gradients) of the loss, one row per repeat with fresh draws."""
    loss = make_objective(name, k)(pair.model, pair.guide)
    guide_rows, model_rows = [], []
    for _ in range(repeats):
        pair.zero_grad()
        loss(x).backward()
        guide_rows.append(torch.cat([p.grad.reshape(-1) for p in pair.guide.parameters()]))
        model_rows.append(torch.cat([p.grad.reshape(-1) for p in pair.model.parameters()]))
    return torch.stack(guide_rows), torch.stack(model_rows)


def test_dreg_has_iwae_gradient_in_expectation_and_a_lower_variance_for_the_encoder():
    """Tucker et al. (2019): the same gradient of the IW bound in expectation, with a lower variance for the
    encoder's parameters (the model's gradient estimator is unchanged)."""
    pair, x = linear_pair()
    pyro.set_rng_seed(0)
    iwae_guide, iwae_model = gradients("iwae", pair, x, 10, 200)
    dreg_guide, dreg_model = gradients("iwae_dreg", pair, x, 10, 200)
    for a, b in ((iwae_guide, dreg_guide), (iwae_model, dreg_model)):
        error = (a.var(0) / len(a) + b.var(0) / len(b)).sqrt()
        assert ((a.mean(0) - b.mean(0)).abs() <= 4.5 * error + 1e-9).all()
    assert dreg_guide.var(0).sum() < 0.5 * iwae_guide.var(0).sum()


class ScoreFunctionNormal(dist.Normal):
    """A Normal drawn without reparameterization: its gradients can only come from its score function."""

    has_rsample = False


class ScoreFunctionEncoder(GaussianEncoder):
    def distribution(self, params):
        base = super().distribution(params).base_dist
        return ScoreFunctionNormal(base.loc, base.scale).to_event(1)


def test_dreg_refuses_a_guide_that_is_not_reparameterized():
    x = torch.zeros(8, 6)
    pair = Pair(BernoulliVAE((6,), latent_dim=2), GaussianEncoder((6,), latent_dim=2))
    pair.check(x)
    refuse_unreparameterized("iwae_dreg", pair)  # a Normal drawn by reparameterization: accepted
    pair = Pair(BernoulliVAE((6,), latent_dim=2), ScoreFunctionEncoder((6,), latent_dim=2))
    pair.check(x)
    assert pair.pairing.reparameterized == ()
    with pytest.raises(ConfigError, match="objective 'iwae_dreg' differentiates through the guide's draws, but"):
        refuse_unreparameterized("iwae_dreg", pair)


def test_a_guide_that_is_not_reparameterized_trains_by_pyros_route():
    """The direct ELBO needs rsample: for a guide without it, SVI keeps Pyro's Trace_ELBO (score-function
    gradients for the guide), and the encoder still learns."""
    pair = Pair(BernoulliVAE((6,), latent_dim=2), ScoreFunctionEncoder((6,), latent_dim=2))
    x = (torch.arange(6) < 3).float().expand(32, 6)
    pair.check(x)
    assert not agrees_with_trace_elbo(pair, DirectELBO(pair), x, None)
    encoder = [p.detach().clone() for p in pair.guide.parameters()]
    data = Dataset("halves", Split(x), Split(x[:8]), Split(x[:8]), levels=2, description="synthetic")
    history = Trainer(pair, data, TrainingConfig(epochs=2, batch_size=16, learning_rate=1e-2), verbose=False).fit()
    assert all(math.isfinite(record.train_objective) for record in history)
    assert any(not torch.equal(a, b) for a, b in zip(encoder, pair.guide.parameters()))


CHEAP = ["--set=training.epochs=1", "--set=training.device='cpu'", "--set=evaluation.iw_samples=20"]
CHEAP += ["--set=evaluation.ppc_examples=0"]
COMMANDS = {
    "evaluate": ["--iw-samples", "30", "--limit", "40"],
    "ppc": ["--num-samples", "3", "--limit", "30"],
    "latents": ["--steps", "3"],
    "probe": ["--labels", "20", "--draws", "1"],
    "sample": ["--num-samples", "4"],
}


def trained_and_read(experiment: str, commands: list[str], folder, capsys) -> dict:
    run = folder / experiment
    assert main(["train", experiment, "--run-dir", str(run), *CHEAP]) == 0, capsys.readouterr().err
    for command in commands:
        assert main([command, str(run), *COMMANDS[command]]) == 0, (command, capsys.readouterr().err)
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize(
    ("experiment", "sites", "commands"),
    [
        ("hierarchical_digits", {"z1", "z2"}, ["latents"]),
        ("flow_digits", {"z"}, ["evaluate"]),
        ("full_covariance_digits", {"z"}, []),
    ],
)
def test_the_new_families_train_from_the_command_line(experiment, sites, commands, tmp_path, capsys):
    summary = trained_and_read(experiment, commands, tmp_path, capsys)
    figures = summary["test_importance_weighted"]
    assert set(figures["active_units"]) == sites and math.isfinite(figures["iw_log_likelihood_nats"])
    assert figures["iw_log_likelihood_nats"] >= figures["elbo_nats"] - 0.5  # the IW bound is the tighter one


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["hierarchical_digits", "flow_digits", "full_covariance_digits"])
def test_every_command_reads_the_runs_of_the_new_families(experiment, tmp_path, capsys):
    trained_and_read(experiment, list(COMMANDS), tmp_path, capsys)
