"""The direct one-particle ELBO: the same loss and gradients as Pyro's Trace_ELBO, used only where it agrees."""

from __future__ import annotations

import pytest
import torch

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.devices import frozen
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.direct_elbo import DirectELBO, direct_elbo_applies
from ppl_vae.infer.objectives import make_objective
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE, GaussianVAE
from ppl_vae.train.svi import SVIStrategy
from tests.conftest import synthetic_binary

SMALL = {"name": "mlp", "hidden": [8]}


def pair_of(model_class, dtype=torch.float32, prior="normal") -> Pair:
    torch.manual_seed(0)
    model = model_class((16,), latent_dim=3, decoder=SMALL, prior=prior)
    return Pair(model, GaussianEncoder((16,), latent_dim=3, encoder=SMALL)).to(dtype=dtype)


def gradients(pair: Pair, loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, list(pair.parameters())))


@pytest.mark.parametrize(
    ("model_class", "prior", "beta"),
    [(BernoulliVAE, "normal", 1.0), (BernoulliVAE, "gaussian_mixture", 0.3), (GaussianVAE, "normal", 2.0)],
)
def test_same_loss_and_gradients_as_trace_elbo_in_float64(model_class, prior, beta):
    pair = pair_of(model_class, torch.float64, prior)
    x = synthetic_binary().train.x[:32].double()
    assert direct_elbo_applies(pair, "trace_elbo", 1)
    with frozen(3), torch.enable_grad(), KLWeight(beta):
        pyro_loss = make_objective("trace_elbo")(pair.model, pair.guide)(x)
        pyro_grads = gradients(pair, pyro_loss)
    with frozen(3), torch.enable_grad():
        direct_loss = DirectELBO(pair)(x, None, beta)
        direct_grads = gradients(pair, direct_loss)
    assert direct_loss.dtype == torch.float64
    assert torch.allclose(direct_loss, pyro_loss, rtol=1e-12)
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(direct_grads, pyro_grads))


def test_only_the_one_particle_trace_elbo_of_the_base_functions_is_direct():
    pair = pair_of(BernoulliVAE)
    assert not direct_elbo_applies(pair, "iwae", 1)
    assert not direct_elbo_applies(pair, "trace_elbo", 2)
    assert not direct_elbo_applies(pair, "analytic_kl", 1)

    class OwnFunction(BernoulliVAE):
        def forward(self, x=None, y=None, num_samples=None):
            return super().forward(x, y, num_samples)

    assert not direct_elbo_applies(Pair(OwnFunction((16,), latent_dim=3, decoder=SMALL), pair.guide), "trace_elbo", 1)


def test_a_direct_route_that_disagrees_with_pyro_is_dropped_at_the_first_step(monkeypatch):
    x = synthetic_binary().train.x[:32]
    agreeing = SVIStrategy(pair_of(BernoulliVAE), TrainingConfig())
    agreeing.step(x, None, 1.0, 32)
    assert agreeing.direct is not None
    monkeypatch.setattr(DirectELBO, "forward", lambda self, x, y=None, beta=1.0: torch.ones((), requires_grad=True))
    disagreeing = SVIStrategy(pair_of(BernoulliVAE), TrainingConfig())
    before = [p.detach().clone() for p in disagreeing.pair.parameters()]
    objective = disagreeing.step(x, None, 1.0, 32)
    assert disagreeing.direct is None and objective < -5.0  # Pyro's ELBO per example, not the constant -1/32
    assert any(not torch.equal(a, b) for a, b in zip(before, disagreeing.pair.parameters()))
