"""Shape contracts of the built-in models, guides and networks: vectors and images, MLP and conv."""

from __future__ import annotations

import pytest
import torch
from pyro import poutine

from ppl_vae.core.errors import ConfigError
from ppl_vae.guides import DeltaEncoder, GaussianEncoder
from ppl_vae.infer.weights import sample_sites
from ppl_vae.models import BernoulliVAE, Dequantized, GaussianVAE
from ppl_vae.networks import build_network

IMAGE = (1, 8, 8)
MLP = {"name": "mlp", "hidden": [16, 8]}
CONV = {"name": "conv", "channels": [4, 8], "hidden": [16]}
MODELS = [
    lambda: BernoulliVAE(IMAGE, latent_dim=3, decoder=MLP),
    lambda: BernoulliVAE(IMAGE, latent_dim=3, decoder={"name": "conv", "channels": [8, 4]}),
    lambda: GaussianVAE(IMAGE, latent_dim=3, decoder=MLP, scale="shared"),
    lambda: GaussianVAE(IMAGE, latent_dim=3, decoder="conv", scale="decoder"),
    lambda: GaussianVAE(IMAGE, latent_dim=3, decoder=MLP, scale="fixed", fixed_scale=0.2, levels=17),
]


@pytest.mark.parametrize("make", MODELS)
def test_model_sites_and_shapes(make, binary_batch):
    model = make()
    trace = poutine.trace(model).get_trace(binary_batch)
    sites = sample_sites(trace)
    assert set(sites) == {"z", "x"}
    assert sites["x"]["is_observed"] and not sites["z"]["is_observed"]
    assert sites["z"]["value"].shape == (6, 3)
    assert sites["x"]["fn"].event_shape == IMAGE and sites["x"]["fn"].batch_shape == (6,)
    trace.compute_log_prob()
    assert trace.nodes["x"]["log_prob"].shape == (6,)
    assert torch.isfinite(trace.log_prob_sum())
    assert model(num_samples=5).shape == (5, *IMAGE)


@pytest.mark.parametrize("encoder", [MLP, CONV])
def test_guides_on_images(encoder, binary_batch):
    guide = GaussianEncoder(IMAGE, latent_dim=3, encoder=encoder)
    trace = poutine.trace(guide).get_trace(binary_batch)
    assert set(sample_sites(trace)) == {"z"} and trace.nodes["z"]["value"].shape == (6, 3)
    assert guide.posterior(binary_batch).batch_shape == (6,)
    delta = DeltaEncoder(IMAGE, latent_dim=3, encoder=encoder)
    codes = delta.posterior(binary_batch)
    assert torch.equal(codes.sample(), delta.encode(binary_batch)) and not delta.contract.density
    with pytest.raises(ValueError, match="needs data x"):
        guide()


def test_networks_keep_leading_dimensions_and_condition():
    for spec in (MLP, CONV):
        net = build_network(spec, IMAGE, (5,), condition_dim=2)
        out = net(torch.rand(3, 4, *IMAGE), torch.rand(4, 2))
        assert out.shape == (3, 4, 5)
    decoder = build_network("conv", (7,), (2, 28, 28))
    assert decoder(torch.rand(10, 7)).shape == (10, 2, 28, 28)
    assert build_network({"name": "conv", "channels": [16, 8, 4]}, (7,), (3, 32, 32))(torch.rand(2, 7)).shape == (
        2,
        3,
        32,
        32,
    )


@pytest.mark.parametrize(
    ("spec", "in_shape", "out_shape", "message"),
    [
        ("conv", (64,), (10,), r"this data has examples of shape \(64,\), not images"),
        (
            {"name": "conv", "channels": [4, 4, 4]},
            (1, 4, 4),
            (3,),
            r"at least 8; the data's images are \(1, 4, 4\): give it at most 2 layer\(s\) of channels",
        ),
        (
            {"name": "conv", "channels": [4]},
            (1, 1, 5),
            (3,),
            "images are \\(1, 1, 5\\): use 'mlp' for images this small",
        ),
        ("resnet", (4,), (4,), "unknown network 'resnet'; valid networks: conv, mlp"),
        ({"name": "mlp", "hiden": [3]}, (4,), (4,), r"unknown key 'hiden' in \[model.decoder\].*did you mean 'hidden'"),
        ({"name": "mlp", "activation": "swish"}, (4,), (4,), "unknown activation 'swish'; valid activations: elu"),
        ({"name": "conv", "channels": []}, (4,), (1, 8, 8), "channels must list at least one layer"),
    ],
)
def test_network_errors_name_the_problem(spec, in_shape, out_shape, message):
    with pytest.raises(Exception, match=message) as error:
        build_network(spec, in_shape, out_shape, where="model.decoder")
    assert isinstance(error.value, (ConfigError, KeyError))


