"""The importance-weighted estimator against exact answers and hand computation."""

from __future__ import annotations

import math

import pyro.distributions as dist
import pytest
import torch

from ppl_vae.core.errors import DataError, MeasureError
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood, likelihood_summary
from ppl_vae.guides import DeltaEncoder, GaussianEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import PairingError
from ppl_vae.infer.weights import traced_log_weights
from ppl_vae.models import BernoulliVAE, LinearGaussianModel

LINEAR = {"name": "mlp", "hidden": []}


def ppca_pair(exact_guide: bool, dtype: torch.dtype = torch.float32) -> tuple[Pair, torch.Tensor]:
    """A 6-D PPCA with orthogonal W (so the exact posterior is diagonal) and a linear guide."""
    torch.manual_seed(0)
    model = LinearGaussianModel((6,), latent_dim=2, noise_scale=0.5)
    q, _ = torch.linalg.qr(torch.randn(6, 2))
    weight = q * torch.tensor([2.0, 1.0])
    bias = torch.randn(6)
    guide = GaussianEncoder((6,), latent_dim=2, encoder=LINEAR, min_scale=0.0)
    with torch.no_grad():
        model.linear.weight.copy_(weight)
        model.linear.bias.copy_(bias)
        m = weight.T @ weight + 0.25 * torch.eye(2)  # diagonal: W has orthogonal columns
        m_inv = torch.linalg.inv(m)
        layer = guide.encoder.layers[0]
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[:2] = m_inv @ weight.T
        layer.bias[:2] = -(m_inv @ weight.T @ bias)
        posterior_sd = (0.25 * m_inv.diagonal()).sqrt()
        layer.bias[2:] = torch.log(torch.expm1(posterior_sd))  # softplus^-1
        if not exact_guide:
            layer.weight[:2] *= 0.8
            layer.bias[2:] = torch.log(torch.expm1(posterior_sd * 1.5))
    pair = Pair(model, guide).to(dtype)
    x = model(num_samples=200).detach()
    return pair, x


def test_exact_guide_gives_exact_likelihood_with_one_sample():
    pair, x = ppca_pair(exact_guide=True)
    estimate = importance_weighted_log_likelihood(pair, x, num_samples=1)
    exact = pair.model.exact_log_likelihood(x)
    assert torch.allclose(estimate.log_likelihood, exact, atol=1e-3)
    assert torch.allclose(estimate.elbo, exact, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bounds_order_and_convergence_on_ppca(dtype):
    pair, x = ppca_pair(exact_guide=False, dtype=dtype)
    exact = pair.model.exact_log_likelihood(x).mean().item()
    estimates = {k: importance_weighted_log_likelihood(pair, x, num_samples=k, seed=1) for k in (1, 10, 1000)}
    assert all(e.log_likelihood.dtype == dtype for e in estimates.values())
    iw = {k: e.log_likelihood.mean().item() for k, e in estimates.items()}
    se = {k: (e.log_likelihood.std() / math.sqrt(len(x))).item() for k, e in estimates.items()}
    elbo = estimates[1000].elbo.mean().item()
    assert elbo < iw[10] < iw[1000] <= exact + 3 * se[1000]
    assert abs(iw[1000] - exact) < abs(iw[10] - exact) < abs(elbo - exact)
    assert abs(iw[1000] - exact) < 0.05
    assert (estimates[1000].ess <= 1000).all() and (estimates[1000].ess >= 1).all()
    assert estimates[1000].khat.shape == (200,)


def test_estimator_matches_hand_computation():
    torch.manual_seed(0)
    model = BernoulliVAE((5,), latent_dim=2, decoder={"name": "mlp", "hidden": [3]})
    guide = GaussianEncoder((5,), latent_dim=2, encoder={"name": "mlp", "hidden": [3]})
    x = torch.bernoulli(torch.full((4, 5), 0.5))
    with torch.no_grad():
        log_w, guide_trace, _ = traced_log_weights(model, guide, x, num_particles=7)
        z = guide_trace.nodes["z"]["value"]  # (7, 4, 2)
        loc, raw = guide.encoder(x).split(2, dim=-1)
        scale = torch.nn.functional.softplus(raw) + guide.min_scale
        log_q = torch.distributions.Normal(loc, scale).log_prob(z).sum(-1)
        log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        logits = model.decoder(z)
    log_lik = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x.expand(7, 4, 5), reduction="none").sum(-1)
    assert torch.allclose(log_w, log_prior + log_lik - log_q, atol=1e-5)


