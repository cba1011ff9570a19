"""The ppl-vae command: exit codes, files written and never silently replaced, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ppl_vae.cli import main
from ppl_vae.evaluation.likelihood import EVALUATION_KEYS
from tests.conftest import FAST


def set_args(*overrides: str) -> list[str]:
    return [arg for o in (*FAST, *overrides) for arg in ("--set", o)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *set_args("evaluation.ppc_examples=40"), "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_train_prints_and_writes_summary(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    figures = summary["test_importance_weighted"]
    assert figures["iw_samples"] == 20 and figures["num_examples"] == 360
    assert summary["device"] == "cpu" and summary["dtype"] == "float32"


def test_evaluate_writes_documented_keys_under_a_name_that_says_what(trained_run, capsys):
    before = (trained_run / "summary.json").read_bytes()
    argv = ["evaluate", str(trained_run), "--iw-samples", "30", "--split", "valid", "--limit", "50", "--device", "cpu"]
    assert main(argv) == 0
    result = json.loads((trained_run / "evaluation-valid-random50-seed0-K30.json").read_text())
    assert set(EVALUATION_KEYS) <= set(result)
    assert result["num_examples"] == 50 and result["split"] == "valid" and result["iw_samples"] == 30
    assert result["examples"] == "a random 50 of the 180 (seed 0) valid examples"
    out = capsys.readouterr().out
    assert "iw_log_likelihood_nats" in out and "a random 50 of the 180" in out
    assert (trained_run / "summary.json").read_bytes() == before


def test_ppc_does_not_replace_the_training_check(trained_run):
    before = (trained_run / "ppc.json").read_bytes()
    assert main(["ppc", str(trained_run), "--num-samples", "3", "--limit", "20", "--device", "cpu"]) == 0
    assert (trained_run / "ppc.json").read_bytes() == before
    assert json.loads((trained_run / "ppc-test-random20-seed0-S3.json").read_text())["num_samples"] == 3
    assert (trained_run / "ppc-test-random20-seed0-S3_statistics.png").is_file()


def test_sample_writes_a_png(trained_run, tmp_path):
    output = tmp_path / "grid.png"
    assert main(["sample", str(trained_run), "--num-samples", "5", "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sample", str(trained_run), "--seed", "2"]) == 0
    assert (trained_run / "samples-seed2.png").is_file()


def test_help_and_list_load_no_heavy_library():
    code = (
        "import sys\n"
        "from ppl_vae.cli import main\n"
        "main(['list'])\n"
        "heavy = [m for m in ('torch', 'pyro', 'arviz', 'matplotlib', 'sklearn', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "models: baseline_predictor, bernoulli_vae" in done.stdout and "networks: conv, mlp" in done.stdout
    for line in (
        "likelihoods: bernoulli, categorical, discretized_logistic, gaussian",
        "objectives: analytic_kl, iwae, iwae_dreg, semi_supervised, trace_elbo",
        "optimizers: adam, adamw",
        "schedules: constant, cosine, exponential, iwae",
        "report hooks: likelihood, reconstruction, curves",
    ):
        assert line in done.stdout


def test_list_says_where_each_name_is_defined(capsys):
    assert main(["list", "--modules"]) == 0
    out = capsys.readouterr().out
    assert "iwae (ppl_vae.infer.objectives.iwae)" in out and "svi (ppl_vae.train.svi)" in out


def test_output_into_a_pipe_whose_reader_left_ends_in_one_status_without_a_traceback():
    """``ppl-vae list | head -0``: the reader closes the pipe before the first line; the command stops quietly."""
    pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    child = subprocess.Popen([sys.executable, "-m", "ppl_vae", "list"], **pipes)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
