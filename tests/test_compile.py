"""Compiled training steps: the same losses and draws as eager ones, eager parameter names, exact resume."""

from __future__ import annotations

import pytest
import torch

from ppl_vae.core.config import TrainingConfig, load_experiment
from ppl_vae.core.devices import frozen
from ppl_vae.core.errors import ConfigError
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.direct_elbo import DirectELBO
from ppl_vae.infer.objectives import make_objective
from ppl_vae.infer.pair import Pair
from ppl_vae.models import BernoulliVAE
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.compiled import CompiledNetworks, compiled_function, outermost_networks
from ppl_vae.train.svi import SVIStrategy


def conv_pair() -> Pair:
    torch.manual_seed(0)
    model = BernoulliVAE((1, 8, 8), latent_dim=3, decoder={"name": "conv", "channels": [8, 4]})
    guide = GaussianEncoder((1, 8, 8), latent_dim=3, encoder={"name": "mlp", "hidden": [16]})
    return Pair(model, guide)


def test_networks_run_compiled_inside_pyros_route_with_eager_names_and_losses(binary_batch):
    pair = conv_pair()
    assert outermost_networks([pair]) == [pair.model.decoder, pair.guide.encoder]
    keys = list(pair.state_dict())
    loss = make_objective("trace_elbo", 1, 1)
    with frozen(3):
        eager = loss.differentiable_loss(pair.model, pair.guide, binary_batch)
    networks = CompiledNetworks([pair], backend="eager")
    with networks:
        assert pair.model.decoder.forward is networks.compiled[0]
        with frozen(3):
            compiled = loss.differentiable_loss(pair.model, pair.guide, binary_batch)
    assert "forward" not in vars(pair.model.decoder) and "forward" not in vars(pair.guide.encoder)
    assert list(pair.state_dict()) == keys and not any("_orig_mod" in k for k in keys)
    assert torch.equal(compiled, eager)


def test_the_direct_elbo_compiles_whole_and_draws_what_eager_code_draws(binary_batch):
    pair = conv_pair()
    direct = DirectELBO(pair)
    compiled = compiled_function(direct, backend="eager")
    with frozen(5):
        eager = direct(binary_batch, None, 0.5)
    with frozen(5):
        assert torch.equal(compiled(binary_batch, None, torch.tensor(0.5)), eager)


def test_compile_is_a_boolean_of_training():
    assert load_experiment(None, ["training.compile=true"]).training.compile is True
    assert TrainingConfig().compile is False
    with pytest.raises(ConfigError, match=r"\[training\] compile must be a boolean, got 1"):
        load_experiment(None, ["training.compile=1"])


@pytest.mark.slow
def test_a_compiled_run_resumes_exactly_and_loads_into_an_eager_pair(fast_experiment, tmp_path):
    experiment = fast_experiment("training.epochs=2", "training.compile=true")
    train_experiment(experiment, tmp_path / "whole")

    def interrupt(trainer, record):
        assert trainer.strategy.direct is not None and trainer.strategy.compiled is not None
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(experiment, tmp_path / "cut", callbacks=[interrupt])
    resume(tmp_path / "cut")
    whole, cut = load_trained(tmp_path / "whole", "cpu"), load_trained(tmp_path / "cut", "cpu")
    assert not any("_orig_mod" in k for k in whole.pair.state_dict())
    for a, b in zip(whole.pair.state_dict().values(), cut.pair.state_dict().values()):
        assert torch.equal(a, b)
    eager = load_trained(train_experiment(fast_experiment("training.epochs=2"), tmp_path / "eager"), "cpu")
    for a, b in zip(whole.pair.state_dict().values(), eager.pair.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-4)  # the same draws; only the order of float operations differs


@pytest.mark.slow
def test_pyros_route_trains_with_compiled_networks_as_it_does_eagerly(binary_batch):
    losses = []
    for compile in (False, True):
        pair = conv_pair()
        pair.check(binary_batch)
        strategy = SVIStrategy(pair, TrainingConfig(objective="iwae", num_particles=3, compile=compile))
        pair.train()
        with torch.random.fork_rng():
            torch.manual_seed(7)
            losses.append([strategy.step(binary_batch, None, 1.0, len(binary_batch)) for _ in range(3)])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_compiled_direct_elbo_draws_what_eager_code_draws(binary_batch):
    pair, x = conv_pair().to("cuda"), binary_batch.to("cuda")
    direct = DirectELBO(pair)
    compiled = compiled_function(direct)
    with frozen(5, "cuda"):
        eager = direct(x, None, 0.5)
    with frozen(5, "cuda"):
        assert torch.allclose(compiled(x, None, torch.tensor(0.5, device="cuda")), eager, rtol=1e-4)
