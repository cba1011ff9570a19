"""The pairing check: a good pair passes, a bad one fails with one sentence naming the sites."""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn

from ppl_vae.core.contract import GuideContract
from ppl_vae.core.errors import ConfigError
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.pairing import PairingError, check_pair
from ppl_vae.models import BernoulliVAE

IMAGE = (1, 8, 8)


class WrongSiteGuide(nn.Module):
    contract = GuideContract()

    def forward(self, x, y=None, num_samples=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("w", dist.Normal(torch.zeros(x.shape[0], 3), 1.0).to_event(1))


class PositiveGuide(nn.Module):
    def forward(self, x, y=None, num_samples=None):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.LogNormal(torch.zeros(x.shape[0], 3), 1.0).to_event(1))


class BrokenGuide(nn.Module):
    def forward(self, x, y=None, num_samples=None):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


def test_good_pair(binary_batch):
    pair = Pair(BernoulliVAE(IMAGE, latent_dim=3), GaussianEncoder(IMAGE, latent_dim=3))
    pairing = pair.check(binary_batch)
    assert pairing.latent_sites == ("z",) and pair.max_plate_nesting == 1


def test_missing_and_extra_sites_are_named(binary_batch):
    with pytest.raises(PairingError) as error:
        Pair(BernoulliVAE(IMAGE, latent_dim=3), WrongSiteGuide(), "bernoulli_vae", "mine").check(binary_batch)
    message = str(error.value)
    assert message.startswith("guide 'mine' does not fit model 'bernoulli_vae':")
    assert "misses the model's latent site(s) 'z'" in message
    assert "samples site(s) 'w'" in message
    assert message.count(".") == 1 and "\n" not in message


def test_shape_mismatch(binary_batch):
    with pytest.raises(PairingError, match=r"samples 'z' with shape \(6, 5\) where the model's has shape \(6, 3\)"):
        check_pair(BernoulliVAE(IMAGE, latent_dim=3), GaussianEncoder(IMAGE, latent_dim=5), binary_batch)


def test_support_mismatch(binary_batch):
    with pytest.raises(
        PairingError,
        match=r"samples 'z' on support GreaterThan\(lower_bound=0.0\) over 1 event dim\(s\) "
        r"where the model's is Real\(\)",
    ):
        check_pair(BernoulliVAE(IMAGE, latent_dim=3), PositiveGuide(), binary_batch)


def test_failing_guide_is_one_sentence(binary_batch):
    with pytest.raises(PairingError, match="the guide 'broken' fails on a batch of 6 examples: RuntimeError"):
        check_pair(BernoulliVAE(IMAGE, latent_dim=3), BrokenGuide(), binary_batch, guide_name="broken")


def test_wrong_data_shape_fails_before_training(binary_batch):
    with pytest.raises(PairingError, match="fails on a batch"):
        check_pair(BernoulliVAE((1, 4, 4), latent_dim=3), GaussianEncoder((1, 4, 4), latent_dim=3), binary_batch)


def test_observed_site_must_be_the_declared_one(binary_batch):
    model, guide = BernoulliVAE(IMAGE, latent_dim=3), GaussianEncoder(IMAGE, latent_dim=3)
    with pytest.raises(PairingError, match="declares that it observes 'y' but observes 'x'"):
        check_pair(model, guide, binary_batch, observed="y")


def test_a_module_without_contract_is_named():
    with pytest.raises(ConfigError, match="the guide 'positive' declares no GuideContract"):
        Pair(BernoulliVAE(IMAGE), PositiveGuide(), guide_name="positive")


def test_check_leaves_the_random_stream_alone(binary_batch):
    model, guide = BernoulliVAE(IMAGE, latent_dim=3), GaussianEncoder(IMAGE, latent_dim=3)
    state = torch.get_rng_state()
    check_pair(model, guide, binary_batch)
    assert torch.equal(state, torch.get_rng_state())