def test_chunking_does_not_change_the_estimate():
    pair, x = ppca_pair(exact_guide=True)  # zero-variance weights: any chunking is exact
    chunked = importance_weighted_log_likelihood(pair, x[:30], num_samples=50, max_elements=6 * 7)
    assert torch.allclose(chunked.log_likelihood, pair.model.exact_log_likelihood(x[:30]), atol=1e-3)
    pair, x = ppca_pair(exact_guide=False)
    whole = importance_weighted_log_likelihood(pair, x[:30], num_samples=500, seed=3)
    chunked = importance_weighted_log_likelihood(pair, x[:30], num_samples=500, seed=3, max_elements=6 * 40)
    assert abs(whole.log_likelihood.mean() - chunked.log_likelihood.mean()) < 0.03
    assert chunked.latent_means["z"].shape == (30, 2) and chunked.kl_per_dim["z"].shape == (30, 2)
    assert torch.isnan(importance_weighted_log_likelihood(pair, x[:3], num_samples=24).khat).all()


def test_estimator_leaves_parameters_and_rng_alone():
    pair, x = ppca_pair(exact_guide=False)
    before = [p.detach().clone() for p in pair.parameters()]
    rng = torch.get_rng_state()
    importance_weighted_log_likelihood(pair, x, num_samples=20)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(before, pair.parameters()))


def test_kl_per_dim_matches_closed_form():
    pair, x = ppca_pair(exact_guide=False)
    estimate = importance_weighted_log_likelihood(pair, x[:20], num_samples=4000)
    q = pair.guide.posterior(x[:20]).base_dist
    exact = torch.distributions.kl_divergence(q, dist.Normal(0.0, 1.0))
    assert torch.allclose(estimate.kl_per_dim["z"], exact.detach(), atol=0.1)


def test_bad_inputs():
    pair, x = ppca_pair(exact_guide=False)
    with pytest.raises(ValueError, match="K must be a whole number >= 1, got 0"):
        importance_weighted_log_likelihood(pair, x, num_samples=0)
    with pytest.raises(PairingError, match="shape"):
        importance_weighted_log_likelihood(Pair(pair.model, GaussianEncoder((6,), latent_dim=3)), x, num_samples=5)
    bernoulli = Pair(BernoulliVAE((6,)), GaussianEncoder((6,)))
    with pytest.raises(DataError, match="values that are not 0 or 1"):
        importance_weighted_log_likelihood(bernoulli, x.sigmoid(), num_samples=5)


def test_a_deterministic_encoder_is_refused():
    pair = Pair(BernoulliVAE((6,)), DeltaEncoder((6,)), guide_name="delta_encoder")
    with pytest.raises(MeasureError, match="'delta_encoder' is a deterministic encoder, not a density"):
        importance_weighted_log_likelihood(pair, torch.ones(3, 6), num_samples=5)


@pytest.mark.parametrize(
    "options",
    [
        {"scale": "fixed", "fixed_scale": 1e-3},  # a needle: as a density on the raw levels it would be huge
        {"scale": "fixed", "fixed_scale": 0.3},
        {"scale": "decoder", "min_scale": 1e-4},
        {"scale": "shared", "min_scale": 1e-4},
    ],
)
def test_no_continuous_model_reports_a_positive_log_likelihood_for_discrete_data(options):
    """The engine gives continuous likelihoods the data's levels, so they dequantize: every estimate is a
    bound on a probability, whatever the density's scale."""
    from ppl_vae.core.config import load_experiment
    from ppl_vae.runs.prepare import prepare

    sets = [f"model.{key}={value!r}" for key, value in options.items()]
    prepared = prepare(load_experiment("gaussian_digits", [*sets, "training.device='cpu'"]))
    assert prepared.record["shapes"]["levels"] == 17
    test = prepared.data.test
    estimate = importance_weighted_log_likelihood(prepared.pair, test.x[:100], num_samples=50)
    assert (estimate.log_likelihood.mean() < 0) and (estimate.elbo.mean() < 0)


