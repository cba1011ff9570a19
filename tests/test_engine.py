"""The engine's promises: any dtype and device, Pyro's own route untouched, plain functions, strategies."""

from __future__ import annotations

import json
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.nn import PyroModule, PyroParam, PyroSample
from torch import nn
from torch.distributions import constraints

from ppl_vae import GuideContract, ModelContract, PyroFunction, register_guide, register_model, register_strategy
from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.core.errors import ConfigError
from ppl_vae.evaluation.likelihood import importance_weighted_log_likelihood
from ppl_vae.infer.weights import sample_sites
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.svi import SVIStrategy
from tests.conftest import FAST


def test_float64_end_to_end(fast_experiment, tmp_path):
    run = train_experiment(fast_experiment("training.dtype='float64'", "training.epochs=2"), tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["dtype"] == "float64" and math.isfinite(
        summary["test_importance_weighted"]["iw_log_likelihood_nats"]
    )
    trained = load_trained(run, "cpu")
    assert {p.dtype for p in trained.pair.parameters()} == {torch.float64}
    data = trained.data()
    assert data.test.x.dtype == torch.float64
    x = data.test.x[:5]
    for trace in (poutine.trace(trained.pair.guide).get_trace(x), poutine.trace(trained.pair.model).get_trace(x)):
        trace.compute_log_prob()
        for site in sample_sites(trace).values():
            assert site["value"].dtype == torch.float64 and site["log_prob"].dtype == torch.float64
    assert importance_weighted_log_likelihood(trained.pair, x, num_samples=30).log_likelihood.dtype == torch.float64
    assert main(["ppc", str(run), "--num-samples", "2", "--limit", "10", "--device", "cpu"]) == 0
    assert main(["evaluate", str(run), "--iw-samples", "5", "--limit", "10", "--device", "cpu"]) == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_smoke(fast_experiment, tmp_path):
    run = train_experiment(
        fast_experiment("training.device='cuda'", "training.epochs=1", "data.valid_size=20", "training.batch_size=700"),
        tmp_path / "run",
    )
    trained = load_trained(run, "cuda")
    assert {p.device.type for p in trained.pair.parameters()} == {"cuda"}
    data = trained.data()
    assert data.test.x.device.type == "cuda"
    estimate = importance_weighted_log_likelihood(trained.pair, data.test.x[:10], num_samples=10)
    assert estimate.log_likelihood.device.type == "cpu" and torch.isfinite(estimate.log_likelihood).all()
    assert json.loads((run / "summary.json").read_text())["device"].startswith("cuda")


def test_users_pyro_module_with_svi_still_works_after_the_engine_ran(fast_experiment, tmp_path):
    """ppl_vae sets no global Pyro setting: a PyroModule with PyroParam and PyroSample trains by pyro.infer.SVI."""
    train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    assert pyro.settings.get("module_local_params") is False

    class Regression(PyroModule):
        def __init__(self):
            super().__init__()
            self.weight = PyroSample(dist.Normal(0.0, 1.0))
            self.noise = PyroParam(torch.tensor(1.0), constraint=constraints.positive)

        def forward(self, x, y=None):
            with pyro.plate("points", x.shape[0]):
                return pyro.sample("y", dist.Normal(self.weight * x, self.noise), obs=y)

    pyro.clear_param_store()
    model = Regression()
    guide = pyro.infer.autoguide.AutoNormal(model)
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), pyro.infer.Trace_ELBO())
    x = torch.linspace(-1, 1, 50)
    y = 2 * x + 0.1 * torch.randn(50)
    losses = [svi.step(x, y) for _ in range(150)]
    assert sum(losses[-10:]) < sum(losses[:10])
    assert "AutoNormal.locs.weight" in pyro.get_param_store()


@register_model("test_plain_vae", contract=ModelContract(support=constraints.boolean))
def plain_vae(x_shape, latent_dim=3):
    """A VAE written as a plain Pyro model function with the decoder it uses."""
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, math.prod(x_shape)), nn.Unflatten(-1, x_shape)
    )

    def model(x=None, y=None, num_samples=None):
        n = x.shape[0] if x is not None else num_samples
        loc = decoder[0].weight.new_zeros(n, latent_dim)
        with pyro.plate("data", n):
            z = pyro.sample("z", dist.Normal(loc, 1.0).to_event(1))
            return pyro.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(len(x_shape)), obs=x)

    return PyroFunction(model, decoder=decoder)