def test_model_needs_data_or_a_sample_count():
    with pytest.raises(ValueError, match="num_samples"):
        BernoulliVAE(IMAGE)()


def test_latent_dim_is_named():
    with pytest.raises(ConfigError, match="latent_dim must be a positive whole number, got 0"):
        BernoulliVAE(IMAGE, latent_dim=0)


def test_bernoulli_samples_are_binary_and_decoder_mean_is_probability():
    model = BernoulliVAE(IMAGE, latent_dim=3)
    x = model(num_samples=50)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    mean = model.decode(torch.randn(7, 3)).mean
    assert mean.shape == (7, *IMAGE) and bool(((mean > 0) & (mean < 1)).all())


def test_gaussian_scale_floor_and_modes():
    model = GaussianVAE(IMAGE, latent_dim=2, scale="shared", min_scale=0.05)
    with torch.no_grad():
        model.likelihood.raw_scale.fill_(-50.0)
    assert model.decode(torch.zeros(1, 2)).stddev.min().item() == pytest.approx(0.05, abs=1e-6)
    fixed = GaussianVAE(IMAGE, latent_dim=2, scale="fixed", fixed_scale=0.3)
    assert torch.allclose(fixed.decode(torch.zeros(4, 2)).stddev, torch.full((4, *IMAGE), 0.3))
    assert GaussianVAE(IMAGE, latent_dim=2, scale="decoder").likelihood.param_shape == (2, 8, 8)
    with pytest.raises(ConfigError, match="valid scales: shared, decoder, fixed"):
        GaussianVAE(IMAGE, scale="learned")


def test_gaussian_log_likelihood_is_true_nats():
    model = GaussianVAE((4,), latent_dim=1, scale="fixed", fixed_scale=1.0)
    x, z = torch.zeros(1, 4), torch.zeros(1, 1)
    loc = model.decoder(z)
    expected = torch.distributions.Normal(loc, 1.0).log_prob(x).sum()
    assert model.decode(z).log_prob(x).item() == pytest.approx(expected.item())


def test_dequantized_likelihood_is_a_probability_of_levels():
    """Its exp is unbiased for the mass of each level's cube: summed over the levels, 1."""
    torch.manual_seed(0)
    base = torch.distributions.Independent(torch.distributions.Normal(torch.tensor([0.4]), 0.3), 1)
    levels = 5
    dequantized = Dequantized(base, levels)
    values = torch.arange(levels, dtype=torch.float32)[:, None] / (levels - 1)  # every level of one value
    probabilities = torch.stack([dequantized.log_prob(values).exp() for _ in range(4000)]).mean(0)
    edges = torch.arange(levels + 1) / levels
    cdf = torch.distributions.Normal(0.4, 0.3).cdf(edges)
    assert torch.allclose(probabilities, cdf[1:] - cdf[:-1], atol=0.01)
    drawn = dequantized.sample((1000,))
    assert set((drawn * (levels - 1)).round().unique().tolist()) <= set(range(levels))


def test_models_built_in_one_process_do_not_share_parameters():
    a, b = BernoulliVAE(IMAGE, latent_dim=3), BernoulliVAE(IMAGE, latent_dim=3)
    with torch.no_grad():
        a.decoder.layers[0].weight.fill_(1.0)
    assert not torch.equal(a.decoder.layers[0].weight, b.decoder.layers[0].weight)


@pytest.mark.parametrize("image", [(1, 13, 11), (3, 9, 30), (1, 28, 28)])
def test_conv_networks_serve_any_image_size_and_train(image):
    """The decoder draws a little more than the image and crops it; the encoder reads every pixel of odd sides."""
    from ppl_vae import Pair, Trainer, TrainingConfig
    from ppl_vae.data import Dataset, Split

    decoder = build_network({"name": "conv", "channels": [8, 4]}, (5,), image)
    encoder = build_network({"name": "conv", "channels": [4, 8]}, image, (6,))
    assert decoder(torch.rand(3, 2, 5)).shape == (3, 2, *image) and encoder(torch.rand(4, *image)).shape == (4, 6)
    gradient = torch.autograd.functional.jacobian(lambda x: encoder(x[None]).sum(), torch.rand(*image))
    assert (gradient.abs() > 0).all()  # the last row and column of an odd side reach the code too
    torch.manual_seed(0)
    x = torch.bernoulli(torch.full((60, *image), 0.3))
    data = Dataset("odd", Split(x[:40]), Split(x[40:50]), Split(x[50:]), levels=2, image_shape=image)
    conv = {"name": "conv", "channels": [8, 4]}
    pair = Pair(BernoulliVAE(image, 3, decoder=conv), GaussianEncoder(image, 3, encoder={**conv, "channels": [4, 8]}))
    pair.check(data.valid.x[:8])
    history = Trainer(pair, data, TrainingConfig(epochs=3, batch_size=20), verbose=False).fit()
    assert history[-1].train_objective > history[0].train_objective
