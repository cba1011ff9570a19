"""The adversarial autoencoder, its conditional form and the GAN: training, exact resumption, refusals, measures."""

from __future__ import annotations

import json
import math
import re

import pyro.distributions as dist
import pytest
import torch

from ppl_vae.cli import main
from ppl_vae.core.config import load_experiment
from ppl_vae.core.errors import ConfigError, TrainingDiverged
from ppl_vae.core.registry import register_prior
from ppl_vae.evaluation.aggregate import aggregate_posterior_test
from ppl_vae.infer.predictive import style_means
from ppl_vae.models.priors import Prior, StandardNormal
from ppl_vae.runs.prepare import prepare
from ppl_vae.runs.training import resume, train_experiment
from ppl_vae.train.checkpoint import load_checkpoint
from ppl_vae.train.trainer import Trainer

QUICK = ["training.device='cpu'", "evaluation.iw_samples=5", "evaluation.ppc_examples=0"]
CHEAP_REPORTS = ["evaluation.classify_samples=2"]


def experiment(name: str, *overrides: str):
    return load_experiment(name, [*QUICK, *overrides])


def tensors_of(state) -> list[torch.Tensor]:
    """Every tensor of a nested state (dicts and lists), in a fixed order."""
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for key in sorted(state, key=str) for t in tensors_of(state[key])]
    if isinstance(state, (list, tuple)):
        return [t for item in state for t in tensors_of(item)]
    return []


@pytest.mark.parametrize("name", ["aae_digits", "conditional_aae_digits", "gan_digits"])
def test_adversarial_runs_resume_exactly_with_the_discriminator_and_its_optimizer(name, tmp_path):
    config = experiment(
        name, "training.epochs=3", "training.schedule='exponential'", "training.lr_decay=0.5", *CHEAP_REPORTS
    )
    train_experiment(config, tmp_path / "whole")

    def interrupt(trainer, record):
        if record.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(config, tmp_path / "cut", callbacks=[interrupt])
    resume(tmp_path / "cut")
    whole, cut = (load_checkpoint(tmp_path / d / "checkpoint.pt") for d in ("whole", "cut"))
    strategy = whole["strategy"]
    assert "discriminator" in strategy["optimizers"] and strategy["optimizers"]["discriminator"]["state"]
    assert any(k.startswith("discriminator.") for k in strategy["extras"])
    for a, b in zip(
        tensors_of(whole["pair"]) + tensors_of(strategy), tensors_of(cut["pair"]) + tensors_of(cut["strategy"])
    ):
        assert torch.equal(a, b)
    rates = [group["lr"] for group in cut["strategy"]["optimizers"]["discriminator"]["param_groups"]]
    assert rates == pytest.approx([1e-3 * 0.5**3])


