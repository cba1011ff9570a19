"""Every Python and TOML block of the README and of docs/ runs: scripts run, named files are written, and
experiment files train (a few epochs), one workspace per document."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest

from ppl_vae.core.config import load_experiment
from ppl_vae.runs.training import train_experiment

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(python|toml)\n(.*?)```", re.DOTALL)
FILE = re.compile(r"# file: (\S+)\n")
QUICK = ["training.epochs=2", "training.device='cpu'", "evaluation.iw_samples=10", "evaluation.ppc_examples=0"]
QUICK += ["evaluation.ppc_samples=3", "evaluation.classify_samples=5"]


def blocks(document: Path) -> tuple[dict[str, str], list[str]]:
    """(files the document names, by name; its unnamed Python scripts, in order)."""
    files, scripts = {}, []
    for language, text in BLOCK.findall(document.read_text()):
        named = FILE.match(text)
        if named:
            files[named.group(1)] = text
        elif language == "python":
            scripts.append(text)
        else:
            raise AssertionError(f"{document.name} has a TOML block without '# file: NAME': name it so that it runs")
    return files, scripts


SCRIPTS = [(d, i) for d in DOCUMENTS for i in range(len(blocks(d)[1]))]
EXPERIMENTS = [(d, name) for d in DOCUMENTS for name in blocks(d)[0] if name.endswith(".toml")]


def test_the_documents_have_examples_of_every_kind():
    files = {name for d in DOCUMENTS for name in blocks(d)[0]}
    assert {"my_models.py", "my_networks.py", "my_functions.py", "my_data.py", "my_priors.py"} <= files
    assert {"my_objectives.py", "my_guides.py", "my_beta.py", "two_sites.py"} <= files
    assert {"reference.toml", "my_experiment.toml", "tiny.toml", "stripes.toml", "my_aae.toml", "renyi.toml"} <= files
    assert len(SCRIPTS) >= 2 and len(EXPERIMENTS) >= 8


def workspace_of(document: Path, root: Path) -> Path:
    folder = root / document.stem
    if not folder.exists():
        folder.mkdir()
        for name, text in blocks(document)[0].items():
            (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    return tmp_path_factory.mktemp("docs")


@pytest.mark.parametrize(("document", "index"), SCRIPTS, ids=[f"{d.name}-{i}" for d, i in SCRIPTS])
def test_scripts_run(document, index, workspaces, monkeypatch, capsys):
    folder = workspace_of(document, workspaces)
    monkeypatch.chdir(folder)
    path = folder / f"script_{index}.py"
    path.write_text(blocks(document)[1][index])
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize(("document", "name"), EXPERIMENTS, ids=[f"{d.name}-{n}" for d, n in EXPERIMENTS])
def test_experiment_files_train(document, name, workspaces):
    folder = workspace_of(document, workspaces)
    run = train_experiment(load_experiment(str(folder / name), QUICK), folder / f"run-{name}")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_importance_weighted"]["iw_log_likelihood_nats"] < 0
