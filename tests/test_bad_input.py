"""Every bad input is one line, ``ppl-vae: error: ...``, and leaves every existing file as it was."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
import torch

from ppl_vae.cli import main
from tests.test_cli import set_args

PLUGINS = {
    "taken.py": """
        from ppl_vae import register_model
        from ppl_vae.models import BernoulliVAE

        @register_model("bernoulli_vae")
        class Mine(BernoulliVAE):
            pass
    """,
    "wrong_fields.py": """
        from ppl_vae import register_dataset
        from ppl_vae.data.datasets import load_digits

        @register_dataset("test_wrong_fields")
        def wrong_fields():
            data = load_digits()
            return data.with_splits({"test": type(data.test)(data.test.x, data.test.y[:7])})
    """,
    "nan_data.py": """
        from ppl_vae import register_dataset
        from ppl_vae.data.datasets import load_digits
        from ppl_vae.data.transforms import to_floating

        @register_dataset("test_nan_data")
        def nan_data():
            data = to_floating(load_digits())
            data.valid.x[3, 0, 2, :5] = float("nan")
            return data
    """,
    "plain_function.py": """
        import pyro
        from torch.distributions import constraints
        from ppl_vae import ModelContract, register_model

        @register_model("test_plain_function", contract=ModelContract(support=constraints.boolean))
        def plain(x_shape, latent_dim=4):
            def model(x=None, y=None, num_samples=None):
                pass
            return model
    """,
    "broken.py": """
        def helper():
            return 1 / 0

        helper()
    """,
    "npy_data.py": """
        import numpy as np
        import torch
        from pathlib import Path
        from ppl_vae import register_dataset
        from ppl_vae.data import Dataset, Split

        @register_dataset("test_npy_file")
        def npy_file(path: str):
            x = torch.from_numpy(np.load(Path(path)))
            return Dataset("npy", Split(x[:60]), Split(x[60:80]), Split(x[80:]), levels=2, description=path)
    """,
}


def write_plugin(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(PLUGINS[name]))
    return path


def experiment_with_plugin(folder: Path, plugin: str, body: str) -> str:
    write_plugin(folder, plugin)
    path = folder / f"exp_{plugin[:-3]}.toml"
    path.write_text(f'[experiment]\nplugins = ["{plugin}"]\n\n{textwrap.dedent(body)}')
    return str(path)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with one finished run (default experiment, shrunk) and one deterministic-encoder run."""
    root = tmp_path_factory.mktemp("bad")
    assert main(["train", *set_args(), "--run-dir", str(root / "run")]) == 0
    assert main(["train", *set_args("guide.name=delta_encoder"), "--run-dir", str(root / "ae")]) == 0
    (root / "a_file").write_text("not a folder")
    return root