@register_guide("test_plain_encoder", contract=GuideContract(density=True))
def plain_encoder(x_shape, latent_dim=3):
    encoder = nn.Sequential(nn.Flatten(-len(x_shape)), nn.Linear(math.prod(x_shape), 2 * latent_dim))

    def guide(x=None, y=None, num_samples=None):
        loc, raw = encoder(x).chunk(2, -1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-4).to_event(1))

    return PyroFunction(guide, encoder=encoder)


def test_plain_pyro_functions_train_and_are_evaluated(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text('[model]\nname = "test_plain_vae"\n\n[guide]\nname = "test_plain_encoder"\n')
    overrides = [o for o in FAST if not o.startswith(("model.", "guide."))] + ["training.epochs=6"]
    run = train_experiment(load_experiment(str(path), overrides), tmp_path / "run")
    lines = (run / "metrics.csv").read_text().splitlines()[1:]
    valid = [float(line.split(",")[2]) for line in lines]
    assert valid[-1] > valid[0] + 3
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_importance_weighted"]["iw_log_likelihood_nats"] >= summary["test_elbo_nats"] - 0.5
    assert set(load_trained(run, "cpu").pair.state_dict()) == {
        "model.parts.decoder.0.weight",
        "model.parts.decoder.0.bias",
        "model.parts.decoder.2.weight",
        "model.parts.decoder.2.bias",
        "guide.parts.encoder.1.weight",
        "guide.parts.encoder.1.bias",
    }


def test_a_plain_function_without_its_modules_is_named():
    def model(x=None, y=None, num_samples=None):
        return None

    with pytest.raises(ConfigError, match=r"PyroFunction\(model\) got no modules: pass the nn.Modules that model uses"):
        PyroFunction(model)


@register_strategy("test_svi_with_critic")
class SVIWithCritic(SVIStrategy):
    """The SVI step plus a second phase: a critic network with its own optimizer learns to predict each
    example's ELBO from x (an extra module, like a discriminator, that must resume exactly)."""

    def __init__(self, pair, config, world):
        super().__init__(pair, config, world)
        self.extras["critic"] = nn.Linear(64, 1).to(pair.device, next(pair.parameters()).dtype)
        self.add_phase("critic", self.extras["critic"].parameters())

    def step(self, x, y, beta, total):
        objective = super().step(x, y, beta, total)
        target = torch.full((x.shape[0], 1), objective, dtype=x.dtype, device=x.device)
        self.update("critic", ((self.extras["critic"](x.flatten(1)) - target) ** 2).mean())
        return objective


def test_a_strategy_with_an_extra_optimizer_resumes_exactly(fast_experiment, tmp_path):
    experiment = fast_experiment("training.strategy='test_svi_with_critic'", "training.epochs=4")
    whole = train_experiment(experiment, tmp_path / "whole")

    def interrupt(trainer, record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(experiment, tmp_path / "cut", callbacks=[interrupt])
    resume(tmp_path / "cut")
    from ppl_vae.train.checkpoint import load_checkpoint

    a, b = (load_checkpoint(d / "checkpoint.pt") for d in (whole, tmp_path / "cut"))
    assert all(torch.equal(a["pair"][k], b["pair"][k]) for k in a["pair"])
    assert set(a["strategy"]["optimizers"]) == {"svi", "critic"}
    assert all(torch.equal(a["strategy"]["extras"][k], b["strategy"]["extras"][k]) for k in a["strategy"]["extras"])
    critic_a, critic_b = (s["strategy"]["optimizers"]["critic"]["state"] for s in (a, b))
    assert critic_a.keys() == critic_b.keys() and all(
        torch.equal(critic_a[i]["exp_avg"], critic_b[i]["exp_avg"]) for i in critic_a
    )
