"""Every complete code block of the README runs: scripts run, files are written, experiment files train."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest

from ppl_vae.core.config import load_experiment
from ppl_vae.runs.training import train_experiment

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(python|toml)\n(.*?)```", re.DOTALL)
FILE = re.compile(r"# file: (\S+)\n")
QUICK = ["training.epochs=2", "training.device='cpu'", "evaluation.iw_samples=10", "evaluation.ppc_examples=0"]
QUICK += ["evaluation.ppc_samples=3"]


def blocks() -> tuple[dict[str, str], list[str]]:
    """(files the README names, by name; the scripts, in order)."""
    files, scripts = {}, []
    for language, text in BLOCK.findall(README.read_text()):
        named = FILE.match(text)
        if named:
            files[named.group(1)] = text
        elif language == "python":
            scripts.append(text)
    return files, scripts


def test_the_readme_has_examples_of_every_kind():
    files, scripts = blocks()
    assert len(scripts) == 2
    assert {"my_models.py", "my_networks.py", "my_functions.py", "my_data.py", "my_priors.py"} <= set(files)
    assert {"my_experiment.toml", "tiny.toml", "stripes.toml", "my_aae.toml"} <= set(files)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    files, _ = blocks()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("index", range(2))
def test_readme_scripts_run(index, workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    _, scripts = blocks()
    path = workspace / f"script_{index}.py"
    path.write_text(scripts[index])
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("experiment", ["my_experiment.toml", "tiny.toml", "stripes.toml", "my_aae.toml"])
def test_readme_experiment_files_train(experiment, workspace):
    run = train_experiment(load_experiment(str(workspace / experiment), QUICK), workspace / f"run-{experiment}")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_importance_weighted"]["iw_log_likelihood_nats"] < 0