def test_a_needle_density_on_the_levels_is_a_probability_once_dequantized():
    """Normal(x, 0.001) centred on each 17-level value has a log-density of +383 nats over 64 values;
    dequantized, the same density gives each image a probability, whose log is below 0."""
    from ppl_vae.data.datasets import load_digits
    from ppl_vae.data.transforms import to_floating
    from ppl_vae.models import Dequantized

    x = to_floating(load_digits()).test.x[:50]
    needle = dist.Normal(x, 1e-3).to_event(3)
    assert needle.log_prob(x).mean() > 380
    dequantized = Dequantized(needle, 17)
    assert (torch.stack([dequantized.log_prob(x) for _ in range(20)]).logsumexp(0) - math.log(20) < 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_draws_follow_their_probabilities_in_the_parameters_dtype(dtype):
    from ppl_vae.core.distributions import Bernoulli

    probs = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=dtype)
    bernoulli = Bernoulli(logits=torch.logit(probs)).expand((3, 5))
    draws = bernoulli.sample((200_000,))
    assert isinstance(bernoulli, Bernoulli) and draws.shape == (200_000, 3, 5) and draws.dtype == dtype
    assert set(draws.unique().tolist()) == {0.0, 1.0}
    assert torch.allclose(draws.mean((0, 1)), probs, atol=0.005)  # 10 standard errors at p = 0.5
    assert draws[..., 0].sum() == 0 and draws[..., 4].min() == 1


def test_the_level_categorical_is_a_distribution_over_the_levels_with_its_mean():
    from ppl_vae.models.categorical import CategoricalLikelihood

    likelihood = CategoricalLikelihood((1, 2, 1), levels=3)
    assert likelihood.param_shape == (3, 2, 1)
    decoded = torch.randn(5, 3, 2, 1, dtype=torch.float64)  # 5 examples: 3 logits for each of 2 values
    p = likelihood(decoded)
    assert p.batch_shape == (5,) and p.event_shape == (1, 2, 1)
    levels = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    every = torch.cartesian_prod(levels, levels).reshape(9, 1, 1, 2, 1)  # all 9 images, broadcast over examples
    assert torch.allclose(torch.logsumexp(p.log_prob(every), 0), torch.zeros(5, dtype=torch.float64))
    probs = torch.softmax(decoded, dim=1)
    assert torch.allclose(p.mean, (probs * levels.reshape(1, 3, 1, 1)).sum(1, keepdim=True))
    draws = p.sample((4000,))
    assert set(draws.unique().tolist()) <= {0.0, 0.5, 1.0}
    assert torch.allclose(draws.mean(0), p.mean, atol=0.05)  # 5 standard errors at most


def test_validation_batches_are_sized_by_the_widest_network():
    from ppl_vae.infer.sizing import DEFAULT_MAX_ELEMENTS, examples_per_batch
    from ppl_vae.models.pixelcnn import PixelVAE

    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3))
    conv = {"name": "conv", "channels": [8], "hidden": [16]}
    pixel = Pair(PixelVAE((1, 8, 8), latent_dim=2, decoder=conv, channels=16), GaussianEncoder((1, 8, 8), 2, conv))
    mlp = Pair(BernoulliVAE((1, 8, 8), 2, {"name": "mlp", "hidden": [8]}), GaussianEncoder((1, 8, 8), 2, LINEAR))
    assert examples_per_batch(mlp, x, None, 1) == DEFAULT_MAX_ELEMENTS // 64  # the image is the widest
    assert examples_per_batch(pixel, x, None, 1) <= DEFAULT_MAX_ELEMENTS // (16 * 64)  # 16 maps of 8 x 8 at least
    assert examples_per_batch(mlp, x, None, 8) == DEFAULT_MAX_ELEMENTS // (8 * 64)


def one_active_unit_pair(tractable: bool) -> Pair:
    """8 latents; the guide's mean moves with the first pixel in the first dimension only, and its scale is 1
    everywhere (a collapsed posterior in 7 dimensions). ``tractable=False`` hides the mean behind a transform,
    so that only its draws are known."""
    from torch.distributions.transforms import AffineTransform

    class Hidden(GaussianEncoder):
        def posterior(self, x, y=None):
            base = super().posterior(x, y).base_dist
            return dist.TransformedDistribution(base, [AffineTransform(0.0, 1.0)]).to_event(1)

    model = BernoulliVAE((16,), latent_dim=8, decoder=LINEAR)
    guide = (GaussianEncoder if tractable else Hidden)((16,), latent_dim=8, encoder=LINEAR, min_scale=0.0)
    with torch.no_grad():
        layer = guide.encoder.layers[0]
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[0, 0] = 1.0  # mean of z_1 = x_1
        layer.bias[8:] = math.log(math.e - 1)  # softplus: scale 1
    return Pair(model, guide)


