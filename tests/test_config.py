"""Experiment files and overrides: what is read, and the errors for what cannot be."""

from __future__ import annotations

import pytest

from ppl_vae.build import build_pair
from ppl_vae.config import ConfigError, load_experiment, parse_override, shipped_experiments
from ppl_vae.registry import MODELS, UnknownNameError


def test_default_and_overrides():
    experiment = load_experiment(None, ["training.epochs=7", "model.hidden=[64, 32]", "guide.activation=tanh"])
    assert experiment.training.epochs == 7
    assert experiment.sections["model"]["hidden"] == [64, 32]
    assert experiment.sections["guide"]["activation"] == "tanh"
    assert experiment.training.learning_rate == pytest.approx(3e-3)


def test_parse_override():
    assert parse_override("training.beta=0.5") == ("training", "beta", 0.5)
    assert parse_override('model.name="gaussian_vae"') == ("model", "name", "gaussian_vae")
    assert parse_override("model.name=gaussian_vae") == ("model", "name", "gaussian_vae")
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("epochs=3")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epoch=3", r"unknown key 'epoch' in section \[training\] \(did you mean 'epochs'\?\)"),
        ("training.epochs=2.5", r"\[training\] epochs must be a whole number"),
        ("training.learning_rate=0", "'learning_rate' must be positive"),
        ("training.objective=elbo", "valid objectives: trace_elbo, analytic_kl, iwae"),
        ("trainer.epochs=3", "unknown section 'trainer'"),
        ("experiment.plugin=['x.py']", r"did you mean 'plugins'"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_experiment(None, [override])


def test_file_sections_replace_or_merge(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[model]\nname = "gaussian_vae"\nscale = "fixed"\n\n[training]\nepochs = 2\n')
    experiment = load_experiment(str(path))
    assert experiment.name == "mine"
    assert experiment.sections["model"] == {"name": "gaussian_vae", "scale": "fixed"}
    assert experiment.training.epochs == 2 and experiment.training.batch_size == 100
    assert experiment.sections["guide"]["hidden"] == [128]


def test_unknown_section_and_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[modle]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown section \[modle\].*did you mean 'model'"):
        load_experiment(str(path))
    path.write_text("[model\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_experiment(str(path))
    with pytest.raises(ConfigError, match="no experiment file 'nothing.toml'; give a path or one of: "):
        load_experiment("nothing.toml")


def test_shipped_experiments_load():
    names = shipped_experiments()
    assert {"default", "gaussian_digits", "binarized_mnist_vae", "binarized_mnist_iwae5"} <= set(names)
    for name in names:
        assert load_experiment(name).name == name


def test_unknown_model_key_and_name():
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'latnt_dim' in section \[model\] for model 'bernoulli_vae' "
        r"\(did you mean 'latent_dim'\?\)",
    ):
        build_pair(load_experiment(None, ["model.latnt_dim=3"]), 64, 10)
    with pytest.raises(UnknownNameError, match="unknown model 'nope'; valid models: baseline_predictor, bernoulli_vae"):
        build_pair(load_experiment(None, ["model.name=nope"]), 64, 10)


def test_user_plugin_registers_a_model(tmp_path):
    plugin = tmp_path / "my_models.py"
    plugin.write_text(
        "from ppl_vae import register_model\n"
        "from ppl_vae.models.bernoulli import BernoulliVAE\n\n"
        "@register_model('test_plugin_vae')\n"
        "class Mine(BernoulliVAE):\n"
        "    pass\n"
    )
    path = tmp_path / "exp.toml"
    path.write_text("[experiment]\nplugins = ['my_models.py']\n\n[model]\nname = 'test_plugin_vae'\n")
    experiment = load_experiment(str(path))
    model, guide = build_pair(experiment, 64, 10)
    build_pair(experiment, 64, 10)  # loading the plugins again must not register twice
    assert type(model).__name__ == "Mine" and "test_plugin_vae" in MODELS.names()
    assert guide.latent_dim == model.latent_dim