def cases(root: Path) -> list[tuple[list[str], str]]:
    run = str(root / "run")
    fresh = str(root / "fresh")
    return [
        (["train", "--set", "data.binarize=nosuch"], "unknown data.binarize 'nosuch'; valid values: auto, none"),
        (["train", "--run-dir", str(root / "a_file")], "is an existing file; choose another --run-dir"),
        (["train", "--run-dir", str(root / "a_file" / "run")], "cannot create the run directory"),
        (["train", "--run-dir", str(root / ("x" * 300))], "File name too long"),
        (["train", "--run-dir", run], "already holds a run; resume it with --resume"),
        (["sample", run, "--output", str(root / "missing" / "s.png")], "the folder " + str(root / "missing")),
        (["train", "--set", "model.latent_dim=0", "--run-dir", fresh], "latent_dim must be a positive whole number"),
        (
            ["train", "--set", "model.decoder='resnet'", "--run-dir", fresh],
            "unknown network 'resnet'; valid networks: conv, mlp",
        ),
        (
            ["train", "quadrants_digits", "--set", "model.decoder='conv'", "--run-dir", fresh],
            "this data has examples of shape (48,), not images",
        ),
        (
            [
                "train",
                "--set",
                "guide.encoder='conv'",
                "--set",
                "guide.encoder.channels=[8, 8, 8, 8]",
                "--run-dir",
                fresh,
            ],
            "needs sides of at least 16; the data's images are (1, 8, 8): give it at most 3 layer(s) of channels",
        ),
        (
            [
                "train",
                "--set",
                "model.name=conditional_vae",
                "--set",
                "guide.name=conditional_encoder",
                "--set",
                "data.binarize='none'",
                "--run-dir",
                fresh,
            ],
            "values that are not 0 or 1 but the model has a Bernoulli likelihood",
        ),
        (
            [
                "train",
                "--set",
                "model.name=gaussian_vae",
                "--set",
                "data.binarize='threshold'",
                "--set",
                "data.dequantize='uniform'",
                "--run-dir",
                fresh,
            ],
            "dequantization asked for binary data",
        ),
        (
            ["train", experiment_with_plugin(root, "taken.py", ""), "--run-dir", fresh],
            "a model named 'bernoulli_vae' is already registered (by ppl_vae.models.bernoulli)",
        ),
        (
            [
                "train",
                experiment_with_plugin(root, "wrong_fields.py", '[data]\nname = "test_wrong_fields"\n'),
                "--run-dir",
                fresh,
            ],
            "dataset factory 'test_wrong_fields': the test split has 7 rows of y for 360 of x",
        ),
        (
            [
                "train",
                experiment_with_plugin(root, "plain_function.py", '[model]\nname = "test_plain_function"\n'),
                "--run-dir",
                fresh,
            ],
            "model 'test_plain_function' returned a plain function without its modules: return ppl_vae.PyroFunction",
        ),
        (
            [
                "train",
                experiment_with_plugin(root, "nan_data.py", '[data]\nname = "test_nan_data"\n'),
                "--run-dir",
                fresh,
            ],
            "the valid split of digits, x, has 5 NaN or infinite values",
        ),
        (["evaluate", str(root / "ae")], "'delta_encoder' is a deterministic encoder, not a density"),
        (["train", "--resume", run, "--set", "training.epochs=3"], "--resume continues a run as it was configured"),
        (["evaluate", str(root / "a_file")], "is not a run directory: it has no experiment.toml"),
        (["classify", run], "is not a label-conditioned model"),
        (["sample", run, "--label", "3"], "a label needs a label-conditioned model"),
    ] + ([] if torch.cuda.is_available() else [(["train", "--device", "cuda"], "this machine has no CUDA GPU")])


def test_each_bad_input_is_one_line_and_touches_nothing(workspace, capsys):
    for argv, message in cases(workspace):
        before = snapshot(workspace)
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("ppl-vae: error: ") and err.count("\n") == 1, (argv, err)
        assert message in err, (argv, err)
        assert "Traceback" not in err
        assert snapshot(workspace) == before, argv
        assert not (workspace / "fresh").exists()


def test_a_plugin_that_raises_keeps_its_traceback_after_one_sentence(workspace, capsys):
    experiment = experiment_with_plugin(workspace, "broken.py", "")
    assert main(["train", experiment, "--run-dir", str(workspace / "fresh")]) == 1
    first, *rest = capsys.readouterr().err.splitlines()
    assert (
        first.startswith("ppl-vae: error: plugin ")
        and "raised ZeroDivisionError while loading: division by zero" in first
    )
    assert any("Traceback" in line for line in rest) and any("broken.py" in line and "helper" in line for line in rest)


def test_data_that_changed_on_disk_is_refused(tmp_path, capsys):
    import numpy as np

    data = tmp_path / "data.npy"
    np.save(data, (np.random.default_rng(0).random((100, 16)) > 0.5).astype(np.uint8))
    body = f'[data]\nname = "test_npy_file"\npath = "{data}"\n'
    experiment = experiment_with_plugin(tmp_path, "npy_data.py", body)
    run = tmp_path / "run"
    assert main(["train", experiment, *set_args(), "--run-dir", str(run)]) == 0
    assert main(["evaluate", str(run), "--iw-samples", "5", "--device", "cpu"]) == 0
    changed = np.load(data)
    changed[90, 0] = 1 - changed[90, 0]
    np.save(data, changed)
    before = snapshot(run)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iw-samples", "5"]) == 1
    err = capsys.readouterr().err
    assert (
        "the data on disk no longer matches" in err
        and "its test split(s) of npy differ" in err
        and err.count("\n") == 1
    )
    assert snapshot(run) == before