def test_a_checkpoint_whose_strategy_does_not_fit_is_one_sentence_and_stays(tmp_path, capsys):
    """A run trained with a discriminator blind to the labels, resumed with one that sees them (a wider
    discriminator): one sentence naming the strategy and the checkpoint, and the checkpoint left as it was."""
    run = tmp_path / "run"

    def interrupt(trainer, record):
        raise KeyboardInterrupt

    blind = experiment("conditional_aae_digits", "training.strategy.labels_to_discriminator=false", *CHEAP_REPORTS)
    with pytest.raises(KeyboardInterrupt):
        train_experiment(blind, run, callbacks=[interrupt])
    toml = run / "experiment.toml"
    toml.write_text(toml.read_text().replace("labels_to_discriminator = false", "labels_to_discriminator = true"))
    before = (run / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert re.search(r"checkpoint .*checkpoint\.pt does not fit the experiment's training strategy 'aae'", err), err
    assert (run / "checkpoint.pt").read_bytes() == before


def test_aae_codes_move_towards_the_prior_during_training(seed=0):
    """MMD between the codes of the test digits and draws of the mixture prior, before and after 10 epochs: measured
    over training seeds 0-5, it fell from 0.24-0.26 to at most 0.0025 (by 98 times or more); asserted: by 20."""
    prepared = prepare(experiment("aae_digits", "training.epochs=10", f"training.seed={seed}"))
    test = prepared.data.test
    before = aggregate_posterior_test(prepared.pair, test.x, test.y, 100, seed=1)
    Trainer(prepared.pair, prepared.data, prepared.experiment.training, strategy=prepared.strategy, verbose=False).fit()
    after = aggregate_posterior_test(prepared.pair, test.x, test.y, 100, seed=1)
    assert after.statistic < before.statistic / 20
    assert before.p_value == pytest.approx(1 / 101)


def test_a_diverging_discriminator_stops_naming_its_phase_and_keeps_the_last_checkpoint(tmp_path):
    config = experiment("aae_digits", "training.epochs=3")

    def poison(trainer, record):
        if record.epoch == 1:
            for parameter in trainer.strategy.extras.parameters():
                parameter.data.fill_(math.nan)

    with pytest.raises(
        TrainingDiverged,
        match="the discriminator loss became nan at epoch 2, step 1; .*checkpoint.pt keeps epoch 1, the last",
    ):
        train_experiment(config, tmp_path / "run", callbacks=[poison])
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 1


@pytest.mark.parametrize(
    "spec, overrides, message",
    [
        ("gan_digits", ["training.strategy='svi'"], "model 'gan_generator' is implicit .*strategy = 'gan'"),
        ("gan_digits", ["training.strategy='aae'"], "model 'gan_generator' is implicit"),
        ("aae_digits", ["training.strategy.name='gan'"], "strategy 'gan' trains an implicit model"),
        ("aae_digits", ["training.strategy.labels_to_discriminator=true"], "needs a label-conditioned model"),
        ("aae_digits", ["training.strategy.discriminatr='mlp'"], "unknown key 'discriminatr'.*did you mean"),
        ("gan_digits", ["guide.name='gaussian_encoder'"], "no guide infers its latents.*guide 'none'"),
        ("aae_digits", ["model.prior='swiss_rol'"], "unknown prior 'swiss_rol'"),
        ("conditional_aae_digits", ["model.prior_by_label=true"], "has no parts to give to classes"),
    ],
)
def test_adversarial_misfits_are_one_sentence_before_any_run_directory(spec, overrides, message, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", spec, "--run-dir", str(run_dir), *[f"--set={o}" for o in [*QUICK, *overrides]]]
    assert main(args) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert re.search(message, error), error
    assert not run_dir.exists()


def test_the_gan_samples_but_refuses_likelihood_and_posterior_commands(tmp_path, capsys):
    run_dir = train_experiment(experiment("gan_digits", "training.epochs=2"), tmp_path / "gan")
    summary = (run_dir / "summary.json").read_text()
    assert '"valid_bound_nats": null' in summary and '"scores": null' in summary
    assert "test_importance_weighted" not in summary
    assert main(["sample", str(run_dir), "--num-samples", "6"]) == 0
    assert list(run_dir.glob("samples*.png"))
    for command in ("evaluate", "ppc"):
        capsys.readouterr()
        assert main([command, str(run_dir)]) == 1
        error = capsys.readouterr().err
        assert "implicit" in error and error.count("\n") == 1


def test_quality_measures_any_run_on_its_images(tmp_path, capsys):
    gan = train_experiment(experiment("gan_digits", "training.epochs=2"), tmp_path / "gan")
    assert main(["quality", str(gan), "--samples", "200", "--permutations", "20"]) == 0
    out = capsys.readouterr().out
    assert "not comparable to FIDs" in out and "no aggregate-posterior test" in out
    result = json.loads((gan / "quality-seed0-N200.json").read_text())
    quality = result["sample_quality"]
    assert quality["frechet_distance"] > quality["frechet_distance_real"] > 0
    assert quality["kernel_distance"] > 10 * abs(quality["kernel_distance_real"])
    assert 0 <= quality["precision"] <= 1 and quality["precision_real"] > 0.8 and quality["recall_real"] > 0.8
    assert quality["classifier_test_accuracy"] > 0.9 and quality["class_accuracy"] is None
    assert 0 <= quality["marginal_label_entropy"] <= quality["max_marginal_entropy"] == pytest.approx(math.log(10))


def test_quality_of_a_conditional_aae_counts_the_classes_recognized_for_a_fixed_style(tmp_path, capsys):
    run = train_experiment(experiment("conditional_aae_digits", "training.epochs=2", *CHEAP_REPORTS), tmp_path / "c")
    assert main(["quality", str(run), "--samples", "200", "--permutations", "20"]) == 0
    out = capsys.readouterr().out
    assert "code_scale_ratio" in out
    result = json.loads((run / "quality-seed0-N200.json").read_text())
    assert result["sample_quality"]["shared_style"] is True and 0 <= result["sample_quality"]["class_accuracy"] <= 1
    assert len(result["code_scale_ratio"]) == 2 and all(r > 0 for r in result["code_scale_ratio"])


def test_the_discriminator_reads_the_labels_of_a_label_conditioned_model_unless_told_not_to():
    assert prepare(experiment("conditional_aae_digits")).strategy.labels is True
    assert (
        prepare(experiment("conditional_aae_digits", "training.strategy.labels_to_discriminator=false")).strategy.labels
        is False
    )
    assert prepare(experiment("aae_digits")).strategy.labels is False


def test_style_grid_shares_z_across_classes_unless_the_prior_reads_labels(tmp_path):
    for overrides, shared in (([], True), (['model.prior="gaussian_mixture"', "model.prior_by_label=true"], False)):
        pair = prepare(experiment("conditional_aae_digits", *overrides)).pair
        labels = torch.arange(10).repeat_interleave(3)
        means, is_shared = style_means(pair, labels, 3, seed=0)
        assert is_shared is shared and means.shape == (30, 1, 8, 8)


class ScoredOnly(dist.TorchDistribution):
    """A distribution of n vectors of ``latent_dim`` that can be scored but not sampled."""

    arg_constraints: dict = {}
    support = dist.constraints.real_vector

    def __init__(self, n, latent_dim):
        super().__init__(torch.Size([n]), torch.Size([latent_dim]), validate_args=False)

    def log_prob(self, value):
        return -0.5 * value.pow(2).sum(-1)

    def expand(self, batch_shape, _instance=None):
        return ScoredOnly(batch_shape[0], self.event_shape[0])


@register_prior("test_scored_only")
class ScoredOnlyPrior(Prior):
    def distribution(self, n):
        return ScoredOnly(n, self.latent_dim)


@register_prior("test_scored_only_by_label")
class ScoredOnlyByLabel(StandardNormal):
    """Sampled as Normal(0, I), but its parts given to classes can only be scored."""

    def for_labels(self, labels, num_classes):
        return ScoredOnly(len(labels), self.latent_dim)


def test_an_unsampleable_prior_is_refused_by_the_aae(tmp_path):
    with pytest.raises(ConfigError, match="the prior 'test_scored_only' cannot be sampled.*discriminator"):
        prepare(experiment("aae_digits", 'model.prior="test_scored_only"'))


def test_a_prior_by_label_that_the_discriminator_cannot_sample_is_one_sentence_before_any_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    overrides = [
        *QUICK,
        'model.prior="test_scored_only_by_label"',
        "model.prior_by_label=true",
        "training.strategy.labels_to_discriminator=true",
    ]
    assert main(["train", "conditional_aae_digits", "--run-dir", str(run_dir), *[f"--set={o}" for o in overrides]]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "the part of a class of the prior 'test_scored_only_by_label' cannot be sampled" in error
    assert "discriminator learns from" in error
    assert not run_dir.exists()
