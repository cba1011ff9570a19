"""Experiment files and overrides: what is read, and the errors for what cannot be."""

from __future__ import annotations

import pytest

from ppl_vae.core.config import load_experiment, parse_override, shipped_experiments, tomllib
from ppl_vae.core.errors import ConfigError, NameTakenError, UnknownNameError
from ppl_vae.core.registry import MODELS, Registry
from ppl_vae.runs.prepare import build_pair

SHAPES = {"x_shape": (1, 8, 8), "y_shape": None, "num_classes": 10, "levels": None, "image_shape": (1, 8, 8)}


def test_default_and_overrides():
    experiment = load_experiment(
        None, ["training.epochs=7", "model.decoder.hidden=[64, 32]", "guide.encoder.activation=tanh"]
    )
    assert experiment.training.epochs == 7
    assert experiment.sections["model"]["decoder"] == {"name": "mlp", "hidden": [64, 32], "activation": "relu"}
    assert experiment.sections["guide"]["encoder"]["activation"] == "tanh"
    swapped = load_experiment(None, ["model.decoder='conv'", "model.decoder.channels=[8, 4]"])
    assert swapped.sections["model"]["decoder"] == {"name": "conv", "channels": [8, 4]}
    assert experiment.training.learning_rate == pytest.approx(3e-3)


def test_parse_override():
    assert parse_override("training.beta=0.5") == ("training", ["beta"], 0.5)
    assert parse_override('model.name="gaussian_vae"') == ("model", ["name"], "gaussian_vae")
    assert parse_override("model.decoder.hidden=[3]") == ("model", ["decoder", "hidden"], [3])
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("epochs=3")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epoch=3", r"unknown key 'epoch' in \[training\] \(did you mean 'epochs'\?\)"),
        ("training.epochs=2.5", r"\[training\] epochs must be a whole number"),
        ("training.learning_rate=0", "'learning_rate' must be positive"),
        (
            "training.objective=elbo",
            "unknown training.objective 'elbo'; valid values: analytic_kl, iwae, iwae_dreg, semi_supervised, "
            "trace_elbo",
        ),
        ("training.schedule=linear", "valid values: constant, cosine, exponential, iwae"),
        ("training.dtype=float16", "valid values: float32, float64"),
        ("data.binarize=nosuch", "unknown data.binarize 'nosuch'; valid values: auto, none, threshold, dynamic"),
        ("data.dequantize=yes", "unknown data.dequantize 'yes'; valid values: auto, uniform"),
        ("trainer.epochs=3", "unknown section 'trainer'"),
        ("experiment.plugin=['x.py']", r"did you mean 'plugins'"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_experiment(None, [override])


def test_file_sections_replace_or_merge(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[model]\nname = "gaussian_vae"\nscale = "fixed"\n\n[training]\nepochs = 2\n\n[guide.encoder]\nhidden = [7]\n'
    )
    experiment = load_experiment(str(path))
    assert experiment.name == "mine"
    assert experiment.sections["model"] == {"name": "gaussian_vae", "scale": "fixed"}
    assert experiment.training.epochs == 2 and experiment.training.batch_size == 100
    assert experiment.sections["guide"]["encoder"] == {"name": "mlp", "hidden": [7], "activation": "relu"}


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
        match=r"unknown key 'latnt_dim' in \[model\] for model 'bernoulli_vae' \(did you mean 'latent_dim'\?\)",
    ):
        build_pair(load_experiment(None, ["model.latnt_dim=3"]), SHAPES)
    with pytest.raises(UnknownNameError, match="unknown model 'nope'; valid models: baseline_predictor, bernoulli_vae"):
        build_pair(load_experiment(None, ["model.name=nope"]), SHAPES)
    with pytest.raises(ConfigError, match="latent_dim must be a positive whole number, got 0"):
        build_pair(load_experiment(None, ["model.latent_dim=0"]), SHAPES)


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
    pair = build_pair(experiment, SHAPES)
    build_pair(experiment, SHAPES)  # loading the plugins again must not register twice
    assert type(pair.model).__name__ == "Mine" and "test_plugin_vae" in MODELS.names()
    assert pair.guide.latent_dim == pair.model.latent_dim


def test_a_taken_name_is_refused():
    registry = Registry("model", {"builtin_vae": "somewhere.else"})
    registry.register("mine")(lambda: None)
    with pytest.raises(NameTakenError, match="a model named 'mine' is already registered"):
        registry.register("mine")(lambda: None)
    with pytest.raises(NameTakenError, match="'builtin_vae' is already registered \\(built in, by somewhere.else\\)"):
        registry.register("builtin_vae")(lambda: None)
    assert registry.names() == ["builtin_vae", "mine"]


