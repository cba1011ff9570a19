"""Shape contracts of the built-in models and guide."""

from __future__ import annotations

import pyro
import pytest
import torch
from pyro import poutine

from ppl_vae.guides.gaussian import GaussianEncoder
from ppl_vae.models.bernoulli import BernoulliVAE
from ppl_vae.models.gaussian import GaussianVAE
from ppl_vae.weights import sample_sites

MODELS = [
    lambda: BernoulliVAE(64, latent_dim=3, hidden=(16, 8)),
    lambda: GaussianVAE(64, latent_dim=3, hidden=(16,), scale="shared"),
    lambda: GaussianVAE(64, latent_dim=3, hidden=(16,), scale="decoder"),
    lambda: GaussianVAE(64, latent_dim=3, hidden=(16,), scale="fixed", fixed_scale=0.2),
]


@pytest.mark.parametrize("make", MODELS)
def test_model_sites_and_shapes(make, binary_batch):
    model = make()
    trace = poutine.trace(model).get_trace(binary_batch)
    sites = sample_sites(trace)
    assert set(sites) == {"z", "x"}
    assert sites["x"]["is_observed"] and not sites["z"]["is_observed"]
    assert sites["z"]["value"].shape == (6, 3)
    assert sites["x"]["fn"].event_shape == (64,)
    assert sites["x"]["fn"].batch_shape == (6,)
    trace.compute_log_prob()
    assert trace.nodes["x"]["log_prob"].shape == (6,)
    assert torch.isfinite(trace.log_prob_sum())
    assert model(num_samples=5).shape == (5, 64)


def test_model_needs_data_or_a_sample_count():
    with pytest.raises(ValueError, match="num_samples"):
        BernoulliVAE(64)()


def test_bernoulli_samples_are_binary_and_decoder_mean_is_probability():
    model = BernoulliVAE(64, latent_dim=3)
    x = model(num_samples=50)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    mean = model.decode(torch.randn(7, 3)).mean
    assert mean.shape == (7, 64) and bool(((mean > 0) & (mean < 1)).all())


def test_gaussian_scale_floor_and_modes():
    model = GaussianVAE(64, latent_dim=2, scale="shared", min_scale=0.05)
    with torch.no_grad():
        model.decoder.likelihood.raw_scale.fill_(-50.0)
    assert model.decode(torch.zeros(1, 2)).stddev.min().item() == pytest.approx(0.05, abs=1e-6)
    fixed = GaussianVAE(64, latent_dim=2, scale="fixed", fixed_scale=0.3)
    assert torch.allclose(fixed.decode(torch.zeros(4, 2)).stddev, torch.full((4, 64), 0.3))
    assert GaussianVAE(64, latent_dim=2, scale="decoder").decoder.net[-1].out_features == 128
    with pytest.raises(ValueError, match="valid scales: shared, decoder, fixed"):
        GaussianVAE(64, scale="learned")


def test_gaussian_log_likelihood_is_true_nats():
    model = GaussianVAE(4, latent_dim=1, scale="fixed", fixed_scale=1.0)
    x = torch.zeros(1, 4)
    z = torch.zeros(1, 1)
    loc = model.decoder.net(z)
    expected = torch.distributions.Normal(loc, 1.0).log_prob(x).sum()
    assert model.decode(z).log_prob(x).item() == pytest.approx(expected.item())


def test_guide_shapes_and_needs_data(binary_batch):
    guide = GaussianEncoder(64, latent_dim=3, hidden=(16,))
    trace = poutine.trace(guide).get_trace(binary_batch)
    assert set(sample_sites(trace)) == {"z"}
    assert trace.nodes["z"]["value"].shape == (6, 3)
    assert guide.posterior(binary_batch).batch_shape == (6,)
    with pytest.raises(ValueError, match="needs data x"):
        guide()


def test_unknown_activation_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'swish'; valid activations: elu"):
        BernoulliVAE(64, activation="swish")


def test_models_built_in_one_process_do_not_share_parameters():
    a, b = BernoulliVAE(64, latent_dim=3), BernoulliVAE(64, latent_dim=3)
    with torch.no_grad():
        a.decoder.net[0].weight.fill_(1.0)
    pyro.clear_param_store()
    assert not torch.equal(a.decoder.net[0].weight, b.decoder.net[0].weight)
    assert len(pyro.get_param_store()) == 0
