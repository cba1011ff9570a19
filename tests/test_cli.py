"""The ppl-vae command: exit codes, files written, one-line errors."""

from __future__ import annotations

import json

import pytest

from ppl_vae.cli import main
from ppl_vae.evaluate import EVALUATION_KEYS
from tests.conftest import FAST


def set_args(*overrides: str) -> list[str]:
    return [arg for o in (*FAST, *overrides) for arg in ("--set", o)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *set_args(), "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_train_prints_and_writes_summary(trained_run, capsys):
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["test_importance_weighted"]["iw_samples"] == 20
    assert (
        summary["test_importance_weighted"]["iw_log_likelihood_nats"]
        >= summary["test_importance_weighted"]["elbo_nats"]
    )


def test_evaluate_writes_documented_keys(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--iw-samples", "30", "--split", "valid", "--limit", "50"]) == 0
    result = json.loads((trained_run / "evaluation.json").read_text())
    assert set(EVALUATION_KEYS) <= set(result)
    assert result["num_examples"] == 50 and result["split"] == "valid" and result["iw_samples"] == 30
    assert "iw_log_likelihood_nats" in capsys.readouterr().out


def test_sample_writes_a_png(trained_run, tmp_path):
    output = tmp_path / "grid.png"
    assert main(["sample", str(trained_run), "--num-samples", "5", "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "RUN", "--iw-samples", "0"], "--iw-samples must be at least 1, got 0"),
        (["sample", "RUN", "--num-samples", "0"], "--num-samples must be at least 1"),
        (["train", "--set", "model.name=nope"], "unknown model 'nope'; valid models: baseline_predictor"),
        (["train", "--resume", "RUN", "--set", "training.epochs=3"], "--resume continues a run as it was configured"),
        (["evaluate", "NOT_A_RUN"], "is not a run directory: it has no experiment.toml"),
        (["ppc", "RUN", "--limit", "0"], "--limit must be at least 1, got 0"),
        (["train", "--run-dir", "RUN"], "already holds a run"),
    ],
)
def test_errors_are_one_line(trained_run, capsys, argv, message):
    argv = [str(trained_run) if a == "RUN" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("ppl-vae: error: ") and message in err and err.count("\n") == 1