def test_an_experiment_table_follows_the_merge_rule(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text('[experiment]\nname = "mine"\n')
    assert load_experiment(str(own)).sections["experiment"] == {"name": "mine", "plugins": []}
    nameless = tmp_path / "nameless.toml"
    nameless.write_text("[training]\nepochs = 2\n")
    assert "description" not in load_experiment(str(nameless)).sections["experiment"]
    assert load_experiment(None).sections["experiment"]["description"].startswith("Bernoulli VAE")


def test_the_recorded_experiment_is_resolved_and_reads_back_the_same(tmp_path):
    from ppl_vae.runs.training import train_experiment

    run = train_experiment(
        load_experiment(None, ["training.epochs=1", "evaluation.ppc_examples=0", "evaluation.iw_samples=5"]),
        tmp_path / "run",
    )
    recorded = tomllib.loads((run / "experiment.toml").read_text())
    for key in ("strategy", "optimizer", "adam_beta1", "weight_decay", "schedule", "clip_norm", "max_minutes"):
        assert key in recorded["training"], key
    assert {"device", "dtype", "objective", "num_particles"} <= set(recorded["training"])
    assert recorded["model"]["prior"] == "normal" and recorded["data"]["dequantize"] == "auto"
    assert recorded["evaluation"]["classify_samples"] == 100
    assert recorded["guide"]["min_scale"] == 1e-4 and "latent_dim" not in recorded["guide"]
    again = load_experiment(str(run / "experiment.toml"))
    assert again.training == load_experiment(None, ["training.epochs=1"]).training
    assert tomllib.loads(again.to_toml()) | {"experiment": {}} == recorded | {"experiment": {}}


def test_named_axes_take_tables_and_refuse_unknown_names(tmp_path):
    path = tmp_path / "axes.toml"
    path.write_text('[training.schedule]\nname = "exponential"\n\n[training.optimizer]\nname = "adamw"\n')
    training = load_experiment(str(path)).training
    assert (training.schedule, training.optimizer, training.schedule_options) == ("exponential", "adamw", {})
    path.write_text("[training.objective]\nalpha = 0.5\n")
    with pytest.raises(ConfigError, match=r"\[training.objective\] needs a name"):
        load_experiment(str(path))
    with pytest.raises(ConfigError, match="unknown training.optimizer 'sgd'; valid values: adam, adamw"):
        load_experiment(None, ["training.optimizer=sgd"])


def test_an_objective_without_a_differentiable_loss_is_refused():
    from pyro.infer import RenyiELBO

    from ppl_vae import register_objective
    from ppl_vae.infer.objectives import make_objective

    register_objective("test_pyro_renyi")(lambda num_particles=2, max_plate_nesting=1: RenyiELBO(0.5, num_particles))
    with pytest.raises(ConfigError, match="objective 'test_pyro_renyi' returned a RenyiELBO, which has no different"):
        make_objective("test_pyro_renyi", 2)


def test_a_plugin_imported_by_the_user_then_named_by_a_run_loads_once(tmp_path):
    """A user imports their plugin module to build pieces in Python, then loads a run that names the same file
    (in a fresh process, as a user's script would); and a definition registered again replaces itself."""
    import subprocess
    import sys

    from ppl_vae.runs.training import train_experiment

    plugin = tmp_path / "user_plugins.py"
    plugin.write_text(
        "from ppl_vae import register_dataset, register_model\n"
        "from ppl_vae.data.datasets import load_digits\n"
        "from ppl_vae.models.bernoulli import BernoulliVAE\n\n"
        "@register_model('test_twice_vae')\n"
        "class Twice(BernoulliVAE):\n"
        "    pass\n\n"
        "@register_dataset('test_twice_digits')\n"
        "def twice_digits(seed: int = 0):\n"
        "    return load_digits(seed=seed)\n"
    )
    path = tmp_path / "twice.toml"
    path.write_text(
        "[experiment]\nplugins = ['user_plugins.py']\n\n[data]\nname = 'test_twice_digits'\n\n"
        "[model]\nname = 'test_twice_vae'\n\n[training]\nepochs = 1\n\n[evaluation]\nppc_examples = 0\niw_samples = 5\n"
    )
    run = train_experiment(load_experiment(str(path)), tmp_path / "run")
    script = (
        "import user_plugins\n"
        "from ppl_vae import load_experiment, load_trained\n"
        f"run = load_trained({str(run)!r})\n"
        f"load_experiment({str(path)!r})\n"
        "print(type(run.pair.model).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "Twice", done.stderr
    namespace: dict = {}
    source = "from ppl_vae import register_model\n@register_model('test_again')\ndef again(x_shape):\n    return None\n"
    for _ in range(2):  # the same definition, executed twice (an importlib.reload): harmless
        exec(compile(source, str(tmp_path / "again.py"), "exec"), namespace)
