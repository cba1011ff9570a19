"""Training runs: improvement, resume, evaluation without side effects, failures that keep work."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ppl_vae.core.config import TrainingConfig
from ppl_vae.core.errors import CheckpointError, ConfigError, DataError, RunError, TrainingDiverged
from ppl_vae.guides import GaussianEncoder
from ppl_vae.infer.bounds import elbo_per_example
from ppl_vae.infer.objectives import make_objective
from ppl_vae.infer.objectives.kl_weight import KLWeight
from ppl_vae.infer.pair import Pair
from ppl_vae.infer.weights import log_weights
from ppl_vae.models import BernoulliVAE
from ppl_vae.report.summary import SUMMARY_KEYS
from ppl_vae.runs.trained import load_trained
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.checkpoint import load_checkpoint
from ppl_vae.train.schedules import iwae_stage, schedule_factor
from ppl_vae.train.trainer import Trainer
from tests.conftest import synthetic_binary

RUN_FILES = {
    "experiment.toml",
    "run.json",
    "metrics.csv",
    "checkpoint.pt",
    "summary.json",
    "elbo_curves.png",
    "reconstructions.png",
    "prior_samples.png",
}
SMALL = {"name": "mlp", "hidden": [8]}


def small_pair(x_dim: int = 16) -> Pair:
    return Pair(
        BernoulliVAE((x_dim,), latent_dim=2, decoder=SMALL), GaussianEncoder((x_dim,), latent_dim=2, encoder=SMALL)
    )


def test_default_run_improves_and_writes_its_directory(fast_experiment, tmp_path):
    run_dir = train_experiment(fast_experiment("training.epochs=8"), tmp_path / "run")
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_objective,valid_bound,beta,learning_rate,seconds,gradient_norm" and len(lines) == 9
    valid = [float(line.split(",")[2]) for line in lines[1:]]
    assert valid[-1] > valid[0] + 5.0, valid
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) <= set(SUMMARY_KEYS) and "classification" not in summary
    assert summary["dimensions"] == 64 and summary["event_shape"] == [1, 8, 8] and summary["levels"] == 2
    assert summary["test_elbo_bits_per_dim"] == pytest.approx(-summary["test_elbo_nats"] / (64 * math.log(2)))
    assert summary["test_elbo_nats"] < summary["test_reconstruction_nats"] < 0


def test_resume_after_interruption_matches_uninterrupted_run(fast_experiment, tmp_path):
    experiment = fast_experiment("training.epochs=4", "training.schedule='exponential'", "training.lr_decay=0.5")
    train_experiment(experiment, tmp_path / "whole")

    def interrupt(trainer, record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(experiment, tmp_path / "cut", callbacks=[interrupt])
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    resume(tmp_path / "cut")
    whole, cut = load_trained(tmp_path / "whole", "cpu"), load_trained(tmp_path / "cut", "cpu")
    for a, b in zip(whole.pair.state_dict().values(), cut.pair.state_dict().values()):
        assert torch.equal(a, b)
    rows = [(tmp_path / d / "metrics.csv").read_text().splitlines()[1:] for d in ("whole", "cut")]
    assert [r.split(",")[:5] for r in rows[0]] == [r.split(",")[:5] for r in rows[1]]
    assert [float(r.split(",")[4]) for r in rows[0]] == pytest.approx([3e-3 * 0.5**e for e in range(4)])
    with pytest.raises(RunError, match="already finished"):
        resume(tmp_path / "cut")


def test_evaluation_leaves_parameters_and_rng_unchanged():
    data = synthetic_binary()
    pair = small_pair()
    pair.check(data.valid.x[:8])
    trainer = Trainer(pair, data, TrainingConfig(epochs=1, batch_size=50))
    trainer.fit()
    before = [p.detach().clone() for p in pair.parameters()]
    rng = torch.get_rng_state()
    first = trainer.validation_bound()
    second = trainer.validation_bound()
    elbo_per_example(pair, data.test.x)
    assert first == second
    assert all(torch.equal(a, b) for a, b in zip(before, pair.parameters()))
    assert all(p.grad is None for p in pair.parameters())
    assert torch.equal(rng, torch.get_rng_state())


def test_nan_loss_stops_and_keeps_last_checkpoint(fast_experiment, tmp_path):
    def poison(trainer, record):
        if record.epoch == 1:
            with torch.no_grad():
                trainer.pair.model.decoder.layers[0].weight.fill_(float("nan"))

    with pytest.raises(
        TrainingDiverged, match="the svi loss became nan at epoch 2, step 1; .* keeps epoch 1, the last"
    ):
        train_experiment(fast_experiment(), tmp_path / "run", callbacks=[poison])
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["pair"].values())


def test_corrupt_or_foreign_checkpoint_is_refused_untouched(fast_experiment, tmp_path):
    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    (run / "summary.json").unlink()
    checkpoint = run / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(CheckpointError, match="is corrupt or unreadable"):
        resume(run)
    torch.save({"weights": torch.zeros(3)}, checkpoint)
    before["checkpoint.pt"] = checkpoint.read_bytes()
    with pytest.raises(CheckpointError, match="is not a ppl_vae checkpoint"):
        resume(run)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_checkpoint_of_another_architecture_is_refused(fast_experiment, tmp_path):
    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    (run / "summary.json").unlink()
    text = (run / "experiment.toml").read_text().replace("latent_dim = 4", "latent_dim = 5")
    (run / "experiment.toml").write_text(text)
    before = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="does not fit the experiment's model and guide"):
        resume(run)
    assert (run / "checkpoint.pt").read_bytes() == before


def test_existing_run_directory_is_not_overwritten(fast_experiment, tmp_path):
    run = train_experiment(fast_experiment("training.epochs=1"), tmp_path / "run")
    with pytest.raises(RunError, match="already holds a run"):
        train_experiment(fast_experiment("training.epochs=1"), run)


def test_bounds_order_and_kl_weight():
    torch.manual_seed(0)
    pair = small_pair()
    model, guide = pair.model, pair.guide
    x = synthetic_binary(200).train.x
    with torch.no_grad():
        lw = log_weights(model, guide, x, num_particles=2000)
        elbo = lw.mean()
        iw50 = (torch.logsumexp(lw[:50], 0) - math.log(50)).mean()
        iw2000 = (torch.logsumexp(lw, 0) - math.log(2000)).mean()
        assert elbo < iw50 < iw2000
        elbo_loss = make_objective("trace_elbo", num_particles=2000)(model, guide)(x, y=None)
        assert -elbo_loss / x.shape[0] == pytest.approx(elbo.item(), abs=0.1)
        iwae_loss = make_objective("iwae", num_particles=2000)(model, guide)(x, y=None)
        assert -iwae_loss.item() / x.shape[0] == pytest.approx(iw2000.item(), abs=0.1)
        analytic = make_objective("analytic_kl", num_particles=2000)(model, guide)(x, y=None)
        assert -analytic / x.shape[0] == pytest.approx(elbo.item(), abs=0.1)
        with KLWeight(0.0):
            reconstruction = -make_objective("trace_elbo", 2000)(model, guide)(x, y=None)
        kl = guide.posterior(x).base_dist
        kl = torch.distributions.kl_divergence(kl, torch.distributions.Normal(0.0, 1.0)).sum(-1).sum()
        assert (reconstruction - kl).item() / x.shape[0] == pytest.approx(elbo.item(), abs=0.1)


@pytest.mark.parametrize("objective", ["analytic_kl", "iwae"])
def test_other_objectives_train_and_patience_waits_for_the_warmup(fast_experiment, tmp_path, objective):
    run = train_experiment(
        fast_experiment(
            f"training.objective={objective}",
            "training.num_particles=3",
            "training.epochs=5",
            "training.warmup_epochs=2",
            "training.patience=1",
        ),
        tmp_path / "run",
    )
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert float(rows[0][3]) == pytest.approx(0.5)  # beta at the end of epoch 1 of a 2-epoch warm-up
    assert float(rows[-1][3]) == 1.0
    assert float(rows[-1][2]) > float(rows[0][2])
    assert len(rows) >= 3  # the validation bound may fall during the warm-up without stopping the run


def test_time_budget_ends_training_after_the_epoch_that_spends_it(fast_experiment, tmp_path):
    run = train_experiment(fast_experiment("training.epochs=5", "training.max_minutes=1e-6"), tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["epochs_run"], summary["stopped_by"], summary["stopped_early"]) == (1, "time budget", True)
    with pytest.raises(ConfigError, match="max_minutes"):
        TrainingConfig(max_minutes=-1.0)


def test_schedules():
    config = TrainingConfig(learning_rate=1.0, epochs=10, schedule="cosine", min_learning_rate=0.1)
    factors = [schedule_factor(config)(e) for e in range(11)]
    assert factors[0] == 1.0 and factors[10] == pytest.approx(0.1) and factors[5] == pytest.approx(0.55)
    assert all(a > b for a, b in zip(factors, factors[1:]))
    assert [iwae_stage(e) for e in (0, 1, 3, 4, 12, 13, 3279)] == [0, 1, 1, 2, 2, 3, 7]
    iwae = schedule_factor(TrainingConfig(schedule="iwae"))
    assert iwae(0) == 1.0 and iwae(13) == pytest.approx(10 ** (-3 / 7))
    assert schedule_factor(TrainingConfig(schedule="exponential", lr_decay=0.9))(3) == pytest.approx(0.729)


def test_clipping_bounds_the_gradient_norm():
    data = synthetic_binary()
    pair = small_pair()
    pair.check(data.valid.x[:8])
    trainer = Trainer(pair, data, TrainingConfig(epochs=1, batch_size=50, clip_norm=1e-3, learning_rate=1.0))
    x = data.train.x[:50]
    before = [p.detach().clone() for p in pair.parameters()]
    trainer.strategy.step(x, None, 1.0, len(x))
    grads = [p.grad for p in pair.parameters()]
    assert torch.sqrt(sum((g**2).sum() for g in grads)) <= 1e-3 + 1e-6
    assert any(not torch.equal(a, b) for a, b in zip(before, pair.parameters()))


def test_gaussian_experiment_on_grey_levels_reports_a_probability(tmp_path):
    from ppl_vae.core.config import load_experiment

    overrides = ["training.epochs=2", "model.decoder.hidden=[16]", "guide.encoder.hidden=[16]", "training.device='cpu'"]
    summary = json.loads(
        (train_experiment(load_experiment("gaussian_digits", overrides), tmp_path / "run") / "summary.json").read_text()
    )
    assert "binarized" not in summary["data"] and summary["dequantized"] and summary["levels"] == 17
    assert summary["test_importance_weighted"]["iw_log_likelihood_nats"] < 0
    assert summary["test_elbo_bits_per_dim"] > 0


def test_bernoulli_model_refuses_grey_levels(fast_experiment, tmp_path):
    with pytest.raises(DataError, match="not 0 or 1 but the model has a Bernoulli likelihood"):
        train_experiment(fast_experiment("data.binarize='none'"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
