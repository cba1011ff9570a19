"""The pairing check: a good pair passes, a bad one fails with one sentence naming the sites."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.nn import PyroModule

from ppl_vae.guides.gaussian import GaussianEncoder
from ppl_vae.models.bernoulli import BernoulliVAE
from ppl_vae.pairing import PairingError, check_pair


class WrongSiteGuide(PyroModule):
    def forward(self, x, y=None, num_samples=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("w", dist.Normal(torch.zeros(x.shape[0], 3), 1.0).to_event(1))


class PositiveGuide(PyroModule):
    def forward(self, x, y=None, num_samples=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.LogNormal(torch.zeros(x.shape[0], 3), 1.0).to_event(1))


class BrokenGuide(PyroModule):
    def forward(self, x, y=None, num_samples=None):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


def test_good_pair(binary_batch):
    pairing = check_pair(BernoulliVAE(64, latent_dim=3), GaussianEncoder(64, latent_dim=3), binary_batch)
    assert pairing.latent_sites == ("z",)
    assert pairing.max_plate_nesting == 1


def test_missing_and_extra_sites_are_named(binary_batch):
    with pytest.raises(PairingError) as error:
        check_pair(
            BernoulliVAE(64, latent_dim=3),
            WrongSiteGuide(),
            binary_batch,
            model_name="bernoulli_vae",
            guide_name="mine",
        )
    message = str(error.value)
    assert message.startswith("guide 'mine' does not fit model 'bernoulli_vae':")
    assert "misses the model's latent site(s) 'z'" in message
    assert "samples site(s) 'w'" in message
    assert message.count(".") == 1 and "\n" not in message


def test_shape_mismatch(binary_batch):
    with pytest.raises(PairingError, match=r"samples 'z' with shape \(6, 5\) where the model's has shape \(6, 3\)"):
        check_pair(BernoulliVAE(64, latent_dim=3), GaussianEncoder(64, latent_dim=5), binary_batch)


def test_support_mismatch(binary_batch):
    with pytest.raises(
        PairingError,
        match=r"samples 'z' on support GreaterThan\(lower_bound=0.0\) over 1 event dim\(s\) "
        r"where the model's is Real\(\)",
    ):
        check_pair(BernoulliVAE(64, latent_dim=3), PositiveGuide(), binary_batch)


def test_failing_guide_is_one_sentence(binary_batch):
    with pytest.raises(PairingError, match="the guide 'broken' fails on a batch of 6 examples: RuntimeError"):
        check_pair(BernoulliVAE(64, latent_dim=3), BrokenGuide(), binary_batch, guide_name="broken")


def test_wrong_data_width_fails_before_training(binary_batch):
    with pytest.raises(PairingError, match="fails on a batch"):
        check_pair(BernoulliVAE(32, latent_dim=3), GaussianEncoder(32, latent_dim=3), binary_batch)