@pytest.mark.parametrize(("tractable", "ks"), [(True, (10, 100)), (False, (50, 500))])
def test_active_units_do_not_depend_on_the_number_of_samples(tractable, ks):
    """Burda et al.'s count is of dimensions whose posterior *mean* varies over the data: averaging K draws instead
    counts collapsed dimensions as active for small K (the Monte Carlo noise of the average varies too)."""
    torch.manual_seed(1)
    x = torch.bernoulli(torch.full((2000, 16), 0.5))
    pair = one_active_unit_pair(tractable)
    counts = []
    for k in ks:
        estimate = importance_weighted_log_likelihood(pair, x, num_samples=k)
        summary = likelihood_summary(estimate, 16)
        counts.append(summary["active_units"]["z"])
        if not tractable:  # the average of the draws alone varies by about 1/K in the collapsed dimensions
            assert (estimate.latent_means["z"].var(0)[1:] > 0.5 / k).all()
    assert counts == [1, 1]


def test_kl_per_dim_reads_the_marginals_of_a_full_covariance_guide_and_says_why_a_flow_has_none():
    from ppl_vae import GuideContract, PyroFunction
    from ppl_vae.evaluation.likelihood import likelihood_summary

    scale_tril = torch.tensor([[1.0, 0.0], [0.8, 0.6]])  # marginal standard deviations 1 and 1

    def guide(x=None, y=None, num_samples=None):
        import pyro

        loc = anchor.weight.new_zeros(x.shape[0], 2) + torch.tensor([1.0, -2.0])
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.MultivariateNormal(loc, scale_tril=scale_tril))

    anchor = torch.nn.Linear(1, 1)
    module = PyroFunction(guide, anchor=anchor)
    module.contract = GuideContract(density=True)
    pair = Pair(BernoulliVAE((4,), latent_dim=2, decoder=LINEAR), module)
    x = torch.bernoulli(torch.full((50, 4), 0.5))
    summary = likelihood_summary(importance_weighted_log_likelihood(pair, x, num_samples=4000), 4)
    # KL(Normal(m, 1) || Normal(0, 1)) = m^2 / 2 per dimension: 0.5 and 2.0 nats
    assert summary["kl_per_dim"]["z"] == pytest.approx([0.5, 2.0], abs=0.06) and not summary["kl_per_dim_absent"]

    class Joint(GaussianEncoder):  # a transform that mixes the dimensions, as a flow's does
        def posterior(self, x, y=None):
            base = super().posterior(x, y)
            return dist.TransformedDistribution(base, [dist.transforms.LowerCholeskyAffine(torch.zeros(2), scale_tril)])

    flow = Pair(BernoulliVAE((4,), latent_dim=2, decoder=LINEAR), Joint((4,), latent_dim=2, encoder=LINEAR))
    summary = likelihood_summary(importance_weighted_log_likelihood(flow, x, num_samples=30), 4)
    assert summary["kl_per_dim"] == {} and "not known in closed form" in summary["kl_per_dim_absent"]["z"]


def test_the_factorized_bernoulli_scores_as_pyros_independent_bernoulli_does():
    from ppl_vae.core.distributions import Bernoulli, FactorizedBernoulli

    logits = torch.randn(3, 4, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    x = torch.bernoulli(torch.full((4, 1, 5, 6), 0.3, dtype=torch.float64))
    ours, pyros = FactorizedBernoulli(Bernoulli(logits=logits), 3), dist.Bernoulli(logits=logits).to_event(3)
    assert torch.allclose(ours.log_prob(x), pyros.log_prob(x)) and ours.log_prob(x).shape == (3, 4)
    (first,) = torch.autograd.grad(ours.log_prob(x).sum(), logits)
    (second,) = torch.autograd.grad(pyros.log_prob(x).sum(), logits)
    assert torch.allclose(first, second)
    assert type(ours.expand((2, 3, 4))) is FactorizedBernoulli
