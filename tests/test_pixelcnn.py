"""The PixelCNN: causal masks (by gradients), exact normalized likelihoods (by enumeration and by the chain rule),
pixel-by-pixel sampling, the PixelVAE's use of z, and refusals."""

from __future__ import annotations

import itertools

import pytest
import torch

from ppl_vae.core.errors import ConfigError
from ppl_vae.models.pixelcnn import AutoregressiveLikelihood, PixelCNNModel, PixelVAE
from ppl_vae.networks.autoregressive import autoregressive_network


def dependence(network, shape=(2, 8, 8)) -> torch.Tensor:
    """d[i, j] = True when the output at pixel i (raster order, any channel) has a non-zero gradient in the
    input at pixel j (any channel)."""
    torch.manual_seed(0)
    x = torch.rand(1, *shape, dtype=torch.float64, requires_grad=True)
    out = network.double()(x)
    pixels = shape[1] * shape[2]
    result = torch.zeros(pixels, pixels, dtype=torch.bool)
    for i in range(pixels):
        (grad,) = torch.autograd.grad(out[0, :, i // shape[2], i % shape[2]].sum(), x, retain_graph=True)
        result[i] = grad[0].abs().sum(0).reshape(-1) > 0
    return result


@pytest.mark.parametrize("kind", ["pixelcnn", "gated", "row_lstm"])
def test_no_output_depends_on_its_own_pixel_or_a_later_one(kind):
    d = dependence(autoregressive_network(kind, 2, 6, 8, 3, 5))
    assert not torch.triu(d).any()  # the diagonal (the pixel itself) and everything after it
    assert d[9, 0] and d[63, 62]  # but the earlier pixels are seen


def test_the_gated_network_has_no_blind_spot_and_the_masked_one_has():
    row, column, up_right = 4, 2, 3 * 8 + 6  # the pixel above and four to the right of (4, 2)
    gated = dependence(autoregressive_network("gated", 2, 6, 8, 3, 3))
    plain = dependence(autoregressive_network("pixelcnn", 2, 6, 8, 3, 3))
    assert gated[row * 8 + column, up_right] and not plain[row * 8 + column, up_right]
    seen = gated[row * 8 + column].reshape(8, 8)
    assert seen[3, :7].all() and seen[4, :column].all()  # the whole row above (as far as 4 layers reach), the left


def images(levels: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Every image of ``shape`` with values k / (levels - 1)."""
    grid = torch.tensor(list(itertools.product(range(levels), repeat=int(torch.tensor(shape).prod()))))
    return (grid.double() / (levels - 1)).reshape(-1, *shape)


@pytest.mark.parametrize(
    "output, levels, shape",
    [("bernoulli", None, (1, 3, 3)), ("discretized_logistic", 5, (1, 2, 2)), ("categorical", 4, (1, 2, 2))],
)
@pytest.mark.parametrize("network", ["pixelcnn", "gated", "row_lstm"])
def test_the_likelihood_sums_to_one_over_every_image(output, levels, shape, network):
    torch.manual_seed(1)
    model = PixelCNNModel(shape, levels, output, network=network, channels=8, layers=2, kernel=3).double()
    every = images(levels or 2, shape)
    total = torch.logsumexp(model.likelihood(None, (len(every),)).log_prob(every), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-9)


def test_the_likelihood_is_the_chain_rule_of_the_pixel_conditionals():
    """log p(x) by hand: p(x_1) p(x_2 | x_1) ... with each factor read from a pass over an image that holds
    only the earlier pixels of x (the later ones set to anything else)."""
    torch.manual_seed(2)
    likelihood = AutoregressiveLikelihood((1, 2, 3), channels=8, layers=2, kernel=3).double()
    x = torch.tensor([[[[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]]], dtype=torch.float64)
    by_hand = 0.0
    for i in range(6):
        seen = x.clone().reshape(-1)
        seen[i:] = 1 - seen[i:]  # what comes after pixel i must not matter, nor pixel i itself
        logits = likelihood.network(seen.reshape(1, 1, 2, 3))[0, 0].reshape(-1)
        by_hand += torch.distributions.Bernoulli(logits=logits[i]).log_prob(x.reshape(-1)[i]).item()
    assert likelihood(None, (1,)).log_prob(x).item() == pytest.approx(by_hand, rel=1e-12)


def test_sampling_draws_pixel_by_pixel_from_the_conditionals():
    """A network that copies the pixel to the left (logit +-20) makes every row constant: its first pixel's."""
    likelihood = AutoregressiveLikelihood((1, 3, 4), channels=4, layers=1, kernel=3)
    draws = likelihood(None, (50,)).sample()
    assert draws.shape == (50, 1, 3, 4) and set(draws.unique().tolist()) <= {0.0, 1.0}

    class CopyLeft(torch.nn.Module):
        def forward(self, x, condition=None):
            left = torch.nn.functional.pad(x, (1, 0))[..., :-1]
            logits = 40 * left - 20
            logits[..., 0] = torch.where(torch.arange(x.shape[0])[:, None, None] % 2 == 0, 20.0, -20.0)
            return logits

    likelihood.network = CopyLeft()
    rows = likelihood(None, (6,)).sample()
    assert torch.equal(rows, rows[..., :1].expand_as(rows))
    assert torch.equal(rows[:, 0, 0, 0], torch.tensor([1.0, 0, 1, 0, 1, 0]))


def test_the_pixel_vae_decoder_reads_z():
    torch.manual_seed(3)
    model = PixelVAE((1, 8, 8), latent_dim=4, decoder={"name": "mlp", "hidden": [16]}, channels=8).double()
    x = torch.bernoulli(torch.full((5, 1, 8, 8), 0.3, dtype=torch.float64))
    z = torch.randn(2, 5, 4, dtype=torch.float64)
    scores = model.decode(z).log_prob(x)
    assert scores.shape == (2, 5) and not torch.allclose(scores[0], scores[1])


def test_a_pixelcnn_on_vectors_is_refused():
    with pytest.raises(
        ConfigError, match=r"a PixelCNN models images \(C, H, W\); this data has examples of shape \(16,\)"
    ):
        PixelCNNModel((16,))


def test_a_long_sample_request_is_refused_with_its_estimate_unless_confirmed(tmp_path, capsys, monkeypatch):
    import ppl_vae.commands.sample as sample_command
    from ppl_vae.cli import main
    from ppl_vae.core.config import load_experiment
    from ppl_vae.runs.training import train_experiment

    overrides = ["training.device='cpu'", "training.epochs=1", "model.channels=4", "model.layers=0"]
    overrides += ["evaluation.ppc_examples=0"]
    run = train_experiment(load_experiment("pixelcnn_digits", overrides), tmp_path / "run")
    monkeypatch.setattr(sample_command, "SAMPLING_LIMIT_SECONDS", 0)
    assert main(["sample", str(run), "--num-samples", "4"]) == 1
    error = capsys.readouterr().err
    assert "drawing 4 samples" in error and "add --yes" in error and error.count("\n") == 1
    assert main(["sample", str(run), "--num-samples", "4", "--yes"]) == 0
    assert (run / "samples-seed0.png").exists()
